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
    # a TTL of a few seconds (a loaded machine stalls a heartbeat for a second or more), a page slower than it
    monkeypatch.setattr(lease_module, "DEFAULT_TTL", timedelta(seconds=4))
    world.sandbox.set_faults("civil", latency_ms=7000)  # every page takes longer than the lease lives
    outcome: dict[str, Any] = {}
    # a takeover is the lease taken while the sync holds it: not before it took it (a loaded machine starts the
    # thread late), nor once it let it go (between the loop's check and its acquire)
    holding, releasing = threading.Event(), threading.Event()
    acquire, release = Lease.acquire, Lease.release

    def acquired(self: Lease, *args: Any, **kwargs: Any) -> Any:
        result = acquire(self, *args, **kwargs)
        if threading.current_thread() is sync:
            holding.set()
        return result

    def released(self: Lease) -> None:
        if threading.current_thread() is sync:
            releasing.set()
        release(self)

    monkeypatch.setattr(Lease, "acquire", acquired)
    monkeypatch.setattr(Lease, "release", released)

    def run() -> None:
        try:
            outcome["report"] = sync_system(world.runtime, "sd_civil")
        except Exception as exc:  # noqa: BLE001 - judged below
            outcome["error"] = exc

    sync = threading.Thread(target=run)
    sync.start()
    assert holding.wait(600), "the sync never took its lease"
    taken_over = 0
    deadline = time.monotonic() + 600
    while sync.is_alive() and time.monotonic() < deadline:  # a second run tries all along, as the next tick would
        other = Lease(world.runtime.engine, "sync:sd_civil")
        try:
            other.acquire()
        except LeaseHeldError:
            pass
        else:  # the sync ended between the loop's check and this acquire: its lease was let go, not taken
            taken_over += 0 if releasing.is_set() else 1
            other.release()
        time.sleep(0.2)
    sync.join(timeout=600)
    assert not taken_over, f"another run took the lease {taken_over} times while the sync was running"
    assert "error" not in outcome, outcome.get("error")
    assert outcome["report"].counts.inserted == 20
