"""The reads the certificate-sharing API runs, named, and the read path they run on.

- the hot path (``POST /v1/certificates/query``): :func:`find_case_and_certificates`, one indexed statement
  written once as SQL text and executed through :class:`FastReader` on a DBAPI connection kept per database
  thread. SQLAlchemy Core costs a few hundred microseconds a query in statement building and cache-key
  generation — more than SQLite or PostgreSQL take to answer a primary-key lookup;
- the other endpoints' reads (a case and its timeline, the holder's access log and consents, the readiness
  ping) through SQLAlchemy on a connection the caller opens;
- :func:`read_engine_for`: the engine those reads use (on SQLite one that never takes the write lock).

The decisions made on what these return (purpose, policy, consent, what a client may see) live in
:mod:`gateway.sharing.api`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Row, RowMapping, select, text

from gateway.store.db import SQLITE_BUSY_TIMEOUT_MS
from gateway.store.documents import document_field_sql
from gateway.store.tables import api_clients, audit_log, cases, consents, outbox, source_records

__all__ = [
    "FastReader",
    "applicant_id_sql",
    "case_deliveries",
    "case_for_materials",
    "case_for_release",
    "case_source_copies",
    "find_case",
    "CASE_COLUMNS",
    "find_case_and_certificates",
    "holder_access_log",
    "holder_consents",
    "holders_in",
    "ping",
    "read_engine_for",
]

# -- the read path --------------------------------------------------------------------------------------------


def read_engine_for(engine: Engine) -> Engine:
    """The engine for the API's reads. On SQLite a second engine without ``BEGIN IMMEDIATE``: a read must not take
    the write lock (the ledger's engine begins every transaction as a writer, which would queue every query
    behind the audit writer's commits); WAL gives each statement a consistent snapshot. Elsewhere ``engine``."""
    if engine.dialect.name != "sqlite":
        return engine
    from sqlalchemy import create_engine, event

    read = create_engine(engine.url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                                   "check_same_thread": False}, pool_size=16)

    def configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit: no BEGIN, each SELECT reads its own snapshot
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    event.listen(read, "connect", configure)
    return read


class FastReader:
    """Fixed statements of the hot path, run as plain SQL on a DBAPI connection kept per worker thread (from the
    read engine's pool, so SQLite's pragmas and PostgreSQL's settings apply)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._local = threading.local()
        self._converted: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """``text`` with ``?`` placeholders in the driver's style (converted once per statement: the hot path
        asks for the same few statements on every request)."""
        if self.mark == "?":
            return text
        converted = self._converted.get(text)
        if converted is None:
            converted = self._converted[text] = text.replace("?", "%s")
        return converted

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.engine.raw_connection()
        return conn

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = self._connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, params)
                found = cursor.fetchall()
            finally:
                cursor.close()
            if self.mark == "%s":
                conn.rollback()  # end the read transaction psycopg opened
            return found
        except Exception:
            self._local.conn = None
            try:
                conn.invalidate() if hasattr(conn, "invalidate") else conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            raise


# -- the hot path: a case and the holder's certificates, one statement -----------------------------------------

def applicant_id_sql(dialect: str, table: str) -> str:
    """SQL for a case's (sealed) applicant ID number, read from its JSON in the database — the hot path needs
    this one field, and parsing the whole case document in Python cost more than the rest of the query."""
    return document_field_sql(dialect, f"{table}.data", "applicant", "id_number")


_HOLDERS_OF_C = {
    "sqlite": "(SELECT group_concat(x.holder_bidx, ',') FROM certificate_holders x WHERE x.identifier = c.identifier)",
    "postgresql": "(SELECT string_agg(x.holder_bidx, ',') FROM certificate_holders x "
                  "WHERE x.identifier = c.identifier)",
}
"""Every holder of the row's certificate, comma-separated blind indexes (hex: no comma inside one): a primary-key
range per certificate, in the same statement, so a jointly held certificate's release reaches each holder's access
log without a second round trip."""

CASE_COLUMNS = 6
"""The case's columns at the head of each row of :func:`find_case_and_certificates`; the certificate's follow."""

QUERY_FACTS_SQL = (
    "SELECT k.case_no, k.dept_code, k.item_code, k.deleted, {applicant}, {finished}, "
    "c.identifier, c.legacy_identifier, c.type_code, c.name, c.number, c.issuer_code, c.status, c.valid_until, "
    "c.content_hash, c.document, c.renewed_as, c.source_system, c.updated_at, c.valid_from, c.refused_reason, "
    "c.refused_at, {holders} "
    "FROM cases k "
    "LEFT JOIN certificate_holders h ON h.holder_bidx = ? AND h.type_code IN ({types}) "
    "LEFT JOIN certificates c ON c.identifier = h.identifier "
    "WHERE k.case_no = ?")
"""Template of :func:`find_case_and_certificates`'s statement (``?`` placeholders; see :func:`query_facts_sql`)."""


