"""Airflow for the DAG tests: a throw-away AIRFLOW_HOME with a SQLite metadata database, configured *before*
Airflow is first imported (it reads its configuration once, at import), migrated once per session.

Every module in this folder may import Airflow; no test outside it does (``tests/dags`` is the only place where
the Airflow configuration of the pytest process is decided).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

if "airflow" in sys.modules:  # pragma: no cover - would silently use the machine's own AIRFLOW_HOME
    raise RuntimeError("Airflow was imported before tests/dags/conftest.py could configure it")

from gateway.orchestration.airflow_env import airflow_env, migrate_metadata  # noqa: E402

AIRFLOW_TEST_HOME = Path(tempfile.mkdtemp(prefix="tongban-airflow-"))
AIRFLOW_TEST_ENV = airflow_env(AIRFLOW_TEST_HOME, extra={"AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"})
os.environ.update(AIRFLOW_TEST_ENV)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def airflow_metadata() -> Iterator[Path]:
    migrate_metadata(AIRFLOW_TEST_ENV)
    yield AIRFLOW_TEST_HOME
    shutil.rmtree(AIRFLOW_TEST_HOME, ignore_errors=True)


def orchestrated_systems(world: Any, **overrides: Any) -> Path:
    """The world's systems file with fast retries (the schedule is irrelevant to ``dag.test``)."""
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data.setdefault("defaults", {}).update({"retries": 2, "retry_delay": "1s", "max_retry_delay": "2s", **overrides})
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return world.systems_path


@pytest.fixture
def dags_for(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``dags_for(world)``: the DAGs built from the world's systems file, with the task environment pointing at
    the world's ledger (what an Airflow worker would have in its environment)."""

    def build(world: Any, **overrides: Any) -> dict[str, Any]:
        from gateway.orchestration.dagfactory import build_dags

        path = orchestrated_systems(world, **overrides)
        monkeypatch.setenv("TONGBAN_SYSTEMS", str(path))
        monkeypatch.setenv("TONGBAN_DATABASE_URL", world.database_url)
        return build_dags(path)

    return build


def task_states(run: Any) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}
