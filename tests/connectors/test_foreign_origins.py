"""Our credentials go to the system's own origin only. A ``Link: rel="next"`` to another host, a 302/307 to
another host: the read stops with an error naming where it was sent, and the other host gets nothing — not the
bearer token, not an ``X-Api-Key`` or signature header (requests strips only ``Authorization`` on a redirect),
not a WS-Security envelope re-POSTed by a 307. Redirects within the origin are still followed. Real HTTP on
127.0.0.1; "another host" is a second server, or the same one under the name ``localhost``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session
from soap_testlib import SECRETS, envelope, market_config, page, record

from connectors.rest import RestConnector
from connectors.soap import SoapConnector
from connectors.soap.loader import fetch_wsdl
from gateway.contract.errors import ConfigError, FatalSyncError

API_KEY = {"type": "api_key", "header": "X-Api-Key", "secret": "api_key"}
SIGNATURE = {"type": "signature", "algorithm": "hmac-sha256", "secret": "s", "app_key_secret": "k",
             "string_to_sign": "{method}\n{path}\n{timestamp}",
             "headers": {"X-App-Key": "{app_key}", "X-Timestamp": "{timestamp}", "X-Signature": "{signature}"}}
SECRET_VALUES = {"api_key": "CIVIL-API-KEY-123", "s": "hmac-secret", "k": "APPKEY-789", "token": "BEARER-456"}


def _rest(url: str, auth: dict[str, Any], **stream: Any) -> RestConnector:
    config = {"kind": "rest", "name": "civil", "base_url": url, "auth": auth,
              "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
              "streams": {"cases": {"path": "/api/cases", "record_selector": "data", "primary_key": "id",
                                    **stream}}}
    return RestConnector(config, secrets=SECRET_VALUES, session=plain_session(), sleep=lambda s: None)


def _records(url: str = "") -> Answer:
    return json_answer(json.dumps({"data": [{"id": "R1"}]}).encode())


def test_a_next_link_to_another_host_is_refused_and_gets_nothing() -> None:
    with ScriptedServer(_records) as other:
        link = f'<{other.url}/steal?page=2>; rel="next"'
        with ScriptedServer(lambda r: json_answer(b'{"data": [{"id": "R1"}]}', Link=link)) as system:
            connector = _rest(system.url, {"type": "bearer", "secret": "token"},
                              pagination={"type": "link_header"})
            with pytest.raises(FatalSyncError) as caught:
                list(connector.read("cases"))
        assert other.seen == []
    message = str(caught.value)
    assert f"{other.url}/steal" in message and "another origin" in message and "civil stream 'cases'" in message


@pytest.mark.parametrize("auth", [API_KEY, SIGNATURE], ids=["api_key", "signature"])
@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_another_host_is_not_followed(auth: dict[str, Any], status: int) -> None:
    with ScriptedServer(_records) as other:
        target = f"{other.other_host_url}/collect/api/cases"
        with ScriptedServer(lambda r: Answer(status, {"Location": target})) as system, \
                pytest.raises(FatalSyncError) as caught:
            list(_rest(system.url, auth).read("cases"))
        assert other.seen == []
    assert f"redirected (HTTP {status}) to {target}" in str(caught.value)


def test_a_redirect_within_the_origin_is_followed_with_the_credentials() -> None:
    def answer(request: Seen) -> Answer:
        if request.path.startswith("/old/"):
            return Answer(301, {"Location": "/api/cases?moved=1"})
        assert request.headers.get("X-Api-Key") == SECRET_VALUES["api_key"]
        return _records()

    with ScriptedServer(answer) as system:
        pages = list(_rest(system.url, API_KEY, path="/old/cases").read("cases"))
        assert [r.source_id for p in pages for r in p.records] == ["R1"]
        assert [s.path for s in system.seen] == ["/old/cases", "/api/cases?moved=1"]


def test_a_soap_307_to_another_host_does_not_re_post_the_envelope(tmp_path: Path) -> None:
    ok = envelope(page([record("SCJG1")])).encode()
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, ok)) as other:
        with ScriptedServer(lambda r: Answer(307, {"Location": other.other_host_url + "/x"})) as system:
            config = market_config(tmp_path, address=system.url + "/ScjgService.asmx",
                                   wsse={"username_secret": "username", "password_secret": "password",
                                         "digest": False})
            connector = SoapConnector(config, secrets=SECRETS, session=plain_session(), sleep=lambda s: None)
            with pytest.raises(FatalSyncError, match="another origin"):
                list(connector.read("cases"))
            assert len(system.seen) == 1 and SECRETS["password"].encode() in system.seen[0].body
        assert other.seen == []


def test_a_wsdl_redirected_to_another_host_is_not_fetched_with_the_sessions_headers() -> None:
    """The WSDL (and zeep's imports) come through the connector's session, which carries its static headers: a
    redirect to another origin is refused by name, one within the origin is followed."""
    document = b'<definitions xmlns="http://schemas.xmlsoap.org/wsdl/"/>'
    with ScriptedServer(lambda r: Answer(200, {"Content-Type": "text/xml"}, document)) as other:
        def answer(request: Seen) -> Answer:
            if request.path.startswith("/moved"):
                return Answer(200, {"Content-Type": "text/xml"}, document)
            if request.path.startswith("/here"):
                return Answer(301, {"Location": "/moved/Service.asmx?wsdl"})
            return Answer(302, {"Location": other.other_host_url + "/Service.asmx?wsdl"})

        with ScriptedServer(answer) as system:
            session = plain_session()
            session.headers["X-Api-Key"] = SECRET_VALUES["api_key"]
            with pytest.raises(ConfigError, match="another origin"):
                fetch_wsdl(system.url + "/Service.asmx?wsdl", session=session, ttl=0)
            assert fetch_wsdl(system.url + "/here/Service.asmx?wsdl", session=session, ttl=0) == document
        assert other.seen == []


def test_a_wsdl_that_cannot_be_fetched_says_why_and_shows_no_query() -> None:
    """Outside review: a scaffold from a mistyped URL said only "ConnectionError". The cause is told; the query —
    where a token may ride — is not."""
    import socket

    from gateway.contract.errors import SourceUnavailableError

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(SourceUnavailableError) as caught:
        fetch_wsdl(f"http://127.0.0.1:{port}/Services/WebService.asmx?wsdl&token=SECRET", session=plain_session(),
                   timeout=10)
    message = str(caught.value)
    assert "Connection refused" in message or "ConnectionError" in message
    assert "NewConnectionError" in message or "refused" in message.lower()
    assert "SECRET" not in message and "token" not in message
