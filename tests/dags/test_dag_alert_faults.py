"""Alerts when the failure is the machinery itself, through real Airflow (``dag.test()``) against the sandbox:

- a worker that cannot build Tongban's runtime (its key file not mounted) still leaves the failure in the ledger:
  the failure callback used to build the same runtime, fail the same way and swallow it — no alert anywhere, and
  the deadlines DAG's ``check_alerts`` stayed green;
- a sync failure that the next retry fixes opens no error alert in between (the README: an alert is written when
  a task fails *for good*); it turned ``check_alerts`` red on every blip;
- a secrets backend that fails once (a Vault timeout) is retried, not read as "connection not found" — a
  configuration error that fails the task for good and tells the operator to create a connection that exists.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml
from dags_testlib import task_states

from gateway.ops.alerts import open_alerts


def _endpoint_from_airflow_connection(world) -> None:
    """sd_civil's endpoint and secrets from the Airflow connection ``sd_civil_conn`` instead of the systems file."""
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    entry = data["systems"]["sd_civil"]
    entry.pop("endpoint")
    entry.pop("secrets")
    entry["airflow_conn_id"] = "sd_civil_conn"
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_a_worker_without_its_key_file_still_records_the_failure(make_world, dags_for, monkeypatch) -> None:
    world = make_world(civil=20, estate=0)
    dags = dags_for(world)
    with monkeypatch.context() as worker:  # only on this worker: the key file is not mounted
        worker.setenv("TONGBAN_KEY_FILE", "/nonexistent/tongban-keys.json")
        run = dags["tongban_sync_sd_civil"].test()
        assert task_states(run)["sync"] == ("failed", 1)  # a configuration error: no retry burnt on it
    (alert,) = open_alerts(world.runtime.engine, kind="sync_failed")
    assert alert["system"] == "sd_civil" and "tongban-keys.json" in alert["message"], alert
    check = dags["tongban_deadlines"].test()  # on a healthy worker: red, as it must be
    assert task_states(check)["check_alerts"][0] == "failed"


def test_a_failure_the_retry_fixes_opens_no_alert_meanwhile(make_world, dags_for) -> None:
    world = make_world(civil=30, estate=0)
    dags = dags_for(world, retries=2, retry_delay="5s", max_retry_delay="5s")
    world.sandbox.set_faults("civil", outage=True)
    failed_once = threading.Event()
    seen: list[dict] = []

    def watch() -> None:  # the source comes back once the first try has failed (its run is recorded failed)
        from sqlalchemy import select

        from gateway.store.tables import runs

        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not failed_once.is_set():
            with world.runtime.engine.connect() as conn:
                failed = conn.execute(select(runs.c.id).where(runs.c.system == "sd_civil",
                                                              runs.c.status == "failed")).first()
            if failed:
                seen.extend(open_alerts(world.runtime.engine, kind="sync_failed"))
                world.sandbox.set_faults("civil")
                failed_once.set()
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    run = dags["tongban_sync_sd_civil"].test()
    watcher.join(timeout=60)
    assert failed_once.is_set(), "the first try did not fail"
    assert str(run.state) == "success" and task_states(run)["sync"][1] == 2, task_states(run)
    assert seen == [], "an error alert was open while the task was only up for retry"
    assert not open_alerts(world.runtime.engine, kind="sync_failed")


def test_a_secrets_backend_blip_is_retried_not_read_as_a_missing_connection(make_world, dags_for,
                                                                          monkeypatch) -> None:
    world = make_world(civil=20, estate=0)
    _endpoint_from_airflow_connection(world)
    dags = dags_for(world)

    from airflow.sdk import BaseHook, Connection

    url = urlsplit(world.sandbox.urls["civil"])
    calls: list[str] = []

    def get_connection(conn_id: str) -> Connection:  # the secrets backend: one timeout, then fine
        calls.append(conn_id)
        if len(calls) == 1:
            raise TimeoutError("vault: read timed out")
        return Connection(conn_id=conn_id, conn_type="tongban_rest", host=url.hostname, port=url.port,
                          extra=json.dumps({"scheme": "http", "api_key": "civil-demo-key"}))

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(lambda cls, conn_id: get_connection(conn_id)))
    run = dags["tongban_sync_sd_civil"].test()
    assert str(run.state) == "success" and task_states(run)["sync"][1] == 2, task_states(run)
    assert world.ledger_records("sd_civil") == world.source_records("sd_civil")
    assert not open_alerts(world.runtime.engine, kind="sync_failed")


