"""Reading and writing the ledger tables in batches, inside a transaction the caller owns.

Every function takes a ``Connection`` so that the sync engine can put a page's records, the dead letters, the
outbox rows and the watermark in one transaction (DESIGN.md step 5): crash anywhere, and either all of a page
is in the ledger or none of it is.

This is the data path's write module: sync, replay and remap (including the pages they read back), runs and
watermarks, and the reconciliation's stored reports. The outbox's own statements after queueing are in
:mod:`gateway.store.outbox`; the read-only questions of supervision in :mod:`gateway.store.queries`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import Boolean, Connection, Row, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.store.tables import (
    UtcDateTime,
    cases,
    dead_letters,
    outbox,
    reconciliations,
    runs,
    source_records,
    watermarks,
)

_IN_CHUNK = 900  # stays under SQLite's bound-parameter limit on old builds


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def loads(text: str | bytes | None) -> Any:
    return None if text is None else orjson.loads(text)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _driver_value(conn: Connection, column_type: Any) -> Any:
    """How a value of this column type goes to the driver without SQLAlchemy's per-value processing."""
    if isinstance(column_type, UtcDateTime):
        if conn.dialect.name == "sqlite":  # SQLAlchemy's own SQLite storage format, so reads parse it back
            return lambda v: None if v is None else v.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
        return lambda v: None if v is None else v.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(column_type, Boolean) and conn.dialect.name == "sqlite":
        return lambda v: None if v is None else int(v)
    return None


def bulk_write(conn: Connection, table: Any, rows: list[dict[str, Any]], *, key: Sequence[str] = (),
               conflict: str = "") -> None:
    """``executemany`` straight to the driver: INSERT (``key`` empty) or UPDATE ... WHERE key columns match.

    The sync path writes thousands of rows a page; SQLAlchemy's per-value bind processing cost more than the
    database itself did. Values are converted here once per column type instead (times to UTC, booleans for
    SQLite), in the same form SQLAlchemy stores, so Core reads them back unchanged. ``conflict`` is an
    ``ON CONFLICT`` clause (same syntax on SQLite and PostgreSQL).
    """
    if not rows:
        return
    columns = list(rows[0])
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    converters = [_driver_value(conn, table.c[name].type) for name in columns]
    def quoted(name: str) -> str:
        return '"' + name + '"'

    if key:
        assigned = [c for c in columns if c not in key]
        order = assigned + list(key)
        sets = ", ".join(f"{quoted(c)} = {mark}" for c in assigned)
        where = " AND ".join(f"{quoted(c)} = {mark}" for c in key)
        sql = f"UPDATE {table.name} SET {sets} WHERE {where}"
    else:
        order = columns
        names = ", ".join(quoted(c) for c in columns)
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([mark] * len(columns))}) {conflict}"
    plan = [(name, converters[columns.index(name)]) for name in order]
    params = [tuple(r[name] if f is None else f(r[name]) for name, f in plan) for r in rows]
    conn.exec_driver_sql(sql, params)


def _insert(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, so that ``on_conflict_do_update`` is available on SQLite and PostgreSQL alike."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# -- source records -------------------------------------------------------------------------------------


def source_state(conn: Connection, system: str, source_ids: Sequence[str]) -> dict[str, tuple[str | None, datetime | None]]:
    """``source_id → (content_hash, cursor)`` for the ids already in the ledger."""
    found: dict[str, tuple[str | None, datetime | None]] = {}
    c = source_records.c
    for chunk in _chunks(source_ids):
        rows = conn.execute(
            select(c.source_id, c.content_hash, c.cursor).where(c.system == system, c.source_id.in_(chunk))
        )
        for source_id, content_hash, cursor in rows:
            found[source_id] = (content_hash, cursor)
    return found


def insert_source_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk_write(conn, source_records, rows)


def update_source_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk_write(conn, source_records, [{k: v for k, v in r.items() if k != "first_seen_at"} for r in rows],
               key=("system", "source_id"))


def touch_source_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Same canonical content, newer source copy: keep the newest raw payload and cursor, change nothing else."""
    keep = ("system", "source_id", "cursor", "raw", "updated_at")
    bulk_write(conn, source_records, [{k: r[k] for k in keep} for r in rows], key=("system", "source_id"))


def source_records_after(conn: Connection, system: str, after: str, limit: int) -> Sequence[Row[Any]]:
    """The next ``limit`` of ``system``'s records by source id after ``after``: ``source_id, cursor, raw`` (a
    remap pages through every raw payload)."""
    s = source_records.c
    return conn.execute(
        select(s.source_id, s.cursor, s.raw)
        .where(s.system == system, s.source_id > after)
        .order_by(s.source_id)
        .limit(limit)
    ).all()


# -- merged cases ---------------------------------------------------------------------------------------


def case_state(conn: Connection, case_nos: Sequence[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    c = cases.c
    for chunk in _chunks(case_nos):
        rows = conn.execute(
            select(c.case_no, c.version, c.content_hash, c.source_updated_at, c.origin_system, c.deleted).where(
                c.case_no.in_(chunk)
            )
        )
        for row in rows.mappings():
            found[row["case_no"]] = dict(row)
    return found


def insert_cases(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk_write(conn, cases, rows)


def update_cases(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Update merged cases; ``expected_version`` guards against a concurrent writer (optimistic lock)."""
    if not rows:
        return
    c = cases.c
    stmt = (
        update(cases)
        .where(c.case_no == bindparam("b_case_no"), c.version == bindparam("expected_version"))
        .values(
            version=bindparam("version"),
            content_hash=bindparam("content_hash"),
            data=bindparam("data"),
            origin_system=bindparam("origin_system"),
            origin_source_id=bindparam("origin_source_id"),
            source_updated_at=bindparam("source_updated_at"),
            dept_code=bindparam("dept_code"),
            item_code=bindparam("item_code"),
            deleted=bindparam("deleted"),
            updated_at=bindparam("updated_at"),
        )
    )
    result = conn.execute(stmt, [{**r, "b_case_no": r["case_no"]} for r in rows])
    if result.rowcount not in (-1, len(rows)):
        raise RuntimeError(
            f"{len(rows) - result.rowcount} merged case(s) changed under this run; the batch is rolled back"
        )


