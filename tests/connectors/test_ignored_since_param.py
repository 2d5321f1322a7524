"""A page-number source that ignores the changed-since parameter is stopped, not read quadratically.

Re-anchored paging goes back to the first page with the changed-since parameter set to the highest change time
read. A source that ignores the parameter answers that page with its first records again: the read used to
end, but only after re-reading the table's head after every page (200 records came back as 2,280 over 231
requests) and without a word. A re-anchored page mostly older than its anchor now stops the read naming the
parameter; records at the anchor (a burst in one second), one record out of place, a parameter coarser than
the change time (a date), a source filtering on the date part only (``DATE(update_time) >= DATE(?)``) and one
reading the parameter in another time zone are fine: records up to a day below the anchor are tolerated. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.errors import ChangeFilterIgnoredError

BEIJING = timezone(timedelta(hours=8))


def _rows(count: int, *, repeat: int = 1, step_minutes: int = 1) -> list[dict[str, str]]:
    base = datetime(2024, 3, 5, 8, 0, tzinfo=BEIJING)
    return [{"id": f"R{i:03d}-{k}", "updateTime": (base + timedelta(minutes=i * step_minutes)).strftime(
        "%Y-%m-%d %H:%M:%S")} for i in range(count) for k in range(repeat)]


def _source(rows: list[dict[str, str]], *, honours_since: bool, date_only: bool = False) -> Any:
    def answer(request: Seen) -> Answer:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        since = query.get("updatedSince") if honours_since else None
        chosen = [r for r in rows if since is None or r["updateTime"][: len(since)] >= since] if date_only else \
            [r for r in rows if since is None or r["updateTime"] >= since]
        n, size = int(query.get("pageNo", 1)), int(query.get("pageSize", 20))
        page = chosen[(n - 1) * size: n * size]
        return json_answer(json.dumps({"code": "0", "data": {"total": len(chosen), "list": page}}).encode())

    return answer


def _connector(url: str, *, size: int = 20, **incremental: Any) -> RestConnector:
    config = {
        "kind": "rest", "name": "gjj", "base_url": url,
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "streams": {"list": {
            "path": "/api/list", "record_selector": "data.list", "primary_key": "id",
            "success": {"field": "code", "equals": "0"},
            "incremental": {"cursor_field": "updateTime", "cursor_format": "%Y-%m-%d %H:%M:%S",
                            "param": "updatedSince", **incremental},
            "pagination": {"type": "page_number", "page_param": "pageNo", "size_param": "pageSize", "size": size},
        }},
    }
    return RestConnector(config, session=plain_session(), sleep=lambda s: None)


@pytest.mark.parametrize("mode", ["incremental", "full_refresh"])
def test_a_source_ignoring_the_since_parameter_is_stopped_at_the_first_reanchor(mode: str) -> None:
    """200 records four hours apart (the table spans a month): the re-anchored first page is the table's head
    again, mostly more than a day older than the anchor."""
    with ScriptedServer(_source(_rows(200, step_minutes=240), honours_since=False)) as server:
        with pytest.raises(ChangeFilterIgnoredError) as caught:
            list(_connector(server.url).read("list", mode=mode))  # type: ignore[arg-type]
        requests_sent = len(server.seen)
    message = str(caught.value)
    assert "does the source ignore `updatedSince`?" in message
    # re-anchored where page 1's order proves the rest starts: the lower of its last two (08:00, not 12:00)
    assert "12 of 20 records more than a day older than that" in message and "'2024-03-08 08:00:00'" in message
    assert requests_sent == 2  # page 1, then page 1 re-anchored: not 231


def test_a_source_ignoring_the_since_parameter_is_stopped_on_the_first_page_of_an_incremental_read() -> None:
    since = datetime(2024, 3, 9, 9, 0, tzinfo=BEIJING)
    with ScriptedServer(_source(_rows(200, step_minutes=240), honours_since=False)) as server:
        with pytest.raises(ChangeFilterIgnoredError, match="does the source ignore `updatedSince`"):
            list(_connector(server.url).read("list", since=since))
        assert len(server.seen) == 1


@pytest.mark.parametrize("mode", ["incremental", "full_refresh"])
def test_records_at_the_anchor_come_again_without_stopping_the_read(mode: str) -> None:
    """Bursts of three records per change time, pages of four: every re-anchored page repeats the anchor's
    records (and nothing older), for a full refresh as for an incremental read."""
    rows = _rows(30, repeat=3)
    with ScriptedServer(_source(rows, honours_since=True)) as server:
        pages = list(_connector(server.url, size=4).read("list", mode=mode))  # type: ignore[arg-type]
    assert sorted(r.source_id for p in pages for r in p.records) == sorted(r["id"] for r in rows)


def test_a_date_only_parameter_bringing_the_days_earlier_records_again_is_not_an_ignored_one() -> None:
    """``param_format: "%Y-%m-%d"``: the anchor is sent as its day, so the day's earlier records come again —
    the source filters as asked (the parameter is floored to its format)."""
    rows = _rows(60, step_minutes=600)  # about two records a day
    with ScriptedServer(_source(rows, honours_since=True, date_only=True)) as server:
        pages = list(_connector(server.url, size=5, param_format="%Y-%m-%d").read("list", mode="full_refresh"))
    # (the day's earlier records are delivered again: only records at the anchor itself are de-duplicated)
    assert {r.source_id for p in pages for r in p.records} == {r["id"] for r in rows}


def test_one_record_older_than_the_anchor_on_a_reanchored_page_is_read_not_stopped() -> None:
    """The source filters by its own change column; one record shows a change time typed years back, so it comes
    on every re-anchored page: one outlier, not a pattern."""
    rows = _rows(30)
    shown = [dict(r) for r in rows]
    shown[25]["updateTime"] = "2019-03-05 08:25:00"

    def answer(request: Seen) -> Answer:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        since = query.get("updatedSince")
        chosen = [s for r, s in zip(rows, shown, strict=True) if since is None or r["updateTime"] >= since]
        n, size = int(query.get("pageNo", 1)), int(query.get("pageSize", 20))
        return json_answer(json.dumps({"code": "0", "data": {"list": chosen[(n - 1) * size: n * size]}}).encode())

    with ScriptedServer(answer) as server:
        pages = list(_connector(server.url, size=4).read("list", mode="full_refresh"))
    assert sorted(r.source_id for p in pages for r in p.records) == sorted(r["id"] for r in rows)


def _shifted_source(rows: list[dict[str, str]], *, how: str) -> Any:
    """``date``: ``WHERE DATE(update_time) >= DATE(#{since})`` (the parameter sent with its time); ``utc``: the
    parameter read as UTC against Beijing change times (eight hours more records)."""
    def answer(request: Seen) -> Answer:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        since = query.get("updatedSince")
        if since is not None and how == "date":
            chosen = [r for r in rows if r["updateTime"][:10] >= since[:10]]
        elif since is not None:
            shifted = (datetime.strptime(since, "%Y-%m-%d %H:%M:%S") - timedelta(hours=8)).strftime(
                "%Y-%m-%d %H:%M:%S")
            chosen = [r for r in rows if r["updateTime"] >= shifted]
        else:
            chosen = rows
        n, size = int(query.get("pageNo", 1)), int(query.get("pageSize", 20))
        return json_answer(json.dumps({"code": "0", "data": {"list": chosen[(n - 1) * size: n * size]}}).encode())

    return answer


@pytest.mark.parametrize("how", ["date", "utc"])
@pytest.mark.parametrize("mode", ["incremental", "full_refresh"])
def test_a_source_filtering_on_the_date_or_in_another_time_zone_is_read_not_stopped(how: str, mode: str) -> None:
    """Records seven minutes apart from 08:00: an incremental read since 12:00 gets the whole day (or eight
    hours more) on its first page. It used to stop the read — a source that worked the day before blocked."""
    rows = _rows(60, step_minutes=7)
    since = datetime(2024, 3, 5, 12, 0, tzinfo=BEIJING) if mode == "incremental" else None
    with ScriptedServer(_shifted_source(rows, how=how)) as server:
        pages = list(_connector(server.url, size=10).read("list", mode=mode, since=since))  # type: ignore[arg-type]
    assert {r.source_id for p in pages for r in p.records} == {r["id"] for r in rows}


def test_a_date_filter_across_days_reads_everything() -> None:
    rows = _rows(60, step_minutes=97)  # four days
    with ScriptedServer(_shifted_source(rows, how="date")) as server:
        pages = list(_connector(server.url, size=10).read("list", mode="full_refresh"))
    assert {r.source_id for p in pages for r in p.records} == {r["id"] for r in rows}