def test_a_connection_that_is_not_there_is_still_a_configuration_error(make_world, dags_for, monkeypatch) -> None:
    world = make_world(civil=5, estate=0)
    _endpoint_from_airflow_connection(world)
    dags = dags_for(world)
    run = dags["tongban_sync_sd_civil"].test()
    assert task_states(run)["sync"] == ("failed", 1)  # no retry burnt: only an operator can add it
    (alert,) = open_alerts(world.runtime.engine, kind="sync_failed")
    assert "'sd_civil_conn' not found" in alert["message"]


@dataclass
class FailedTask:
    """What the failure callback reads of Airflow's task instance."""

    dag_id: str
    task_id: str
    try_number: int = 1
    run_id: str = "r1"


def _migrated_ledger(tmp_path: Any) -> str:
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(make_engine(ledger))
    return ledger


def test_the_failure_of_an_invalid_systems_entry_reaches_the_ledger(tmp_path, monkeypatch) -> None:
    """A system whose entry is invalid gets a placeholder DAG that fails: the callback read the ledger's URL by
    loading the whole systems file strictly, failed on the same entry, and left no alert (review of the change)."""
    from gateway.orchestration.callbacks import record_failure
    from gateway.store.db import make_engine

    ledger = _migrated_ledger(tmp_path)
    systems = tmp_path / "systems.yaml"
    systems.write_text(f"database_url: {ledger}\nsystems:\n  bad_b:\n    kind: rest\n    retry_delay: -5\n",
                       encoding="utf-8")
    monkeypatch.setenv("TONGBAN_SYSTEMS", str(systems))
    monkeypatch.delenv("TONGBAN_DATABASE_URL", raising=False)
    record_failure({"ti": FailedTask("tongban_sync_bad_b", "sync"),
                    "exception": RuntimeError("system bad_b: retry_delay must be positive")})
    (alert,) = open_alerts(make_engine(ledger), kind="sync_failed")
    assert alert["system"] == "bad_b" and "retry_delay" in alert["message"]


def test_a_failure_alert_masks_the_personal_data_its_exception_quotes(tmp_path, monkeypatch) -> None:
    """The alert kept the exception's text as it was: a parser's error quoting a record put an applicant's ID
    number and phone into the alerts table and the console, in clear on a ledger that seals them."""
    from gateway.orchestration.callbacks import record_failure
    from gateway.store.db import make_engine

    ledger = _migrated_ledger(tmp_path)
    monkeypatch.setenv("TONGBAN_DATABASE_URL", ledger)
    record_failure({"ti": FailedTask("tongban_push", "push_sd_hall", try_number=3), "exception": ValueError(
        "bad record {'sqrxm': '王秀英', 'zjhm': '370102198506011232', 'lxdh': '13912345678'}")})
    (alert,) = open_alerts(make_engine(ledger), kind="push_failed")  # a push task's failure: its target's alert
    stored = alert["message"] + str(alert["details"])
    assert "370102198506011232" not in stored and "13912345678" not in stored and "王秀英" not in stored
    assert "370***********1232" in alert["message"] and "139****5678" in alert["message"]


@dataclass
class TimedOutRun:
    dag_id: str
    run_id: str = "scheduled__2026-12-05T00:00:00+00:00"


def test_a_run_cut_at_its_timeout_alerts_and_the_next_task_that_succeeds_resolves_it(tmp_path, monkeypatch) -> None:
    """The scheduler marks a timed-out run's unfinished tasks skipped: no task callback fires. The DAG's failure
    callback raises run_timed_out (a run failed by a task is that task's alert already, not a second one)."""
    from gateway.orchestration.callbacks import record_run_timeout
    from gateway.orchestration.tasks import resolve_task_alert
    from gateway.store.db import make_engine

    ledger = _migrated_ledger(tmp_path)
    monkeypatch.setenv("TONGBAN_DATABASE_URL", ledger)
    engine = make_engine(ledger)
    record_run_timeout({"dag_run": TimedOutRun("tongban_sync_sd_civil"), "reason": "task_failure"})
    assert not open_alerts(engine, kind="run_timed_out")
    record_run_timeout({"dag_run": TimedOutRun("tongban_push"), "reason": "timed_out"})
    record_run_timeout({"dag_run": TimedOutRun("tongban_sync_sd_civil"), "reason": "timed_out"})
    alerts = {a["key"]: a for a in open_alerts(engine, kind="run_timed_out")}
    assert set(alerts) == {"tongban_push", "tongban_sync_sd_civil"}
    assert alerts["tongban_sync_sd_civil"]["system"] == "sd_civil" and alerts["tongban_push"]["level"] == "error"
    assert "timed out" in alerts["tongban_push"]["message"] and "skipped" in alerts["tongban_push"]["message"]
    resolve_task_alert("tongban_push", "push_sd_hall")
    assert {a["key"] for a in open_alerts(engine, kind="run_timed_out")} == {"tongban_sync_sd_civil"}
