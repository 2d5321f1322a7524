"""YAML booleans in query (or form) parameters go out as ``true``/``false``, not Python's ``True``/``False``.

``params: {includeDeleted: false}`` reached the system as ``includeDeleted=False`` (only ``params_as_text``
converted booleans), which a Java or .NET system does not read as a boolean. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from http_testlib import ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector


def _connector(url: str, *, stream: dict[str, Any] | None = None, **config: Any) -> RestConnector:
    return RestConnector(
        {"kind": "rest", "name": "gjj", "base_url": url, "retry": {"max_attempts": 1},
         "streams": {"list": {"path": "/api/list", "record_selector": "data", "primary_key": "id",
                              "params": {"includeDeleted": False, "valid": True, "zt": "01"}, **(stream or {})}},
         **config},
        session=plain_session())


def _answer(request: Seen) -> Any:
    return json_answer(b'{"data": [{"id": "A"}]}')


def test_query_booleans_are_written_true_and_false() -> None:
    with ScriptedServer(_answer) as server:
        pages = list(_connector(server.url).read("list"))
        query = dict(parse_qsl(urlsplit(server.seen[0].path).query))
    assert [r.source_id for p in pages for r in p.records] == ["A"]
    assert query == {"includeDeleted": "false", "valid": "true", "zt": "01"}


def test_form_booleans_are_written_true_and_false() -> None:
    with ScriptedServer(_answer) as server:
        list(_connector(server.url, stream={"method": "POST", "params_in": "form"}).read("list"))
        form = dict(parse_qsl(server.seen[0].body.decode()))
    assert form == {"includeDeleted": "false", "valid": "true", "zt": "01"}


def test_json_booleans_stay_json_booleans() -> None:
    with ScriptedServer(_answer) as server:
        list(_connector(server.url, stream={"method": "POST", "params_in": "json"}).read("list"))
        body = server.seen[0].body
    assert b'"includeDeleted": false' in body or b'"includeDeleted":false' in body


def test_the_check_paths_booleans_too() -> None:
    with ScriptedServer(_answer) as server:
        result = _connector(server.url, check={"path": "/api/ping", "params": {"deep": False}}).check()
        query = dict(parse_qsl(urlsplit(server.seen[0].path).query))
    assert result.ok and query == {"deep": "false"}
