"""The real DAGs, run by Airflow (``dag.test()``) against the sandbox over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone

import pytest
from dags_testlib import task_states
from sqlalchemy import func, select

from gateway.ops.alerts import open_alerts
from gateway.store.tables import outbox, reconciliations

pytestmark = pytest.mark.slow


def test_sync_push_deadlines_reconcile_dags_bring_the_hall_up_to_date(make_world, dags_for) -> None:
    world = make_world(civil=120, estate=90)
    dags = dags_for(world)
    for system in ("sd_civil", "jn_estate", "sd_hall"):
        run = dags[f"tongban_sync_{system}"].test()
        assert str(run.state) == "success", task_states(run)
        states = task_states(run)
        assert states["sync"] == ("success", 1)
        # the asset (the push DAG's trigger) is only published when the run queued work for other systems
        assert states["publish"][0] == ("skipped" if system == "sd_hall" else "success")
    run = dags["tongban_push"].test()
    assert str(run.state) == "success", task_states(run)
    assert set(task_states(run)) == {"push_sd_civil", "push_jn_estate", "push_sd_hall"}

    with world.runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox).where(outbox.c.status == "pending")).scalar() == 0
    hall = {c["case_no"] for c in world.admin("sd_hall", "GET", "/_sandbox/cases") if not c["deleted"]}
    for system in ("sd_civil", "jn_estate"):
        numbers = {r.get("projectNo") or r.get("bjbh") for r in world.source_records(system).values()}
        assert len(hall & numbers) > 0
    with world.runtime.engine.connect() as conn:
        from gateway.store.tables import cases

        live = set(conn.execute(select(cases.c.case_no).where(cases.c.deleted.is_(False),
                                                              cases.c.origin_system != "sd_hall")).scalars())
    assert live <= hall  # the hall holds every department case

    run = dags["tongban_deadlines"].test()
    assert str(run.state) == "success", task_states(run)
    run = dags["tongban_reconcile"].test()
    assert str(run.state) == "success", task_states(run)
    with world.runtime.engine.connect() as conn:
        reported = conn.execute(select(reconciliations.c.system, func.sum(reconciliations.c.matched))
                                .group_by(reconciliations.c.system)).all()
    assert {s for s, _ in reported} == {"sd_civil", "jn_estate"}  # the hall took no front-desk cases here
    assert not open_alerts(world.runtime.engine, kind="reconcile")
    assert not open_alerts(world.runtime.engine, kind="sync_failed")


def test_a_failing_source_retries_then_alerts_and_a_rerun_catches_up(make_world, dags_for, tmp_path) -> None:
    """The acceptance path: the sync task retries with backoff, fails for good, the task-level failure callback
    records an alert that `tongban status` shows; fixed, the next run resolves it and loses nothing."""
    world = make_world(civil=150, estate=10)
    dags = dags_for(world)
    dag = dags["tongban_sync_sd_civil"]
    sync = dag.get_task("sync")
    assert (sync.retries, sync.retry_exponential_backoff) == (2, 2.0)
    world.sandbox.set_faults("civil", outage=True)

    run = dag.test()
    assert str(run.state) == "failed"
    assert task_states(run)["sync"] == ("failed", 3)  # first try + 2 retries
    assert task_states(run)["publish"][0] == "upstream_failed"

    status = subprocess.run(world.cli("status", "--json"), env=world.env, capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    row = {r["system"]: r for r in json.loads(status.stdout)["systems"]}["sd_civil"]
    (alert,) = [a for a in row["alerts"] if a["kind"] == "sync_failed"]
    assert alert["level"] == "error" and "after 3 tries" in alert["message"] and "503" in alert["message"]
    human = subprocess.run(world.cli("status"), env=world.env, capture_output=True, text=True, timeout=120)
    assert "sync_failed" in human.stdout and "sd_civil" in human.stdout

    world.sandbox.set_faults("civil")  # the source is back
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"count": 15})
    run = dag.test()
    assert str(run.state) == "success", task_states(run)
    assert world.ledger_records("sd_civil") == world.source_records("sd_civil")  # caught up, nothing lost
    assert not open_alerts(world.runtime.engine, kind="sync_failed")


def test_a_broken_systems_entry_fails_at_once_without_burning_retries(make_world, dags_for, monkeypatch) -> None:
    world = make_world(civil=10, estate=10)
    dags = dags_for(world)
    monkeypatch.delenv("TONGBAN_SD_CIVIL_API_KEY")  # a missing secret: retrying cannot fix it
    run = dags["tongban_sync_sd_civil"].test()
    assert task_states(run)["sync"] == ("failed", 1)
    (alert,) = open_alerts(world.runtime.engine, kind="sync_failed")
    assert "TONGBAN_SD_CIVIL_API_KEY" in alert["message"]


def test_the_push_dag_leaves_rows_queued_when_the_hall_is_down_and_alerts(make_world, dags_for) -> None:
    world = make_world(civil=30, estate=10)
    dags = dags_for(world, retries=1)
    assert str(dags["tongban_sync_sd_civil"].test().state) == "success"
    hall_rows = select(func.count()).select_from(outbox).where(outbox.c.status == "pending",
                                                               outbox.c.target_system == "sd_hall")
    with world.runtime.engine.connect() as conn:
        queued = conn.execute(hall_rows).scalar()
    assert queued > 20
    world.admin("sd_hall", "POST", "/_sandbox/faults", json={"outage": "refuse"})  # the port stops listening
    run = dags["tongban_push"].test()
    assert task_states(run)["push_sd_hall"] == ("failed", 1)  # no retries: the outbox backs off per row
    with world.runtime.engine.connect() as conn:
        assert conn.execute(hall_rows).scalar() == queued  # nothing lost, nothing dead: on hold for the hall
    (alert,) = open_alerts(world.runtime.engine, kind="push_failed")
    assert alert["key"] == "sd_hall" and alert["system"] == "sd_hall"
    assert not open_alerts(world.runtime.engine, kind="task_failed")
    world.admin("sd_hall", "POST", "/_sandbox/faults", json={})  # back
    for _ in range(5):  # the row that met the outage backs off a few seconds: the outbox decides what is due
        run = dags["tongban_push"].test()
        assert str(run.state) == "success", task_states(run)
        with world.runtime.engine.connect() as conn:
            waiting = conn.execute(select(outbox.c.next_attempt_at).where(outbox.c.status == "pending")).scalars().all()
        if not waiting:
            break
        time.sleep(max(0.0, (max(waiting) - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    assert not waiting
    assert not open_alerts(world.runtime.engine, kind="push_failed")  # the drain that delivered resolved it
