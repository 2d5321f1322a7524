"""A platform's own token endpoint, and a token with a signature (``auth: {type: token}``), over real HTTP.

Chinese government platforms rarely speak OAuth2: ``POST /auth/getToken`` with ``{"appId", "appSecret"}`` as
JSON answers ``{"code": "200", "data": {"accessToken": …, "expiresIn": 7200}}``, the token goes in an
``X-Access-Token`` header (or an ``access_token`` parameter), and many platforms want every request signed as
well. An outside review could express neither (``oauth2_client_credentials`` sends a form with ``grant_type``
and reads ``access_token``; ``auth`` held one object, so a token could not be combined with a signature).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import AuthenticationError, ConfigError

APP_ID, APP_SECRET, SIGN_KEY = "tb-app-01", "s3cr3t-app-secret", "sign-key-9f2c"
ROWS = [{"id": f"Z{i:03d}", "updateTime": f"2026-12-01 09:{i:02d}:00"} for i in range(45)]


class Platform:
    """Tokens die after ``uses`` requests with 40001 in an HTTP 200 body; every data request must carry a live
    token and an HMAC over method, path+query and that token."""

    def __init__(self, *, uses: int = 3, signed: bool = True) -> None:
        self.uses, self.signed = uses, signed
        self.live: dict[str, int] = {}
        self.issued = 0
        self.token_bodies: list[Any] = []

    def __call__(self, request: Seen) -> Answer:
        if request.route == "/auth/getToken":
            body = json.loads(request.body)
            self.token_bodies.append(body)
            if body != {"appId": APP_ID, "appSecret": APP_SECRET}:
                return self._json({"code": "401", "msg": "appSecret错误", "data": None})
            self.issued += 1
            token = f"T{self.issued:04d}"
            self.live[token] = self.uses
            return self._json({"code": "200", "msg": "成功", "data": {"accessToken": token, "expiresIn": 7200}})
        token = request.headers.get("X-Access-Token", "")
        if self.live.get(token, 0) <= 0:
            return self._json({"code": "40001", "msg": "access_token已失效", "data": None})
        if self.signed:
            expected = hmac.new(SIGN_KEY.encode(), f"GET\n{request.path}\n{token}".encode(), hashlib.sha256).hexdigest()
            if request.headers.get("X-Sign") != expected:
                return self._json({"code": "403", "msg": "签名错误", "data": None})
        self.live[token] -= 1
        query = request.query
        size, number = int(query["pageSize"]), int(query["pageNum"])
        return self._json({"code": "200", "msg": "成功",
                           "data": {"total": len(ROWS), "rows": ROWS[(number - 1) * size: number * size]}})

    @staticmethod
    def _json(body: dict[str, Any]) -> Answer:
        return json_answer(json.dumps(body, ensure_ascii=False).encode())


def _config(url: str, *, signed: bool = True) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "type": "token",
        "request": {"path": "/auth/getToken", "method": "POST", "send": "json",
                    "fields": {"appId": {"secret": "app_id"}, "appSecret": {"secret": "app_secret"}}},
        "token_path": "data.accessToken", "expires_in_path": "data.expiresIn",
        "send_as": {"header": "X-Access-Token"},
    }
    if signed:
        auth["sign"] = {"type": "signature", "algorithm": "hmac-sha256", "secret": "sign_key",
                        "string_to_sign": "{method}\n{path_query}\n{header:X-Access-Token}",
                        "headers": {"X-Sign": "{signature}"}}
    return {"kind": "rest", "name": "gov", "base_url": url, "retry": {"max_attempts": 2, "backoff_seconds": 0},
            "auth": auth,
            "streams": {"cases": {
                "path": "/api/cases", "record_selector": "data.rows", "primary_key": "id",
                "success": {"field": "code", "codes": {"200": "ok", "40001": "reauth", "401": "auth",
                                                       "403": "auth"}},
                "pagination": {"type": "page_number", "page_param": "pageNum", "size_param": "pageSize",
                               "size": 10, "total_path": "data.total"}}}}


SECRETS = {"app_id": APP_ID, "app_secret": APP_SECRET, "sign_key": SIGN_KEY}


def _read(connector: RestConnector) -> list[str]:
    return [r.source_id for page in connector.read("cases", mode="full_refresh") for r in page.records]


def test_a_platform_token_with_a_signature_reads_everything_refreshing_the_token_as_it_expires() -> None:
    platform = Platform(uses=2)
    with ScriptedServer(platform) as server:
        read = _read(RestConnector(_config(server.url), secrets=SECRETS, session=plain_session()))
    assert read == [r["id"] for r in ROWS]
    assert platform.issued >= 3  # five pages, two requests a token: fetched again each time it died
    assert platform.token_bodies[0] == {"appId": APP_ID, "appSecret": APP_SECRET}


def test_the_token_can_go_in_a_query_parameter() -> None:
    seen: list[dict[str, str]] = []
    platform = Platform(uses=100, signed=False)

    def via_query(request: Seen) -> Answer:
        if request.route != "/auth/getToken":
            seen.append(request.query)
            request.headers["X-Access-Token"] = request.query.get("access_token", "")
        return platform(request)

    config = _config("", signed=False)
    config["auth"]["send_as"] = {"query": "access_token"}
    with ScriptedServer(via_query) as server:
        config["base_url"] = server.url
        read = _read(RestConnector(config, secrets=SECRETS, session=plain_session()))
    assert read == [r["id"] for r in ROWS]
    assert all(q["access_token"] == "T0001" and "pageNum" in q for q in seen)


def test_a_refused_token_request_says_the_platform_s_message_and_never_the_secret() -> None:
    with ScriptedServer(Platform()) as server, pytest.raises(AuthenticationError) as caught:
        _read(RestConnector(_config(server.url), secrets={**SECRETS, "app_secret": "wrong-secret-value"},
                            session=plain_session()))
    message = str(caught.value)
    assert "appSecret错误" in message and "data.accessToken" in message
    assert "wrong-secret-value" not in message


@pytest.mark.parametrize(("change", "says"), [
    (lambda a: a["send_as"].update({"query": "access_token"}), "exactly one of header"),
    (lambda a: a.pop("token_path"), "token_path"),
    (lambda a: a["request"].update({"send": "xml"}), "request.send"),
])
def test_token_settings_written_wrong_are_refused_by_name(change: Any, says: str) -> None:
    config = _config("http://127.0.0.1:9")
    change(config["auth"])
    with pytest.raises(ConfigError, match=says):
        RestConnector(config, secrets=SECRETS, session=plain_session())


def test_a_token_field_naming_a_secret_that_is_not_set_is_refused_when_the_connector_is_built() -> None:
    with pytest.raises(ConfigError, match=r"auth\.request\.fields\.appSecret: secret 'app_secret' is not set"):
        RestConnector(_config("http://127.0.0.1:9"), secrets={"app_id": APP_ID, "sign_key": SIGN_KEY},
                      session=plain_session())


def test_a_refused_signature_over_a_token_never_quotes_the_signing_secret() -> None:
    """A refused probe of ``auth: {type: token, sign: …}`` said only 签名错误 — the string it signed, which
    ``type: signature`` quotes to show which part of the convention the YAML got wrong, was not quoted; quoted now,
    with ``md5({token}{secret})`` the secret in it masked."""
    config = _config("")
    config["auth"]["sign"] = {"type": "signature", "algorithm": "md5", "secret": "sign_key",
                              "string_to_sign": "{header:X-Access-Token}{secret}", "headers": {"X-Sign": "{signature}"}}
    with ScriptedServer(Platform()) as server:
        config["base_url"] = server.url
        result = RestConnector(config, secrets=SECRETS, session=plain_session()).check()
    message = result.message
    assert not result.ok and "签名错误" in message and "signed" in message
    assert SIGN_KEY not in message and APP_SECRET not in message
