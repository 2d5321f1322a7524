"""The DAGs as Airflow sees them: ids, schedules, retries, callbacks, assets; parse time makes no network call,
reads no Variable, and gives the same DAGs every time."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dags_testlib import AIRFLOW_TEST_ENV, REPO

SYSTEMS = REPO / "config" / "systems.yaml"


def many_systems(path: Path, count: int) -> Path:
    base = yaml.safe_load(SYSTEMS.read_text(encoding="utf-8"))
    template = base["systems"]["sd_civil"]
    systems = {f"sys_{i:03d}": {**template, "connector_config": str(REPO / "config" / template["connector_config"]),
                                 "mapping": str((REPO / "config" / template["mapping"]).resolve())}
               for i in range(count)}
    path.write_text(yaml.safe_dump({"defaults": base["defaults"], "systems": systems}), encoding="utf-8")
    return path


def test_one_sync_dag_per_system_plus_the_shared_dags_sorted() -> None:
    from gateway.orchestration.dagfactory import build_dags

    dags = build_dags(SYSTEMS)
    names = sorted(yaml.safe_load(SYSTEMS.read_text(encoding="utf-8"))["systems"])
    assert list(dags) == [f"tongban_sync_{n}" for n in names] + [
        "tongban_push", "tongban_certificates", "tongban_deadlines", "tongban_reconcile", "tongban_catalogue_kpi",
        "tongban_handoff", "tongban_citizen"]
    for name in names:
        dag = dags[f"tongban_sync_{name}"]
        assert dag.max_active_runs == 1 and not dag.catchup
        assert dag.timetable.expression == "*/10 * * * *" or name == "sd_hall"
        sync = dag.get_task("sync")
        assert sync.retries == 3 and sync.retry_exponential_backoff == 2.0
        assert sync.max_retry_delay.total_seconds() == 1800
        from gateway.orchestration.callbacks import record_failure

        assert record_failure in sync.on_failure_callback  # task level: it fires in the worker
        (outlet,) = dag.get_task("publish").outlets
        assert outlet.uri == f"tongban://ledger/{name}"
    assert dags["tongban_sync_sd_hall"].timetable.expression == "*/5 * * * *"
    for dag_id in ("tongban_push", "tongban_certificates", "tongban_deadlines", "tongban_reconcile",
                   "tongban_catalogue_kpi", "tongban_handoff", "tongban_citizen"):
        assert dags[dag_id].max_active_runs == 1


def test_the_push_dag_runs_on_any_sync_asset_or_its_schedule() -> None:
    from airflow.sdk import AssetOrTimeSchedule

    from gateway.orchestration.dagfactory import build_dags

    push = build_dags(SYSTEMS)["tongban_push"]
    assert isinstance(push.timetable, AssetOrTimeSchedule)
    uris = {a.uri for a in push.timetable.asset_condition.objects}
    assert uris == {f"tongban://ledger/{n}" for n in ("jn_estate", "jn_social", "jn_welfare", "sd_civil", "sd_hall",
                                                     "sd_market", "jn_seal", "jn_tax", "handoff")}
    # one push task per system that receives cases (jn_social and jn_welfare are read-only)
    assert {t.task_id for t in push.tasks} == {"push_jn_estate", "push_sd_civil", "push_sd_hall", "push_sd_market",
                                               "push_jn_seal", "push_jn_tax"}


def test_parsing_makes_no_network_call_reads_no_variable_and_is_stable(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import Variable
    from airflow.serialization.serialized_objects import DagSerialization

    from gateway.orchestration.dagfactory import build_dags

    def no_network(*_args, **_kwargs):
        raise AssertionError("a network call at parse time")

    def no_variables(*_args, **_kwargs):
        raise AssertionError("an Airflow Variable read at parse time")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(Variable, "get", no_variables)
    path = many_systems(tmp_path / "systems.yaml", 100)
    first = build_dags(path)
    again = build_dags(path)
    assert len(first) == 107
    assert list(first) == list(again)
    for dag_id in ("tongban_sync_sys_042", "tongban_push", "tongban_reconcile"):
        a = DagSerialization.to_dict(first[dag_id])
        b = DagSerialization.to_dict(again[dag_id])
        assert a == b, f"{dag_id} serialises differently on a second parse"


def test_the_dag_folder_imports_cleanly_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """What the dag-processor does: import dags/ with the 100-system file; no import errors, every DAG found."""
    path = many_systems(tmp_path / "systems.yaml", 100)
    code = ("from airflow.dag_processing.dagbag import DagBag; "
            f"bag = DagBag(dag_folder={str(REPO / 'dags')!r}); "
            "print(len(bag.dags), bag.import_errors)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, **AIRFLOW_TEST_ENV, "TONGBAN_SYSTEMS": str(path)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "107 {}"  # 100 sync DAGs + 7 shared (tongban_citizen among them)


def test_a_schedule_airflow_cannot_take_fails_its_placeholder_naming_the_system(tmp_path: Path) -> None:
    # it used to reach CronTriggerTimetable: the DagBag dropped every DAG with an import error naming the DAG file;
    # then it failed the whole load. Now the system gets a placeholder DAG that fails saying why.
    from airflow.sdk.exceptions import AirflowFailException

    from gateway.orchestration.dagfactory import build_dags

    path = many_systems(tmp_path / "systems.yaml", 2)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["systems"]["sys_000"]["schedule"] = "every 10 minutes"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    dags = build_dags(path)
    placeholder = dags["tongban_sync_sys_000"]
    assert [t.task_id for t in placeholder.tasks] == ["sync"] and placeholder.get_task("sync").retries == 0
    with pytest.raises(AirflowFailException,
                       match=r"systems.yaml: line \d+: system sys_000: schedule: Value error, 'every 10 minutes'"):
        placeholder.get_task("sync").python_callable()
    assert dags["tongban_sync_sys_001"].get_task("sync").retries == 3  # the other system is built as usual
    assert {t.task_id for t in dags["tongban_reconcile"].tasks} == {"reconcile_sys_001"}


def test_parse_time_reads_no_mapping_a_missing_one_is_the_sync_runs_error(tmp_path: Path) -> None:
    from gateway.orchestration.dagfactory import build_dags

    path = many_systems(tmp_path / "systems.yaml", 1)
    path.write_text(path.read_text(encoding="utf-8").replace("sd_civil.yaml", "nope.yaml"), encoding="utf-8")
    assert "tongban_sync_sys_000" in build_dags(path)


def test_every_task_has_a_timeout_and_every_dag_a_run_timeout_covering_its_retries(tmp_path: Path) -> None:
    """A hung task used to hold its DAG (one run at a time) for ever: no execution_timeout, no dagrun_timeout."""
    from datetime import timedelta

    from gateway.orchestration.dagfactory import RUN_MARGIN, TASK_TIMEOUTS, build_dags

    path = many_systems(tmp_path / "systems.yaml", 2)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["systems"]["sys_001"].update({"execution_timeout": "45m", "retries": 2, "retry_delay": "1m",
                                       "max_retry_delay": "5m"})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    dags = build_dags(path)
    for dag in dags.values():
        assert dag.dagrun_timeout and dag.dagrun_timeout > RUN_MARGIN, dag.dag_id
        for task in dag.tasks:
            assert task.execution_timeout and task.execution_timeout > timedelta(0), (dag.dag_id, task.task_id)
            worst = (task.retries + 1) * task.execution_timeout
            assert dag.dagrun_timeout >= worst + RUN_MARGIN, (dag.dag_id, task.task_id)  # tasks time out first
    assert dags["tongban_sync_sys_000"].get_task("sync").execution_timeout == timedelta(hours=2)  # the default
    sync = dags["tongban_sync_sys_001"]
    assert sync.get_task("sync").execution_timeout == timedelta(minutes=45)
    assert sync.get_task("publish").execution_timeout == timedelta(minutes=5)
    # sync: 3 tries of 45 min + 2 waits of at most 5 min; then publish (5 min, no retry); then the margin
    assert sync.dagrun_timeout == 3 * timedelta(minutes=45) + 2 * timedelta(minutes=5) + timedelta(minutes=5) \
        + RUN_MARGIN
    assert dags["tongban_reconcile"].get_task("reconcile_sys_001").execution_timeout == timedelta(minutes=45)
    assert dags["tongban_push"].get_task("push_sys_001").execution_timeout == TASK_TIMEOUTS["tongban_push"]
    assert dags["tongban_push"].dagrun_timeout == TASK_TIMEOUTS["tongban_push"] + RUN_MARGIN
    for dag_id in ("tongban_deadlines", "tongban_handoff", "tongban_citizen", "tongban_certificates",
                   "tongban_catalogue_kpi"):
        assert dags[dag_id].tasks[0].execution_timeout in (TASK_TIMEOUTS[dag_id], timedelta(minutes=5))


def test_push_tasks_do_not_retry_in_airflow_and_still_alert(tmp_path: Path) -> None:
    """A target that is down held the push run (max_active_runs=1) for its whole retry schedule, 7-14 minutes, and
    every other target with it; the outbox backs off per row and the DAG runs again within five minutes."""
    from gateway.orchestration.callbacks import record_failure
    from gateway.orchestration.dagfactory import build_dags

    path = many_systems(tmp_path / "systems.yaml", 2)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["systems"]["sys_001"].update({"retries": 5, "queue": "dept_net"})
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    dags = build_dags(path)
    for task in dags["tongban_push"].tasks:
        assert task.retries == 0, task.task_id
        assert record_failure in task.on_failure_callback
    assert dags["tongban_push"].get_task("push_sys_001").queue == "dept_net"
    assert dags["tongban_sync_sys_001"].get_task("sync").retries == 5  # the sync keeps the system's retries
    assert dags["tongban_reconcile"].get_task("reconcile_sys_001").retries == 5


def test_the_deadline_scan_and_the_alert_check_run_whatever_became_of_the_step_before() -> None:
    from gateway.orchestration.dagfactory import build_dags

    deadlines = build_dags(SYSTEMS)["tongban_deadlines"]
    scan, check = deadlines.get_task("scan_deadlines"), deadlines.get_task("check_alerts")
    assert scan.upstream_task_ids == {"satisfy_deferred"} and scan.trigger_rule == "all_done"
    assert check.upstream_task_ids == {"scan_deadlines", "check_freshness"} and check.trigger_rule == "all_done"


def test_a_run_timeout_leaves_time_for_every_wave_of_tasks_the_dag_may_run_at_once(tmp_path: Path) -> None:
    """100 push targets, 16 at a time: the run timeout was the longest chain alone (one push, 15 min, + 30), so the
    run was cut at 45 minutes with the later waves never run, and the scheduler skipped them without an alert."""
    import math

    from gateway.orchestration.callbacks import record_run_timeout
    from gateway.orchestration.dagfactory import RUN_MARGIN, TASK_TIMEOUTS, build_dags

    dags = build_dags(many_systems(tmp_path / "systems.yaml", 40))
    for dag_id in ("tongban_push", "tongban_reconcile"):
        dag = dags[dag_id]
        slots = dag.max_active_tasks
        assert len(dag.tasks) > slots
        worst = max((t.retries + 1) * t.execution_timeout for t in dag.tasks)
        assert dag.dagrun_timeout >= math.ceil(len(dag.tasks) / slots) * worst + RUN_MARGIN, dag_id
    push = dags["tongban_push"]  # and no more than that: one more wave at most
    waves = math.ceil(len(push.tasks) / push.max_active_tasks) + 1
    assert push.dagrun_timeout <= waves * TASK_TIMEOUTS["tongban_push"] + RUN_MARGIN
    for dag in dags.values():  # a run cut at its timeout says so (the tasks' own callbacks never fire)
        assert dag.on_failure_callback is record_run_timeout and dag.has_on_failure_callback, dag.dag_id


def test_the_every_minute_processes_go_ahead_of_the_syncs_and_the_syncs_keep_to_their_pool(
        tmp_path: Path, monkeypatch) -> None:
    """100 syncs on one cron tick took every worker slot ahead of the every-minute hand-off, the push and the 12345
    routing (Airflow's default weight is the count of downstream tasks: a sync with its two steps outweighed the
    one-task hand-off), and the nightly reconcile took every slot for hours. Absolute weights put the processes
    first; syncs and reconciles run in the sources pool the deployment makes; a reconcile runs 4 systems at once."""
    from gateway.orchestration.dagfactory import RECONCILE_MAX_ACTIVE_TASKS, SOURCES_POOL_ENV, build_dags

    monkeypatch.setenv(SOURCES_POOL_ENV, "tongban_sources")
    path = many_systems(tmp_path / "systems.yaml", 3)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["systems"]["sys_002"]["queue"] = "jn_network"  # its own workers: a dead queue must not hold pool slots
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    dags = build_dags(path)

    def weights(dag_id: str) -> set[tuple[int, str]]:
        return {(t.priority_weight, str(t.weight_rule)) for t in dags[dag_id].tasks}

    (sync,) = {w for w, _ in weights("tongban_sync_sys_000")}
    for first in ("tongban_handoff", "tongban_citizen", "tongban_push", "tongban_deadlines"):
        assert min(w for w, _ in weights(first)) > sync, first
    assert max(w for w, _ in weights("tongban_reconcile")) < sync
    assert {rule for dag in dags for _, rule in weights(dag)} == {"absolute"}
    for dag in dags.values():
        for task in dag.tasks:
            reads_a_source = (task.task_id == "sync" or task.task_id.startswith("reconcile_")) and \
                "sys_002" not in f"{dag.dag_id}.{task.task_id}"
            assert task.pool == ("tongban_sources" if reads_a_source else "default_pool"), (dag.dag_id, task.task_id)
    assert dags["tongban_reconcile"].max_active_tasks == RECONCILE_MAX_ACTIVE_TASKS
    monkeypatch.delenv(SOURCES_POOL_ENV)  # not set (a deployment without the pool): Airflow's default pool
    assert build_dags(many_systems(tmp_path / "systems.yaml", 1))["tongban_sync_sys_000"].get_task("sync").pool \
        == "default_pool"


def test_what_a_task_returns_to_xcom_is_bounded() -> None:
    """A hand-off scan that deemed 30,000 cases accepted after a holiday returned every case number to XCom
    (Airflow's metadata database, and the UI that renders it)."""
    from gateway.orchestration.dagfactory import XCOM_LIST_LIMIT, _call

    deemed = [f"3700002026{n:011d}" for n in range(30_000)]
    result = _call(lambda: {"deemed": len(deemed), "deemed_cases": deemed, "refused": []})
    assert result["deemed_cases"] == deemed[:XCOM_LIST_LIMIT] and result["deemed_cases_count"] == 30_000
    assert result["deemed"] == 30_000 and result["refused"] == [] and "refused_count" not in result
    assert _call(lambda: list(range(5000))) == list(range(XCOM_LIST_LIMIT))
    assert _call(lambda: {"read": 3}) == {"read": 3}


def test_a_now_parameter_that_is_no_instant_is_refused_when_the_run_is_triggered() -> None:
    """Found by review: any text was taken for ``now`` and the run's tasks then failed on it, opening two error
    alerts (paging someone) for an operator's typo that the trigger form could have refused."""
    from airflow.exceptions import ParamValidationError

    from gateway.orchestration.dagfactory import build_dags

    dags = build_dags()
    for dag_id in ("tongban_deadlines", "tongban_handoff"):
        param = dags[dag_id].params.get_param("now")
        assert param.resolve("2026-10-09T09:36:00+08:00") == "2026-10-09T09:36:00+08:00"
        assert param.resolve(None) is None
        for typo in ("2026-03-32 25:99", "yesterday", "2026-10-09T09:36:00"):
            with pytest.raises(ParamValidationError):
                param.resolve(typo)


def test_every_dag_starts_early_enough_for_a_manual_run_of_a_past_night() -> None:
    """Found by review: a run dated before the DAGs' start date (1 January 2026) was accepted and ran no task."""
    from datetime import UTC, datetime

    from gateway.orchestration.dagfactory import build_dags

    assert all(dag.start_date <= datetime(2020, 1, 1, tzinfo=UTC) for dag in build_dags().values())
