"""What a SOAP answer says about its paging is read as a REST body's is (outside review; real HTTP on 127.0.0.1).

- ``pagination.total_path`` was accepted for SOAP streams and never read (the paginator was handed no body): a
  service capping its page size below ``size`` made its first page look like the last, and the rest of the
  records were lost silently behind the watermark. Now the count is read at the path (inside an embedded
  document too), and a read ending short of it stops, naming both numbers.
- a "busy" code inside an HTTP 200 answer (``success.codes: {"5": retry}``) failed the run at once; it is now
  retried within the call's budget, as a fault meaning "try again" is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, Seen, plain_session
from soap_testlib import SECRETS, envelope, market_config, record

from connectors.soap import SoapConnector
from gateway.contract.errors import FatalSyncError, RetriableSyncError

ROWS = [record(f"YW{i:03d}", gxsj=f"202403051{i // 60:01d}{i % 60:02d}00") for i in range(7)]


def _param(request: Seen, name: str) -> str | None:
    found = re.search(rf"<(?:\w+:)?{name}>([^<]*)</(?:\w+:)?{name}>", request.body.decode("utf-8"))
    return found.group(1) if found else None


def _answer(code: str, rows: list[str], total: int) -> Answer:
    body = (f'<GetBusinessListResponse xmlns="http://scjg.jinan.gov.cn/zwfw/"><GetBusinessListResult>'
            f"<CODE>{code}</CODE><MSG>{'成功' if code == '0' else '系统繁忙'}</MSG><TOTAL>{total}</TOTAL>"
            f"<RECORDS>{''.join(rows)}</RECORDS></GetBusinessListResult></GetBusinessListResponse>")
    return Answer(200, {"Content-Type": "text/xml; charset=utf-8"}, envelope(body).encode())


def _capped(cap: int):
    def answer(request: Seen) -> Answer:
        index, size = int(_param(request, "pageIndex") or 1), min(int(_param(request, "pageSize") or 100), cap)
        return _answer("0", ROWS[(index - 1) * size: index * size], len(ROWS))

    return answer


def _connector(url: str, tmp_path: Path, **stream: Any) -> SoapConnector:
    config = market_config(tmp_path, address=url + "/ScjgService.asmx")
    cases = config["streams"]["cases"]
    cases.pop("incremental")
    cases["ordered"] = False
    for key, value in stream.items():
        cases[key] = {**cases.get(key, {}), **value} if isinstance(value, dict) else value
    return SoapConnector(config, secrets=SECRETS, session=plain_session(), sleep=lambda s: None)


def _read(connector: SoapConnector) -> list[str]:
    return [r.source_id for p in connector.read("cases", mode="full_refresh") for r in p.records]


def test_a_service_capping_its_page_size_stops_the_read_naming_both_numbers(tmp_path: Path) -> None:
    paging = {"size": 3, "total_path": "GetBusinessListResponse.GetBusinessListResult.TOTAL"}
    with ScriptedServer(_capped(2)) as server, pytest.raises(FatalSyncError) as caught:
        _read(_connector(server.url, tmp_path, pagination=paging))
    assert "the read ended after 2 records, but the answer's" in str(caught.value) and "says 7" in str(caught.value)


def test_with_the_right_size_the_total_is_read_and_every_record_arrives(tmp_path: Path) -> None:
    paging = {"size": 2, "total_path": "GetBusinessListResponse.GetBusinessListResult.TOTAL"}
    with ScriptedServer(_capped(2)) as server:
        read = _read(_connector(server.url, tmp_path, pagination=paging))
    assert read == [f"YW{i:03d}" for i in range(7)]


def test_a_busy_code_inside_the_answer_is_retried_within_the_budget(tmp_path: Path) -> None:
    busy = {"left": 2}

    def answer(request: Seen) -> Answer:
        if busy["left"]:
            busy["left"] -= 1
            return _answer("5", [], 0)
        return _capped(100)(request)

    success = {"field": "CODE", "codes": {"0": "ok", "5": "retry"}, "message_field": "MSG"}
    with ScriptedServer(answer) as server:
        read = _read(_connector(server.url, tmp_path, success=success))
    assert read == [f"YW{i:03d}" for i in range(7)]


def test_a_busy_code_past_the_budget_is_a_retriable_error_quoting_the_service(tmp_path: Path) -> None:
    success = {"field": "CODE", "codes": {"0": "ok", "5": "retry"}, "message_field": "MSG"}
    with ScriptedServer(lambda r: _answer("5", [], 0)) as server:
        with pytest.raises(RetriableSyncError, match="系统繁忙"):
            _read(_connector(server.url, tmp_path, success=success))
        assert len(server.requests_to("/ScjgService.asmx")) == 3  # retry.max_attempts: one budget for the call
