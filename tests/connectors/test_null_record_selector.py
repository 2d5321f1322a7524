"""A null anywhere on the ``record_selector`` path is an empty page; a key that is not there is an error naming it.

A 公积金 system answers a query without results with ``{"code":"0","msg":"查询无数据","data":null}``. That used
to fail the sync with "record_selector 'data.list' not found" although ``data.list: null`` read as an empty page.
Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from http_testlib import ScriptedServer, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import FatalSyncError


def _connector(url: str, *, success: bool = True, auth: dict[str, Any] | None = None,
               secrets: dict[str, str] | None = None) -> RestConnector:
    config: dict[str, Any] = {
        "kind": "rest", "name": "gjj", "base_url": url,
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "streams": {"list": {
            "path": "/api/list", "record_selector": "data.list", "primary_key": "id",
            "success": {"field": "code", "equals": "0", "message_field": "msg"},
            "incremental": {"cursor_field": "t", "cursor_format": "iso8601", "param": "since"},
            "pagination": {"type": "page_number", "page_param": "pageNo", "size_param": "pageSize", "size": 20},
        }},
    }
    if not success:
        del config["streams"]["list"]["success"]
    if auth is not None:
        config["auth"] = auth
    return RestConnector(config, secrets=secrets, session=plain_session(), sleep=lambda s: None)


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


def test_without_a_success_rule_a_null_above_the_list_is_an_error_quoting_the_envelope() -> None:
    """``{"code":"401","msg":"token已失效","data":null}`` on a stream without a ``success`` rule used to read as
    "no records": the token expired and the system went quiet without a word."""
    with _serving({"code": "401", "msg": "token已失效,请重新获取", "data": None}) as server:
        connector = _connector(server.url, success=False)
        with pytest.raises(FatalSyncError) as caught:
            list(connector.read("list"))
        result = connector.check()
    message = str(caught.value)
    # said before the record selector is read: the answer says the request failed, whatever its data holds
    assert "the answer says the request failed" in message and "nothing was taken from it" in message
    assert "code = '401'" in message and "token已失效" in message
    assert not result.ok and "code = '401'" in result.message


def test_without_a_success_rule_a_null_list_is_still_an_empty_page() -> None:
    with _serving({"code": "0", "msg": "查询无数据", "data": {"total": 0, "list": None}}) as server:
        assert [p.records for p in _connector(server.url, success=False).read("list")] == [[]]


def test_the_quoted_envelope_message_is_masked() -> None:
    secret = "SECRET-TOKEN-9876"
    with _serving({"code": "401", "msg": f"token {secret} 已失效", "data": None}) as server, \
            pytest.raises(FatalSyncError) as caught:
        list(_connector(server.url, success=False, auth={"type": "bearer", "secret": "token"},
                        secrets={"token": secret}).read("list"))
    assert "已失效" in str(caught.value) and secret not in str(caught.value)
