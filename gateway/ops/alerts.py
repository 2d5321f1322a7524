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

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, Engine

from gateway.store import alerts as alert_store
from gateway.store import ledger

AlertKind = Literal["sync_failed", "sync_degraded", "task_failed", "behind", "deadline", "reconcile",
                    "calendar_unknown", "rate_limit_degraded", "push_dead", "push_failed", "mapping_changed",
                    "routing",
                    "handoff_undelivered", "bundle_scan", "handoff_scan", "deferred_scan", "deadline_scan",
                    "run_timed_out",
                    "config_invalid", "citizen_sync_failed"]
AlertLevel = Literal["yellow", "red", "warning", "error"]
LEVEL_ORDER: dict[str, int] = {"error": 0, "red": 1, "warning": 2, "yellow": 3}
"""Most urgent first: a failed task or sync (error) is never ranked below the many red deadlines."""


@dataclass(frozen=True)
class AlertSpec:
    """An alert as a scan wants it to be; :func:`sync_alerts` makes the open set of a kind equal to a list."""

    key: str
    level: AlertLevel
    message: str
    system: str | None = None
    case_no: str | None = None
    details: Any = None


def _row(spec: AlertSpec) -> dict[str, Any]:
    """The stored form of an alert: details as JSON, and the stage and due time its details name (columns of
    their own, so time limits are counted and ordered in SQL)."""
    details = spec.details if isinstance(spec.details, dict) else {}
    due = details.get("due_at")
    if isinstance(due, str):
        try:
            due = datetime.fromisoformat(due)
        except ValueError:
            due = None
    return {"key": spec.key, "level": spec.level, "message": spec.message, "system": spec.system,
            "case_no": spec.case_no, "details": None if spec.details is None else ledger.dumps(spec.details),
            "stage": (str(details["stage"])[:64] if details.get("stage") else None),
            "due_at": due if isinstance(due, datetime) and due.tzinfo is not None else None}


def _upsert(conn: Connection, kind: str, spec: AlertSpec, now: datetime) -> None:
    row = _row(spec)
    alert_store.upsert_alert(conn, kind, spec.key, level=spec.level, message=spec.message, details=row["details"],
                             system=spec.system, case_no=spec.case_no, now=now, stage=row["stage"],
                             due_at=row["due_at"])


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
    with engine.begin() as conn:
        return alert_store.resolve_open(conn, kind, keys, now=ledger.utcnow())


def resolve_stale_alerts(engine: Engine, kind: AlertKind, older_than: timedelta) -> int:
    """Resolve the open alerts of ``kind`` not raised again for ``older_than``: for alerts their raiser refreshes
    while the condition lasts (a gateway process's ``rate_limit_degraded``), so that one whose raiser exited
    before it could resolve it does not stay open for ever. Returns how many were open."""
    now = ledger.utcnow()
    with engine.begin() as conn:
        return alert_store.resolve_stale(conn, kind, seen_before=now - older_than, now=now)


SYSTEM_ALERT_KINDS: tuple[AlertKind, ...] = ("sync_failed", "sync_degraded", "behind", "mapping_changed",
                                             "push_dead", "push_failed", "reconcile", "rate_limit_degraded",
                                             "task_failed", "run_timed_out", "config_invalid")
"""Kinds raised about one system of the systems file (``system`` set) and resolved only by that system's own runs
— ``task_failed`` included: the failure callback names the system of a sync DAG's tasks and of ``push_<name>`` /
``reconcile_<name>``."""


def resolve_orphaned(engine: Engine, systems: Iterable[str]) -> int:
    """Resolve the open alerts about systems no longer in the systems file (their ``sync_failed``, ``behind``,
    ``reconcile``, the ``task_failed`` of their tasks…). Only a run of that system resolved them; removed, it never
    runs again, and the deadlines DAG's ``check_alerts`` failed for ever on an alert nobody could clear."""
    names = set(systems)
    now = ledger.utcnow()
    resolved = 0
    with engine.begin() as conn:
        for kind in SYSTEM_ALERT_KINDS:
            gone = [r["key"] for r in alert_store.open_rows(conn, kind=kind)
                    if r["system"] is not None and r["system"] not in names]
            resolved += alert_store.resolve_open(conn, kind, gone, now=now) if gone else 0
    return resolved


def sync_alerts(engine: Engine, kind: AlertKind, wanted: Sequence[AlertSpec], *,
                scope: str | None = None, now: datetime | None = None) -> dict[str, int]:
    """Make the open alerts of ``kind`` (within ``scope``: a system, or all) exactly ``wanted``, as of ``now`` (the
    scan's own instant; the clock's by default).

    Used by scans that see the whole picture each time: new ones open, existing ones are refreshed (a yellow case
    turning red changes level), and open ones no longer wanted are resolved.
    """
    now = now or ledger.utcnow()
    with engine.begin() as conn:
        open_keys = alert_store.open_keys(conn, kind, system=scope)
        return apply_alerts(conn, kind, wanted, open_keys, now=now)


def item_error_alerts(engine: Engine, kind: AlertKind, errors: Mapping[str, str], message: Callable[[str, str], str],
                      *, now: datetime) -> None:
    """One error alert of ``kind`` per item a scan could not move (``errors``: its key — a case or a bundle number
    — and why; ``message(key, error)`` words it), the others' resolved: what a scan that isolates each item's
    failure says of the ones it left as they stand."""
    sync_alerts(engine, kind, [AlertSpec(key=key, level="error", case_no=key, details={"error": error},
                                         message=message(key, error)) for key, error in errors.items()], now=now)


def apply_alerts(conn: Connection, kind: str, wanted: Sequence[AlertSpec], open_keys: set[str], *,
                 now: datetime) -> dict[str, int]:
    """Within the part of ``kind`` whose open keys are ``open_keys`` (what the caller looked at: every alert of
    the kind, a system's, some cases'), open or refresh ``wanted`` and resolve the open ones not wanted."""
    alert_store.upsert_alerts(conn, kind, [_row(s) for s in wanted], now=now)
    keys = {s.key for s in wanted}
    gone = sorted(open_keys - keys)
    for start in range(0, len(gone), 500):
        alert_store.resolve_open(conn, kind, gone[start:start + 500], now=now)
    return {"open": len(wanted), "new": len(keys - open_keys), "resolved": len(gone)}


def open_alerts(engine: Engine, *, kind: str | None = None, system: str | None = None,
                limit: int | None = None, levels: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Open alerts (at ``levels``: all when empty), most urgent first: the most severe level, then the longest
    past its due time (a time limit overdue for days before one overdue for minutes), then the newest."""
    with engine.connect() as conn:
        rows = alert_store.open_rows(conn, kind=kind, system=system, levels=levels)

    def urgency(r: dict[str, Any]) -> tuple[Any, ...]:
        due = r.get("due_at")
        return (LEVEL_ORDER.get(r["level"], 9), due is None, due.timestamp() if due is not None else 0.0,
                -r["last_seen_at"].timestamp(), r["key"])

    rows.sort(key=urgency)
    for row in rows:
        row["details"] = ledger.loads(row["details"])
    return rows[:limit] if limit is not None else rows


def alert_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """``{kind: {level: open count}}``."""
    with engine.connect() as conn:
        return alert_store.open_counts(conn)


__all__ = [
    "AlertKind",
    "AlertLevel",
    "AlertSpec",
    "alert_counts",
    "apply_alerts",
    "item_error_alerts",
    "open_alerts",
    "raise_alert",
    "resolve_alerts",
    "resolve_stale_alerts",
    "sync_alerts",
]
