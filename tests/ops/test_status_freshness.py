"""Lag means how old the ledger's copy is: a quiet source whose newest change is years old is not behind after
a sync a minute ago; a system with no successful sync for longer than max_lag is, whatever its watermark."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from gateway.ops.status import system_status
from gateway.sync.engine import sync_system


def test_quiet_source_is_not_behind_and_a_stale_ledger_is(make_world: Any) -> None:
    world = make_world(civil=20, estate=0)
    sync_system(world.runtime, "sd_civil")
    now = datetime.now(timezone.utc)
    rows = {r["system"]: r for r in system_status(world.runtime.engine, world.runtime.systems, now=now)}
    civil = rows["sd_civil"]
    assert civil["source_change_age_s"] > 86400 * 30  # the sandbox's cases are from years ago ...
    assert civil["lag_s"] < 600 and not civil["behind"]  # ... but the ledger is a minute old: not behind
    assert rows["jn_estate"]["last_run"] is None and not rows["jn_estate"]["behind"]  # never ran: "never", not behind
    later = now + world.runtime.systems.get("sd_civil").max_lag + timedelta(minutes=1)
    civil_later = next(r for r in system_status(world.runtime.engine, world.runtime.systems, now=later)
                       if r["system"] == "sd_civil")
    assert civil_later["behind"] and civil_later["lag_s"] > civil_later["max_lag_s"]
