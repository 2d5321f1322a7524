"""Operator lists read the whole ledger and speak Beijing time: ``handoff list --state pending`` finds a pending
hand-off older than the newest 200, ``quarantine list`` prints local times like ``status``, and ``dead-letters
replay`` replays the systems it can and names the one whose lease a running sync holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from gateway_testlib import plant_dead_letters
from sqlalchemy import Engine

from gateway.store.db import make_engine
from gateway.store.lease import Lease
from gateway.store.migrate import upgrade
from gateway.store.tables import certificate_quarantine, process_handoffs

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[Engine, str]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    return engine, url


def _tongban(url: str, *args: str, systems: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}, "COLUMNS": "250"}
    where = ["--systems", str(REPO / "config" / "systems.yaml")] if systems else []
    return subprocess.run([sys.executable, "-m", "gateway", *args, *where, "--database-url", url], env=env,
                          capture_output=True, text=True, timeout=300)


def test_handoff_list_state_pending_finds_old_ones(ledger: tuple[Engine, str]) -> None:
    engine, url = ledger
    now = datetime.now(UTC)
    rows = []
    for i in range(250):  # 10 pending five hours ago, then 240 deemed: the pending are not among the newest 200
        at = now - timedelta(minutes=300 - i)
        rows.append(dict(case_no=f"HO-{i:04d}", hall_system="sd_hall", target_system="sd_civil",
                         state="pending" if i < 10 else "deemed", window_s=600, registered_at=at, handed_at=at,
                         due_at=at + timedelta(minutes=10), updated_at=at, forwarded_version=1))
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert(), rows)
    out = _tongban(url, "handoff", "list", "--state", "pending", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert sorted(h["case_no"] for h in data["handoffs"]) == [f"HO-{i:04d}" for i in range(10)]
    assert data["counts"] == {"pending": 10, "deemed": 240}
    human = _tongban(url, "handoff", "list", "--state", "pending")
    assert human.returncode == 0 and "HO-0000" in human.stdout and "10 of 10" in human.stdout, human.stdout


def test_quarantine_list_prints_beijing_time(ledger: tuple[Engine, str]) -> None:
    engine, url = ledger
    with engine.begin() as conn:
        conn.execute(certificate_quarantine.insert().values(
            source_system="jn_seal", source_id="S-1", reason="signature does not verify", raw="{}",
            created_at=datetime(2026, 12, 3, 23, 30, 5, tzinfo=UTC)))
    out = _tongban(url, "quarantine", "list", systems=False)
    assert out.returncode == 0, out.stderr
    assert "2026-12-04 07:30:05" in out.stdout and "23:30" not in out.stdout, out.stdout


def test_replay_goes_on_past_a_held_lease(ledger: tuple[Engine, str]) -> None:
    engine, url = ledger
    plant_dead_letters(engine, ("sd_civil", "jn_estate"))
    with Lease(engine, "sync:jn_estate"):  # a sync of jn_estate is running (this process, alive)
        out = _tongban(url, "dead-letters", "replay")
    assert out.returncode == 1, out.stderr  # not everything was replayed: a script notices
    assert "replayed 1 dead letters (systems " in out.stdout and "sd_civil" in out.stdout, out.stdout
    assert "skipped: jn_estate (lease held)" in out.stdout, out.stdout
    assert json.loads(_tongban(url, "dead-letters", "replay", "--json").stdout)["skipped"] == {}
