"""The DAGs as Airflow sees them: ids, schedules, retries, callbacks, assets; parse time makes no network call,
reads no Variable, and gives the same DAGs every time."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import AIRFLOW_TEST_ENV, REPO

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


def test_a_schedule_airflow_cannot_take_fails_the_load_naming_the_system(tmp_path: Path) -> None:
    # it used to reach CronTriggerTimetable: the DagBag dropped every DAG with an import error naming the DAG file
    from gateway.contract.errors import ConfigError
    from gateway.orchestration.dagfactory import build_dags

    path = many_systems(tmp_path / "systems.yaml", 2)
    path.write_text(path.read_text(encoding="utf-8").replace("*/10 * * * *", "every 10 minutes"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"system sys_000: schedule: Value error, 'every 10 minutes' is not a cron"):
        build_dags(path)


def test_parse_time_reads_no_mapping_a_missing_one_is_the_sync_runs_error(tmp_path: Path) -> None:
    from gateway.orchestration.dagfactory import build_dags

    path = many_systems(tmp_path / "systems.yaml", 1)
    path.write_text(path.read_text(encoding="utf-8").replace("sd_civil.yaml", "nope.yaml"), encoding="utf-8")
    assert "tongban_sync_sys_000" in build_dags(path)
