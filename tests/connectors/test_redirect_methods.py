"""Redirects after a write, and an endpoint moved from http to https.

A servlet answering a POST with ``302`` + ``Location`` (``sendRedirect``: Post/Redirect/Get) wants the result
fetched with a GET. Re-POSTing the body there sent the write a second time, or — where the result URL accepts
only GET — turned a write that was applied into a failure. 301, 302 and 303 after a POST become a GET without a
body (as browsers and requests do); 307 and 308 keep the method and body. A system whose ``http://`` endpoint
now redirects to ``https://`` on the same host (default ports) is followed; ``https`` → ``http`` never is.
Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.common.urls import https_upgrade
from connectors.rest import RestConnector
from gateway.contract.errors import FatalSyncError


def _connector(url: str, session: requests.Session | None = None) -> RestConnector:
    return RestConnector({"kind": "rest", "name": "x", "base_url": url,
                          "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
                          "streams": {"l": {"path": "/api/l", "record_selector": "data", "primary_key": "id"}},
                          "write": {"cases": {"upsert": {"method": "POST", "path": "/api/cases/{key}"},
                                              "success": {"field": "code", "equals": "0"},
                                              "target_id_path": "data.slbh"}}},
                         session=session or plain_session(), sleep=lambda s: None)


def _prg(status: int, seen: list[tuple[str, str, bytes]]) -> Any:
    def answer(request: Seen) -> Answer:
        seen.append((request.method, request.path, request.body))
        if request.path.startswith("/api/cases/"):
            return Answer(status, {"Location": "/api/result?slbh=R1"})
        if request.method != "GET":
            return Answer(405, {"Content-Type": "text/plain"}, b"Request method 'POST' not supported")
        return json_answer(json.dumps({"code": "0", "data": {"slbh": "R1"}}).encode())

    return answer


@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_post_redirected_by_301_302_303_is_fetched_with_a_get_without_the_body(status: int) -> None:
    seen: list[tuple[str, str, bytes]] = []
    with ScriptedServer(_prg(status, seen)) as server:
        result = _connector(server.url).write("cases", {"a": 1}, key="C1", idempotency_key="C1:1")
    assert result.target_id == "R1"
    assert seen == [("POST", "/api/cases/C1", b'{"a":1}'), ("GET", "/api/result?slbh=R1", b"")]


@pytest.mark.parametrize("status", [307, 308])
def test_a_post_redirected_by_307_308_keeps_its_method_and_body(status: int) -> None:
    seen: list[tuple[str, str, bytes]] = []

    def answer(request: Seen) -> Answer:
        seen.append((request.method, request.path, request.body))
        if request.path.startswith("/api/cases/"):
            return Answer(status, {"Location": "/api/v2/cases/C1"})
        return json_answer(json.dumps({"code": "0", "data": {"slbh": "R1"}}).encode())

    with ScriptedServer(answer) as server:
        _connector(server.url).write("cases", {"a": 1}, key="C1", idempotency_key="C1:1")
    assert seen == [("POST", "/api/cases/C1", b'{"a":1}'), ("POST", "/api/v2/cases/C1", b'{"a":1}')]


class _DefaultPorts(HTTPAdapter):
    """Sends ``http://127.0.0.1/…`` (port 80) and ``https://127.0.0.1/…`` (port 443) to the scripted server's
    real port over plain HTTP, keeping the URL the client sees; records the schemes asked for."""

    def __init__(self, port: int, schemes: list[str]) -> None:
        super().__init__()
        self.port, self.schemes = port, schemes

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        original = str(request.url)
        scheme, rest = original.split("://", 1)
        self.schemes.append(scheme)
        request.url = f"http://127.0.0.1:{self.port}" + rest[len("127.0.0.1"):]
        response = super().send(request, **kwargs)
        response.url = original
        return response


def _session(port: int, schemes: list[str]) -> requests.Session:
    session = plain_session()
    adapter = _DefaultPorts(port, schemes)
    session.mount("http://127.0.0.1/", adapter)
    session.mount("https://127.0.0.1/", adapter)
    return session


def test_an_http_endpoint_redirected_to_https_on_the_same_host_is_followed() -> None:
    schemes: list[str] = []

    def answer(request: Seen) -> Answer:
        if schemes[-1] == "http":
            return Answer(301, {"Location": "https://127.0.0.1" + request.path})
        return json_answer(b'{"data": [{"id": "R1"}]}')

    with ScriptedServer(answer) as server:
        pages = list(_connector("http://127.0.0.1", _session(server.port, schemes)).read("l"))
    assert [r.source_id for p in pages for r in p.records] == ["R1"]
    assert schemes == ["http", "https"]


def test_an_https_endpoint_redirected_to_http_is_not_followed() -> None:
    schemes: list[str] = []

    def answer(request: Seen) -> Answer:
        if schemes[-1] == "https":
            return Answer(301, {"Location": "http://127.0.0.1" + request.path})
        return json_answer(b'{"data": [{"id": "R1"}]}')

    with ScriptedServer(answer) as server, pytest.raises(FatalSyncError, match="another origin"):
        list(_connector("https://127.0.0.1", _session(server.port, schemes)).read("l"))
    assert schemes == ["https"]


@pytest.mark.parametrize(("target", "source", "allowed"), [
    ("https://a.gov.cn/x", "http://a.gov.cn/y", True),
    ("https://a.gov.cn:443/x", "http://a.gov.cn:80/y", True),
    ("http://a.gov.cn/x", "https://a.gov.cn/y", False),
    ("https://b.gov.cn/x", "http://a.gov.cn/y", False),
    ("https://a.gov.cn:8443/x", "http://a.gov.cn/y", False),
    ("https://a.gov.cn/x", "http://a.gov.cn:8080/y", False),
])
def test_only_the_same_host_on_default_ports_counts_as_an_https_upgrade(target: str, source: str,
                                                                        allowed: bool) -> None:
    assert https_upgrade(target, source) is allowed
