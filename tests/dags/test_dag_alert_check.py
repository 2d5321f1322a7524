"""Airflow shows what the ledger knows: with a task failure planted among 100 red deadlines, the deadlines DAG's
``check_alerts`` task fails and names that failure first; once the failed task succeeds its alert is resolved
and the check passes again. Every DAG's docs link to the ops console."""

from __future__ import annotations

import pytest
from dags_testlib import task_states

from gateway.ops.alerts import AlertSpec, open_alerts, raise_alert, sync_alerts
from gateway.orchestration.naming import console_url

pytestmark = pytest.mark.slow


def test_a_planted_task_failure_fails_the_alert_check_first(make_world, dags_for) -> None:
    world = make_world(civil=10, estate=0)
    engine = world.runtime.engine
    dags = dags_for(world)
    sync_alerts(engine, "deadline", [AlertSpec(key=f"CASE-{n:03d}", level="red", system="sd_civil",
                                               message=f"case CASE-{n:03d} past its time limit") for n in range(100)])
    raise_alert(engine, "task_failed", "tongban_push.push_sd_hall", level="error", system="sd_hall",
                message="tongban_push.push_sd_hall failed after 3 tries: HTTP 503")
    run = dags["tongban_deadlines"].test()
    states = task_states(run)
    assert str(run.state) == "failed" and states["check_alerts"][0] == "failed", states
    assert states["scan_deadlines"][0] == states["check_freshness"][0] == "success"
    check_failure = next(a for a in open_alerts(engine, kind="task_failed") if a["key"].endswith("check_alerts"))
    # the task's failure, as Airflow records it, names the planted failure first, not the 100 red deadlines
    assert "1 open error alert(s), first task_failed tongban_push.push_sd_hall" in check_failure["message"]

    push = dags["tongban_push"].test()  # the hall answers again: the push task succeeds ...
    assert task_states(push)["push_sd_hall"][0] == "success"
    assert not [a for a in open_alerts(engine, kind="task_failed") if a["key"] == "tongban_push.push_sd_hall"]
    run = dags["tongban_deadlines"].test()  # ... and the check passes, red deadlines or not
    assert str(run.state) == "success", task_states(run)
    assert not open_alerts(engine, kind="task_failed")  # its own earlier failure resolved by its success


def test_every_dag_links_to_the_console(make_world, dags_for) -> None:
    dags = dags_for(make_world(civil=0, estate=0))
    for dag in dags.values():
        assert console_url() in (dag.doc_md or ""), dag.dag_id
