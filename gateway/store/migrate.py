"""``tongban db upgrade``: bring a ledger database to the newest schema with Alembic.

Alembic is configured in code (no alembic.ini to keep next to the working directory), so the same call works
from the CLI, from Airflow tasks and from tests. A lock on PostgreSQL (advisory) and SQLite's own write lock keep
two processes from migrating at once.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x70_6E_62_61  # "tonba": any constant shared by every Tongban process


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revisions() -> set[str]:
    """The newest revision of each branch (features add their tables on their own branch off the base)."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def head_revision() -> str:
    """The heads, as one comma-separated string (what :func:`upgrade` reports)."""
    return ",".join(sorted(head_revisions()))


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def current_revision(engine: Engine) -> str | None:
    return ",".join(sorted(current_revisions(engine))) or None


def upgrade(engine: Engine, revision: str = "heads") -> str:
    """Migrate to ``revision`` (default: every head). Returns the revision(s) the database is at afterwards."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    rev = current_revision(engine)
    return rev or "base"


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions()
