"""A sync keeps its lease while a slow source answers one page. The lease was renewed only after each page was
written: a source that took longer than the lease's time to live to answer one page lost it, and the next run (the
next cron tick, an operator's `tongban sync`) took the system over while the first still wrote it — two runs on
one system, which the lease exists to prevent. The final watermark write is fenced by the lease like every page."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from gateway.contract.errors import LeaseHeldError
from gateway.store import lease as lease_module
from gateway.store.lease import Lease
from gateway.sync.engine import sync_system

pytestmark = pytest.mark.slow


def test_a_source_slower_than_the_lease_time_to_live_does_not_lose_the_lease(make_world: Any, monkeypatch) -> None:
    world = make_world(civil=20, estate=0)
    monkeypatch.setattr(lease_module, "DEFAULT_TTL", timedelta(seconds=1.5))
    world.sandbox.set_faults("civil", latency_ms=4000)  # every page takes longer than the lease lives
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["report"] = sync_system(world.runtime, "sd_civil")
        except Exception as exc:  # noqa: BLE001 - judged below
            outcome["error"] = exc

    sync = threading.Thread(target=run)
    sync.start()
    taken_over = 0
    deadline = time.monotonic() + 600
    while sync.is_alive() and time.monotonic() < deadline:  # a second run tries all along, as the next tick would
        other = Lease(world.runtime.engine, "sync:sd_civil")
        try:
            other.acquire()
        except LeaseHeldError:
            pass
        else:
            taken_over += 1
            other.release()
        time.sleep(0.2)
    sync.join(timeout=600)
    assert not taken_over, f"another run took the lease {taken_over} times while the sync was running"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].counts.inserted == 20
