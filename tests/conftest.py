"""Shared fixtures: ledger databases (SQLite always, PostgreSQL when TONGBAN_TEST_POSTGRES_URL is set).

Tests that need PostgreSQL use it for real; on a machine without it they skip with a visible reason while the
rest of the suite runs. ``.ci/run`` makes sure a server is up and sets the variable, so in CI they run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("TONGBAN_TEST_POSTGRES_URL")
REPO_ROOT = Path(__file__).resolve().parent.parent


def _postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests skipped: TONGBAN_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    admin_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"tongban_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a configured but unreachable server is a failure, not a skip
        raise RuntimeError(f"TONGBAN_TEST_POSTGRES_URL is set but the server refused: {exc}") from exc
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database URL, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"
