"""Secrets a server echoes, and credentials in an endpoint URL, never reach an error message or a log.

Parameter secrets (``{secret: NAME}``) were masked already; the auth's were not: a gateway that refuses an API
key often says which key it refused, an envelope message quotes the app key, a SOAP fault repeats the
WS-Security password, an expired OAuth token comes back in the error. And ``http://user:password@host`` as an
endpoint (requests sends it as Basic auth) was quoted whole in every error and every retry log line. The
engine stores these texts in run records and alerts. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session
from soap_testlib import SECRETS, envelope, market_config

from connectors.rest import RestConnector
from connectors.soap import SoapConnector
from gateway.contract.errors import AuthenticationError, FatalSyncError, RetriableSyncError, TongbanError

KEY = "sk-live-AbCdEfGh"


def _rest(url: str, auth: dict[str, Any] | None, secrets: dict[str, str], **config: Any) -> RestConnector:
    return RestConnector(
        {"kind": "rest", "name": "civil", "base_url": url, "auth": auth,
         "retry": {"max_attempts": 2, "backoff_seconds": 0, "jitter": False},
         "streams": {"cases": {"path": "/api/cases", "record_selector": "data", "primary_key": "id",
                               "success": {"field": "code", "equals": 0}}}, **config},
        secrets=secrets, session=plain_session(), sleep=lambda s: None)


def _raised(connector: RestConnector | SoapConnector) -> TongbanError:
    with pytest.raises(TongbanError) as caught:
        list(connector.read("cases"))
    return caught.value


def test_an_api_key_a_refusal_echoes_is_masked() -> None:
    def answer(request: Seen) -> Answer:
        return Answer(401, {"Content-Type": "application/json"},
                      json.dumps({"msg": f"invalid X-Api-Key {request.headers.get('X-Api-Key')}"}).encode())

    with ScriptedServer(answer) as server:
        connector = _rest(server.url, {"type": "api_key", "header": "X-Api-Key", "secret": "api_key"},
                          {"api_key": KEY})
        error = _raised(connector)
        check = connector.check()
    assert isinstance(error, AuthenticationError)
    assert KEY not in str(error) and "invalid X-Api-Key ***" in str(error)
    assert not check.ok and KEY not in check.message


@pytest.mark.parametrize("auth, secrets", [
    ({"type": "bearer", "secret": "token"}, {"token": KEY}),
    ({"type": "basic", "username_secret": "u", "password_secret": "p"}, {"u": "svc-user", "p": KEY}),
    ({"type": "signature", "algorithm": "hmac-sha256", "secret": "s", "app_key_secret": "k",
      "string_to_sign": "{method}\n{path}\n{timestamp}",
      "headers": {"X-App-Key": "{app_key}", "X-Timestamp": "{timestamp}", "X-Signature": "{signature}"}},
     {"s": "hmac-secret-value", "k": KEY}),
], ids=["bearer", "basic", "signature"])
def test_an_auth_secret_an_envelope_message_quotes_is_masked(auth: dict[str, Any], secrets: dict[str, str]) -> None:
    body = json.dumps({"code": 4011, "msg": f"appKey {KEY} expired"}).encode()
    with ScriptedServer(lambda r: json_answer(body)) as server:
        error = _raised(_rest(server.url, auth, secrets))
    assert isinstance(error, FatalSyncError)
    assert KEY not in str(error) and "appKey *** expired" in str(error)


def test_an_oauth_access_token_fetched_at_run_time_is_masked() -> None:
    token = "TOP-SECRET-ACCESS-TOKEN"

    def answer(request: Seen) -> Answer:
        if request.path.startswith("/oauth/token"):
            return json_answer(json.dumps({"access_token": token, "expires_in": 3600}).encode())
        return json_answer(json.dumps({"code": 4011, "msg": f"token {token} revoked"}).encode())

    auth = {"type": "oauth2_client_credentials", "token_url": "/oauth/token",
            "client_id_secret": "client_id", "client_secret_secret": "client_secret"}
    with ScriptedServer(answer) as server:
        error = _raised(_rest(server.url, auth, {"client_id": "cid", "client_secret": "csecret"}))
    assert token not in str(error) and "token *** revoked" in str(error)


def test_credentials_in_the_endpoint_url_stay_out_of_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    with ScriptedServer(lambda r: Answer(503, {"Content-Type": "text/plain"}, b"down")) as server:
        base = server.url.replace("http://", "http://svc_user:Pa55w0rd!@")
        with caplog.at_level(logging.DEBUG):
            error = _raised(_rest(base, None, {}, name=None))
    assert isinstance(error, RetriableSyncError)
    assert "retry 1" in caplog.text  # the retry was logged...
    for text in (str(error), caplog.text):
        assert "Pa55w0rd!" not in text and "svc_user:" not in text  # ...without the credentials
    assert f"{server.url}/api/cases" in str(error)


def test_a_wsse_password_a_soap_fault_echoes_is_masked(tmp_path: Path) -> None:
    fault = ('<soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad password '
             f'{SECRETS["password"]} for user tongban</faultstring></soap:Fault>')
    data = envelope(fault).encode()
    with ScriptedServer(lambda r: Answer(500, {"Content-Type": "text/xml; charset=utf-8"}, data)) as server:
        config = market_config(tmp_path, address=server.url + "/ScjgService.asmx",
                               wsse={"username_secret": "username", "password_secret": "password",
                                     "digest": False})
        connector = SoapConnector(config, secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
        error = _raised(connector)
        check = connector.check()
    assert SECRETS["password"] not in str(error) and "bad password ***" in str(error)
    assert SECRETS["password"] not in check.message
