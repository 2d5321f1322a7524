"""Query APIs that take their parameters in a POST body (``method``, ``params_in``, ``params_as_text``): the paging
and change-time parameters go where the YAML says, as text when the system wants strings, and re-anchoring works
the same as with a query string. Also: ``check()`` of an envelope system that is empty or busy."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses

from connectors.rest import RestConnector
from gateway.contract.errors import ConfigError

URL = "http://social.test/api/case/query"
SUCCESS = {"field": "retCode", "message_field": "retMsg",
           "codes": {"0000": "ok", "4011": "auth", "4012": "auth", "4040": "skip", "5003": "retry"}}


def stream(**extra: Any) -> dict[str, Any]:
    return {"path": "/api/case/query", "record_selector": "result.list", "primary_key": "ywlsh", "success": SUCCESS,
            "incremental": {"cursor_field": "gxsj", "cursor_format": "%Y%m%d%H%M%S", "param": "beginTime"},
            "pagination": {"type": "page_number", "page_param": "pageNum", "size_param": "pageSize", "size": 2},
            **extra}


def connector(sleeps: list[float] | None = None, **extra: Any) -> RestConnector:
    config = {"kind": "rest", "name": "social", "base_url": "http://social.test",
              "retry": {"max_attempts": 3, "backoff_seconds": 0.01, "jitter": False},
              "streams": {"cases": stream(**extra)}}
    return RestConnector(config, secrets={}, sleep=(sleeps if sleeps is not None else []).append)


def rows(*stamps: str) -> list[dict[str, str]]:
    return [{"ywlsh": f"R{s}", "gxsj": s} for s in stamps]


def ok(records: list[dict[str, str]]) -> dict[str, Any]:
    return {"retCode": "0000", "retMsg": "成功", "result": {"total": "3", "list": records}}


NO_DATA = {"retCode": "4040", "retMsg": "查询无数据", "result": None}


@responses.activate
def test_a_post_query_sends_every_parameter_in_a_json_body_as_text_and_re_anchors() -> None:
    # re-anchored where the page's order proves the rest starts (the lower of its last two: 10:31), the source
    # answers the page again (read once), then its second page, short: the end
    responses.post(URL, json=ok(rows("20240305103100", "20240305103200")))
    responses.post(URL, json=ok(rows("20240305103100", "20240305103200")))
    responses.post(URL, json=ok(rows("20240305103300")))
    pages = list(connector(method="POST", params_in="json", params_as_text=True, params={"channel": 1})
                 .read("cases", mode="full_refresh"))
    assert [r.source_id for p in pages for r in p.records] == ["R20240305103100", "R20240305103200",
                                                               "R20240305103300"]  # each once
    sent = [json.loads(call.request.body) for call in responses.calls]
    assert sent == [
        {"channel": "1", "pageNum": "1", "pageSize": "2"},
        {"channel": "1", "pageNum": "1", "pageSize": "2", "beginTime": "20240305103100"},
        {"channel": "1", "pageNum": "2", "pageSize": "2", "beginTime": "20240305103100"},
    ]
    assert all(call.request.method == "POST" and urlsplit(call.request.url).query == "" for call in responses.calls)
    assert all(call.request.headers["Content-Type"] == "application/json" for call in responses.calls)


@responses.activate
def test_without_params_as_text_json_numbers_stay_numbers() -> None:
    responses.post(URL, json=ok(rows("20240305103100")))
    list(connector(method="POST", params_in="json").read("cases", mode="full_refresh"))
    assert json.loads(responses.calls[0].request.body) == {"pageNum": 1, "pageSize": 2}


@responses.activate
def test_a_form_body_and_a_post_with_query_parameters() -> None:
    responses.post(URL, json=ok(rows("20240305103100")))
    list(connector(method="POST", params_in="form").read("cases", since=None, mode="full_refresh"))
    request = responses.calls[0].request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(request.body)) == {"pageNum": "1", "pageSize": "2"}

    responses.post(URL, json=ok(rows("20240305103100")))
    list(connector(method="POST").read("cases", mode="full_refresh"))
    request = responses.calls[1].request
    assert request.method == "POST" and request.body is None
    assert dict(parse_qsl(urlsplit(request.url).query)) == {"pageNum": "1", "pageSize": "2"}


@responses.activate
def test_a_busy_code_on_a_post_query_is_retried() -> None:
    responses.post(URL, json={"retCode": "5003", "retMsg": "系统繁忙，请稍后重试", "result": None})
    responses.post(URL, json=ok(rows("20240305103100")))
    sleeps: list[float] = []
    pages = list(connector(sleeps, method="POST", params_in="json").read("cases", mode="full_refresh"))
    assert [r.source_id for p in pages for r in p.records] == ["R20240305103100"] and len(sleeps) == 1


def test_a_body_needs_post_and_link_header_paging_needs_the_query() -> None:
    with pytest.raises(ConfigError, match="streams.cases: .*params_in: json .* needs method: POST"):
        connector(params_in="json")
    with pytest.raises(ConfigError, match="link_header paging follows the next URL"):
        connector(method="POST", params_in="json", incremental=None, pagination={"type": "link_header"})
    with pytest.raises(ConfigError, match="streams.cases.method"):
        connector(method="PATCH")


@responses.activate
def test_check_of_an_empty_system_is_ok_and_a_busy_one_is_asked_again() -> None:
    responses.post(URL, json=NO_DATA)
    result = connector(method="POST", params_in="json").check()
    assert result.ok and "no records" in result.message and "4040" in result.message
    responses.replace(responses.POST, URL, json={"retCode": "5003", "retMsg": "系统繁忙", "result": None})
    responses.add(responses.POST, URL, json=ok(rows("20240305103100")))
    result = connector(method="POST", params_in="json").check()
    assert result.ok and "1 record(s)" in result.message, result.message


@responses.activate
def test_a_source_that_wants_both_ends_gets_the_instant_the_read_began_on_every_page() -> None:
    """``end_param``: startTime/endTime services. The end is the read's own start, the same on every page (a
    re-anchored page asks the same closed window), in the start parameter's format — ceiled to it, never floored
    (a coarse format's floor would leave out what changed since)."""
    from datetime import datetime, timedelta, timezone

    responses.post(URL, json=ok(rows("20240305103100", "20240305103200")))
    responses.post(URL, json=ok(rows("20240305103100", "20240305103200")))
    responses.post(URL, json=ok(rows("20240305103300")))
    before = datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0)
    incremental = {"cursor_field": "gxsj", "cursor_format": "%Y%m%d%H%M%S", "param": "beginTime",
                   "end_param": "endTime"}
    list(connector(method="POST", params_in="json", incremental=incremental)
         .read("cases", since=datetime(2024, 3, 1, tzinfo=timezone.utc)))
    after = datetime.now(timezone(timedelta(hours=8)))
    sent = [json.loads(call.request.body) for call in responses.calls]
    ends = {body["endTime"] for body in sent}
    assert len(ends) == 1  # one window for the whole read
    end = datetime.strptime(ends.pop(), "%Y%m%d%H%M%S").replace(tzinfo=timezone(timedelta(hours=8)))
    assert before <= end <= after.replace(microsecond=0) + timedelta(seconds=1)
    # re-anchored at the lower of page 1's last two (10:31), its second page short: the end
    assert [body["beginTime"] for body in sent] == ["20240301080000", "20240305103100", "20240305103100"]