# -- outbox ---------------------------------------------------------------------------------------------


def add_outbox(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk_write(conn, outbox, rows, conflict="ON CONFLICT (case_no, version, target_system) DO NOTHING")


# -- dead letters ---------------------------------------------------------------------------------------


def add_dead_letters(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert or refresh dead letters (one per kind/system/stream/source id: a record that fails again is
    the same dead letter, with its newest payload and reason and one more attempt)."""
    if not rows:
        return
    stmt = _insert(conn, dead_letters)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "system", "stream", "source_id"],
        set_={
            "raw": stmt.excluded.raw,
            "reason": stmt.excluded.reason,
            "issues": stmt.excluded.issues,
            "mapping_version": stmt.excluded.mapping_version,
            "cursor": stmt.excluded.cursor,
            "case_no": stmt.excluded.case_no,
            "status": "open",
            "attempts": dead_letters.c.attempts + 1,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    conn.execute(stmt, rows)


def resolve_dead_letters(conn: Connection, *, kind: str, system: str, stream: str, source_ids: Sequence[str]) -> int:
    """Mark dead letters resolved once their record made it into the ledger (replay, or a fixed source)."""
    c = dead_letters.c
    total = 0
    for chunk in _chunks(source_ids):
        result = conn.execute(
            update(dead_letters)
            .where(
                c.kind == kind, c.system == system, c.stream == stream, c.status == "open", c.source_id.in_(chunk)
            )
            .values(status="resolved", updated_at=utcnow())
        )
        total += max(result.rowcount, 0)
    return total


def open_record_dead_letters_after(conn: Connection, system: str, after_id: int, limit: int) -> Sequence[Row[Any]]:
    """The next ``limit`` open record dead letters of ``system`` by id after ``after_id``: ``id, source_id, cursor,
    raw`` (a replay pages through them)."""
    d = dead_letters.c
    return conn.execute(
        select(d.id, d.source_id, d.cursor, d.raw)
        .where(d.system == system, d.kind == "record", d.status == "open", d.id > after_id)
        .order_by(d.id)
        .limit(limit)
    ).all()


def open_push_dead_letters(conn: Connection, system: str) -> Sequence[Row[Any]]:
    """``id, raw`` of every open push dead letter of ``system`` (the raw payload names the outbox row)."""
    d = dead_letters.c
    return conn.execute(select(d.id, d.raw).where(d.system == system, d.kind == "push", d.status == "open")).all()


def resolve_dead_letter(conn: Connection, dead_letter_id: int) -> None:
    """Mark one dead letter resolved (its push was re-queued)."""
    conn.execute(update(dead_letters).where(dead_letters.c.id == dead_letter_id).values(status="resolved",
                                                                                        updated_at=utcnow()))


def record_dead_letter_counts(conn: Connection, system: str | None = None) -> dict[str, int]:
    """``status → record dead letters`` (of ``system``, or of every system)."""
    d = dead_letters.c
    scope = [d.kind == "record"] + ([d.system == system] if system else [])
    return {status: int(count)
            for status, count in conn.execute(select(d.status, func.count()).where(*scope).group_by(d.status))}


def open_dead_letter_count(conn: Connection, system: str, kind: str = "record") -> int:
    c = dead_letters.c
    return int(
        conn.execute(
            select(func.count()).select_from(dead_letters).where(c.system == system, c.kind == kind, c.status == "open")
        ).scalar_one()
    )


# -- watermarks and runs --------------------------------------------------------------------------------


def get_watermark(conn: Connection, system: str, stream: str) -> datetime | None:
    c = watermarks.c
    return conn.execute(select(c.cursor).where(c.system == system, c.stream == stream)).scalar_one_or_none()


def set_watermark(conn: Connection, system: str, stream: str, cursor: datetime | None) -> None:
    stmt = _insert(conn, watermarks).values(system=system, stream=stream, cursor=cursor, updated_at=utcnow())
    stmt = stmt.on_conflict_do_update(
        index_elements=["system", "stream"], set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at}
    )
    conn.execute(stmt)


def start_run(conn: Connection, *, system: str, kind: str, mode: str | None, watermark: datetime | None) -> int:
    result = conn.execute(
        runs.insert().values(
            system=system,
            kind=kind,
            mode=mode,
            status="running",
            started_at=utcnow(),
            watermark_before=watermark,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def finish_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(runs).where(runs.c.id == run_id).values(finished_at=utcnow(), **values))


def add_reconciliation(conn: Connection, *, system: str, day: str, checked_at: datetime, problems: str,
                       **counts: Any) -> None:
    """Store one day of a reconciliation report: its counts and hashes (``counts``, by column name) and its
    problems (JSON text)."""
    conn.execute(reconciliations.insert().values(system=system, day=day, checked_at=checked_at, **counts,
                                                 problems=problems))


def abandon_stale_runs(conn: Connection, system: str, kind: str) -> int:
    """Runs left 'running' by a process that died (the caller holds the lease, so none is really running)."""
    c = runs.c
    result = conn.execute(
        update(runs)
        .where(and_(c.system == system, c.kind == kind, c.status == "running"))
        .values(status="failed", error="abandoned: the process running it died", finished_at=utcnow())
    )
    return max(result.rowcount, 0)
