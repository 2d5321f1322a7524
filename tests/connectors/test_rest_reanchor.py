"""Paging correctness against a real HTTP server whose table changes while the client pages.

The server below stands for a civil-like system: records ordered by (updateTime, id), an inclusive
``updatedSince`` filter, page-number (or offset) paging, and, after each page it serves, an update to one
record — alternately one the client has already passed (it moves to the end and every row behind it shifts
one place forward) and one the client has not reached yet. A naive page loop misses a record that never
changed; the connector must return every record at its latest version.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from http_testlib import Answer, ScriptedServer, Seen, json_answer

from connectors.rest import RestConnector

BEIJING = timezone(timedelta(hours=8))
FMT = "%Y-%m-%d %H:%M:%S"
PAGE_SIZE = 10


class ChangingTable:
    """In-memory records with strictly increasing change times for live updates (like the sandbox)."""

    def __init__(self, count: int, *, tie_group: range = range(0), mutate_pages: int = 0) -> None:
        base = datetime(2024, 1, 1, tzinfo=BEIJING)
        self.rows: dict[str, dict[str, Any]] = {}
        for i in range(count):
            # records in tie_group all share one change time (a burst larger than a page)
            minute = tie_group.start if i in tie_group else i
            changed = (base + timedelta(minutes=minute)).strftime(FMT)
            self.rows[f"R{i:04d}"] = {"id": f"R{i:04d}", "version": 1, "updateTime": changed}
        self.now = datetime(2025, 1, 1, tzinfo=BEIJING)
        self.mutate_pages = mutate_pages
        self.pages_served = 0
        self.lock = threading.Lock()

    def ordered(self) -> list[dict[str, Any]]:
        return sorted(self.rows.values(), key=lambda r: (r["updateTime"], r["id"]))

    def update(self, row: dict[str, Any]) -> None:
        self.now += timedelta(seconds=1)
        row["version"] += 1
        row["updateTime"] = self.now.strftime(FMT)

    def serve(self, since: str | None, start: int, size: int) -> list[dict[str, Any]]:
        with self.lock:
            rows = [r for r in self.ordered() if since is None or r["updateTime"] >= since]
            page = [dict(r) for r in rows[start : start + size]]
            self.pages_served += 1
            if self.pages_served <= self.mutate_pages:
                everything = self.ordered()
                if self.pages_served % 2:
                    self.update(everything[0])  # passed already: rows behind it shift forward
                else:
                    self.update(everything[len(everything) // 2 + self.pages_served])  # not reached yet
            return page


def _answer(table: ChangingTable) -> Callable[[Seen], Answer]:
    def answer(request: Seen) -> Answer:
        query = request.query
        if request.route != "/api/v1/approvals" or request.headers.get("X-Api-Key") != "k":
            return Answer(401 if request.route == "/api/v1/approvals" else 404, {})
        if "offset" in query:
            start, size = int(query["offset"]), int(query.get("limit", 100))
        else:
            size = int(query.get("pageSize", 100))
            start = (int(query.get("pageNo", 1)) - 1) * size
        rows = table.serve(query.get("updatedSince"), start, size)
        return json_answer(json.dumps({"code": 0, "msg": "success", "data": {"rows": rows}}).encode())

    return answer


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ScriptedServer] = []

    def start(table: ChangingTable) -> str:
        servers.append(ScriptedServer(_answer(table)).start())
        return servers[-1].url

    yield start
    for server in servers:
        server.stop()


def _config(base_url: str, pagination: dict[str, Any], *, incremental: bool = True) -> dict[str, Any]:
    stream: dict[str, Any] = {
        "path": "/api/v1/approvals",
        "record_selector": "data.rows",
        "success": {"field": "code", "equals": 0},
        "primary_key": "id",
        "pagination": pagination,
    }
    if incremental:
        stream["incremental"] = {"cursor_field": "updateTime", "cursor_format": FMT, "param": "updatedSince"}
    return {"base_url": base_url, "auth": {"type": "api_key", "secret": "key"}, "streams": {"cases": stream}}


PAGE_NUMBER = {"type": "page_number", "page_param": "pageNo", "size_param": "pageSize", "size": PAGE_SIZE}
OFFSET = {"type": "offset", "offset_param": "offset", "limit_param": "limit", "size": PAGE_SIZE}


def _latest(connector: RestConnector, **kwargs: Any) -> tuple[dict[str, dict[str, Any]], int]:
    """Every record's latest payload (by cursor) and how many records were yielded in total."""
    latest: dict[str, tuple[datetime, dict[str, Any]]] = {}
    yielded = 0
    for page in connector.read("cases", **kwargs):
        assert not page.rejects
        for record in page.records:
            yielded += 1
            assert record.cursor is not None
            if record.source_id not in latest or record.cursor >= latest[record.source_id][0]:
                latest[record.source_id] = (record.cursor, dict(record.payload))
    return {k: v for k, (_, v) in latest.items()}, yielded


