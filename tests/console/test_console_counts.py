"""The console's figures do not depend on how many rows a page happens to read, and its dead-letter page works for
every dead letter it lists: hand-offs counted over all of them, the 7-day chart over every run of the week, a
partial replay reported as partial, dead letters of systems outside the systems file (好差评, 12345) listed,
filtered and not offered for a replay that would answer 400."""

from __future__ import annotations

import html as H
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from console_testlib import logged_in, sqlite_ledger
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gateway.store.lease import Lease
from gateway.store.tables import dead_letters, process_handoffs, runs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger(tmp_path: Path) -> Engine:
    return sqlite_ledger(tmp_path)


def _client(tmp_path: Path, engine: Engine, who: str = "admin") -> TestClient:
    return logged_in(tmp_path, engine, who)


def _handoffs(engine: Engine, state: str, count: int, *, start: datetime, prefix: str) -> None:
    rows = []
    for i in range(count):
        at = start + timedelta(seconds=i)
        rows.append(dict(case_no=f"{prefix}-{i:04d}", hall_system="sd_hall", target_system="sd_civil", state=state,
                         window_s=600, registered_at=at, handed_at=at, due_at=at + timedelta(minutes=10),
                         updated_at=at, forwarded_version=1))
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert(), rows)


def test_handoff_counts_cover_every_handoff_not_the_newest_200(tmp_path: Path, ledger: Engine) -> None:
    now = datetime.now(UTC)
    _handoffs(ledger, "pending", 10, start=now - timedelta(hours=5), prefix="OLD")  # older than the newest 240
    _handoffs(ledger, "deemed", 240, start=now - timedelta(hours=1), prefix="NEW")
    view = _client(tmp_path, ledger, "viewer").get("/console/api/overview").json()
    assert view["handoffs"]["counts"] == {"pending": 10, "deemed": 240}
    assert len(view["handoffs"]["handoffs"]) <= 12  # the page still lists a few, newest first


def test_the_records_chart_sums_every_run_of_the_week(tmp_path: Path, ledger: Engine) -> None:
    """Ten systems every 5 minutes are 2,000 runs a week: the chart must not stop at the newest 500."""
    now = datetime.now(UTC)
    with ledger.begin() as conn:
        conn.execute(runs.insert(), [
            dict(system="sd_civil" if i < 300 else "jn_estate", kind="sync", status="succeeded",
                 started_at=now - timedelta(minutes=5 * (900 - i)), finished_at=now, read=3, inserted=2, updated=1,
                 rejected=0) for i in range(900)])
        conn.execute(runs.insert(), [dict(system="sd_civil", kind="sync", status="succeeded", read=100, inserted=100,
                                          updated=0, rejected=0, started_at=now - timedelta(days=8))])  # too old
    client = _client(tmp_path, ledger, "viewer")
    totals = {t["system"]: t for t in client.get("/console/api/overview").json()["runs_by_system"]}
    assert totals["sd_civil"]["inserted"] == 600 and totals["sd_civil"]["runs"] == 300
    assert totals["jn_estate"]["inserted"] == 1200 and totals["jn_estate"]["read"] == 1800
    page = client.get("/console/").text
    chart = page[page.index('data-testid="chart-records"'):][:6000]
    assert "600" in chart and "1200" in chart


def _dead_letter(system: str, source_id: str, *, kind: str = "record", stream: str = "cases") -> dict[str, Any]:
    now = datetime.now(UTC)
    return dict(kind=kind, system=system, stream=stream, source_id=source_id, case_no=None,
                raw=json.dumps({"id": source_id}), reason=f"{source_id}: grade: code: not a level",
                issues=json.dumps([{"field": "grade", "rule": "code", "message": "not a level"}]),
                mapping_version=None, status="open", attempts=1, created_at=now, updated_at=now)


def _flash(page: str) -> str:
    found = re.search(r'data-testid="message">([^<]*)<', page)
    assert found, page[:2000]
    return H.unescape(found.group(1))


def test_a_partial_replay_says_what_it_replayed_and_what_it_skipped(tmp_path: Path, ledger: Engine) -> None:
    with ledger.begin() as conn:
        conn.execute(dead_letters.insert(), [_dead_letter("sd_civil", "C-1"), _dead_letter("jn_estate", "E-1")])
    client = _client(tmp_path, ledger)
    page = client.get("/console/dead-letters").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    with Lease(ledger, "sync:jn_estate"):  # a sync of jn_estate is running
        done = client.post("/console/dead-letters/replay", data={"csrf": csrf, "system": ""})
        assert done.status_code == 303
        text = _flash(client.get(done.headers["location"]).text)
    assert text.startswith("replayed 1 dead letters (systems ") and "sd_civil" in text, text
    assert "skipped: jn_estate (lease held)" in text and "not replayed" not in text


def test_dead_letters_of_systems_outside_the_systems_file(tmp_path: Path, ledger: Engine) -> None:
    with ledger.begin() as conn:
        conn.execute(dead_letters.insert(), [
            _dead_letter("evaluator", "R-1", stream="ratings"), _dead_letter("hotline", "W-1", stream="orders"),
            _dead_letter("sd_civil", "C-1"), _dead_letter("sd_hall", "HALL-1", kind="routing", stream="handoff")])
    client = _client(tmp_path, ledger)
    page = client.get("/console/dead-letters").text
    offered = re.findall(r'<option value="([^"]*)"', page)
    assert offered == ["", "sd_civil", "sd_hall"]  # every configured system, and the configured ones with letters
    assert "evaluator, hotline" in page[page.index('data-testid="not-replayable"'):][:300]
    for link in sorted(set(re.findall(r'href="/console/dead-letters/(\d+)"', page)), key=int):
        detail = client.get(f"/console/dead-letters/{link}").text
        back = H.unescape(re.search(r'href="(/console/dead-letters\?system=[^"]*)"', detail).group(1))  # type: ignore[union-attr]
        assert client.get(back).status_code == 200, back
    evaluator = client.get("/console/dead-letters?system=evaluator").text
    assert "R-1" in evaluator and "W-1" not in evaluator
    assert client.get("/console/dead-letters?system=nobody").status_code == 404
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    done = client.post("/console/dead-letters/replay", data={"csrf": csrf, "system": ""})
    text = _flash(client.get(done.headers["location"]).text)
    card = client.get("/console/api/overview").json()["dead_letters"]["total"]
    assert f"; {card} dead letters still open" in text, (text, card)


def test_the_dead_letter_records_page_through_the_whole_store(tmp_path: Path, ledger: Engine) -> None:
    """More than a page of dead letters: "older →" walks back by id, a page at a time, to the first one; the
    system filter stays on; every dead letter is listed once."""
    with ledger.begin() as conn:
        conn.execute(dead_letters.insert(), [_dead_letter("sd_civil", f"C-{i:03d}") for i in range(450)]
                     + [_dead_letter("jn_estate", "E-1")])
    client = _client(tmp_path, ledger)
    seen: list[str] = []
    url = "/console/dead-letters?system=sd_civil"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status_code == 200, page.text[:500]
        records = page.text[page.text.index('data-testid="dead-letter-records"'):]
        seen += re.findall(r"<td[^>]*>(C-\d{3}|E-1)</td>", records)
        pages += 1
        older = re.search(r'href="([^"]+)" data-testid="older-page"', page.text)
        url = H.unescape(older.group(1)) if older else ""
        assert not older or "system=sd_civil" in url
    assert pages == 3 and sorted(seen) == [f"C-{i:03d}" for i in range(450)] and len(seen) == 450
    assert client.get("/console/dead-letters?before=0").status_code == 422
