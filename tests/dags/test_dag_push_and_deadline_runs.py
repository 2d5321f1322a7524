"""Run by Airflow (``dag.test()``): a push target that is down no longer holds the push run (one at a time) for its
whole Airflow retry schedule — it fails at once, alerts, and its rows stay queued for the next run; a failing
deferred-materials step no longer stops the deadline scan and the alert check."""

from __future__ import annotations

import time

import pytest
from dags_testlib import task_states

from gateway.ops.alerts import open_alerts

pytestmark = pytest.mark.slow


def test_a_down_target_fails_its_push_at_once_without_holding_the_others(make_world, dags_for) -> None:
    world = make_world(civil=30, estate=20)
    # the systems' retries would have held the run 3 + 6 + 12 s here (7-14 min with the shipped 1 min, x2)
    dags = dags_for(world, retries=3, retry_delay="3s", max_retry_delay="60s")
    for system in ("sd_civil", "jn_estate"):
        assert str(dags[f"tongban_sync_{system}"].test().state) == "success"
    world.admin("sd_hall", "POST", "/_sandbox/faults", json={"outage": "refuse"})
    started = time.monotonic()
    run = dags["tongban_push"].test()
    took = time.monotonic() - started
    states = task_states(run)
    assert states["push_sd_civil"] == states["push_jn_estate"] == ("success", 1)
    assert states["push_sd_hall"] == ("failed", 1)  # one try: no Airflow retry
    assert took < 30, f"the push run took {took:.0f}s"
    (alert,) = open_alerts(world.runtime.engine, kind="push_failed")  # the failure still alerts: once, the push's
    assert alert["key"] == alert["system"] == "sd_hall"  # own alert of the target (the CLI raises the same one)
    assert not [a for a in open_alerts(world.runtime.engine, kind="task_failed") if "push" in a["key"]]


def test_a_failing_deferred_materials_step_does_not_stop_the_deadline_scan(make_world, dags_for, monkeypatch) -> None:
    from gateway.orchestration import tasks

    world = make_world(civil=10, estate=0)
    dags = dags_for(world)

    def library_down() -> dict:
        raise ConnectionError("certificate library unreachable")

    monkeypatch.setattr(tasks, "run_deferred", library_down)
    deadlines = dags["tongban_deadlines"]
    for task in deadlines.tasks:  # the shared retries (1 min, x2) would only make the test wait
        task.retries = 0
    run = deadlines.test()
    states = task_states(run)
    assert states["satisfy_deferred"][0] == "failed"
    assert states["scan_deadlines"][0] == "success", states  # was upstream_failed: no time-limit supervision
    assert states["check_freshness"][0] == "success"
    # the check ran (was upstream_failed) and fails: the failed step's alert is open, so the run is not green
    assert states["check_alerts"][0] == "failed", states
    assert str(run.state) == "failed"
    assert [a for a in open_alerts(world.runtime.engine, kind="task_failed")
            if a["key"] == "tongban_deadlines.satisfy_deferred"]