def _naive_page_loop(base_url: str) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        body = requests.get(
            f"{base_url}/api/v1/approvals",
            params={"pageNo": page, "pageSize": PAGE_SIZE},
            headers={"X-Api-Key": "k"},
            timeout=5,
        ).json()
        rows = body["data"]["rows"]
        for row in rows:
            seen[row["id"]] = row
        if len(rows) < PAGE_SIZE:
            return seen
        page += 1


def test_naive_page_loop_misses_an_unchanged_record(serve: Any) -> None:
    table = ChangingTable(100, mutate_pages=6)
    seen = _naive_page_loop(serve(table))
    missed = set(table.rows) - set(seen)
    assert missed, "the server must make a naive page loop skip a record, or the next test proves nothing"
    assert any(table.rows[m]["version"] == 1 for m in missed)  # a record that never changed is lost


@pytest.mark.parametrize("pagination", [PAGE_NUMBER, OFFSET], ids=["page_number", "offset"])
def test_reanchored_read_returns_every_record_at_its_latest_version(
    serve: Any, pagination: dict[str, Any]
) -> None:
    table = ChangingTable(100, tie_group=range(20, 45), mutate_pages=6)
    connector = RestConnector(_config(serve(table), pagination), secrets={"key": "k"})
    latest, yielded = _latest(connector)
    assert set(latest) == set(table.rows)
    assert {k: v["version"] for k, v in latest.items()} == {k: v["version"] for k, v in table.rows.items()}
    assert sum(v["version"] > 1 for v in table.rows.values()) == 6
    # each record once, plus the new version of the three updated after the client had passed them (the
    # three updated ahead of the client are only ever seen at their new version)
    assert yielded == 100 + 3
    assert connector.transport.requests_sent < 40  # re-anchoring costs about one request per page


@pytest.mark.parametrize("pagination", [PAGE_NUMBER, OFFSET], ids=["page_number", "offset"])
def test_full_page_of_one_cursor_value_advances_instead_of_looping(
    serve: Any, pagination: dict[str, Any]
) -> None:
    table = ChangingTable(60, tie_group=range(5, 40))  # 35 records share one time: 3+ full pages of it
    connector = RestConnector(_config(serve(table), pagination), secrets={"key": "k"})
    ids = [r.source_id for page in connector.read("cases") for r in page.records]
    assert sorted(ids) == sorted(table.rows)
    assert len(ids) == len(set(ids))


def test_since_and_checkpoint_resume_from_the_cursor(serve: Any) -> None:
    table = ChangingTable(50)
    connector = RestConnector(_config(serve(table), PAGE_NUMBER), secrets={"key": "k"})
    since = datetime(2024, 1, 1, 0, 30, tzinfo=BEIJING)  # R0030 onwards, inclusive
    pages = list(connector.read("cases", since=since))
    ids = [r.source_id for p in pages for r in p.records]
    assert ids == [f"R{i:04d}" for i in range(30, 50)]
    assert pages[0].checkpoint == {"cursor": "2024-01-01T00:39:00+08:00"}
    resume = connector.read("cases", checkpoint=pages[0].checkpoint)
    resumed = [r.source_id for p in resume for r in p.records]
    assert resumed == [f"R{i:04d}" for i in range(39, 50)]  # inclusive: the boundary record comes again


def test_full_refresh_without_a_cursor_reads_page_after_page(serve: Any) -> None:
    """The documented caveat: with nothing to re-anchor on, a plain page loop can skip a moving record."""
    table = ChangingTable(30)
    connector = RestConnector(_config(serve(table), PAGE_NUMBER, incremental=False), secrets={"key": "k"})
    pages = list(connector.read("cases", mode="full_refresh"))
    assert [len(p.records) for p in pages] == [10, 10, 10, 0]
    assert all(p.checkpoint is None and r.cursor is None for p in pages for r in p.records)


class RandomlyChangingTable(ChangingTable):
    """Like the sandbox's ``mutate_per_page`` fault: n random records change after every page served."""

    def __init__(self, count: int, per_page: int, seed: int) -> None:
        super().__init__(count)
        self.per_page = per_page
        self.random = random.Random(seed)
        self.changed_at_page: dict[str, int] = {}

    def serve(self, since: str | None, start: int, size: int) -> list[dict[str, Any]]:
        with self.lock:
            rows = [r for r in self.ordered() if since is None or r["updateTime"] >= since]
            page = [dict(r) for r in rows[start : start + size]]
            self.pages_served += 1
            for row_id in self.random.sample(sorted(self.rows), self.per_page):
                self.update(self.rows[row_id])
                self.changed_at_page[row_id] = self.pages_served
            return page


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nothing_is_lost_while_random_records_change_after_every_page(serve: Any, seed: int) -> None:
    table = RandomlyChangingTable(300, per_page=3, seed=seed)
    connector = RestConnector(_config(serve(table), PAGE_NUMBER), secrets={"key": "k"})
    latest, _ = _latest(connector)
    assert set(latest) == set(table.rows)
    last_page = table.pages_served
    for row_id, row in table.rows.items():
        if table.changed_at_page.get(row_id, 0) < last_page:  # changed before the final page was served
            assert latest[row_id]["version"] == row["version"], row_id
