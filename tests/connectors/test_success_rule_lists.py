"""`success` as a list of rules: an API gateway's own envelope (``{"errcode":"20003","errmsg":"调用频率超限"}``)
checked before the business one (``{"code":"200",...}``); a rule other than the last applies only when its field
is present, and the last always applies (a missing business code stays an error)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer

from connectors.rest import RestConnector
from gateway.contract.errors import FatalSyncError, RetriableSyncError

GATEWAY = {"field": "errcode", "equals": "0", "codes": {"20003": "retry"}, "message_field": "errmsg"}
BUSINESS = {"field": "code", "equals": "200", "message_field": "msg"}
THROTTLED = {"errcode": "20003", "errmsg": "调用频率超限，请稍后重试"}


def _page(n: int) -> dict[str, Any]:
    rows = [{"id": f"{n}-{i}"} for i in range(2)] if n <= 2 else []
    return {"code": "200", "msg": "成功", "data": {"rows": rows}}


@pytest.fixture
def server() -> Iterator[tuple[ScriptedServer, dict[int, list[Any]]]]:
    script: dict[int, list[Any]] = {}  # page → answers to give before the normal one

    def answer(request: Seen) -> Answer:
        n = int(request.query["pageNum"])
        body = script[n].pop(0) if script.get(n) else _page(n)
        return json_answer(json.dumps(body, ensure_ascii=False).encode())

    with ScriptedServer(answer) as srv:
        yield srv, script


def _connector(url: str, success: Any, attempts: int = 5) -> RestConnector:
    config = {
        "base_url": url,
        "retry": {"max_attempts": attempts, "backoff_seconds": 0, "jitter": False},
        "streams": {"cases": {"path": "/api/list", "record_selector": "data.rows", "primary_key": "id",
                              "success": success,
                              "pagination": {"type": "page_number", "page_param": "pageNum",
                                             "size_param": "pageSize", "size": 2}}},
    }
    return RestConnector(config, secrets={}, sleep=lambda s: None)


def _ids(connector: RestConnector) -> list[str]:
    return [r.source_id for p in connector.read("cases", mode="full_refresh") for r in p.records]


def test_gateway_throttle_is_retried_within_the_budget(server: Any) -> None:
    srv, script = server
    script[2] = [THROTTLED, THROTTLED]
    assert _ids(_connector(srv.url, [GATEWAY, BUSINESS])) == ["1-0", "1-1", "2-0", "2-1"]
    assert len(srv.seen) == 3 + 2


def test_gateway_throttle_beyond_the_budget_quotes_errmsg(server: Any) -> None:
    srv, script = server
    script[1] = [THROTTLED] * 3
    with pytest.raises(RetriableSyncError, match="errcode = '20003'.*调用频率超限"):
        _ids(_connector(srv.url, [GATEWAY, BUSINESS], attempts=3))


@pytest.mark.parametrize("body", [{"data": {"rows": []}}, {"errcode": "0", "data": {"rows": []}}],
                         ids=["no code at all", "gateway ok, no business code"])
def test_a_missing_business_code_is_still_an_error(server: Any, body: dict[str, Any]) -> None:
    srv, script = server
    script[1] = [body]
    with pytest.raises(FatalSyncError, match=r"code = None, expected '200'"):
        _ids(_connector(srv.url, [GATEWAY, BUSINESS]))


def test_business_failure_is_judged_by_the_business_rule(server: Any) -> None:
    srv, script = server
    script[1] = [{"code": "500", "msg": "系统异常"}]
    with pytest.raises(FatalSyncError, match="code = '500', expected '200': 系统异常"):
        _ids(_connector(srv.url, [GATEWAY, BUSINESS]))


def test_a_single_rule_still_works(server: Any) -> None:
    srv, _ = server
    assert _ids(_connector(srv.url, BUSINESS)) == ["1-0", "1-1", "2-0", "2-1"]
