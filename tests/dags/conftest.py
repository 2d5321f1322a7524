"""Airflow for the DAG tests: a throw-away AIRFLOW_HOME with a SQLite metadata database, configured *before*
Airflow is first imported (it reads its configuration once, at import), migrated once per session.

Every module in this folder may import Airflow; no test outside it does (``tests/dags`` is the only place where
the Airflow configuration of the pytest process is decided).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

if "airflow" in sys.modules:  # pragma: no cover - would silently use the machine's own AIRFLOW_HOME
    raise RuntimeError("Airflow was imported before tests/dags/conftest.py could configure it")

from dags_testlib import AIRFLOW_TEST_ENV, AIRFLOW_TEST_HOME, orchestrated_systems  # noqa: E402 - sets Airflow up

from gateway.orchestration.airflow_env import migrate_metadata  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def airflow_metadata() -> Iterator[Path]:
    migrate_metadata(AIRFLOW_TEST_ENV)
    yield AIRFLOW_TEST_HOME
    shutil.rmtree(AIRFLOW_TEST_HOME, ignore_errors=True)


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
