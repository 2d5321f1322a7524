"""Reading and writing the ledger tables in batches, inside a transaction the caller owns.

Every function takes a ``Connection`` so that the sync engine can put a page's records, the dead letters, the
outbox rows and the watermark in one transaction (DESIGN.md step 5): crash anywhere, and either all of a page
is in the ledger or none of it is.

This is the data path's write module: sync, replay and remap (including the pages they read back), runs and
watermarks, and the reconciliation's stored reports. The outbox's own statements after queueing are in
:mod:`gateway.store.outbox`; the read-only questions of supervision in :mod:`gateway.store.queries`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Connection,
    Row,
    String,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from gateway.models.datetimes import change_horizon
from gateway.store import payloads
from gateway.store.tables import (
    UtcDateTime,
    cases,
    dead_letters,
    outbox,
    payload_dictionaries,
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


def in_chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``values`` a statement's worth at a time (``… IN (…)`` under every driver's bound-parameter limit)."""
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _utc(v: datetime) -> datetime:
    """``v`` in UTC; a time at the very edge of the calendar that has none (year 1 at +08:00, the last hours of
    9999 at a western offset: a source's "no value" filler, most often as a cursor) is clamped to the first or
    last UTC time, so that one record's filler never fails a page's write."""
    try:
        return v.astimezone(timezone.utc)
    except OverflowError:
        return datetime.min.replace(tzinfo=timezone.utc) if v.year == 1 else datetime.max.replace(tzinfo=timezone.utc)


def _driver_value(conn: Connection, column_type: Any) -> Any:
    """How a value of this column type goes to the driver without SQLAlchemy's per-value processing.

    Times are converted once per distinct value of a page (most are the page's ``now``): formatting a datetime
    per row per column was a tenth of the write path's time.
    """
    if isinstance(column_type, UtcDateTime):
        if conn.dialect.name == "sqlite":  # SQLAlchemy's own SQLite storage format, so reads parse it back
            def convert(v: datetime) -> str:  # "%Y-%m-%d %H:%M:%S.%f"; isoformat is ~5x quicker than strftime
                return _utc(v).isoformat(" ", "microseconds")[:26]
        else:
            def convert(v: datetime) -> datetime:  # type: ignore[misc]
                return _utc(v).replace(tzinfo=None)
        seen: dict[datetime, Any] = {}

        def cached(v: datetime | None) -> Any:
            if v is None:
                return None
            out = seen.get(v)
            if out is None:
                out = seen[v] = convert(v)
            return out

        return cached
    if isinstance(column_type, Boolean) and conn.dialect.name == "sqlite":
        return lambda v: None if v is None else int(v)
    return None


def _driver_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Every row of a read on the transaction's own DBAPI connection, as plain tuples (the hot lookups of a page:
    a Row object per record cost more than the query)."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return cursor.execute(sql, params).fetchall()
    finally:
        cursor.close()


def _sqlite_time(value: str | None) -> datetime | None:
    """A ``UtcDateTime`` as SQLite stores it (naive UTC text), read back aware, without SQLAlchemy's processor."""
    return None if value is None else datetime.fromisoformat(value + "+00:00")  # 5x quicker than .replace(tzinfo=)


def _quoted(name: str) -> str:
    return '"' + name + '"'


def bulk_write(conn: Connection, table: Any, rows: list[dict[str, Any]], *, key: Sequence[str] = (),
               conflict: str = "") -> int:
    """Write a page of rows in one statement per table: INSERT (``key`` empty) or UPDATE ... WHERE the key
    columns match (``key``). Returns the rows the database reports written (-1 when it cannot say).

    The sync path writes thousands of rows a page; SQLAlchemy's per-value bind processing cost more than the
    database itself did. Values are converted here once per column type instead (times to UTC, booleans for
    SQLite), in the same form SQLAlchemy stores, so Core reads them back unchanged. ``conflict`` is an
    ``ON CONFLICT`` clause (same syntax on SQLite and PostgreSQL).

    SQLite: one ``executemany``. PostgreSQL: ``COPY`` — straight into the table for a plain INSERT, else into a
    temporary table followed by one ``INSERT ... SELECT ... ON CONFLICT`` or ``UPDATE ... FROM``: one round trip
    of data and one statement per page, and a join whose plan cannot go quadratic whatever the statistics.
    """
    if not rows:
        return 0
    columns = list(rows[0])
    converters = [_driver_value(conn, table.c[name].type) for name in columns]
    if conn.dialect.name == "postgresql":
        return _pg_bulk_write(conn, table, rows, columns, converters, key=key, conflict=conflict)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    if key:
        assigned = [c for c in columns if c not in key]
        order = assigned + list(key)
        sets = ", ".join(f"{_quoted(c)} = {mark}" for c in assigned)
        where = " AND ".join(f"{_quoted(c)} = {mark}" for c in key)
        sql = f"UPDATE {table.name} SET {sets} WHERE {where}"
    else:
        order = columns
        names = ", ".join(_quoted(c) for c in columns)
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([mark] * len(columns))}) {conflict}"
    result = conn.exec_driver_sql(sql, _params(rows, order, [converters[columns.index(n)] for n in order]))
    return result.rowcount


