"""A ledger a newer Tongban migrated (a rollback after a release, an old worker beside an upgraded one): every
command said Alembic's "Can't locate revision" in a traceback. It is one line now, naming the cause and the cure, and
the ledger is left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gateway.contract.errors import ConfigError
from gateway.store.db import make_engine
from gateway.store.migrate import current_revision, upgrade

REPO = Path(__file__).resolve().parents[2]


def test_a_ledger_from_a_newer_tongban_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_from_a_newer_release'"))
    with pytest.raises(ConfigError, match=r"schema revision 0099_from_a_newer_release, which this Tongban does not "
                                          r"know .* a newer Tongban migrated it"):
        upgrade(engine)
    assert current_revision(engine) == "0099_from_a_newer_release"
    engine.dispose()

    from gateway.cli import app

    for command in (["db", "upgrade"], ["status"]):
        result = CliRunner().invoke(app, [*command, "--systems", str(REPO / "config" / "systems.yaml"),
                                          "--database-url", url])
        assert result.exit_code == 1, result.output
        assert "a newer Tongban migrated it" in result.output and "Traceback" not in result.output


def test_a_command_that_only_reads_does_not_migrate_the_ledger(tmp_path: Path) -> None:
    """``tongban status`` to have a look migrated an old ledger under the workers still running the older version
    (which then failed at their next start): a reading command now says to run ``db upgrade`` and changes nothing."""
    from gateway.cli import app

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine, "0020_callback_predates")
    engine.dispose()
    args = ["--systems", str(REPO / "config" / "systems.yaml"), "--database-url", url]
    for command in (["status", *args], ["kpi", "--no-refresh", *args], ["dead-letters", "list", *args],
                    ["backfill", "sd_hall", "--dry-run", *args],
                    ["purge", "--older-than", "180d", "--dry-run", "--database-url", url]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 1, (command, result.output)
        said = " ".join(result.output.split())
        assert "schema is at 0020_callback_predates" in said and "run `tongban db upgrade` first" in said, said
    engine = make_engine(url)
    assert current_revision(engine) == "0020_callback_predates"  # untouched
    engine.dispose()
    assert CliRunner().invoke(app, ["db", "upgrade", *args]).exit_code == 0
    assert CliRunner().invoke(app, ["status", *args]).exit_code == 0


def test_a_reading_command_on_a_database_without_a_ledger_says_how_to_create_one(tmp_path: Path) -> None:
    from gateway.cli import app

    empty = tmp_path / "empty.db"
    empty.touch()  # a database file, no ledger in it (a fresh install pointed at it)
    result = CliRunner().invoke(app, ["status", "--systems", str(REPO / "config" / "systems.yaml"),
                                      "--database-url", f"sqlite:///{empty}"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "holds no Tongban ledger yet: run `tongban db upgrade`" in said, said
    assert "older version" not in said  # no workers of an older version on a fresh install


def test_a_workers_schema_check_reads_past_a_running_upgrade(tmp_path: Path) -> None:
    """On SQLite every transaction began IMMEDIATE, the start-up schema check too: behind a long ``db upgrade``
    (0006 and 0026 rebuild whole tables) each task waited the whole busy timeout, then failed with "database is
    locked". It reads the revision committed before, at once, and says what to do (migrations review)."""
    import sqlite3

    from gateway.store.migrate import create_or_require_current

    path = tmp_path / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine, "0026_catalogue_copies")
    holder = sqlite3.connect(path, isolation_level=None)  # a db upgrade holding the write lock
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ConfigError, match="tongban db upgrade"):
            create_or_require_current(make_engine(f"sqlite:///{path}"))
    finally:
        holder.rollback()
        holder.close()
