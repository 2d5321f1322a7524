"""``pagination.total_path``: a server that caps the page size below ``size`` no longer cuts a read short silently.

A page-number server capping ``pageSize`` at 10 while the connector asks for 20 answers a first page of 10
records, which reads as the last (fewer than ``size``): a full refresh of 23 records ended after 10, without an
error. With ``total_path`` (the answer's count, ``data.total``), a read ending short of it is a FatalSyncError
naming both numbers and what to lower. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import FatalSyncError

ROWS = [{"ywlsh": f"YW{i:03d}", "updateTime": f"2026-12-01 09:{i:02d}:00"} for i in range(1, 24)]


def _capped(cap: int) -> Any:
    def answer(request: Seen) -> Answer:
        query = dict(parse_qsl(urlsplit(request.path).query))
        since = query.get("updateTime", "")
        chosen = [r for r in ROWS if r["updateTime"] >= since]
        size = min(int(query.get("pageSize") or query.get("limit") or 20), cap)
        start = int(query["offset"]) if "offset" in query else (int(query.get("pageNo", 1)) - 1) * size
        body = {"code": "0", "data": {"total": str(len(chosen)), "list": chosen[start: start + size]}}
        return json_answer(json.dumps(body).encode())

    return answer


def _connector(url: str, pagination: dict[str, Any]) -> RestConnector:
    return RestConnector(
        {"kind": "rest", "name": "gjj", "base_url": url, "retry": {"max_attempts": 1},
         "streams": {"list": {
             "path": "/api/list", "record_selector": "data.list", "primary_key": "ywlsh",
             "success": {"field": "code", "equals": "0"},
             "incremental": {"cursor_field": "updateTime", "cursor_format": "%Y-%m-%d %H:%M:%S", "param": "updateTime"},
             "pagination": pagination}}},
        session=plain_session())


PAGE_NUMBER = {"type": "page_number", "page_param": "pageNo", "size_param": "pageSize", "size": 20,
               "total_path": "data.total"}
OFFSET = {"type": "offset", "offset_param": "offset", "limit_param": "limit", "size": 20, "total_path": "data.total"}


@pytest.mark.parametrize("pagination", [PAGE_NUMBER, OFFSET], ids=["page_number", "offset"])
@pytest.mark.parametrize("mode", ["full_refresh", "incremental"])
def test_a_server_capping_the_page_size_stops_the_read_naming_both_numbers(pagination: dict[str, Any],
                                                                           mode: str) -> None:
    with ScriptedServer(_capped(10)) as server, pytest.raises(FatalSyncError) as caught:
        list(_connector(server.url, pagination).read("list", mode=mode))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "the read ended after 10 records, but the answer's `data.total` says 23" in message
    assert "fewer than size 20" in message and "lower `pagination.size`" in message


@pytest.mark.parametrize("pagination", [PAGE_NUMBER, OFFSET], ids=["page_number", "offset"])
@pytest.mark.parametrize("mode", ["full_refresh", "incremental"])
def test_a_server_honouring_the_size_is_read_whole(pagination: dict[str, Any], mode: str) -> None:
    with ScriptedServer(_capped(100)) as server:
        pages = list(_connector(server.url, {**pagination, "size": 5}).read("list", mode=mode))  # type: ignore[arg-type]
    assert [r.source_id for p in pages for r in p.records] == [r["ywlsh"] for r in ROWS]


def test_without_total_path_nothing_changes() -> None:
    pagination = {k: v for k, v in PAGE_NUMBER.items() if k != "total_path"}
    with ScriptedServer(_capped(10)) as server:
        pages = list(_connector(server.url, pagination).read("list", mode="full_refresh"))
    assert len([r for p in pages for r in p.records]) == 10  # the documented caveat: size must not exceed the cap