def _params(rows: list[dict[str, Any]], order: Sequence[str], converters: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Driver parameter tuples, built a column at a time (one comprehension per column, not a generator per
    row: a third of the cost)."""
    columns = [[r[name] for r in rows] if f is None else [f(r[name]) for r in rows]
               for name, f in zip(order, converters, strict=True)]
    return list(zip(*columns, strict=True))


def _pg_copy(cursor: Any, target: str, columns: Sequence[str], rows: list[dict[str, Any]],
             converters: Sequence[Any]) -> None:
    with cursor.copy(f"COPY {target} ({', '.join(map(_quoted, columns))}) FROM STDIN") as copy:
        for row in _params(rows, columns, converters):
            copy.write_row(row)


def _pg_stage(cursor: Any, table: Any, columns: Sequence[str], extra: dict[str, str] | None = None) -> str:
    """A temporary table shaped like ``columns`` of ``table`` (plus ``extra``: ``name → column it is typed
    like``), emptied at commit; created once per session."""
    extra = extra or {}
    name = f"_stage_{table.name}_{abs(hash((tuple(columns), tuple(extra.items())))) % 10**8}"
    picks = ", ".join([_quoted(c) for c in columns] + [f"{_quoted(like)} AS {_quoted(n)}" for n, like in extra.items()])
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS AS "
                   f"SELECT {picks} FROM {table.name} WITH NO DATA")
    return name


def _pg_bulk_write(conn: Connection, table: Any, rows: list[dict[str, Any]], columns: list[str],
                   converters: list[Any], *, key: Sequence[str], conflict: str) -> int:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if not key and not conflict:
            _pg_copy(cursor, table.name, columns, rows, converters)
            return len(rows)
        stage = _pg_stage(cursor, table, columns)
        _pg_copy(cursor, stage, columns, rows, converters)
        names = ", ".join(map(_quoted, columns))
        if key:
            sets = ", ".join(f"{_quoted(c)} = s.{_quoted(c)}" for c in columns if c not in key)
            where = " AND ".join(f"t.{_quoted(c)} = s.{_quoted(c)}" for c in key)
            cursor.execute(f"UPDATE {table.name} AS t SET {sets} FROM {stage} AS s WHERE {where}")
        else:
            cursor.execute(f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage} {conflict}")
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _insert(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, so that ``on_conflict_do_update`` is available on SQLite and PostgreSQL alike."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


# -- source records -------------------------------------------------------------------------------------


def _matching(conn: Connection, column: Any, values: Sequence[str]) -> Iterable[Any]:
    """``column`` is one of ``values``, as few statements as the database allows: one ``= ANY(array)`` on
    PostgreSQL (a single parameter: no plan compares every row with a list of 900, statistics or not); chunks of
    ``IN`` under SQLite's parameter limit."""
    if conn.dialect.name == "postgresql":
        yield column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(String)))
        return
    for chunk in in_chunks(values):
        yield column.in_(chunk)


def _one_of(conn: Connection, column: str, values: Sequence[str]) -> tuple[str, Any]:
    """SQL for ``column`` is one of ``values`` as ONE driver parameter, and that parameter: a JSON array on SQLite,
    an array on PostgreSQL (``= ANY``). No statement is compiled per page and no plan compares every row with a
    list of 900 parameters, statistics or not."""
    if conn.dialect.name == "sqlite":
        return f"{column} IN (SELECT value FROM json_each(?))", dumps(list(values))
    return f"{column} = ANY(%s)", list(values)


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _driver_time(value: str | datetime | None) -> datetime | None:
    """A ``UtcDateTime`` read straight from the driver, aware: SQLite gives its text, PostgreSQL a naive datetime."""
    if value is None or value.__class__ is str:
        return _sqlite_time(value)  # type: ignore[arg-type]
    return value.replace(tzinfo=timezone.utc)  # type: ignore[union-attr]


