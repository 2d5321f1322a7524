"""``tongban backfill TARGET``: a system that should hold cases it was never sent (added, or given departments,
after its cases were synced) gets each live case's current version queued once; the push job delivers them.
Before, the cases already in the ledger never reached it and the reconciliation listed them as missing."""

from __future__ import annotations

import json
import subprocess

import pytest
from sqlalchemy import delete, func, select

from gateway.contract.errors import ConfigError
from gateway.store.tables import cases, outbox
from gateway.sync.backfill import backfill
from gateway.sync.engine import sync_system
from gateway.sync.push import push

pytestmark = pytest.mark.slow


def _hall_rows(world) -> int:
    with world.runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox)
                                .where(outbox.c.target_system == "sd_hall")).scalar_one())


def test_a_hall_added_after_the_cases_were_synced_gets_each_live_case_once(make_world) -> None:
    world = make_world(civil=25, estate=5)
    sync_system(world.runtime, "sd_civil")
    engine = world.runtime.engine
    with engine.begin() as conn:  # as if the hall had not been in the systems file when they were synced
        conn.execute(delete(outbox).where(outbox.c.target_system == "sd_hall"))
        live = int(conn.execute(select(func.count()).select_from(cases).where(cases.c.deleted.is_(False)))
                   .scalar_one())
    assert live > 0

    dry = backfill(world.runtime, "sd_hall", dry_run=True)
    assert (dry.live_cases, dry.for_target, dry.queued) == (live, live, live) and _hall_rows(world) == 0
    done = subprocess.run(world.cli("backfill", "sd_hall", "--json"), env=world.env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queued"] == live and _hall_rows(world) == live
    assert backfill(world.runtime, "sd_hall").queued == 0  # once: the outbox holds each version now

    report = push(world.runtime, targets=["sd_hall"]).targets[0]
    assert report.error is None and report.delivered == live
    hall = world.admin("sd_hall", "GET", "/_sandbox/cases")
    assert len(hall) == live and all(c["applied_writes"] == 1 for c in hall)


def test_a_system_that_takes_no_pushes_has_nothing_to_backfill(make_world) -> None:
    world = make_world(civil=2, estate=2)
    world.runtime.systems.get("jn_estate").push = None  # a read-only department system
    with pytest.raises(ConfigError, match="takes no pushes"):
        backfill(world.runtime, "jn_estate")


def test_retention_keeps_each_cases_newest_receipt_so_a_backfill_re_sends_nothing(make_world) -> None:
    """Retention purges old delivered rows, but never the newest delivered one of a case and target: it is the
    receipt the reconciliation and the backfill read. Purged, every case older than the retention looked never
    sent, and a backfill would have re-pushed them all."""
    from datetime import timedelta

    from gateway.store.retention import purge

    world = make_world(civil=12, estate=3)
    sync_system(world.runtime, "sd_civil")
    push(world.runtime, targets=["sd_hall"])
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"count": 3})  # three cases get a second version
    sync_system(world.runtime, "sd_civil")
    push(world.runtime, targets=["sd_hall"])
    with world.runtime.engine.connect() as conn:
        delivered = conn.execute(select(outbox.c.case_no, outbox.c.version).where(
            outbox.c.target_system == "sd_hall", outbox.c.status == "delivered")).all()
    newest = {}
    for case_no, version in delivered:
        newest[case_no] = max(version, newest.get(case_no, 0))
    assert len(delivered) > len(newest)  # some cases were delivered twice

    purge(world.runtime.engine, timedelta(0))
    with world.runtime.engine.connect() as conn:
        kept = conn.execute(select(outbox.c.case_no, outbox.c.version).where(
            outbox.c.target_system == "sd_hall", outbox.c.status == "delivered")).all()
    assert dict(kept) == newest
    assert backfill(world.runtime, "sd_hall", dry_run=True).queued == 0
