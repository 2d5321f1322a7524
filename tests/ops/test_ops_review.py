"""What operators watch, as an outside review found it wrong (each against a sandbox world and a ledger of each
backend): a quiet system re-reading its two broken records stayed degraded (an error) every run; a degraded run —
which read and committed — was no sync, so a system synced seconds ago was "behind"; a sync run by hand left
``behind`` open; an alert raised again months after it was resolved said it stood "since" then; a sync killed
with ``kill -9`` stayed "running" with zero counts; ``dead-letters list --records`` showed the oldest 100 and
said nothing of the rest; a replay reported every dead letter ever resolved as its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import timedelta
from typing import Any

from pages_testlib import MemoryPages, served_records
from sqlalchemy import select, update

from gateway.contract.connector import RawRecord
from gateway.ops.alerts import open_alerts, raise_alert, resolve_alerts
from gateway.ops.freshness import check_freshness
from gateway.ops.metrics import SyncCollector
from gateway.ops.status import system_status
from gateway.store import ledger
from gateway.store.tables import alerts, runs, source_records
from gateway.sync.engine import sync_system
from gateway.sync.reprocess import replay_dead_letters


def _broken(record: RawRecord) -> RawRecord:
    """The record edited at the source so that the mapping rejects it (an unknown case type, a bad ID)."""
    payload = json.loads(json.dumps(record.payload))
    payload["caseType"] = "ZZ"
    payload.setdefault("applicant", {})["certNo"] = "513700008504718290"
    return RawRecord(record.source_id, record.cursor + timedelta(minutes=5), payload)


def _status(world: Any, name: str = "sd_civil", **kwargs: Any) -> dict[str, Any]:
    return next(r for r in system_status(world.runtime.engine, world.runtime.systems, **kwargs) if r["system"] == name)


def test_a_quiet_system_re_reading_its_broken_records_is_not_degraded_and_a_degraded_run_is_a_sync(
        make_world: Any) -> None:
    world = make_world(civil=20, estate=2)
    records = served_records(world)
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages(records)).status == "succeeded"
    with world.runtime.engine.begin() as conn:  # that clean run was three hours ago
        conn.execute(update(runs).values(finished_at=ledger.utcnow() - timedelta(hours=3)))
    broken = [_broken(r) for r in records[:2]]
    # the incremental runs read what changed since the watermark: the two broken records, nothing else
    first = sync_system(world.runtime, "sd_civil", connector=MemoryPages(broken))
    assert first.status == "degraded" and first.counts.rejected == 2  # new broken records: degraded, alerted
    assert open_alerts(world.runtime.engine, kind="sync_degraded")
    # a degraded run read and committed: the system is synced, not behind (an error naming the scheduler)
    row = _status(world, now=ledger.utcnow() + timedelta(minutes=1))
    assert row["lag_s"] is not None and row["lag_s"] < 600 and row["behind"] is False
    assert "sd_civil" not in check_freshness(world.runtime, now=ledger.utcnow() + timedelta(minutes=1))["behind"]
    assert resolve_alerts(world.runtime.engine, "sync_degraded", ["sd_civil"]) == 1  # dealt with, by hand
    for _ in range(2):  # nothing new at the source: the same two read again by the lookback
        again = sync_system(world.runtime, "sd_civil", connector=MemoryPages(broken))
        assert again.status == "succeeded", again.error
        assert again.counts.rejected == again.counts.rejected_again == 2
        assert open_alerts(world.runtime.engine, kind="sync_degraded") == []
    # a full read of a source mostly broken is still degraded: judged on the whole source
    mostly = [_broken(r) for r in records[:15]] + records[15:]
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages(mostly),
                       full_refresh=True).status == "degraded"


def test_a_completed_sync_resolves_behind_and_a_reopened_alert_is_seen_first_now(make_world: Any) -> None:
    world = make_world(civil=5, estate=2)
    engine = world.runtime.engine
    raise_alert(engine, "behind", "sd_civil", level="error", system="sd_civil", message="sd_civil is behind")
    assert sync_system(world.runtime, "sd_civil").status == "succeeded"  # a sync by hand, not through Airflow
    assert open_alerts(engine, kind="behind") == []

    raise_alert(engine, "sync_failed", "sd_civil", level="error", system="sd_civil", message="HTTP 503")
    resolve_alerts(engine, "sync_failed", ["sd_civil"])
    long_ago = ledger.utcnow() - timedelta(days=150)
    with engine.begin() as conn:
        conn.execute(update(alerts).values(first_seen_at=long_ago, last_seen_at=long_ago, resolved_at=long_ago))
    raise_alert(engine, "sync_failed", "sd_civil", level="error", system="sd_civil", message="HTTP 401")
    (alert,) = open_alerts(engine, kind="sync_failed")
    assert ledger.utcnow() - alert["first_seen_at"] < timedelta(minutes=5) and alert["occurrences"] == 1
    raise_alert(engine, "sync_failed", "sd_civil", level="error", system="sd_civil", message="HTTP 401")
    (again,) = open_alerts(engine, kind="sync_failed")  # still open: the same incident, counted once more
    assert again["first_seen_at"] == alert["first_seen_at"] and again["occurrences"] == 2


def test_a_sync_killed_mid_run_is_shown_abandoned_with_what_it_committed(make_world: Any) -> None:
    world = make_world(civil=3000, estate=2)
    engine = world.runtime.engine
    world.sandbox.set_faults("civil", latency_ms=1500)  # each page takes a while: time to kill it mid-way
    process = subprocess.Popen(world.cli("sync", "sd_civil"), env=world.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                committed = conn.execute(select(runs.c.inserted).where(runs.c.system == "sd_civil")).scalar()
            if committed:
                break
            assert process.poll() is None, "the sync ended before it could be killed"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    with engine.connect() as conn:
        held = conn.execute(select(source_records.c.source_id).where(source_records.c.system == "sd_civil")).all()
    row = _status(world)
    last = row["last_run"]
    assert last["status"] == "abandoned" and "the process running it died" in last["error"]
    assert last["read"] >= last["inserted"] > 0 and last["inserted"] <= len(held)  # what its pages committed
    metrics = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in SyncCollector(engine, world.runtime.systems).collect() for s in family.samples}
    assert metrics[("tongban_sync_last_run_status", (("status", "abandoned"), ("system", "sd_civil")))] == 1.0
    world.sandbox.set_faults("civil")
    assert sync_system(world.runtime, "sd_civil").status == "succeeded"
    with engine.connect() as conn:
        first = conn.execute(select(runs).where(runs.c.system == "sd_civil").order_by(runs.c.id)).mappings().first()
    assert first["status"] == "failed" and first["inserted"] > 0  # relabelled, its counts kept


def test_dead_letter_listings_say_what_they_leave_out_and_a_replay_what_it_resolved(make_world: Any) -> None:
    world = make_world(civil=40, estate=2)
    records = served_records(world)
    broken = [_broken(r) for r in records[:12]]
    sync_system(world.runtime, "sd_civil", connector=MemoryPages(broken + records[12:]))
    listed = subprocess.run(world.cli("dead-letters", "list", "--records", "--limit", "5"), env=world.env,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    assert "the newest 5 of 12" in listed.stdout
    as_json = subprocess.run(world.cli("dead-letters", "list", "--records", "--limit", "5", "--json"), env=world.env,
                             capture_output=True, text=True, timeout=300)
    ids = [r["id"] for r in json.loads(as_json.stdout)]
    assert len(ids) == 5 and ids == sorted(ids, reverse=True) and "the newest 5 of 12" in as_json.stderr
    # two are fixed at the source and read again: resolved by the sync, not by the replay after it
    sync_system(world.runtime, "sd_civil", connector=MemoryPages(
        [RawRecord(r.source_id, r.cursor + timedelta(minutes=10), r.payload) for r in records[:2]]))
    report = replay_dead_letters(world.runtime, system="sd_civil")  # nothing it can fix: the mapping is the same
    assert report.resolved == 0 and report.still_open == 10
