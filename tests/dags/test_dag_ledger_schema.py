"""Run by Airflow (``dag.test()``): a task does not migrate the ledger. Every task ran ``upgrade()`` under the
migration lock, so the first worker of a rolling upgrade moved the production ledger under the older workers still
running (and every task paid the check under the lock); migrating is the deployment's init step (``tongban db
upgrade``). A ledger behind this Tongban fails the task at once, saying what to run, and is left as it was; a ledger
that does not exist yet is created (nothing else can be using it)."""

from __future__ import annotations

import pytest
from alembic import command
from dags_testlib import task_states

from gateway.ops.alerts import open_alerts
from gateway.store.db import make_engine
from gateway.store.migrate import alembic_config, current_revision, head_revision

pytestmark = pytest.mark.slow


def test_a_ledger_behind_this_tongban_fails_the_task_once_and_is_not_migrated(make_world, dags_for) -> None:
    world = make_world(civil=3, estate=0)
    dags = dags_for(world)
    config = alembic_config()
    with world.runtime.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0020_callback_predates")
    run = dags["tongban_sync_sd_civil"].test()
    assert task_states(run)["sync"] == ("failed", 1)  # permanent: no retry can migrate it
    assert current_revision(world.runtime.engine) == "0020_callback_predates"  # left as it was
    (alert,) = open_alerts(world.runtime.engine, kind="sync_failed")
    assert "tongban db upgrade" in alert["message"], alert


def test_a_ledger_that_does_not_exist_yet_is_created_by_the_first_task(make_world, dags_for, tmp_path,
                                                                        monkeypatch) -> None:
    world = make_world(civil=3, estate=0)
    dags = dags_for(world)
    fresh = f"sqlite:///{tmp_path / 'new-ledger.db'}"
    monkeypatch.setenv("TONGBAN_DATABASE_URL", fresh)
    run = dags["tongban_sync_sd_civil"].test()
    assert task_states(run)["sync"] == ("success", 1)
    assert current_revision(make_engine(fresh)) == head_revision()


def test_a_worker_without_a_configured_ledger_fails_instead_of_starting_a_new_one(make_world, dags_for, tmp_path,
                                                                                   monkeypatch) -> None:
    """Found by review: a worker host without TONGBAN_DATABASE_URL (and a systems file without database_url) took
    the CLI's fallback, a SQLite file in its working directory: it read the whole source into a new ledger there,
    queued 58 pushes there, and the run was green."""
    world = make_world(civil=3, estate=0)
    dags = dags_for(world)
    monkeypatch.delenv("TONGBAN_DATABASE_URL")
    workdir = tmp_path / "worker"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    run = dags["tongban_sync_sd_civil"].test()
    assert task_states(run)["sync"] == ("failed", 1)  # a configuration error: no retry
    assert not list(workdir.iterdir())
    from gateway.contract.errors import ConfigError
    from gateway.orchestration.tasks import worker_ledger_url

    with pytest.raises(ConfigError, match="no ledger is configured on this worker: set TONGBAN_DATABASE_URL"):
        worker_ledger_url()
