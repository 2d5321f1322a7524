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
from sqlalchemy import Connection, Engine, text

from gateway.contract.errors import ConfigError
from gateway.store.db import READ_ONLY

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
    """The ledger's revision(s), read without waiting for a writer (a ``db upgrade`` rebuilding tables on SQLite
    holds the write lock for minutes): the revision committed before it."""
    with engine.connect().execution_options(**READ_ONLY) as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def current_revision(engine: Engine) -> str | None:
    return ",".join(sorted(current_revisions(engine))) or None


def upgrade(engine: Engine, revision: str = "heads") -> str:
    """Migrate to ``revision`` (default: every head). Returns the revision(s) the database is at afterwards.

    A ledger a newer Tongban migrated (this one rolled back, or an old worker left running beside an upgraded one)
    is a :class:`ConfigError` saying so — Alembic's own "Can't locate revision" traceback named neither cause nor
    cure."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        _refuse_unknown_revisions(connection, config)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    rev = current_revision(engine)
    return rev or "base"


def _refuse_unknown_revisions(connection: Connection, config: Config) -> None:
    _refuse_unknown(set(MigrationContext.configure(connection).get_current_heads()), config)


def _refuse_unknown(heads: set[str], config: Config) -> None:
    """A :class:`ConfigError` when ``heads`` (the ledger's revisions) name one this Tongban's migrations do not."""
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    unknown = sorted(heads - known)
    if unknown:
        raise ConfigError(
            f"the ledger is at schema revision {', '.join(unknown)}, which this Tongban does not know (its newest: "
            f"{head_revision()}): a newer Tongban migrated it. Run the Tongban version that did (upgrade this "
            "machine's Tongban); this one changed nothing")


def require_current(engine: Engine) -> None:
    """Refuse (:class:`ConfigError`) a ledger whose schema is not this Tongban's, without migrating it: what a
    command that only reads asks. Migrating there (``tongban status`` to have a look) moved the ledger past the
    workers still running the older version, which then failed at their next start."""
    _require_current(current_revisions(engine))  # read once: the three questions are about the same revisions


def _require_current(heads: set[str]) -> None:
    _refuse_unknown(heads, alembic_config())
    if heads == head_revisions():
        return
    if not heads:
        raise ConfigError("this database holds no Tongban ledger yet: run `tongban db upgrade` (or a sync) to create "
                          "it, or point --database-url / TONGBAN_DATABASE_URL at the ledger")
    raise ConfigError(
        f"the ledger's schema is at {','.join(sorted(heads))} and this Tongban's at {head_revision()}: run `tongban "
        "db upgrade` first (commands that only read do not migrate the ledger; stop or upgrade the workers of the "
        "older version before)")


def create_or_require_current(engine: Engine) -> None:
    """What a worker asks of the ledger before it works (every Airflow task): a database with no ledger yet is
    created — nothing else can be using it — and one at this Tongban's schema is used as it is (one read, no lock);
    one behind is refused (:func:`require_current`). Migrating a ledger in use is ``tongban db upgrade``'s, the
    deployment's init step: a task that migrated it moved production under the old workers still running when a
    rolling upgrade started the first new one, and every task paid the migration check under the lock."""
    heads = current_revisions(engine)
    if not heads:
        upgrade(engine)
        return
    _require_current(heads)


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions()
