"""How long the dag-processor takes to parse Tongban's DAG folder with 100 configured systems.

Each measurement is one fresh interpreter that has Airflow imported already (as the dag-processor's parsing
child has) and times ``DagBag`` on one file: ``dags/tongban.py`` with a 100-system file (102 DAGs: a sync DAG per
system, push and reconcile; the process DAGs are in ``dags/tongban_processes.py``, which reads no systems file),
and, as the baseline measured in the same run, a file with one empty DAG. The ratio is the figure to watch
(these machines are shared; absolute times vary). A warm re-parse (modules already imported, what a long-lived
parser process pays on refresh) is printed too.

    .venv/bin/python bench/dag_parse.py [--systems 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.orchestration.airflow_env import airflow_env  # noqa: E402

EMPTY_DAG = '''"""Baseline: one empty Airflow DAG."""
from airflow.sdk import DAG

with DAG(dag_id="empty", schedule=None):
    pass
'''

PROBE = r'''
import json, sys, time
import airflow  # noqa: F401  (the parsing child has Airflow imported already)
from airflow.dag_processing.dagbag import DagBag
path = sys.argv[1]
t = time.perf_counter()
bag = DagBag(dag_folder=path)
first = time.perf_counter() - t
t = time.perf_counter()
DagBag(dag_folder=path)
warm = time.perf_counter() - t
print(json.dumps({"first": first, "warm": warm, "dags": len(bag.dags), "tasks": sum(len(d.tasks) for d in bag.dags.values()),
                  "errors": {k: str(v)[:300] for k, v in bag.import_errors.items()}}))
'''


def systems_file(path: Path, count: int) -> Path:
    base = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
    template = base["systems"]["sd_civil"]
    systems = {f"sys_{i:03d}": {**template, "connector_config": str(REPO / "config" / template["connector_config"]),
                                 "mapping": str((REPO / "config" / template["mapping"]).resolve())}
               for i in range(count)}
    path.write_text(yaml.safe_dump({"defaults": base["defaults"], "systems": systems}), encoding="utf-8")
    return path


def measure(file: Path, env: dict[str, str], repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", PROBE, str(file)], env=env, capture_output=True, text=True,
                             timeout=600)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if runs[0]["errors"]:
        raise SystemExit(f"import errors: {runs[0]['errors']}")
    return {"first": statistics.median(r["first"] for r in runs), "warm": statistics.median(r["warm"] for r in runs),
            "dags": runs[0]["dags"], "tasks": runs[0]["tasks"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tongban-parse-") as tmp:
        tmpdir = Path(tmp)
        env = {**os.environ, **airflow_env(tmpdir / "airflow", extra={"AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR"}),
               "TONGBAN_SYSTEMS": str(systems_file(tmpdir / "systems.yaml", args.systems))}
        empty = tmpdir / "empty_dag.py"
        empty.write_text(EMPTY_DAG, encoding="utf-8")
        baseline = measure(empty, env, args.repeat)
        tongban = measure(REPO / "dags" / "tongban.py", env, args.repeat)
    print(f"empty DAG file:            {baseline['first'] * 1000:7.1f} ms (warm re-parse {baseline['warm'] * 1000:.1f} ms)")
    print(f"dags/tongban.py, {args.systems} systems: {tongban['first'] * 1000:7.1f} ms (warm re-parse "
          f"{tongban['warm'] * 1000:.1f} ms) for {tongban['dags']} DAGs, {tongban['tasks']} tasks")
    print(f"ratio (tongban / empty):   {tongban['first'] / baseline['first']:7.1f}x first parse, "
          f"{tongban['warm'] / baseline['warm']:.1f}x warm")
    print(f"per DAG:                   {tongban['first'] / tongban['dags'] * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
