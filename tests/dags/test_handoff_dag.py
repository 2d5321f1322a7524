"""The 一窗受理 hand-off driven by Airflow (``dag.test()``): sync → push → hand-off scan with an injected clock (the
DAG's ``now`` parameter) → deemed accepted once → push tells the department and the hall; DAGs rebuilt between
runs (a scheduler restart) change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.contract.errors import ConfigError
from gateway.orchestration import tasks
from gateway.store import process as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, process_handoffs

CIVIL_DEPT = "11370000004390448N"
REPO = Path(__file__).resolve().parents[2]


def _ok(dag: Any, **conf: Any) -> None:
    run = dag.test(run_conf=conf) if conf else dag.test()
    assert str(run.state) == "success", dag.dag_id


def test_an_unanswered_front_desk_case_is_deemed_accepted_by_the_handoff_dag(
        make_world, dags_for, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TONGBAN_DRILL", raising=False)
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
    # the window is still open on this machine's clock: a run as of its end is refused, as the CLI refuses it …
    refused = dags["tongban_handoff"].test(run_conf={"now": (due + timedelta(seconds=30)).isoformat()})
    assert str(refused.state) == "failed"
    with world.runtime.engine.connect() as conn:
        assert store.get_handoff(conn, case_no)["state"] == "pending"
        assert [e["step"] for e in store.events(conn, case_no)] == ["registered", "routed", "handed"]
    # … and saying "drill" is not enough where the workers are not a drill's (TONGBAN_DRILL unset) …
    unflagged = dags["tongban_handoff"].test(run_conf={"now": (due + timedelta(seconds=30)).isoformat(),
                                                       "ahead_of_clock": True})
    assert str(unflagged.state) == "failed"
    with world.runtime.engine.connect() as conn:
        assert store.get_handoff(conn, case_no)["state"] == "pending"
    # … but a drill it is, against the sandbox, where TONGBAN_DRILL=1 (the clock injected, as the demo does)
    monkeypatch.setenv("TONGBAN_DRILL", "1")
    _ok(dags["tongban_handoff"], now=(due - timedelta(seconds=30)).isoformat(), ahead_of_clock=True)
    with world.runtime.engine.connect() as conn:
        assert store.get_handoff(conn, case_no)["state"] == "pending"
    _ok(dags["tongban_handoff"], now=(due + timedelta(seconds=30)).isoformat(), ahead_of_clock=True)
    _ok(dags["tongban_handoff"], now=(due + timedelta(minutes=1)).isoformat(), ahead_of_clock=True)
    with world.runtime.engine.connect() as conn:
        deemed = store.get_handoff(conn, case_no)
        steps = [e["step"] for e in store.events(conn, case_no)]
    assert deemed["state"] == "deemed" and deemed["decided_at"] == due
    assert steps == ["registered", "routed", "handed", "deemed"]
    _ok(dags["tongban_push"])
    held = world.admin("sd_hall", "GET", "/_sandbox/cases", params={"case_no": case_no})
    assert len(held) == 1 and held[0]["applied_writes"] == 1 and held[0]["case"]["status"] == "accepted"
    assert world.admin("sd_civil", "GET", "/_sandbox/stats")["writes_applied"] == 2  # pending, then deemed


def test_the_dag_callables_read_now_as_the_cli_reads_it(database_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The task bodies of ``tongban_handoff`` and ``tongban_deadlines`` take the DAG run's ``now`` as ``--now`` is
    taken: an instant without its offset is refused naming the parameter (it crashed the deadline scan with a
    naive/aware TypeError), and a writing hand-off scan ahead of this machine's clock is refused before it deems
    anything (it deemed cases whose window was still open). Both refusals are permanent: no retry repeats them."""
    engine = make_engine(database_url)
    upgrade(engine)
    real = datetime.now(UTC).replace(microsecond=0)
    doc = {"case_no": "C-P1", "item_code": "11370000004390448N4000105101001", "item_name": "高龄老人津贴发放",
           "dept_code": CIVIL_DEPT, "dept_name": "山东省民政厅", "status": "submitted", "applied_at": real.isoformat(),
           "case_type": "promised", "division_code": "370102", "events": []}
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no="C-P1", version=1, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
            origin_system="sd_hall", origin_source_id="C-P1", source_updated_at=real, dept_code=CIVIL_DEPT,
            item_code=doc["item_code"], deleted=False, updated_at=real))
        conn.execute(process_handoffs.insert().values(
            case_no="C-P1", hall_system="sd_hall", target_system="sd_civil", dept_code=CIVIL_DEPT, state="pending",
            window_s=600, registered_at=real, handed_at=real, due_at=real + timedelta(minutes=10),
            forwarded_version=1, updated_at=real))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", database_url)
    monkeypatch.setenv("TONGBAN_SYSTEMS", str(REPO / "config" / "systems.yaml"))
    monkeypatch.delenv("TONGBAN_DRILL", raising=False)

    with pytest.raises(ConfigError, match="DAG run parameter now .*later than this machine's clock") as ahead:
        tasks.run_handoffs((real + timedelta(days=1)).isoformat())
    assert "--dry-run" in str(ahead.value) and tasks.permanent(ahead.value)
    # the production checkbox: ahead_of_clock without TONGBAN_DRILL=1 is refused, naming the flag
    with pytest.raises(ConfigError, match="ahead_of_clock .*TONGBAN_DRILL=1 is not set") as unflagged:
        tasks.run_handoffs((real + timedelta(days=1)).isoformat(), ahead_of_clock=True)
    assert tasks.permanent(unflagged.value)
    # the bundle scan of the same DAG takes "in force today" from now: a later now is refused there too
    from gateway.orchestration.bundle_tasks import run_bundles

    with pytest.raises(ConfigError, match="later than this machine's clock.*licences valid from a later day"):
        run_bundles((real + timedelta(days=40)).isoformat())
    with pytest.raises(ConfigError, match="TONGBAN_DRILL"):
        run_bundles((real + timedelta(days=40)).isoformat(), ahead_of_clock=True)
    with engine.connect() as conn:
        assert store.get_handoff(conn, "C-P1")["state"] == "pending"  # nothing deemed, nobody told
    for run in (tasks.run_handoffs, tasks.run_deadlines):
        with pytest.raises(ConfigError, match="DAG run parameter now '2026-12-01T10:10:00': give the offset"):
            run("2026-12-01T10:10:00")
        with pytest.raises(ConfigError, match="expected an ISO 8601 instant"):
            run("yesterday")
    assert tasks.run_handoffs(real.isoformat())["deemed"] == 0  # the present (and a catch-up) still run
    assert tasks.run_deadlines((real - timedelta(days=1)).isoformat())["checked"] >= 0
