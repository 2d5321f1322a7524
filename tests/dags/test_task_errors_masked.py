"""What a failed task leaves in Airflow's task log, the failure alert and the run's error carries no personal data
of the records it was writing. The database refuses a page of cases for real (a trigger on SQLite, a constraint on
PostgreSQL) and Airflow runs the sync: SQLAlchemy's error quoted the statement's parameters (every case document of
the page: names, addresses, phone numbers), PostgreSQL added the row it refused (``Failing row contains (…)``), and
the task chained it under its own error, which Airflow prints whole."""

from __future__ import annotations

import json

import pytest
from dags_testlib import task_states
from sqlalchemy import select, text

from gateway.ops.alerts import open_alerts
from gateway.store.tables import runs

pytestmark = pytest.mark.slow


def _refuse_new_cases(world) -> None:
    with world.runtime.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER refuse_cases BEFORE INSERT ON cases "
                              "BEGIN SELECT RAISE(ABORT, 'cases refused for the test'); END"))
        else:
            conn.execute(text("ALTER TABLE cases ADD CONSTRAINT refuse_cases CHECK (case_no = '') NOT VALID"))


def _personal_values(world, system: str) -> set[str]:
    """Every applicant's name, ID number, mobile and address the source holds: none may reach a log, an alert or a
    run's error."""
    found: set[str] = set()
    for record in world.source_records(system).values():
        applicant = record.get("applicant") or {}
        for key in ("name", "certNo", "mobile", "address"):
            value = str(applicant.get(key) or "").replace(" ", "").replace("\u3000", "")
            if len(value) >= 2:
                found.add(value)
    return found


def test_a_refused_write_leaves_no_personal_data_in_the_task_log_the_alert_or_the_run(
        make_world, dags_for, capfd) -> None:
    world = make_world(civil=12, estate=0)
    personal = _personal_values(world, "sd_civil")
    assert len(personal) >= 10, personal  # the test means something only if the page holds people
    _refuse_new_cases(world)
    dags = dags_for(world, retries=0)
    capfd.readouterr()
    run = dags["tongban_sync_sd_civil"].test()
    out, err = capfd.readouterr()
    assert task_states(run)["sync"] == ("failed", 1)
    log = out + err
    assert "Task failed" in log and "refuse" in log  # the reason is there: the database refused the cases
    (alert,) = open_alerts(world.runtime.engine, kind="sync_failed")
    with world.runtime.engine.connect() as conn:
        stored = conn.execute(select(runs.c.error).where(runs.c.system == "sd_civil")).scalars().all()
    for where, content in (("task log", log), ("alert", json.dumps(alert, ensure_ascii=False, default=str)),
                           ("run", json.dumps(stored, ensure_ascii=False))):
        leaked = sorted(v for v in personal if v in content)
        assert not leaked, (where, leaked[:5])
        assert '"item_name":' not in content, where  # nor any part of the case documents being written
