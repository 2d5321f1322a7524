"""The API worker's GC policy: frozen startup heap and a raised young threshold while serving, undone after."""

from __future__ import annotations

import gc

from gateway.sharing.api.gc_policy import server_gc


def test_server_gc_freezes_and_raises_the_threshold_then_restores() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with server_gc(10_000):
        assert gc.get_threshold() == (10_000, before[1], before[2])
        assert gc.get_freeze_count() > 0  # the objects alive at startup are no longer traversed
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles are still collected
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_zero_keeps_cpython_defaults() -> None:
    before = gc.get_threshold()
    with server_gc(0):
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0


def test_overlapping_servers_restore_only_when_the_last_stops() -> None:
    before = gc.get_threshold()
    first, second = server_gc(10_000), server_gc(10_000)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first stops while the second still serves
    assert gc.get_threshold()[0] == 10_000
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
