"""The 一窗受理 hand-off driven by Airflow (``dag.test()``): sync → push → hand-off scan with an injected clock (the
DAG's ``now`` parameter) → deemed accepted once → push tells the department and the hall; DAGs rebuilt between
runs (a scheduler restart) change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gateway.store import process as store

CIVIL_DEPT = "11370000004390448N"


def _ok(dag: Any, **conf: Any) -> None:
    run = dag.test(run_conf=conf) if conf else dag.test()
    assert str(run.state) == "success", dag.dag_id


def test_an_unanswered_front_desk_case_is_deemed_accepted_by_the_handoff_dag(make_world, dags_for) -> None:
    world = make_world(civil=20, estate=5)
    made = world.admin("sd_hall", "POST", "/_sandbox/frontdesk",
                       json={"count": 1, "dept_code": CIVIL_DEPT, "pending": True, "item": "000105101000",
                             "office": "JN370102-QCL"})["created"][0]
    case_no = made["case_no"]
    dags = dags_for(world)
    _ok(dags["tongban_sync_sd_hall"])
    _ok(dags["tongban_push"])
    _ok(dags["tongban_handoff"])  # registers it and starts the window: the civil system has the case
    with world.runtime.engine.connect() as conn:
        row = store.get_handoff(conn, case_no)
    assert row is not None and row["state"] == "pending"
    due = row["due_at"]

    dags = dags_for(world)  # a restart: everything rebuilt from files and the ledger
    _ok(dags["tongban_handoff"], now=(due - timedelta(seconds=30)).isoformat())
    with world.runtime.engine.connect() as conn:
        assert store.get_handoff(conn, case_no)["state"] == "pending"
    _ok(dags["tongban_handoff"], now=(due + timedelta(seconds=30)).isoformat())
    _ok(dags["tongban_handoff"], now=(due + timedelta(minutes=1)).isoformat())  # the next minute's run
    with world.runtime.engine.connect() as conn:
        deemed = store.get_handoff(conn, case_no)
        steps = [e["step"] for e in store.events(conn, case_no)]
    assert deemed["state"] == "deemed" and deemed["decided_at"] == due
    assert steps == ["registered", "routed", "handed", "deemed"]
    _ok(dags["tongban_push"])
    held = world.admin("sd_hall", "GET", "/_sandbox/cases", params={"case_no": case_no})
    assert len(held) == 1 and held[0]["applied_writes"] == 1 and held[0]["case"]["status"] == "accepted"
    assert world.admin("sd_civil", "GET", "/_sandbox/stats")["writes_applied"] == 2  # pending, then deemed
