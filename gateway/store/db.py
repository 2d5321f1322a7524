"""Opening the ledger database: one place that knows SQLite's and PostgreSQL's quirks.

``TONGBAN_DATABASE_URL`` picks the database; the default is a SQLite file in the working directory, which is
what the demo and a single-machine install use. SQLite runs in WAL mode with a busy timeout so that parallel
Airflow tasks wait for each other instead of failing with "database is locked".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, make_url

from gateway.contract.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///tongban.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_PAGE_SIZE = 8192
POOL_SIZE = int(os.environ.get("TONGBAN_DB_POOL_SIZE", "5"))
POOL_OVERFLOW = int(os.environ.get("TONGBAN_DB_POOL_OVERFLOW", "10"))
POSTGRES_CONNECTION_DEFAULTS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}
"""libpq settings a connection gets unless the URL's query names them (``?connect_timeout=30``). Without them a
ledger server that accepts connections and never answers (hung, a stuck pooler, a failover address nobody
serves) held every task and every failure callback for ever — nothing failed, nothing turned red: now opening a
connection fails after 10 s, and a connection whose server went silent fails after about a minute (keepalives,
unacknowledged data) instead of the kernel's two hours."""


def database_url(explicit: str | None = None) -> str:
    """The URL to use: an explicit one, else ``TONGBAN_DATABASE_URL``, else ``sqlite:///tongban.db``."""
    url = explicit or os.environ.get("TONGBAN_DATABASE_URL") or DEFAULT_DATABASE_URL
    for prefix in ("postgresql://", "postgres://"):  # postgres:// is what Heroku-style tools and psql print
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url.removeprefix(prefix)
    scheme = url.split(":", 1)[0]
    if "://" not in url or scheme.split("+")[0] not in ("sqlite", "postgresql"):
        raise ConfigError(f"ledger database URL {safe_url(url)!r} is not sqlite:///PATH or postgresql://USER@HOST/DB "
                          f"(TONGBAN_DATABASE_URL or --database-url)")
    return url


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    head, sep, tail = url.partition("://")
    if sep and "@" in tail:
        cred, _, host = tail.rpartition("@")
        return f"{head}://{cred.split(':', 1)[0]}:***@{host}" if ":" in cred else url
    return url


def _configure_sqlite(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # before the first table exists (a no-op after): a merged case (~1–3 KB of JSON) spilled into a page of its
    # own at 4 KiB; 8 KiB pages hold several (measured: a third fewer bytes per large case)
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    """Create an engine for the ledger. Call :func:`gateway.store.migrate.upgrade` before first use."""
    resolved = database_url(url)
    if resolved.startswith("sqlite"):
        path = resolved.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            resolved,
            echo=echo,
            hide_parameters=True,  # an error's text must not carry the batch's names and ID numbers
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _configure_sqlite)
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINTs; take control of it.
        event.listen(engine, "connect", lambda conn, _rec: setattr(conn, "isolation_level", None))
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    # a pool per process: Airflow tasks and the gateway's workers reuse connections instead of paying a
    # PostgreSQL backend start (~10 ms) per transaction; recycled hourly so a failover or idle timeout heals
    given = make_url(resolved).query
    defaults = {k: v for k, v in POSTGRES_CONNECTION_DEFAULTS.items() if k not in given}
    return create_engine(resolved, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW,
                         pool_recycle=3600, pool_use_lifo=True, connect_args=defaults)


READ_ONLY = {"tongban_read_only": True}
"""Execution options of a connection that only reads (``engine.connect().execution_options(**READ_ONLY)``): on
SQLite its transactions begin deferred, so a read waits for no writer (WAL); every other begins IMMEDIATE."""


def _begin_sqlite(conn: Any) -> None:
    """Every SQLite transaction takes the write lock at BEGIN (IMMEDIATE): one that read first and wrote later
    could otherwise fail with SQLITE_BUSY instead of waiting. A read-only one (:data:`READ_ONLY`) takes none: a
    worker's start-up schema check waited the whole busy timeout behind a long ``db upgrade`` and then failed with
    "database is locked", where a read alongside the writer answers at once."""
    conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("tongban_read_only") else "BEGIN IMMEDIATE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def rare(conn: Connection, condition: Any) -> Any:
    """``condition``, marked as true of few rows for SQLite's planner (``unlikely()``; unchanged elsewhere).

    SQLite's statistics keep one average per index column: after a million outbox rows were pending and then
    delivered, ``status = 'pending'`` still looks like a million rows, and a count of the pending ones scanned the
    whole table (PostgreSQL keeps each value's frequency and needs no hint)."""
    return func.unlikely(condition) if conn.dialect.name == "sqlite" else condition
