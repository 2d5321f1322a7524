"""Alerts: the things that need a person — a sync that failed for good, a system that fell behind, a case near
or past its legal time limit, a reconciliation that found missing or divergent cases.

One row per (kind, key). Raising an open alert again counts it up and refreshes its message (an Airflow retry or
an hourly deadline scan must not flood the table); resolving it keeps the row, so ``tongban status`` and audits
can see what happened. Callers are the Airflow failure callbacks, the deadline scan, the reconciliation and the
sync tasks (a successful sync resolves its system's failure alert).

    raise_alert(engine, "sync_failed", "sd_civil", level="error", system="sd_civil", message="HTTP 503 …")
    resolve_alerts(engine, "sync_failed", ["sd_civil"])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, case, func, select, update

from gateway.store import ledger
from gateway.store.tables import alerts

AlertKind = Literal["sync_failed", "task_failed", "behind", "deadline", "reconcile"]
AlertLevel = Literal["yellow", "red", "warning", "error"]
LEVEL_ORDER: dict[str, int] = {"red": 0, "error": 1, "yellow": 2, "warning": 3}


@dataclass(frozen=True)
class AlertSpec:
    """An alert as a scan wants it to be; :func:`sync_alerts` makes the open set of a kind equal to a list."""

    key: str
    level: AlertLevel
    message: str
    system: str | None = None
    case_no: str | None = None
    details: Any = None


def _upsert(conn: Connection, kind: str, spec: AlertSpec, now: datetime) -> None:
    a = alerts.c
    details = None if spec.details is None else ledger.dumps(spec.details)
    changed = conn.execute(
        update(alerts)
        .where(a.kind == kind, a.key == spec.key)
        .values(
            level=spec.level, message=spec.message, details=details, system=spec.system, case_no=spec.case_no,
            last_seen_at=now, resolved_at=None,
            occurrences=case((a.status == "open", a.occurrences + 1), else_=1),  # a comeback counts afresh
            status="open",
        )
    ).rowcount
    if not changed:
        conn.execute(
            alerts.insert().values(
                kind=kind, key=spec.key, system=spec.system, case_no=spec.case_no, level=spec.level,
                message=spec.message, details=details, status="open", occurrences=1, first_seen_at=now,
                last_seen_at=now,
            )
        )


def raise_alert(
    engine: Engine,
    kind: AlertKind,
    key: str,
    *,
    level: AlertLevel,
    message: str,
    system: str | None = None,
    case_no: str | None = None,
    details: Any = None,
) -> None:
    """Open (or refresh) the alert ``(kind, key)``."""
    spec = AlertSpec(key=key, level=level, message=message, system=system, case_no=case_no, details=details)
    with engine.begin() as conn:
        _upsert(conn, kind, spec, ledger.utcnow())


def resolve_alerts(engine: Engine, kind: AlertKind, keys: Iterable[str]) -> int:
    """Mark open alerts of ``kind`` with these keys resolved. Returns how many were open."""
    keys = list(keys)
    if not keys:
        return 0
    a = alerts.c
    with engine.begin() as conn:
        result = conn.execute(
            update(alerts)
            .where(a.kind == kind, a.key.in_(keys), a.status == "open")
            .values(status="resolved", resolved_at=ledger.utcnow())
        )
    return max(result.rowcount, 0)


def sync_alerts(engine: Engine, kind: AlertKind, wanted: Sequence[AlertSpec], *, scope: str | None = None) -> dict[str, int]:
    """Make the open alerts of ``kind`` (within ``scope``: a system, or all) exactly ``wanted``.

    Used by scans that see the whole picture each time (the deadline scan): new ones open, existing ones are
    refreshed (a yellow case turning red changes level), and open ones no longer wanted are resolved.
    """
    now = ledger.utcnow()
    a = alerts.c
    with engine.begin() as conn:
        where = [a.kind == kind, a.status == "open"]
        if scope is not None:
            where.append(a.system == scope)
        open_keys = set(conn.execute(select(a.key).where(and_(*where))).scalars())
        for spec in wanted:
            _upsert(conn, kind, spec, now)
        gone = sorted(open_keys - {s.key for s in wanted})
        for start in range(0, len(gone), 500):
            conn.execute(
                update(alerts)
                .where(a.kind == kind, a.key.in_(gone[start:start + 500]), a.status == "open")
                .values(status="resolved", resolved_at=now)
            )
    return {"open": len(wanted), "new": len({s.key for s in wanted} - open_keys), "resolved": len(gone)}


def open_alerts(engine: Engine, *, kind: str | None = None, system: str | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
    """Open alerts, most severe first, then newest."""
    a = alerts.c
    query = select(alerts).where(a.status == "open")
    if kind:
        query = query.where(a.kind == kind)
    if system:
        query = query.where(a.system == system)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    rows.sort(key=lambda r: (LEVEL_ORDER.get(r["level"], 9), -r["last_seen_at"].timestamp(), r["key"]))
    for row in rows:
        row["details"] = ledger.loads(row["details"])
    return rows[:limit] if limit is not None else rows


def alert_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """``{kind: {level: open count}}``."""
    a = alerts.c
    counts: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for kind, level, n in conn.execute(
            select(a.kind, a.level, func.count()).where(a.status == "open").group_by(a.kind, a.level)
        ):
            counts.setdefault(kind, {})[level] = int(n)
    return counts


__all__ = [
    "AlertKind",
    "AlertLevel",
    "AlertSpec",
    "alert_counts",
    "open_alerts",
    "raise_alert",
    "resolve_alerts",
    "sync_alerts",
]
