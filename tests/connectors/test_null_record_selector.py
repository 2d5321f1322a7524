"""A null anywhere on the ``record_selector`` path is an empty page; a key that is not there is an error naming it.

A 公积金 system answers a query without results with ``{"code":"0","msg":"查询无数据","data":null}``. That used
to fail the sync with "record_selector 'data.list' not found" although ``data.list: null`` read as an empty page.
Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from scripted_testlib import ScriptedServer, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import FatalSyncError


def _connector(url: str) -> RestConnector:
    config = {
        "kind": "rest", "name": "gjj", "base_url": url,
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "streams": {"list": {
            "path": "/api/list", "record_selector": "data.list", "primary_key": "id",
            "success": {"field": "code", "equals": "0", "message_field": "msg"},
            "incremental": {"cursor_field": "t", "cursor_format": "iso8601", "param": "since"},
            "pagination": {"type": "page_number", "page_param": "pageNo", "size_param": "pageSize", "size": 20},
        }},
    }
    return RestConnector(config, session=plain_session(), sleep=lambda s: None)


def _serving(body: Any) -> ScriptedServer:
    return ScriptedServer(lambda request: json_answer(json.dumps(body, ensure_ascii=False).encode()))


@pytest.mark.parametrize("body", [
    {"code": "0", "msg": "查询无数据", "data": None},
    {"code": "0", "msg": "查询无数据", "data": {"total": 0, "list": None}},
    {"code": "0", "msg": "成功", "data": {"total": 0, "list": []}},
], ids=["data-null", "list-null", "list-empty"])
def test_a_null_on_the_selector_path_is_an_empty_page(body: dict[str, Any]) -> None:
    with _serving(body) as server:
        connector = _connector(server.url)
        pages = list(connector.read("list"))
        result = connector.check()
    assert [p.records for p in pages] == [[]]
    assert result.ok, result.message


def test_a_missing_key_on_the_path_names_the_missing_part() -> None:
    with _serving({"code": "0", "msg": "成功", "data": {"total": 3, "rows": []}}) as server, \
            pytest.raises(FatalSyncError) as caught:
        list(_connector(server.url).read("list"))
    message = str(caught.value)
    assert "record_selector 'data.list' not found" in message
    assert "data has no key 'list'" in message and "'rows'" in message
    assert "null on the path would be an empty page" in message


def test_a_missing_first_key_names_the_body() -> None:
    with _serving({"code": "0", "msg": "成功", "result": {"list": []}}) as server, \
            pytest.raises(FatalSyncError, match="the body has no key 'data'"):
        list(_connector(server.url).read("list"))
