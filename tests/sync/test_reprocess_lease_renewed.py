"""A replay or a remap holds the system's sync lease for as long as it runs, as a sync does.

Both took the lease and never renewed it: one running longer than the lease's TTL (a remap pages every stored
record of a system) let the next scheduled sync take the lease and write the same records, cases and outbox
rows beside it — what the lease exists to prevent (outside review's find). Now the lease is kept alive by its
heartbeat and every page is fenced by a renewal in its own transaction; a remap that fails says so in its run.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import gateway.sync.reprocess as reprocess
from gateway.contract.errors import LeaseHeldError
from gateway.store import lease as lease_module
from gateway.store import ledger
from gateway.store.lease import Lease
from gateway.store.tables import runs
from gateway.sync.engine import sync_system

pytestmark = pytest.mark.slow
TTL = timedelta(seconds=3)
PAGE_SECONDS = 1.2  # four pages: longer than the TTL in all


def _slow_pages_and_a_sync_knocking(monkeypatch: pytest.MonkeyPatch, engine: Any, reader: str) -> list[str]:
    """Each page takes PAGE_SECONDS; before each page is read, the next scheduled sync tries to take the lease."""
    monkeypatch.setattr(lease_module, "DEFAULT_TTL", TTL)
    monkeypatch.setattr(reprocess, "BATCH", 1)
    real_page, real_read = reprocess.ingest_page, getattr(reprocess.ledger, reader)
    taken: list[str] = []

    def slow_page(*args: Any, **kwargs: Any) -> Any:
        time.sleep(PAGE_SECONDS)
        return real_page(*args, **kwargs)

    def next_page(*args: Any, **kwargs: Any) -> Any:
        other = Lease(engine, "sync:sd_civil")
        try:
            other.acquire()
        except LeaseHeldError:
            pass
        else:
            taken.append("the next sync took the lease")
            other.release()
        return real_read(*args, **kwargs)

    monkeypatch.setattr(reprocess, "ingest_page", slow_page)
    monkeypatch.setattr(reprocess.ledger, reader, next_page)
    return taken


def test_a_replay_longer_than_the_lease_keeps_it(make_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(civil=4, estate=0, social=0, welfare=0, systems=("sd_civil",))
    engine = world.runtime.engine
    with engine.begin() as conn:
        ledger.add_dead_letters(conn, [dict(
            kind="record", system="sd_civil", stream="cases", source_id=f"x-{i}", case_no=None,
            raw=ledger.dumps({"id": i}), reason="bad", issues="[]", mapping_version=None, status="open",
            attempts=1, created_at=ledger.utcnow(), updated_at=ledger.utcnow()) for i in range(4)])
    taken = _slow_pages_and_a_sync_knocking(monkeypatch, engine, "open_record_dead_letters_after")
    report = reprocess.replay_dead_letters(world.runtime, system="sd_civil")
    assert report.systems["sd_civil"].read == 4 and not report.skipped
    assert taken == []


def test_a_remap_longer_than_the_lease_keeps_it(make_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(civil=4, estate=0, social=0, welfare=0, systems=("sd_civil",))
    assert sync_system(world.runtime, "sd_civil").counts.inserted == 4
    taken = _slow_pages_and_a_sync_knocking(monkeypatch, world.runtime.engine, "source_records_after")
    report = reprocess.remap_system(world.runtime, "sd_civil")
    assert report.counts.read == 4
    assert taken == []


def test_a_remap_that_fails_says_so_in_its_run(make_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(civil=2, estate=0, social=0, welfare=0, systems=("sd_civil",))
    sync_system(world.runtime, "sd_civil")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(reprocess, "ingest_page", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        reprocess.remap_system(world.runtime, "sd_civil")
    with world.runtime.engine.connect() as conn:
        status, error = conn.execute(select(runs.c.status, runs.c.error).where(runs.c.kind == "remap")).one()
    assert status == "failed" and "disk full" in error
    Lease(world.runtime.engine, "sync:sd_civil").acquire()  # and the lease was given back


def test_a_remap_that_rejects_most_records_is_degraded_and_alerted(make_world: Any, tmp_path: Any) -> None:
    """A remap under a mapping that rejects every record said "ok" (exit 0) and took the mapping_changed alert
    away with nothing in its place (an operator's walkthrough). Judged as a full read is, it is degraded: the run
    says so and a sync_degraded alert stands."""
    import re

    from gateway.ops.alerts import open_alerts

    repo = Path(__file__).resolve().parents[2]
    mapping = tmp_path / "sd_civil.yaml"
    right = (repo / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8")
    mapping.write_text(right, encoding="utf-8")
    world = make_world(civil=6, estate=0, social=0, welfare=0, systems=("sd_civil",), mappings={"sd_civil": mapping})
    assert sync_system(world.runtime, "sd_civil").counts.inserted == 6
    broken = re.sub(r'(?m)^version: "[^"]*"$', 'version: "broken-dates"', right, count=1).replace(
        'applied_at: {path: applyTime, date: ["yyyy-MM-dd HH:mm:ss", "yyyy/MM/dd HH:mm:ss"]}',
        'applied_at: {path: applyTime, date: ["yyyyMMdd"]}')
    assert broken != right
    mapping.write_text(broken, encoding="utf-8")
    report = reprocess.remap_system(world.runtime, "sd_civil")
    assert report.counts.rejected == 6 and report.status == "degraded" and "6 of 6 records rejected" in report.error
    with world.runtime.engine.connect() as conn:
        assert conn.execute(select(runs.c.status).where(runs.c.kind == "remap")).scalar_one() == "degraded"
    (alert,) = open_alerts(world.runtime.engine, kind="sync_degraded")
    assert alert["system"] == "sd_civil" and "remap of sd_civil" in alert["message"]