def source_state(conn: Connection, system: str, source_ids: Sequence[str]
                 ) -> dict[str, tuple[str | None, datetime | None, str | None, str]]:
    """``source_id → (content_hash, cursor, raw_hash, mapping_version)`` for the ids already in the ledger.

    One statement on the transaction's own driver connection, rows as plain tuples: the page's hottest lookup (a
    Row object and a type processor per value cost more than the query itself)."""
    where, ids = _one_of(conn, "source_id", source_ids)
    return {source_id: (content_hash, _driver_time(cursor), digest, version)
            for source_id, content_hash, cursor, digest, version in _driver_rows(
                conn, "SELECT source_id, content_hash, cursor, raw_hash, mapping_version FROM source_records "
                      f"WHERE system = {_mark(conn)} AND {where}", (system, ids))}


def insert_source_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk_write(conn, source_records, rows)


def update_source_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk_write(conn, source_records, [{k: v for k, v in r.items() if k != "first_seen_at"} for r in rows],
               key=("system", "source_id"))


def touch_source_records(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Same canonical content, newer source copy: keep the newest raw payload and cursor, change nothing else."""
    keep = ("system", "source_id", "cursor", "raw", "raw_hash", "payload", "mapping_version", "updated_at")
    bulk_write(conn, source_records, [{k: r[k] for k in keep} for r in rows], key=("system", "source_id"))


def source_records_after(conn: Connection, system: str, after: str, limit: int) -> Sequence[Row[Any]]:
    """The next ``limit`` of ``system``'s records by source id after ``after``: ``source_id, cursor, raw,
    payload`` (a remap pages through every raw payload; :func:`gateway.store.payloads.unpack` reads it)."""
    s = source_records.c
    return conn.execute(
        select(s.source_id, s.cursor, s.raw, s.payload)
        .where(s.system == system, s.source_id > after)
        .order_by(s.source_id)
        .limit(limit)
    ).all()


def raw_payloads(conn: Connection, system: str, pii: Any = None) -> dict[str, Any]:
    """``source_id → the raw payload as the source sent it`` of every record the ledger keeps for ``system``
    (whichever encoding it was stored in; sealed payloads need ``pii``)."""
    s = source_records.c
    load = dictionary_loader(conn)
    return {r.source_id: loads(payloads.unpack(r.payload, r.raw, pii, load))
            for r in conn.execute(select(s.source_id, s.raw, s.payload).where(s.system == system))}


def dictionary_loader(conn: Connection) -> Any:
    """``id → dictionary bytes`` from ``payload_dictionaries``, for :func:`gateway.store.payloads.unpack`."""
    def load(did: bytes) -> bytes:
        data = conn.execute(select(payload_dictionaries.c.data)
                            .where(payload_dictionaries.c.id == did.hex())).scalar_one_or_none()
        if data is None:
            raise LookupError(f"payload dictionary {did.hex()} is not in the ledger")
        return bytes(data)
    return load


def current_payload_dictionary(conn: Connection, system: str) -> bytes | None:
    """The newest compression dictionary of ``system``'s raw payloads (its bytes), if it has one."""
    d = payload_dictionaries.c
    data = conn.execute(select(d.data).where(d.system == system).order_by(d.created_at.desc()).limit(1)
                        ).scalar_one_or_none()
    return None if data is None else bytes(data)


def add_payload_dictionary(conn: Connection, system: str, data: bytes) -> None:
    conn.execute(payload_dictionaries.insert().values(id=payloads.dictionary_id(data).hex(), system=system, data=data,
                                                      created_at=utcnow()))


# -- merged cases ---------------------------------------------------------------------------------------


def case_state(conn: Connection, case_nos: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``case_no → {case_no, version, content_hash, source_updated_at, origin_system, origin_source_id,
    origin_digest, field_sources, deleted}`` of the merged cases already in the ledger (one statement, as
    :func:`source_state`; ``field_sources`` as stored text)."""
    where, ids = _one_of(conn, "case_no", case_nos)
    return {case_no: {"case_no": case_no, "version": version, "content_hash": content_hash,
                      "source_updated_at": _driver_time(updated_at), "origin_system": origin,
                      "origin_source_id": origin_id, "origin_digest": origin_digest, "field_sources": sources,
                      "deleted": bool(deleted)}
            for case_no, version, content_hash, updated_at, origin, origin_id, origin_digest, sources, deleted
            in _driver_rows(conn, "SELECT case_no, version, content_hash, source_updated_at, origin_system, "
                                  f"origin_source_id, origin_digest, field_sources, deleted FROM cases WHERE {where}",
                            (ids,))}


def set_origin_digests(conn: Connection, rows: list[tuple[str, int, str | None]]) -> None:
    """``(case_no, version, digest)``: the writing record's newer copy changed nothing in the case (another system
    speaks for what it changed), so no version is written — but the copy the reconciliation compares the record
    with is that newer one (guarded by the version: a case changed meanwhile keeps its own)."""
    if not rows:
        return
    c = cases.c
    conn.execute(update(cases).where(c.case_no == bindparam("b_case_no"), c.version == bindparam("b_version"))
                 .values(origin_digest=bindparam("b_digest")),
                 [{"b_case_no": case_no, "b_version": version, "b_digest": digest} for case_no, version, digest in rows])


def case_documents(conn: Connection, case_nos: Sequence[str]) -> dict[str, str]:
    """``case_no → the merged case's whole document`` as text (defaults put back; a sealed ID stays sealed)."""
    c = cases.c
    return {case_no: data for case_no, data in conn.execute(
        select(c.case_no, c.data).where(c.case_no.in_(list(case_nos))))}


def source_payloads(conn: Connection, system: str, source_ids: Sequence[str], pii: Any = None) -> dict[str, Any]:
    """``source_id → the raw payload the ledger holds`` of those of ``system``'s records (opened with ``pii`` when
    sealed): the copy a newer one is compared with when two systems hold its case."""
    s = source_records.c
    load = dictionary_loader(conn)
    return {r.source_id: loads(payloads.unpack(r.payload, r.raw, pii, load))
            for r in conn.execute(select(s.source_id, s.raw, s.payload)
                                  .where(s.system == system, s.source_id.in_(list(source_ids))))}


def last_read_records(conn: Connection, system: str, case_nos: Sequence[str], pii: Any = None) -> dict[str, Any]:
    """``case_no → the raw payload of system's own record of the case`` as the sync last read it (opened with
    ``pii`` when sealed), for the cases it holds a live record of: the record a push to a system whose write
    replaces it is written over. Two records of one case (a system that re-keyed it): the newest."""
    s = source_records.c
    load = dictionary_loader(conn)
    newest: dict[str, Any] = {}
    for chunk in in_chunks(list(case_nos)):
        for r in conn.execute(select(s.case_no, s.raw, s.payload)
                              .where(s.system == system, s.case_no.in_(list(chunk)), s.deleted.is_(False))
                              .order_by(s.cursor.asc().nulls_first(), s.updated_at)):
            newest[r.case_no] = r  # the last one seen, in cursor order, is the newest
    return {case_no: loads(payloads.unpack(r.payload, r.raw, pii, load)) for case_no, r in newest.items()}


def insert_cases(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk_write(conn, cases, rows)


def update_cases(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Update merged cases; ``expected_version`` guards against a concurrent writer (optimistic lock). ``data`` is
    written as given: the sync path's stored form, as ``insert_cases`` (``bulk_write``) writes it.

    Straight to the driver on both databases (SQLAlchemy's per-value bind processing cost more than the UPDATE),
    and the statement marks the case due for the deadline scan itself (``clock_due_at``, what the trigger of
    migration 0011 does for any other writer): on SQLite that trigger's own UPDATE of the same row then does not
    fire, so each changed case's row is written once, not twice."""
    if not rows:
        return
    written = (_pg_update_cases if conn.dialect.name == "postgresql" else _sqlite_update_cases)(conn, rows)
    if written not in (-1, len(rows)):
        raise RuntimeError(
            f"{len(rows) - written} merged case(s) changed under this run; the batch is rolled back"
        )


_CASE_UPDATE = ("version", "content_hash", "data", "origin_system", "origin_source_id", "origin_digest",
                "field_sources", "source_updated_at", "dept_code", "item_code", "deleted", "updated_at")


def _sqlite_update_cases(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """One ``executemany`` of ``UPDATE ... WHERE case_no = ? AND version = ?`` (the expected version)."""
    order = [*_CASE_UPDATE, "case_no", "expected_version"]
    converters = [_driver_value(conn, cases.c[name].type) for name in order[:-1]] + [None]
    sets = ", ".join(f"{_quoted(c)} = ?" for c in _CASE_UPDATE)
    result = conn.exec_driver_sql(f"UPDATE cases SET {sets}, clock_due_at = '{_SQLITE_DUE_NOW}' "
                                  "WHERE case_no = ? AND version = ?", _params(rows, order, converters))
    return int(result.rowcount)


_SQLITE_DUE_NOW = "1970-01-01 00:00:00"
"""``CLOCK_DUE_NOW`` exactly as migration 0011's trigger and the column default write it on SQLite (the trigger
fires unless the new row already holds this text)."""


def _pg_update_cases(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """COPY the page into a staging table, then one ``UPDATE ... FROM`` guarded by the expected version."""
    columns = ["case_no", *_CASE_UPDATE]
    converters = [_driver_value(conn, cases.c[name].type) for name in columns] + [None]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        stage = _pg_stage(cursor, cases, columns, {"expected_version": "version"})
        _pg_copy(cursor, stage, [*columns, "expected_version"], rows, converters)
        sets = ", ".join(f"{_quoted(c)} = s.{_quoted(c)}" for c in _CASE_UPDATE)
        cursor.execute(f"UPDATE cases AS t SET {sets} FROM {stage} AS s "
                       "WHERE t.case_no = s.case_no AND t.version = s.expected_version")
        return int(cursor.rowcount)
    finally:
        cursor.close()


# -- outbox ---------------------------------------------------------------------------------------------


def add_outbox(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk_write(conn, outbox, rows, conflict="ON CONFLICT (case_no, version, target_system) DO NOTHING")


# -- dead letters ---------------------------------------------------------------------------------------


def add_dead_letters(conn: Connection, rows: list[dict[str, Any]], *, pii: Any = None) -> None:
    """Insert or refresh dead letters (one per kind/system/stream/source id: a record that fails again is
    the same dead letter, with its newest payload and reason and one more attempt — unless what failed is an
    older version than the one the dead letter holds, which then stays as it is). With ``pii`` (a PiiCodec) each
    raw payload is sealed whole (a caller that sealed it already, as the case sync does, passes none).

    One statement per call through :func:`bulk_write` (SQLAlchemy's ON CONFLICT construct has no cache key, so
    it was compiled again for every page). Rows that name the same dead letter twice keep the last (one
    statement may not touch a row twice on PostgreSQL); columns a caller leaves out take their defaults."""
    if not rows:
        return
    latest: dict[Any, dict[str, Any]] = {}
    for row in rows:
        full = {**_DEAD_LETTER_DEFAULTS, **row}
        if pii is not None and isinstance(full["raw"], str):
            full["raw"] = pii.seal_blob(full["raw"])
        key = (full["kind"], full["system"], full["stream"], full["source_id"])
        latest[key if full["source_id"] is not None else id(row)] = full
    bulk_write(conn, dead_letters, list(latest.values()), conflict=_DEAD_LETTER_AGAIN)


_DEAD_LETTER_DEFAULTS: dict[str, Any] = {"source_id": None, "case_no": None, "cursor": None, "raw": None,
                                         "issues": None, "mapping_version": None, "status": "open", "attempts": 1}
_DEAD_LETTER_AGAIN = (
    'ON CONFLICT (kind, system, stream, source_id) DO UPDATE SET "raw" = excluded."raw", '
    '"reason" = excluded."reason", "issues" = excluded."issues", "mapping_version" = excluded."mapping_version", '
    '"cursor" = excluded."cursor", "case_no" = excluded."case_no", "status" = \'open\', '
    '"attempts" = dead_letters."attempts" + 1, "updated_at" = excluded."updated_at" '
    # an older version rejected again (a remap of what the ledger holds, a lookback) never replaces the dead letter
    # of a newer rejected one: its payload is the only copy of that version, the watermark already past it
    'WHERE dead_letters."cursor" IS NULL OR excluded."cursor" IS NULL OR excluded."cursor" >= dead_letters."cursor"'
)


def resolve_dead_letters(conn: Connection, *, kind: str, system: str, stream: str, source_ids: Sequence[str]) -> int:
    """Mark dead letters resolved once their record made it into the ledger (replay, or a fixed source)."""
    c = dead_letters.c
    total = 0
    for where in _matching(conn, c.source_id, source_ids):
        result = conn.execute(
            update(dead_letters)
            .where(c.kind == kind, c.system == system, c.stream == stream, c.status == "open", where)
            .values(status="resolved", updated_at=utcnow())
        )
        total += max(result.rowcount, 0)
    return total


def resolve_arrived_dead_letters(conn: Connection, system: str, stream: str,
                                 arrived: Mapping[str, datetime | None]) -> set[str]:
    """Resolve the open record dead letters of records now in the ledger; returns the source ids resolved.

    ``arrived`` maps each source id to the change time (cursor) of the version that arrived. A dead letter of a
    NEWER version stays open: that version was never taken in — a remap maps the older payload the ledger holds, a
    lookback or a late page brings an older copy — and resolving it would lose the change silently, the watermark
    already past it (and a purge would later delete its raw payload). Without a time on either side it resolves,
    as before: nothing says which version is newer; nor when the rejected version's time is past the horizon
    (:func:`gateway.models.datetimes.change_horizon`): a typo'd year the fix of which must still answer it."""
    d = dead_letters.c
    found: list[Any] = []
    for where in _matching(conn, d.source_id, list(arrived)):
        found.extend(conn.execute(select(d.id, d.source_id, d.cursor).where(
            d.kind == "record", d.system == system, d.stream == stream, d.status == "open", where)).all())
    ids: list[int] = []
    resolved: set[str] = set()
    horizon = change_horizon()
    for dead_letter_id, source_id, cursor in found:
        came = arrived.get(source_id)
        if cursor is not None and came is not None and came < cursor <= horizon:
            continue  # the rejected version is newer than the one in the ledger: still not taken in
        # (a rejected change time past the horizon is a typo, 2062 for 2026: no version is "older" than that)
        ids.append(dead_letter_id)
        resolved.add(source_id)
    for chunk in in_chunks(ids):
        conn.execute(update(dead_letters).where(d.id.in_(chunk)).values(status="resolved", updated_at=utcnow()))
    return resolved


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


def open_dead_letters_among(conn: Connection, system: str, stream: str, source_ids: Sequence[str]) -> set[str]:
    """Those of ``source_ids`` that are open record dead letters of ``system``'s ``stream`` (one statement)."""
    where, ids = _one_of(conn, "source_id", source_ids)
    mark = _mark(conn)
    return {row[0] for row in _driver_rows(
        conn, f"SELECT source_id FROM dead_letters WHERE system = {mark} AND stream = {mark} AND kind = 'record' "
              f"AND status = 'open' AND {where}", (system, stream, ids))}


def open_dead_letter_ids(conn: Connection, system: str, stream: str, *, limit: int) -> set[str] | None:
    """The source ids of ``system``'s open record dead letters on ``stream``, or None when there are more than
    ``limit`` (the caller then asks the database page by page instead of holding them all)."""
    c = dead_letters.c
    ids = conn.execute(
        select(c.source_id).where(c.system == system, c.status == "open", c.kind == "record", c.stream == stream)
        .limit(limit + 1)
    ).scalars().all()
    return None if len(ids) > limit else {i for i in ids if i is not None}


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


MAPPING_STREAM = "mapping"
"""The ``watermarks`` row (system ``~mapping:<system>``, apart from the system's own watermark rows, as the KPI
refresh keeps its mark) whose checkpoint is the mapping version every record of a system was mapped with."""


def _mapping_mark(system: str) -> str:
    return f"~mapping:{system}"[:64]


def mapped_version(conn: Connection, system: str) -> str | None:
    """The mapping version every record ``system`` holds was mapped with (None: not known yet)."""
    c = watermarks.c
    return conn.execute(select(c.checkpoint).where(c.system == _mapping_mark(system), c.stream == MAPPING_STREAM)
                        ).scalar_one_or_none()


def set_mapped_version(conn: Connection, system: str, version: str) -> None:
    stmt = _insert(conn, watermarks).values(system=_mapping_mark(system), stream=MAPPING_STREAM, cursor=None,
                                            checkpoint=version, updated_at=utcnow())
    conn.execute(stmt.on_conflict_do_update(index_elements=["system", "stream"],
                                            set_={"checkpoint": stmt.excluded.checkpoint,
                                                  "updated_at": stmt.excluded.updated_at}))


def mapped_otherwise(conn: Connection, system: str, version: str) -> bool:
    """Whether ``system`` holds a record mapped with another mapping version than ``version`` (stops at the
    first one it finds)."""
    s = source_records.c
    return conn.execute(select(s.source_id).where(s.system == system, or_(
        s.mapping_version.is_(None), s.mapping_version != version)).limit(1)).first() is not None


FIRST_READ = "first_read"
"""The ``watermarks`` stream keeping when Tongban first read a source (the citizen sources' cut-over: ``citizen:
evaluator``, ``citizen:hotline``), apart from the source's own watermark."""


def first_read(conn: Connection, system: str, now: datetime, *,
               before: Callable[[], datetime | None] = lambda: None) -> datetime:
    """When Tongban first read ``system``, kept the first time it is asked (a page is being read): ``before()`` —
    what a ledger from before the mark was kept can tell of that read — else ``now``."""
    first = get_watermark(conn, system, FIRST_READ)
    if first is None:
        first = before() or now
        set_watermark(conn, system, FIRST_READ, first)
    return first


def known_first_read(conn: Connection, system: str, *,
                     before: Callable[[], datetime | None] = lambda: None) -> datetime | None:
    """:func:`first_read` as far as the ledger knows it, written nowhere (for a report): the mark, else what
    ``before()`` tells, else None (never read)."""
    return get_watermark(conn, system, FIRST_READ) or before()


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


def run_progress(conn: Connection, run_id: int, **counts: int) -> None:
    """The counts a run has committed so far, written in the page's own transaction: a run killed mid-way (kill -9,
    a lost worker) keeps what its committed pages did, instead of the zeros of a run that did nothing."""
    conn.execute(update(runs).where(runs.c.id == run_id).values(**counts))


def finish_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(runs).where(runs.c.id == run_id).values(finished_at=utcnow(), **values))


def add_reconciliation(conn: Connection, *, system: str, day: str, checked_at: datetime, problems: str,
                       **counts: Any) -> None:
    """Store one day of a reconciliation report: its counts and hashes (``counts``, by column name) and its
    problems (JSON text)."""
    conn.execute(reconciliations.insert().values(system=system, day=day, checked_at=checked_at, **counts,
                                                 problems=problems))


ANALYZE_AFTER = 10_000
"""Rows a run must have written for :func:`refresh_statistics` to be considered at all."""
_HOT_TABLES = ("source_records", "cases", "outbox")


def bound_lock_wait(conn: Connection, seconds: int = 10) -> None:
    """On PostgreSQL, make this transaction give up waiting for a lock after ``seconds``: recording a run that
    Airflow's timeout interrupted must not hang on the locks of the interrupted statement, which may still run on
    the server (SQLite's busy timeout bounds its own waits)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"SET LOCAL lock_timeout = '{int(seconds)}s'"))


def refresh_statistics(conn: Connection, written: int) -> list[str]:
    """Refresh the planner's statistics of the hot tables a bulk load outgrew; returns the tables analysed.

    PostgreSQL: ``ANALYZE`` each hot table never analysed, or to which the run wrote more than autovacuum's own
    threshold (50 rows + 10% of the table): autovacuum may be off or behind a load that grew a table tenfold,
    and a plan chosen on an empty table's statistics can stay wrong for the ledger's lifetime; a routine run on
    a large ledger does not pay for sampling it. SQLite: ``PRAGMA optimize`` (it decides for itself)."""
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql("PRAGMA optimize")
        return []
    estimates = dict(conn.exec_driver_sql(
        "SELECT c.relname, c.reltuples FROM pg_class c WHERE c.relkind = 'r' "
        "AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%(names)s)",
        {"names": list(_HOT_TABLES)}).all())
    stale = [t for t in _HOT_TABLES if t in estimates and (estimates[t] < 0 or written > 50 + 0.1 * estimates[t])]
    if stale:
        conn.exec_driver_sql("ANALYZE " + ", ".join(stale))
    return stale


def abandon_stale_runs(conn: Connection, system: str, kind: str) -> int:
    """Runs left 'running' by a process that died (the caller holds the lease, so none is really running)."""
    c = runs.c
    result = conn.execute(
        update(runs)
        .where(and_(c.system == system, c.kind == kind, c.status == "running"))
        .values(status="failed", error="abandoned: the process running it died", finished_at=utcnow())
    )
    return max(result.rowcount, 0)
