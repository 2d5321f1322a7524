"""The alerts table's statements: open or refresh an alert, resolve alerts, and read the open ones.

:mod:`gateway.ops.alerts` decides what to raise and resolve (and in which transaction); the SQL it runs lives
here, with the rest of the ledger's statements. One row per (kind, key); a resolved alert keeps its row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import Connection, and_, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.store.db import rare
from gateway.store.tables import alerts

AlertStatus = Literal["open", "resolved"]
OPEN: Final = "open"
RESOLVED: Final = "resolved"


def upsert_alert(conn: Connection, kind: str, key: str, *, level: str, message: str, details: str | None,
                 system: str | None, case_no: str | None, now: datetime, stage: str | None = None,
                 due_at: datetime | None = None) -> None:
    """Open the alert ``(kind, key)`` or refresh it: an open one counts one more occurrence, a resolved one
    comes back counting afresh, seen first now. ``details`` is the JSON text to store."""
    upsert_alerts(conn, kind, [{"key": key, "level": level, "message": message, "details": details, "system": system,
                                "case_no": case_no, "stage": stage, "due_at": due_at}], now=now)


def upsert_alerts(conn: Connection, kind: str, rows: Sequence[dict[str, Any]], *, now: datetime) -> None:
    """:func:`upsert_alert` for many alerts in one statement (``INSERT … ON CONFLICT (kind, key) DO UPDATE``):
    each row has ``key, level, message, details, system, case_no, stage, due_at``. A scan that files thousands
    of alerts paid more for compiling one UPDATE per alert than for the writes."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(alerts)
    a = alerts.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={"level": stmt.excluded.level, "message": stmt.excluded.message, "details": stmt.excluded.details,
              "system": stmt.excluded.system, "case_no": stmt.excluded.case_no, "stage": stmt.excluded.stage,
              "due_at": stmt.excluded.due_at, "last_seen_at": now,
              "resolved_at": None, "occurrences": case((a.status == OPEN, a.occurrences + 1), else_=1),
              # a resolved alert raised again is a new incident: "since" is now (the old date misled readers by
              # months, and escalations counted from it fired at once)
              "first_seen_at": case((a.status == OPEN, a.first_seen_at), else_=now),
              "status": OPEN})
    conn.execute(stmt, [{"kind": kind, "key": r["key"], "level": r["level"], "message": r["message"],
                         "details": r["details"], "system": r["system"], "case_no": r["case_no"],
                         "stage": r.get("stage"), "due_at": r.get("due_at"), "status": OPEN,
                         "occurrences": 1, "first_seen_at": now, "last_seen_at": now} for r in rows])


def resolve_open(conn: Connection, kind: str, keys: Sequence[str], *, now: datetime) -> int:
    """Resolve the open alerts of ``kind`` with these keys; returns how many there were (0 when unknown)."""
    a = alerts.c
    result = conn.execute(
        update(alerts)
        .where(a.kind == kind, a.key.in_(keys), a.status == OPEN)
        .values(status=RESOLVED, resolved_at=now)
    )
    return max(result.rowcount, 0)


def resolve_stale(conn: Connection, kind: str, *, seen_before: datetime, now: datetime) -> int:
    """Resolve the open alerts of ``kind`` last raised before ``seen_before`` (whose raiser, refreshing them while
    the condition lasts, has stopped: it is gone, or the condition with it); returns how many there were."""
    a = alerts.c
    result = conn.execute(update(alerts).where(a.kind == kind, a.status == OPEN, a.last_seen_at < seen_before)
                          .values(status=RESOLVED, resolved_at=now))
    return max(result.rowcount, 0)


def open_keys(conn: Connection, kind: str, *, system: str | None = None, prefix: str | None = None) -> set[str]:
    """Keys of the open alerts of ``kind`` (about ``system`` only, keys starting with ``prefix`` only, when given:
    the ``(kind, key)`` index reads that range alone)."""
    a = alerts.c
    where = [a.kind == kind, a.status == OPEN]
    if system is not None:
        where.append(a.system == system)
    if prefix is not None:
        where += [a.key >= prefix, a.key < prefix[:-1] + chr(ord(prefix[-1]) + 1)]
    return set(conn.execute(select(a.key).where(and_(*where))).scalars())


def open_rows(conn: Connection, *, kind: str | None = None, system: str | None = None,
              levels: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every column of the open alerts (of ``kind``, about ``system``, at ``levels``), unordered; ``details`` as
    stored."""
    a = alerts.c
    query = select(alerts).where(a.status == OPEN)
    if levels:
        query = query.where(rare(conn, a.level.in_(list(levels))))
    if kind:
        query = query.where(a.kind == kind)
    if system:
        query = query.where(a.system == system)
    return [dict(r) for r in conn.execute(query).mappings()]


def open_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """``{kind: {level: open count}}``."""
    a = alerts.c
    counts: dict[str, dict[str, int]] = {}
    for kind, level, n in conn.execute(
        select(a.kind, a.level, func.count()).where(a.status == OPEN).group_by(a.kind, a.level)
    ):
        counts.setdefault(kind, {})[level] = int(n)
    return counts


def time_limit_counts(conn: Connection, levels: Sequence[str]) -> list[tuple[str, str | None, str | None, str, int]]:
    """``(kind, system, stage, level, open alerts)`` of the alerts at ``levels`` (the time limits), grouped."""
    a = alerts.c
    return [(k, s, st, lv, int(n)) for k, s, st, lv, n in conn.execute(
        select(a.kind, a.system, a.stage, a.level, func.count()).where(a.status == OPEN, a.level.in_(list(levels)))
        .group_by(a.kind, a.system, a.stage, a.level))]


def most_overdue(conn: Connection, level: str, limit: int) -> list[dict[str, Any]]:
    """The open alerts at ``level`` due longest ago (those without a due time last)."""
    a = alerts.c
    columns = (a.kind, a.key, a.case_no, a.system, a.stage, a.message, a.due_at)
    dated = [dict(r) for r in conn.execute(  # walks the (status, level, due_at, …) index from its start
        select(*columns).where(a.status == OPEN, a.level == level, a.due_at.is_not(None))
        .order_by(a.due_at, a.key).limit(limit)).mappings()]
    if len(dated) == limit:
        return dated
    return dated + [dict(r) for r in conn.execute(
        select(*columns).where(a.status == OPEN, a.level == level, a.due_at.is_(None))
        .order_by(a.key).limit(limit - len(dated))).mappings()]


__all__ = ["OPEN", "RESOLVED", "AlertStatus", "most_overdue", "open_counts", "open_keys", "open_rows",
           "resolve_open", "resolve_stale", "time_limit_counts", "upsert_alert", "upsert_alerts"]
