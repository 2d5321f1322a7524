"""An ``ordered`` stream (the default) whose source sorts newest-first is stopped, not silently cut short.

The reader re-anchors on the highest cursor seen; on a source that sorts descending that is the newest record
of page 1, so everything after page 1 would be skipped — even on a full refresh — and the watermark would jump
to the newest change. The reader checks the promise instead: a page whose cursors go down more often than up
stops the read, naming two records and their values and what to configure; one record out of place (a change
time typed wrong) does not. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from http_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
from gateway.contract.connector import ordered_high
from gateway.contract.errors import FatalSyncError

ROWS = [{"id": f"R{i:02d}", "updateTime": f"2024-03-05 10:{i:02d}:00"} for i in range(1, 11)]


def _table(*, newest_first: bool, repeat: int = 1) -> Any:
    """A page-number source filtering by an inclusive ``updatedSince``; ``repeat`` copies of each change time
    (a burst of records changed in the same second)."""
    rows = [{"id": f"{r['id']}-{k}", "updateTime": r["updateTime"]} for r in ROWS for k in range(repeat)]

    def answer(request: Seen) -> Answer:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        since = query.get("updatedSince")
        chosen = sorted((r for r in rows if since is None or r["updateTime"] >= since),
                        key=lambda r: (r["updateTime"], r["id"]), reverse=newest_first)
        n, size = int(query.get("pageNo", 1)), int(query.get("pageSize", 3))
        return json_answer(json.dumps({"code": 0, "data": {"list": chosen[(n - 1) * size: n * size]}}).encode())

    return answer


def _connector(url: str, **stream: Any) -> RestConnector:
    config = {
        "kind": "rest", "name": "civil", "base_url": url,
        "retry": {"max_attempts": 1, "backoff_seconds": 0, "jitter": False},
        "streams": {"cases": {
            "path": "/api/cases", "record_selector": "data.list", "primary_key": "id",
            "success": {"field": "code", "equals": 0},
            "incremental": {"cursor_field": "updateTime", "cursor_format": "%Y-%m-%d %H:%M:%S",
                            "param": "updatedSince"},
            "pagination": {"type": "page_number", "page_param": "pageNo", "size_param": "pageSize", "size": 3},
            **stream,
        }},
    }
    return RestConnector(config, session=plain_session(), sleep=lambda s: None)


@pytest.mark.parametrize("mode", ["full_refresh", "incremental"])
def test_a_newest_first_source_on_an_ordered_stream_is_stopped(mode: str) -> None:
    with ScriptedServer(_table(newest_first=True)) as server:
        connector = _connector(server.url)
        with pytest.raises(FatalSyncError) as caught:
            list(connector.read("cases", mode=mode))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "record R09" in message and "record R10" in message
    assert "'2024-03-05 10:09:00'" in message and "'2024-03-05 10:10:00'" in message
    assert "ordered: false" in message and "sort ascending" in message


def _cursor_paged(pages: list[list[dict[str, str]]]) -> Any:
    """A cursor-paged source answering ``pages`` in turn (``next`` = ``p2``, ``p3`` …)."""
    def answer(request: Seen) -> Answer:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        index = int(query.get("cursor", "p1")[1:]) - 1
        return json_answer(json.dumps({"data": pages[index],
                                       "next": f"p{index + 2}" if index + 1 < len(pages) else None}).encode())

    return answer


def _cursor_connector(url: str) -> RestConnector:
    return _connector(url, record_selector="data", success=None,
                      incremental={"cursor_field": "t", "cursor_format": "iso8601", "param": "since"},
                      pagination={"type": "cursor", "next_cursor_path": "next"})


def test_a_source_going_down_across_pages_under_the_same_anchor_is_stopped() -> None:
    """Cursor paging never re-anchors: the order is judged across pages too — page 2 carrying on downwards from
    where page 1 ended is a newest-first source, whose pages of one or two records alone would not show it."""
    pages = [[{"id": "A", "t": "2024-01-01T12:00:00+08:00"}, {"id": "B", "t": "2024-01-01T11:00:00+08:00"}],
             [{"id": "C", "t": "2024-01-01T10:00:00+08:00"}, {"id": "D", "t": "2024-01-01T09:00:00+08:00"}]]
    with ScriptedServer(_cursor_paged(pages)) as server, \
            pytest.raises(FatalSyncError, match="record C has t = '2024-01-01T10:00:00\\+08:00', lower than "
                                                "'2024-01-01T11:00:00\\+08:00' of record B"):
        list(_cursor_connector(server.url).read("cases"))


def test_one_record_out_of_place_is_read_with_the_others_and_anchors_nothing() -> None:
    """A change time typed wrong — years in the past, or 9999 — in a source sorted by its own change column: every
    record is read (page-number paging, re-anchored), the typo neither stops the read nor moves the anchor past the
    records after it, and the checkpoint stays this side of the clock."""
    rows = [{"id": f"R{i:02d}", "updateTime": f"2024-03-05 10:{i:02d}:00", "order": i} for i in range(1, 11)]
    rows[3]["updateTime"] = "2019-03-05 10:04:00"  # typed years back
    rows[6]["updateTime"] = "9999-12-31 23:59:59"  # typed for ever

    def answer(request: Seen) -> Answer:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        since = query.get("updatedSince")
        # the server filters and sorts by its own change column ("order"), not by the field it shows
        chosen = [r for r in rows if since is None or f"2024-03-05 10:{r['order']:02d}:00" >= since]
        n, size = int(query.get("pageNo", 1)), int(query.get("pageSize", 3))
        return json_answer(json.dumps({"code": 0, "data": {"list": chosen[(n - 1) * size: n * size]}}).encode())

    with ScriptedServer(answer) as server:
        pages = list(_connector(server.url).read("cases", mode="full_refresh"))
    assert sorted(r.source_id for p in pages for r in p.records) == [r["id"] for r in rows]
    checkpoints = [p.checkpoint["cursor"] for p in pages if p.checkpoint]
    assert checkpoints and all(not c.startswith("9999") for c in checkpoints)


def test_an_ascending_source_with_repeated_change_times_is_read_whole() -> None:
    with ScriptedServer(_table(newest_first=False, repeat=2)) as server:
        pages = list(_connector(server.url).read("cases", mode="full_refresh"))
    assert sorted(r.source_id for p in pages for r in p.records) == sorted(
        f"{r['id']}-{k}" for r in ROWS for k in range(2))


def test_an_unordered_stream_is_not_checked() -> None:
    """``ordered: false`` (cursor paging) says the source does not sort: every record is read, no error."""
    rows = [{"id": "B", "t": "2024-01-01T11:00:00+08:00"}, {"id": "A", "t": "2024-01-01T10:00:00+08:00"}]
    with ScriptedServer(lambda request: json_answer(json.dumps({"data": rows}).encode())) as server:
        connector = _connector(server.url, record_selector="data", success=None, ordered=False,
                               incremental={"cursor_field": "t", "cursor_format": "iso8601", "param": "since"},
                               pagination={"type": "cursor", "next_cursor_path": "next"})
        pages = list(connector.read("cases"))
    assert [r.source_id for p in pages for r in p.records] == ["B", "A"]


def test_one_record_edited_since_the_listing_does_not_carry_the_anchor_past_the_rest() -> None:
    """An ordered stream whose source lists by id: record 7, edited an hour ago, sits on page 1 with a change time
    far above the rest. The read re-anchored on the highest change time seen and never asked for records 51 to
    120 (outside review: 50 of 120 read); the engine's watermark went there too. Re-anchored where the page's order
    proves the rest starts (the lower of its last two), every record is read, once."""
    beijing = timezone(timedelta(hours=8))
    base = datetime(2025, 1, 1, tzinfo=beijing)
    rows = [{"id": str(i), "updateTime": (base + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S")}
            for i in range(1, 121)]
    rows[6]["updateTime"] = (datetime.now(beijing) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")

    def answer(request: Seen) -> Answer:
        query = {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}
        since = query.get("updatedSince")
        chosen = [r for r in rows if since is None or r["updateTime"] >= since]  # filtered, listed by id
        n, size = int(query["pageNo"]), int(query["pageSize"])
        return json_answer(json.dumps({"code": 0, "data": {"list": chosen[(n - 1) * size: n * size]}}).encode())

    with ScriptedServer(answer) as server:
        pages = list(_connector(server.url, pagination={"type": "page_number", "page_param": "pageNo",
                                                        "size_param": "pageSize", "size": 50}).read("cases"))
    read = [r.source_id for p in pages for r in p.records]
    assert sorted(read, key=int) == [r["id"] for r in rows] and len(read) == len(set(read))
    # the engine's watermark after each page: never the edited record's time while records below it are to come
    highs = [ordered_high([r.cursor for r in p.records if r.cursor is not None]) for p in pages if p.records]
    assert all(h is not None and h.year == 2025 for h in highs[:-1]), highs
