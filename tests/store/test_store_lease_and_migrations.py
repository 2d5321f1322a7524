"""The ledger schema migrates on both backends, and the lease admits one run per system at a time."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, update

from gateway.contract.errors import LeaseHeldError
from gateway.store.db import make_engine
from gateway.store.lease import Lease
from gateway.store.migrate import head_revision, is_current, upgrade
from gateway.store.tables import leases, metadata


def test_upgrade_creates_every_table_and_is_idempotent(database_url: str) -> None:
    engine = make_engine(database_url)
    assert upgrade(engine) == head_revision()
    assert upgrade(engine) == head_revision()
    assert is_current(engine)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_match_the_table_definitions(sqlite_url: str) -> None:
    """A column added to tables.py without a migration fails here, not in production."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(sqlite_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_a_second_holder_is_refused_until_release(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    first = Lease(engine, "sync:x")
    first.acquire()
    with pytest.raises(LeaseHeldError, match="sync:x is held by pid"):
        Lease(engine, "sync:x").acquire()
    first.renew()
    first.release()
    with Lease(engine, "sync:x"):
        pass
    engine.dispose()


def test_an_expired_lease_is_taken_over_and_the_old_holder_knows(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    old = Lease(engine, "sync:y", ttl=timedelta(minutes=5))
    old.acquire()
    with engine.begin() as conn:  # simulate a holder on another machine that stopped renewing
        conn.execute(update(leases).values(host="elsewhere", expires_at=datetime(2000, 1, 1, tzinfo=timezone.utc)))
    new = Lease(engine, "sync:y")
    new.acquire()
    with pytest.raises(LeaseHeldError, match="lost the lease"):
        old.renew()
    new.release()


def test_a_lease_of_a_dead_process_on_this_host_is_taken_at_once(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    held = Lease(engine, "sync:z")
    held.acquire()
    with engine.begin() as conn:
        conn.execute(update(leases).values(pid=dead_pid))
    Lease(engine, "sync:z").acquire()
    with engine.connect() as conn:
        assert conn.execute(select(leases.c.pid)).scalar_one() != dead_pid
