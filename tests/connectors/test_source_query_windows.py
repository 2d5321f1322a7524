"""What real sources' change-time filters demand, read without losing a record (real HTTP on 127.0.0.1).

Three shapes an outside review met on Chinese platforms, each of which the reader could not express or read whole:

- an EXCLUSIVE changed-since filter (MyBatis ``update_time > #{startTime}``): paging re-anchors on the highest
  change time read, so the rest of the records sharing it were skipped at every page boundary — 8 of 120 lost,
  the run "ok" (``incremental.exclusive``);
- a source that answers at most 7 days per query (查询时间跨度不能超过7天): one window from the start to now was
  refused on every run, and an outage longer than 7 days would have stuck any system for good
  (``incremental.max_window``, with ``initial_lookback`` for the first read's start);
- MyBatis PageHelper with ``reasonable=true``, which answers any page past the last with the last page again: with
  a record count a multiple of the page size, every read failed as "the source ignores the paging parameter"
  although ``total_path`` said it was complete.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import ConfigError, FatalSyncError

BEIJING = timezone(timedelta(hours=8))
FORMAT = "%Y-%m-%d %H:%M:%S"
NOW = datetime.now(BEIJING).replace(microsecond=0)


def _connector(url: str, incremental: dict[str, Any], *, size: int = 25, total_path: str | None = "data.total"
               ) -> RestConnector:
    pagination = {"type": "page_number", "page_param": "pageNum", "size_param": "pageSize", "size": size}
    if total_path:
        pagination["total_path"] = total_path
    return RestConnector(
        {"kind": "rest", "name": "gov", "base_url": url, "retry": {"max_attempts": 1},
         "streams": {"cases": {
             "path": "/api/cases", "record_selector": "data.rows", "primary_key": "id",
             "success": {"field": "code", "equals": "200"},
             "incremental": {"cursor_field": "updateTime", "cursor_format": FORMAT, "param": "startTime",
                             **incremental},
             "pagination": pagination}}},
        session=plain_session())


def _read(connector: RestConnector, **kwargs: Any) -> list[str]:
    return [r.source_id for page in connector.read("cases", **kwargs) for r in page.records]


def _page(rows: list[dict[str, Any]], query: dict[str, str], *, reasonable: bool = False) -> Answer:
    size, number = int(query["pageSize"]), int(query["pageNum"])
    pages = max(1, -(-len(rows) // size))
    if reasonable:
        number = min(number, pages)  # PageHelper reasonable=true: past the end is the last page again
    chosen = rows[(number - 1) * size: number * size]
    return json_answer(json.dumps({"code": "200", "msg": "成功", "data": {"total": len(rows), "rows": chosen}},
                                  ensure_ascii=False).encode())


# -- exclusive (>) filters ------------------------------------------------------------------------------------

GROUPED = [{"id": f"R{i:04d}", "updateTime": (NOW - timedelta(hours=2) + timedelta(seconds=i // 3)).strftime(FORMAT)}
           for i in range(120)]
"""Three records per change time: a page boundary falls inside a group at every page of 25."""


def _exclusive_source(request: Seen) -> Answer:
    query = request.query
    since = query.get("startTime")
    rows = [r for r in GROUPED if since is None or r["updateTime"] > since]  # strictly after
    return _page(rows, query)


def test_an_exclusive_changed_since_filter_loses_no_record_at_page_boundaries() -> None:
    with ScriptedServer(_exclusive_source) as server:
        read = _read(_connector(server.url, {"exclusive": True}), mode="full_refresh")
    assert sorted(set(read)) == [r["id"] for r in GROUPED]


def test_an_exclusive_filter_is_sent_one_step_before_the_watermark_so_its_own_second_is_read_again() -> None:
    since = datetime.strptime(GROUPED[30]["updateTime"], FORMAT).replace(tzinfo=BEIJING)
    with ScriptedServer(_exclusive_source) as server:
        read = _read(_connector(server.url, {"exclusive": True}), since=since)
        first = server.requests_to("/api/cases")[0].query
    assert first["startTime"] == (since - timedelta(seconds=1)).strftime(FORMAT)
    assert sorted(set(read)) == [r["id"] for r in GROUPED if r["updateTime"] >= GROUPED[30]["updateTime"]]


def test_an_inclusive_source_is_still_sent_the_anchor_itself() -> None:
    since = datetime.strptime(GROUPED[30]["updateTime"], FORMAT).replace(tzinfo=BEIJING)

    def inclusive(request: Seen) -> Answer:
        rows = [r for r in GROUPED if r["updateTime"] >= request.query["startTime"]]
        return _page(rows, request.query)

    with ScriptedServer(inclusive) as server:
        read = _read(_connector(server.url, {}), since=since)
        assert server.requests_to("/api/cases")[0].query["startTime"] == GROUPED[30]["updateTime"]
    assert sorted(set(read)) == [r["id"] for r in GROUPED if r["updateTime"] >= GROUPED[30]["updateTime"]]


# -- at most 7 days a query --------------------------------------------------------------------------------------

SPREAD = [{"id": f"W{i:03d}", "updateTime": (NOW - timedelta(days=30) + timedelta(hours=7 * i)).strftime(FORMAT)}
          for i in range(100)]
"""A record every 7 hours over the last 30 days (the last ones ~1 day ago)."""


def _seven_days_at_most(request: Seen) -> Answer:
    query = request.query
    start, end = query.get("startTime"), query.get("endTime")
    if not start or not end:
        return json_answer(b'{"code":"400","msg":"startTime and endTime are required","data":null}')
    if datetime.strptime(end, FORMAT) - datetime.strptime(start, FORMAT) > timedelta(days=7):
        return json_answer('{"code":"400","msg":"查询时间跨度不能超过7天","data":null}'.encode())
    rows = [r for r in SPREAD if start <= r["updateTime"] <= end]
    return _page(rows, query)


WINDOWED = {"end_param": "endTime", "max_window": "7d", "initial_lookback": "40d"}


def test_a_source_answering_seven_days_at_most_is_read_window_by_window_from_the_first_start() -> None:
    with ScriptedServer(_seven_days_at_most) as server:
        read = _read(_connector(server.url, WINDOWED, size=10))
        windows = {(q["startTime"], q["endTime"]) for q in (s.query for s in server.requests_to("/api/cases"))}
    assert sorted(set(read)) == [r["id"] for r in SPREAD]
    assert all(datetime.strptime(e, FORMAT) - datetime.strptime(s, FORMAT) <= timedelta(days=7) for s, e in windows)
    assert len({s for s, _ in windows}) >= 6  # 40 days in windows of 7, each paged and re-anchored


def test_a_watermark_older_than_the_window_is_caught_up_window_by_window() -> None:
    since = datetime.strptime(SPREAD[10]["updateTime"], FORMAT).replace(tzinfo=BEIJING)  # ~27 days ago
    with ScriptedServer(_seven_days_at_most) as server:
        read = _read(_connector(server.url, WINDOWED, size=10), since=since)
    assert sorted(set(read)) == [r["id"] for r in SPREAD[10:]]


def test_without_a_window_the_same_source_refuses_the_read_by_its_own_message() -> None:
    with ScriptedServer(_seven_days_at_most) as server, pytest.raises(FatalSyncError, match="7天"):
        _read(_connector(server.url, {"end_param": "endTime", "initial_lookback": "40d"}, size=10))


@pytest.mark.parametrize(("incremental", "says"), [
    ({"max_window": "7d", "initial_lookback": "40d"}, "max_window needs end_param"),
    ({"max_window": "7d", "end_param": "endTime"}, "max_window needs where the first read starts"),
    ({"max_window": "a week", "end_param": "endTime", "initial_lookback": "40d"}, "not a duration"),
    ({"max_window": "7d", "end_param": "endTime", "initial_value": "last month"}, "cannot be read"),
    ({"initial_value": "2026-01-01 00:00:00", "initial_lookback": "40d"}, "not both"),
])
def test_window_settings_written_wrong_are_refused_by_name(incremental: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _connector("http://127.0.0.1:9", incremental)


# -- PageHelper reasonable=true ------------------------------------------------------------------------------------

EXACT = [{"id": f"P{i:03d}", "updateTime": (NOW - timedelta(hours=5) + timedelta(minutes=i)).strftime(FORMAT)}
         for i in range(100)]
"""100 records: five full pages of 20, the page past the end repeats the fifth."""


def _reasonable(request: Seen) -> Answer:
    return _page(EXACT, request.query, reasonable=True)


def _plain(url: str, *, total_path: str | None) -> RestConnector:
    pagination = {"type": "page_number", "page_param": "pageNum", "size_param": "pageSize", "size": 20}
    if total_path:
        pagination["total_path"] = total_path
    return RestConnector(
        {"kind": "rest", "name": "gov", "base_url": url, "retry": {"max_attempts": 1},
         "streams": {"cases": {"path": "/api/cases", "record_selector": "data.rows", "primary_key": "id",
                               "success": {"field": "code", "equals": "200"}, "pagination": pagination}}},
        session=plain_session())


def test_a_source_repeating_its_last_page_ends_the_read_when_the_total_is_read() -> None:
    with ScriptedServer(_reasonable) as server:
        read = _read(_plain(server.url, total_path="data.total"), mode="full_refresh")
        asked = [int(s.query["pageNum"]) for s in server.requests_to("/api/cases")]
    assert sorted(read) == [r["id"] for r in EXACT]
    assert asked == [1, 2, 3, 4, 5, 6]  # one page past the end, then stopped


def test_without_its_total_a_repeated_last_page_still_stops_the_read_and_names_the_setting() -> None:
    with ScriptedServer(_reasonable) as server, pytest.raises(FatalSyncError, match="total_path"):
        _read(_plain(server.url, total_path=None), mode="full_refresh")


def test_a_short_total_is_no_licence_to_stop_early_a_repeat_before_it_is_read_still_stops_the_read() -> None:
    def lying(request: Seen) -> Answer:  # repeats page 5 for 6.. while saying there are 110
        answer = _page(EXACT, request.query, reasonable=True)
        body = json.loads(answer.body)
        body["data"]["total"] = 110
        return json_answer(json.dumps(body).encode())

    with ScriptedServer(lying) as server, pytest.raises(FatalSyncError, match="already read"):
        _read(_plain(server.url, total_path="data.total"), mode="full_refresh")


# -- an exclusive filter not declared so is told, not read with holes ------------------------------------------------

DISTINCT = [{"id": f"D{i:04d}", "updateTime": (NOW - timedelta(hours=3) + timedelta(seconds=7 * i)).strftime(FORMAT)}
            for i in range(120)]


def _strict(rows: list[dict[str, Any]]):
    def answer(request: Seen) -> Answer:
        since = request.query.get("startTime")
        return _page([r for r in rows if since is None or r["updateTime"] > since], request.query)

    return answer


def test_an_exclusive_filter_declared_inclusive_stops_at_the_first_boundary_before_anything_is_lost() -> None:
    """Records sharing the anchor's change time past a page: the read stops before the page that would skip them,
    naming the setting; the watermark (the highest change time of the pages delivered) still covers them, so the
    next read — with ``exclusive: true`` — gets every record."""
    delivered: list[str] = []
    high: datetime | None = None
    with ScriptedServer(_strict(GROUPED)) as server:
        with pytest.raises(FatalSyncError) as caught:
            for page in _connector(server.url, {}).read("cases", mode="full_refresh"):
                delivered += [r.source_id for r in page.records]
                high = max([high, *(r.cursor for r in page.records)], key=lambda c: c or datetime.min.replace(
                    tzinfo=BEIJING))
        message = str(caught.value)
        assert "exclusive: true" in message and "before any was lost" in message
        assert high is not None
        again = _read(_connector(server.url, {"exclusive": True}), since=high)
    assert sorted(set(delivered) | set(again)) == [r["id"] for r in GROUPED]


def test_an_exclusive_filter_is_named_even_where_no_record_shares_a_boundary_yet() -> None:
    """Distinct change times lose nothing today, but the first group that straddles a page would: told at once."""
    with ScriptedServer(_strict(DISTINCT)) as server, pytest.raises(FatalSyncError, match="exclusive: true"):
        _read(_connector(server.url, {}), mode="full_refresh")


def test_an_exclusive_filter_over_a_group_bigger_than_a_page_is_stopped_not_read_with_holes() -> None:
    """Found by review: a bulk import of 40 rows at one instant, pages of 25. The step-earlier question's first
    page held only the 25 rows already read; counted as "nothing skipped", the other 15 were lost silently."""
    bulk_at = (NOW - timedelta(days=2)).strftime(FORMAT)
    rows = [{"id": f"B{i:04d}", "updateTime": bulk_at} for i in range(40)]
    rows += [{"id": f"L{i:04d}", "updateTime": (NOW - timedelta(hours=30) + timedelta(minutes=i)).strftime(FORMAT)}
             for i in range(60)]
    delivered: list[str] = []
    with ScriptedServer(_strict(rows)) as server:
        with pytest.raises(FatalSyncError, match="exclusive: true"):
            for page in _connector(server.url, {}).read("cases", mode="full_refresh"):
                delivered += [r.source_id for r in page.records]
        again = _read(_connector(server.url, {"exclusive": True}),
                      since=datetime.strptime(bulk_at, FORMAT).replace(tzinfo=BEIJING))
    assert sorted(set(delivered) | set(again)) == sorted(r["id"] for r in rows)


def test_one_anchor_record_changed_again_during_the_read_is_no_reason_to_stop() -> None:
    rows = [dict(r) for r in DISTINCT]
    moved = {"done": False}

    def inclusive(request: Seen) -> Answer:
        since = request.query.get("startTime")
        if since is not None and not moved["done"]:  # the anchor record of page 1 changes before page 2 is asked
            anchor = next(r for r in rows if r["updateTime"] == since)
            anchor["updateTime"] = NOW.strftime(FORMAT)
            rows.sort(key=lambda r: r["updateTime"])
            moved["done"] = True
        return _page([r for r in rows if since is None or r["updateTime"] >= since], request.query)

    with ScriptedServer(inclusive) as server:
        read = _read(_connector(server.url, {}), mode="full_refresh")
    assert sorted(set(read)) == sorted(r["id"] for r in rows)


def test_a_repeated_last_page_ends_its_window_not_the_windowed_read() -> None:
    """PageHelper's repeated last page in a windowed read ends that window's query; the next windows are read."""
    start = NOW - timedelta(days=40)
    rows = [{"id": f"Q{i:03d}", "updateTime": (start + timedelta(hours=1)).strftime(FORMAT)}
            for i in range(20)]  # the first window: two pages of 10 sharing one change time (paged, not re-anchored)
    rows += [{"id": f"Q{i:03d}", "updateTime": (start + timedelta(days=i - 10)).strftime(FORMAT)}
             for i in range(20, 45)]  # one a day later on, over several windows

    def answer(request: Seen) -> Answer:
        q = request.query
        chosen = [r for r in rows if q["startTime"] <= r["updateTime"] <= q["endTime"]]
        return _page(chosen, q, reasonable=True)

    incremental = {"end_param": "endTime", "max_window": "7d", "initial_value": start.strftime(FORMAT)}
    with ScriptedServer(answer) as server:
        read = _read(_connector(server.url, incremental, size=10))
    assert sorted(set(read)) == [r["id"] for r in rows]


def test_a_repeated_last_page_after_a_page_of_re_deliveries_still_ends_the_read() -> None:
    """Found by review: the last change-time group exactly one page; after re-anchoring, the first page is all
    re-deliveries, the next the same page again (PageHelper) — the total was read, yet the read failed."""
    at = (NOW - timedelta(hours=1)).strftime(FORMAT)
    rows = [{"id": f"G{i:03d}", "updateTime": at} for i in range(25)]

    def answer(request: Seen) -> Answer:
        since = request.query.get("startTime")
        return _page([r for r in rows if since is None or r["updateTime"] >= since], request.query, reasonable=True)

    with ScriptedServer(answer) as server:
        read = _read(_connector(server.url, {}), mode="full_refresh")
    assert sorted(set(read)) == [r["id"] for r in rows]


@pytest.mark.parametrize(("incremental", "least"), [
    ({"exclusive": True, "max_window": "1d"}, "2 days"),
    ({"max_window": "12h"}, "1 day"),
])
def test_a_window_no_longer_than_the_parameter_s_step_is_refused_at_load(incremental: dict[str, Any],
                                                                        least: str) -> None:
    """Found by review: a day-format parameter with max_window 1d (exclusive) or 12h could never pass its start;
    every run failed as "a request already sent", blaming the source."""
    settings = {"end_param": "endTime", "initial_lookback": "6d", "param_format": "%Y-%m-%d", **incremental}
    with pytest.raises(ConfigError, match=f"too short for the parameter's format.*give at least {least}"):
        _connector("http://127.0.0.1:9", settings)


# -- the check (tongban connector check) on such a source -----------------------------------------------------------

def test_the_check_asks_a_windowed_source_for_its_newest_window_and_checks_its_records() -> None:
    """Found by review: the check's probe sent the first page without startTime/endTime (the source refused it:
    参数错误, the check failed naming nothing of the window), and the key/cursor check read the oldest window —
    40 days ago, most often empty — so a misspelt primary key passed."""
    from types import SimpleNamespace

    from gateway.kernel.firstpage import check_first_page

    with ScriptedServer(_seven_days_at_most) as server:
        connector = _connector(server.url, {**WINDOWED, "exclusive": True}, size=10)
        result = connector.check()
        assert result.ok, result.message
        assert "first page answered with" in result.message and "with 0 record" not in result.message
        system = SimpleNamespace(stream="cases", connector_config_source="gov.yaml")
        config = {"streams": {"cases": {"primary_key": "id", "incremental": {"cursor_field": "updateTime"}}}}
        page = check_first_page(system, connector, config)  # type: ignore[arg-type]
        assert page.ok and page.records > 0, page.message
        wrong = {"streams": {"cases": {"primary_key": "idd", "incremental": {"cursor_field": "updateTime"}}}}
        refused = check_first_page(system, connector, wrong)  # type: ignore[arg-type]
        assert not refused.ok and "did you mean 'id'" in refused.message
        asked = [s.query for s in server.requests_to("/api/cases")]
    for query in asked:  # every probe inside one window the source takes
        span = datetime.strptime(query["endTime"], FORMAT) - datetime.strptime(query["startTime"], FORMAT)
        assert timedelta(0) < span <= timedelta(days=7)


def test_a_check_path_answering_200_with_a_failure_envelope_fails() -> None:
    """Found by review: `check: {path: …}` looked at the HTTP status alone — a 200 saying 时间跨度不能超过7天 (or an
    expired token) printed 'ok'."""
    def source(request: Seen) -> Answer:
        return json_answer('{"code":"40003","msg":"时间跨度不能超过7天"}'.encode())

    with ScriptedServer(source) as server:
        connector = RestConnector(
            {"kind": "rest", "name": "gov", "base_url": server.url, "retry": {"max_attempts": 1},
             "check": {"path": "/api/cases", "params": {"pageNo": 1}},
             "streams": {"cases": {"path": "/api/cases", "record_selector": "data.rows", "primary_key": "id"}}},
            session=plain_session())
        result = connector.check()
    assert not result.ok and "saying it failed: code = '40003': 时间跨度不能超过7天" in result.message


def test_an_inclusive_source_answering_one_anchored_page_empty_is_asked_again_not_called_strict() -> None:
    """Outside review (a new system, a real 'rows: null' once): the first re-anchored page came back empty, the
    step-earlier check found records at the anchor, and the run failed telling the operator to set
    `exclusive: true` — on a source that filters inclusively (`>=`). The next run read everything with no change.
    The anchored page is asked once more before its emptiness is taken for a strict filter."""
    glitched: list[str] = []

    def inclusive_with_one_null_page(request: Seen) -> Answer:
        since = request.query.get("startTime")
        if since is not None and not glitched:
            glitched.append(since)  # the first anchored page: a null page, once
            return json_answer(json.dumps({"code": "200", "msg": "成功", "data": {"total": 4, "rows": None}}).encode())
        rows = [r for r in GROUPED if since is None or r["updateTime"] >= since]  # inclusive
        return _page(rows, request.query)

    with ScriptedServer(inclusive_with_one_null_page) as server:
        read = _read(_connector(server.url, {}), mode="full_refresh")
    assert glitched and sorted(set(read)) == [r["id"] for r in GROUPED]


def test_an_empty_first_page_says_to_check_the_credentials() -> None:
    """Outside review: an ASMX service answers a wrong password with an empty result, not a fault — the check said
    "ok … no records" and the sync "ok … read 0"; the first page's check now says what an empty answer may be."""
    from types import SimpleNamespace

    from gateway.kernel.firstpage import check_first_page

    def empty(request: Seen) -> Answer:
        return _page([], request.query)

    with ScriptedServer(empty) as server:
        system = SimpleNamespace(stream="cases", connector_config_source="gov.yaml")
        config = {"streams": {"cases": {"primary_key": "id", "incremental": {"cursor_field": "updateTime"}}}}
        page = check_first_page(system, _connector(server.url, {}), config)  # type: ignore[arg-type]
    assert page.ok and "check its credentials" in page.message and "empty result" in page.message
