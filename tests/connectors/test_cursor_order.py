"""An ``ordered`` stream (the default) whose source sorts newest-first is stopped, not silently cut short.

The reader re-anchors on the highest cursor seen; on a source that sorts descending that is the newest record
of page 1, so everything after page 1 would be skipped — even on a full refresh — and the watermark would jump
to the newest change. The reader checks the promise instead: a record older than the one before it stops the
read, naming both records and both values and what to configure. Real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from scripted_testlib import Answer, ScriptedServer, Seen, json_answer, plain_session

from connectors.rest import RestConnector
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


def test_a_descending_record_on_a_later_page_under_the_same_anchor_is_stopped() -> None:
    """Cursor paging never re-anchors: the order holds across pages, so page 2 starting older than page 1
    ended is caught too."""
    pages = [
        {"data": [{"id": "A", "t": "2024-01-01T10:00:00+08:00"}, {"id": "B", "t": "2024-01-01T11:00:00+08:00"}],
         "next": "p2"},
        {"data": [{"id": "C", "t": "2024-01-01T09:00:00+08:00"}], "next": None},
    ]

    def answer(request: Seen) -> Answer:
        return json_answer(json.dumps(pages[1 if "cursor=p2" in request.path else 0]).encode())

    with ScriptedServer(answer) as server:
        connector = _connector(server.url, record_selector="data", success=None,
                               incremental={"cursor_field": "t", "cursor_format": "iso8601", "param": "since"},
                               pagination={"type": "cursor", "next_cursor_path": "next"})
        with pytest.raises(FatalSyncError, match="record C has t = '2024-01-01T09:00:00\\+08:00', lower than"):
            list(connector.read("cases"))


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
