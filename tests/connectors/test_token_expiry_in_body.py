"""A token that expires with an error code in an HTTP 200 body (``{"code":"40001","msg":"access_token已失效"}``),
as most Chinese platforms say it: the `reauth` outcome drops the cached token and sends the request once more,
for reads and writes, and fails as `auth` when the fresh token is refused too."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer

from connectors.rest import RestConnector
from gateway.contract.errors import AuthenticationError

EXPIRED = {"code": "40001", "msg": "access_token已失效", "data": None}
SUCCESS = {"field": "code", "equals": "0", "message_field": "msg", "codes": {"40001": "reauth", "40013": "auth"}}


class Platform:
    """Tokens that die after ``uses`` calls (or at once if ``uses`` is 0), said in an HTTP 200 body."""

    def __init__(self, uses: int) -> None:
        self.uses = uses
        self.tokens: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, request: Seen) -> Answer:
        with self.lock:
            if request.route == "/oauth/token":
                form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
                assert form["client_secret"] == "sec"
                token = f"T{len(self.tokens) + 1}"
                self.tokens[token] = 0
                return _json({"access_token": token, "token_type": "bearer", "expires_in": 7200})
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if token not in self.tokens or self.tokens[token] >= self.uses:
                return _json(EXPIRED)
            self.tokens[token] += 1
        if request.method == "PUT":
            return _json({"code": "0", "msg": "成功", "data": {"id": "R1"}})
        page = int(request.query["pageNum"])
        rows = [{"id": f"{page}-{i}"} for i in range(2)] if page <= 3 else []
        return _json({"code": "0", "msg": "成功", "data": {"rows": rows}})


def _json(body: Any) -> Answer:
    return json_answer(json.dumps(body, ensure_ascii=False).encode())


@pytest.fixture
def platform() -> Iterator[tuple[ScriptedServer, Platform]]:
    script = Platform(uses=2)
    with ScriptedServer(script) as server:
        yield server, script


def _connector(url: str) -> RestConnector:
    config = {
        "base_url": url,
        "retry": {"max_attempts": 3, "backoff_seconds": 0, "jitter": False},
        "auth": {"type": "oauth2_client_credentials", "token_url": "/oauth/token",
                 "client_id_secret": "client_id", "client_secret_secret": "client_secret"},
        "streams": {"cases": {"path": "/api/list", "record_selector": "data.rows", "primary_key": "id",
                              "success": SUCCESS,
                              "pagination": {"type": "page_number", "page_param": "pageNum",
                                             "size_param": "pageSize", "size": 2}}},
        "write": {"cases": {"upsert": {"method": "PUT", "path": "/api/cases/{key}"}, "success": SUCCESS}},
    }
    return RestConnector(config, secrets={"client_id": "app", "client_secret": "sec"}, sleep=lambda s: None)


def _calls(server: ScriptedServer, route: str) -> int:
    return len(server.requests_to(route))


def test_read_refreshes_a_token_expired_in_the_body(platform: Any) -> None:
    server, _ = platform
    ids = [r.source_id for p in _connector(server.url).read("cases", mode="full_refresh") for r in p.records]
    assert ids == ["1-0", "1-1", "2-0", "2-1", "3-0", "3-1"]
    assert _calls(server, "/oauth/token") == 2  # T1 (pages 1, 2), then T2 (pages 3, 4) after it expired
    assert _calls(server, "/api/list") == 4 + 1  # four pages, page 3 sent again with the fresh token


def test_read_fails_as_auth_when_the_fresh_token_is_refused_too(platform: Any) -> None:
    server, script = platform
    script.uses = 0
    with pytest.raises(AuthenticationError, match="access_token已失效"):
        list(_connector(server.url).read("cases", mode="full_refresh"))
    assert _calls(server, "/oauth/token") == 2
    assert _calls(server, "/api/list") == 2


def test_write_refreshes_a_token_expired_in_the_body(platform: Any) -> None:
    server, _ = platform
    connector = _connector(server.url)
    results = [connector.write("cases", {"id": k}, key=k, idempotency_key=f"{k}:1").status for k in "abc"]
    assert results == ["applied"] * 3
    puts = server.requests_to("/api/cases/c")
    assert [r.headers["Authorization"] for r in puts] == ["Bearer T1", "Bearer T2"]  # T1 died after two uses
    assert _calls(server, "/oauth/token") == 2


def test_write_fails_as_auth_when_the_fresh_token_is_refused_too(platform: Any) -> None:
    server, script = platform
    script.uses = 0
    with pytest.raises(AuthenticationError, match="access_token已失效"):
        _connector(server.url).write("cases", {"id": "a"}, key="a", idempotency_key="a:1")
    assert _calls(server, "/oauth/token") == 2
    assert _calls(server, "/api/cases/a") == 2
