"""What the DAG tests share: the throw-away Airflow home (configured here, before Airflow is first imported: it
reads its configuration once, at import), the systems file with fast retries, the task states of a run.

A module of its own rather than ``conftest``: ``from conftest import …`` resolved to whichever folder's conftest
pytest had imported first, and a run of ``tests/process`` before ``tests/dags`` failed to collect these tests.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gateway.orchestration.airflow_env import airflow_env

AIRFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="tongban-airflow-"))
AIRFLOW_TEST_ENV = airflow_env(AIRFLOW_TEST_HOME, extra={"AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"})
os.environ.update(AIRFLOW_TEST_ENV)
REPO = Path(__file__).resolve().parents[2]


def orchestrated_systems(world: Any, **overrides: Any) -> Path:
    """The world's systems file with fast retries (the schedule is irrelevant to ``dag.test``)."""
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data.setdefault("defaults", {}).update({"retries": 2, "retry_delay": "1s", "max_retry_delay": "2s", **overrides})
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return world.systems_path


def task_states(run: Any) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}