@functools.lru_cache(maxsize=64)
def query_facts_sql(dialect: str, type_count: int) -> str:
    """:data:`QUERY_FACTS_SQL` for this dialect and number of certificate types (built once each)."""
    return QUERY_FACTS_SQL.format(applicant=applicant_id_sql(dialect, "k"),
                                  finished=document_field_sql(dialect, "k.data", "finished_at"),
                                  holders=_HOLDERS_OF_C[dialect],
                                  types=", ".join("?" * type_count))


def find_case_and_certificates(reader: FastReader, case_no: str, holder_bidx: str,
                               types: Sequence[str]) -> list[tuple[Any, ...]]:
    """The case and the holder's certificates of ``types``, in one indexed statement: a row per certificate, each
    carrying the case; one row with no certificate (``row[CASE_COLUMNS] is None``) when the holder has none; no row when the
    case is not in the ledger. Columns: ``case_no, dept_code, item_code, deleted, applicant id (sealed),
    finished_at`` (:data:`CASE_COLUMNS`), then the certificate in :data:`gateway.store.certificates.CERTIFICATE_COLUMNS` order (``updated_at`` and
    ``refused_at`` as the driver returns them), then, last, all its holders (:func:`holders_in`: the asked-for
    holder and any co-holders of a jointly held certificate). Unordered: a few rows sort faster in Python than in
    SQL."""
    return reader.rows(reader.sql(query_facts_sql(reader.dialect, len(types))), (holder_bidx, *types, case_no))


def holders_in(column: str | None) -> list[str]:
    """The blind indexes of a certificate's holders from the last column of :func:`find_case_and_certificates`."""
    return column.split(",") if column else []


# -- cases ----------------------------------------------------------------------------------------------------


def case_for_release(conn: Connection, case_no: str) -> Row[Any] | None:
    """``case_no, dept_code, item_code, deleted, data`` of a case, for the purpose check; ``None`` if absent."""
    c = cases.c
    return conn.execute(select(c.case_no, c.dept_code, c.item_code, c.deleted, c.data)
                        .where(c.case_no == case_no)).first()


def case_for_materials(conn: Connection, case_no: str) -> Row[Any] | None:
    """``dept_code, item_code, data, deleted`` of a case; ``None`` if absent."""
    return conn.execute(select(cases.c.dept_code, cases.c.item_code, cases.c.data, cases.c.deleted)
                        .where(cases.c.case_no == case_no)).first()


def find_case(conn: Connection, case_no: str) -> RowMapping | None:
    """The whole merged case row, or ``None``."""
    return conn.execute(select(cases).where(cases.c.case_no == case_no)).mappings().first()


def case_source_copies(conn: Connection, case_no: str) -> Sequence[Row[Any]]:
    """The source systems' copies of a case: ``system, source_id, updated_at, deleted``, by system."""
    s = source_records.c
    return conn.execute(select(s.system, s.source_id, s.updated_at, s.deleted).where(s.case_no == case_no)
                        .order_by(s.system)).all()


def case_deliveries(conn: Connection, case_no: str) -> Sequence[Row[Any]]:
    """The case's pushes to other systems: ``target_system, version, status, delivered_at``."""
    o = outbox.c
    return conn.execute(select(o.target_system, o.version, o.status, o.delivered_at)
                        .where(o.case_no == case_no).order_by(o.version, o.target_system)).all()


# -- the holder's view --------------------------------------------------------------------------------------


def holder_access_log(conn: Connection, holder_bidx: str, actions: Sequence[str], *, after: int = 0,
                      limit: int | None = None) -> Sequence[Row[Any]]:
    """The audit entries of these actions about the holder after sequence number ``after``, in chain order, at most
    ``limit``: ``seq, at, action, outcome, client_id, name`` (of the client, if it still exists) ``, certificate,
    item_code, case_no``. An index range on ``(holder_ref, seq)``."""
    a, k = audit_log.c, api_clients.c
    query = (select(a.seq, a.at, a.action, a.outcome, a.client_id, k.name, a.certificate, a.item_code, a.case_no)
             .select_from(audit_log.outerjoin(api_clients, k.client_id == a.client_id))
             .where(a.holder_ref == holder_bidx, a.seq > after, a.action.in_(actions))
             .order_by(a.seq))
    return conn.execute(query.limit(limit) if limit is not None else query).all()


def holder_consents(conn: Connection, holder_bidx: str) -> Sequence[Row[Any]]:
    """Every consent the holder gave, oldest first: ``consent_id, client_id, name`` (of the client)
    ``, certificate_types, item_code, case_no, issued_at, expires_at, revoked_at``."""
    c, k = consents.c, api_clients.c
    return conn.execute(
        select(c.consent_id, c.client_id, k.name, c.certificate_types, c.item_code, c.case_no, c.issued_at,
               c.expires_at, c.revoked_at)
        .select_from(consents.outerjoin(api_clients, k.client_id == c.client_id))
        .where(c.holder_bidx == holder_bidx).order_by(c.issued_at, c.consent_id)).all()


# -- operations -----------------------------------------------------------------------------------------------

PING = text("SELECT 1")


def ping(conn: Connection) -> None:
    """Raises if the database does not answer."""
    conn.execute(PING)
