"""The audit chain's rows: the lock that serialises appenders, the head of the chain, batch inserts, and the range
reads that verification and signed checkpoints need.

The chain itself (canonical form, hashing, verification, signing) is domain logic and lives in
:mod:`gateway.sharing.access.audit`; this module only knows how the rows are stored and how writers take turns.
Every appender takes the chain head *inside* its transaction under a lock — SQLite's write lock (``BEGIN
IMMEDIATE``), a PostgreSQL transaction-scoped advisory lock — so two processes never link to the same head.

Two ways in:

- SQLAlchemy :class:`~sqlalchemy.Connection` functions, in a transaction the caller owns (``append_entries``,
  checkpoints, ``tongban audit verify``);
- :func:`write_batch_raw` on a DBAPI connection, for the API's group-commit writer: one transaction per batch with
  statements written once here in the driver's parameter style, because SQLAlchemy's per-statement overhead cost
  more than the batch itself on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, RowMapping, func, select, text

from gateway.store.ledger import bulk_write
from gateway.store.tables import audit_checkpoints, audit_log

__all__ = [
    "AUDIT_LOCK_KEY",
    "checkpoint_exists",
    "checkpoint_wal_passive",
    "count_entries",
    "insert_checkpoint",
    "insert_entries",
    "lock_chain",
    "open_writer_connection",
    "read_chain_head",
    "read_checkpoints",
    "read_entries_after",
    "write_batch_raw",
]

AUDIT_LOCK_KEY = 0x74_62_61_75  # "tbau": the PostgreSQL advisory lock every appender of the chain takes

LOCK_CHAIN = text("SELECT pg_advisory_xact_lock(:k)")
"""PostgreSQL: held until the transaction ends (SQLite needs none: the engine begins every transaction as a writer)."""

# -- through SQLAlchemy, in the caller's transaction ------------------------------------------------------


def lock_chain(conn: Connection) -> None:
    """Take the appenders' lock for the rest of the caller's transaction (PostgreSQL; a no-op on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(LOCK_CHAIN, {"k": AUDIT_LOCK_KEY})


def read_chain_head(conn: Connection) -> tuple[int, str] | None:
    """``(seq, hash)`` of the newest entry, or ``None`` for an empty chain."""
    row = conn.execute(select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)).first()
    return None if row is None else (int(row.seq), str(row.hash))


def insert_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert chained entries (``executemany`` straight to the driver, see :func:`gateway.store.ledger.bulk_write`)."""
    bulk_write(conn, audit_log, rows)


def checkpoint_exists(conn: Connection, seq: int) -> bool:
    return conn.execute(select(audit_checkpoints.c.seq).where(audit_checkpoints.c.seq == seq)).first() is not None


def insert_checkpoint(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(audit_checkpoints.insert().values(**row))


def read_checkpoints(conn: Connection) -> Sequence[Row[Any]]:
    """Every signed checkpoint, oldest first."""
    return conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq)).all()


def read_entries_after(conn: Connection, last_seq: int, limit: int) -> Sequence[RowMapping]:
    """Up to ``limit`` entries with ``seq > last_seq``, in chain order (verification pages through the log)."""
    c = audit_log.c
    return conn.execute(select(audit_log).where(c.seq > last_seq).order_by(c.seq).limit(limit)).mappings().all()


def count_entries(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


# -- raw DBAPI: the group-commit writer's own connection ----------------------------------------------------

BEGIN_IMMEDIATE_RAW = "BEGIN IMMEDIATE"
LOCK_CHAIN_RAW = "SELECT pg_advisory_xact_lock(%s)"
READ_HEAD_RAW = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
INSERT_ENTRIES_RAW_QMARK = ("INSERT INTO audit_log (seq, at, action, outcome, client_id, holder_ref, certificate, "
                            "item_code, case_no, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_ENTRIES_RAW_FORMAT = INSERT_ENTRIES_RAW_QMARK.replace("?", "%s")
COMMIT_RAW = "COMMIT"
ROLLBACK_RAW = "ROLLBACK"
DISABLE_WAL_AUTOCHECKPOINT_RAW = "PRAGMA wal_autocheckpoint=0"
WAL_CHECKPOINT_PASSIVE_RAW = "PRAGMA wal_checkpoint(PASSIVE)"


def open_writer_connection(engine: Engine, *, manual_wal_checkpoints: bool = False) -> Any:
    """A DBAPI connection from ``engine``'s pool for the writer. ``manual_wal_checkpoints`` (SQLite): this
    connection's commits never run SQLite's automatic WAL checkpoint; the writer runs
    :func:`checkpoint_wal_passive` itself, off the event loop."""
    raw = engine.raw_connection()
    if manual_wal_checkpoints:
        raw.cursor().execute(DISABLE_WAL_AUTOCHECKPOINT_RAW)
    return raw


def write_batch_raw(raw: Any, *, sqlite: bool,
                    link: Callable[[tuple[int, str] | None], list[tuple[Any, ...]]]) -> None:
    """One transaction on ``raw``: lock, read the chain head, insert the rows ``link(head)`` builds, commit.

    ``link`` gets ``(seq, hash)`` of the newest entry (``None``: empty chain) and returns the new rows as tuples
    in the column order of ``INSERT_ENTRIES_RAW_QMARK`` (``at`` as SQLite's text form or a naive UTC datetime).
    On any error the transaction is rolled back (if the connection still can) and the error re-raised; the
    caller should then drop ``raw``."""
    cursor = raw.cursor()
    try:
        if sqlite:
            cursor.execute(BEGIN_IMMEDIATE_RAW)
        else:
            cursor.execute(LOCK_CHAIN_RAW, (AUDIT_LOCK_KEY,))
        cursor.execute(READ_HEAD_RAW)
        head = cursor.fetchone()
        rows = link(None if head is None else (int(head[0]), str(head[1])))
        cursor.executemany(INSERT_ENTRIES_RAW_QMARK if sqlite else INSERT_ENTRIES_RAW_FORMAT, rows)
        if sqlite:
            cursor.execute(COMMIT_RAW)
        else:
            raw.commit()
    except Exception:
        try:
            if sqlite:
                cursor.execute(ROLLBACK_RAW)
            else:
                raw.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone; the caller opens a fresh one
            pass
        raise
    finally:
        cursor.close()


def checkpoint_wal_passive(raw: Any) -> None:
    """SQLite: copy the write-ahead log into the database without blocking writers or readers."""
    cursor = raw.cursor()
    try:
        cursor.execute(WAL_CHECKPOINT_PASSIVE_RAW)
        cursor.fetchall()
    finally:
        cursor.close()
