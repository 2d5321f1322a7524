"""One bad entry in the systems file no longer takes every Tongban DAG down with it, as the dag-processor sees it
(a real ``DagBag`` over ``dags/``, in a fresh interpreter): Airflow drops every DAG of a file that fails to import,
and the scheduler then fails their queued tasks without an alert. An invalid system gets a placeholder DAG whose
one task fails with the error (file, line, setting); every other system and the shared DAGs are built; a systems
file that does not parse at all still leaves the DAGs that need no systems list (``dags/tongban_processes.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from dags_testlib import AIRFLOW_TEST_ENV, REPO

SYSTEMS = REPO / "config" / "systems.yaml"
PROCESS_DAGS = {"tongban_certificates", "tongban_deadlines", "tongban_catalogue_kpi", "tongban_handoff",
                "tongban_citizen"}

DRIVER = r"""
import json, os, sys
from airflow.dag_processing.dagbag import DagBag
out = {}
for case, path in json.loads(sys.argv[1]).items():
    os.environ["TONGBAN_SYSTEMS"] = path
    bag = DagBag(dag_folder=sys.argv[2])
    failures = {}
    for dag_id, dag in bag.dags.items():
        if "config_error" in (dag.tags or set()):
            (task,) = dag.tasks
            try:
                task.python_callable()
            except Exception as exc:
                failures[dag_id] = [task.task_id, type(exc).__name__, str(exc)]
    out[case] = {"dags": sorted(bag.dags), "errors": {k: v[-300:] for k, v in bag.import_errors.items()},
                 "failures": failures, "push": sorted(t.task_id for t in bag.dags["tongban_push"].tasks)
                 if "tongban_push" in bag.dags else None,
                 "files": sorted({os.path.basename(d.fileloc) for d in bag.dags.values()})}
print(json.dumps(out))
"""


def systems_file(path: Path, count: int, **extra: dict) -> Path:
    base = yaml.safe_load(SYSTEMS.read_text(encoding="utf-8"))
    template = base["systems"]["sd_civil"]
    entry = {**template, "connector_config": str(REPO / "config" / template["connector_config"]),
             "mapping": str((REPO / "config" / template["mapping"]).resolve())}
    systems = {f"sys_{i:03d}": dict(entry) for i in range(count)}
    for name, settings in extra.items():
        systems[name] = {**entry, **settings}
    path.write_text(yaml.safe_dump({"defaults": base["defaults"], "systems": systems}, allow_unicode=True),
                    encoding="utf-8")
    return path


def line_of(path: Path, key: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if line.startswith(f"  {key}:"))


def setting_line(path: Path, system: str, key: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = line_of(path, system)
    return next(n for n, line in enumerate(lines[start:], start + 1) if line.startswith(f"    {key}:"))


def dagbags(cases: dict[str, Path]) -> dict[str, dict]:
    result = subprocess.run([sys.executable, "-c", DRIVER, json.dumps({k: str(v) for k, v in cases.items()}),
                             str(REPO / "dags")], capture_output=True, text=True, timeout=600,
                            env={**os.environ, **AIRFLOW_TEST_ENV})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_one_invalid_system_gets_a_failing_placeholder_and_every_other_dag_is_built(tmp_path: Path) -> None:
    typo = systems_file(tmp_path / "typo.yaml", 3, sys_bad={"retries": "three"})
    names = systems_file(tmp_path / "names.yaml", 3, **{"sd civil2": {}, "jn/gjj": {}, "x" * 240: {},
                                                          "济南公积金": {}, "jn-gjj": {}})
    cron = systems_file(tmp_path / "cron.yaml", 3, sys_quartz={"schedule": "0 */10 * * * *"})
    broken = tmp_path / "broken.yaml"
    broken.write_text("systems:\n  sys_000: {connector: rest\n", encoding="utf-8")  # YAML that does not parse
    bags = dagbags({"typo": typo, "names": names, "cron": cron, "broken": broken})
    good = {f"tongban_sync_sys_{i:03d}" for i in range(3)} | {"tongban_push", "tongban_reconcile"} | PROCESS_DAGS

    typo_bag = bags["typo"]
    assert typo_bag["errors"] == {}
    assert set(typo_bag["dags"]) == good | {"tongban_sync_sys_bad"}
    task_id, kind, message = typo_bag["failures"]["tongban_sync_sys_bad"]
    assert (task_id, kind) == ("sync", "AirflowFailException")  # task sync: its alert is sync_failed of sys_bad
    assert message.startswith(f"{typo}: line {setting_line(typo, 'sys_bad', 'retries')}: system sys_bad: retries: "), \
        message
    assert typo_bag["push"] == ["push_sys_000", "push_sys_001", "push_sys_002"]  # the bad one is left out
    assert typo_bag["files"] == ["tongban.py", "tongban_processes.py"]

    names_bag = bags["names"]
    assert names_bag["errors"] == {}
    assert set(names_bag["dags"]) == good | {"tongban_sync_jn-gjj", "tongban_config_error"}
    task_id, kind, message = names_bag["failures"]["tongban_config_error"]
    assert (task_id, kind) == ("config_error", "AirflowFailException")
    problems = message.splitlines()
    assert len(problems) == 4  # sd civil2, jn/gjj, the 240-character name, 济南公积金: one line each
    for problem in problems:
        assert problem.startswith(f"{names}: line "), problem
        assert "1 to 64 ASCII letters, digits, '_', '.' or '-'" in problem
    assert f"line {line_of(names, 'sd civil2')}: system sd civil2: the name 'sd civil2' is not valid" in message

    cron_bag = bags["cron"]
    assert set(cron_bag["dags"]) == good | {"tongban_sync_sys_quartz"}
    message = cron_bag["failures"]["tongban_sync_sys_quartz"][2]
    assert message.startswith(f"{cron}: line {setting_line(cron, 'sys_quartz', 'schedule')}: system sys_quartz: "
                              "schedule: Value error, '0 */10 * * * *' has 6 fields"), message
    assert 'write "*/10 * * * *"' in message

    broken_bag = bags["broken"]  # nothing per system can be built; the process DAGs do not need the systems file
    assert broken_bag["errors"] == {}
    assert set(broken_bag["dags"]) == PROCESS_DAGS | {"tongban_config_error"}
    assert broken_bag["failures"]["tongban_config_error"][2].startswith(f"{broken}: not valid YAML at line ")
