"""The named reads of the ops console (``gateway.console``): run history for the charts, the outbox queue by
target and status, the latest reconciliation per system, and the certificate gateway's uses from the audit log.

Read-only. Each statement is bounded (a window of time or a row limit, all grouped in the database) so a page
costs the same on a ledger of a thousand cases and of a million.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, and_, case, func, or_, select

from gateway.store.tables import (
    RECONCILIATION_PROBLEMS,
    api_clients,
    audit_log,
    citizen_outbox,
    outbox,
    reconciliations,
    runs,
)


def sync_totals_by_system(conn: Connection, *, since: datetime) -> list[dict[str, Any]]:
    """Per system, the sync runs started since ``since`` summed in the database (``runs``, ``read``,
    ``inserted``, ``updated``, ``rejected``): the "records synced" chart covers the whole window however many
    runs it holds (ten systems every five minutes are 2,000 runs a week), in one grouped read."""
    r = runs.c
    rows = conn.execute(
        select(r.system, func.count().label("runs"),
               *(func.coalesce(func.sum(column), 0).label(column.name)
                 for column in (r.read, r.inserted, r.updated, r.rejected)))
        .where(r.kind == "sync", r.started_at >= since)
        .group_by(r.system)
        .order_by(r.system)
    ).mappings()
    return [{key: (value if key == "system" else int(value)) for key, value in row.items()} for row in rows]


def outbox_by_target_and_status(conn: Connection) -> dict[str, dict[str, Any]]:
    """``{target: {"queue": "cases" | "citizen", status: rows, ..., "oldest_pending_at": when}}`` of what is still
    the queues' business (the case outbox by target system, the citizen outbox by its targets, ``provincial_pj`` and
    ``hotline``):
    ``pending`` and ``dead`` rows, and when the oldest pending one was queued. Delivered and superseded rows are
    history (millions on a big ledger); counting them would scan the table on every page view, so the console
    does not (the ``(status, next_attempt_at)`` index serves these two)."""
    o, c = outbox.c, citizen_outbox.c
    counts: dict[str, dict[str, Any]] = {}
    # the cases' queue by target system, and the citizen processes' own (好差评 to the province, 12345 messages to the
    # hotline platform: a first read's history waits there too, and nothing else showed it)
    for queue, query in (("cases", select(o.target_system, o.status, func.count(), func.min(o.created_at))
                          .where(o.status.in_(("pending", "dead"))).group_by(o.target_system, o.status)),
                         ("citizen", select(c.target, c.status, func.count(), func.min(c.created_at))
                          .where(c.status.in_(("pending", "dead"))).group_by(c.target, c.status))):
        for target, status, n, oldest in conn.execute(query).tuples():
            entry = counts.setdefault(target, {"queue": queue, "oldest_pending_at": None})
            entry[status] = int(n)
            if status == "pending":
                entry["oldest_pending_at"] = oldest
    return counts


_RECONCILED_COUNTS = ("source_count", "ledger_count", "hall_expected", "hall_count", "matched", "missing_in_ledger",
                      "divergent", "extra_in_ledger", "rejected", "unrecorded_rejections", "missing_in_hall",
                      "stale_in_hall")


def latest_reconciliations(conn: Connection) -> list[dict[str, Any]]:
    """Each system's newest reconciliation run, systems in name order: its counts summed over every day it checked
    (a run stores one row per day: the newest row alone showed the last of 27 days, and a difference on any other
    day of the run was not in the panel), the days it covered (``days``, ``first_day``, ``last_day``) and how many
    of them were not in order (``days_with_problems``)."""
    c = reconciliations.c
    newest = select(c.system, func.max(c.checked_at).label("checked_at")).group_by(c.system).subquery()
    troubled = case((sum((getattr(c, name) for name in RECONCILIATION_PROBLEMS[1:]),
                         getattr(c, RECONCILIATION_PROBLEMS[0])) > 0, 1), else_=0)
    rows = conn.execute(
        select(c.system, c.checked_at, func.count().label("days"), func.min(c.day).label("first_day"),
               func.max(c.day).label("last_day"), func.sum(troubled).label("days_with_problems"),
               *(func.sum(getattr(c, name)).label(name) for name in _RECONCILED_COUNTS))
        .join(newest, and_(c.system == newest.c.system, c.checked_at == newest.c.checked_at))
        .group_by(c.system, c.checked_at)
        .order_by(c.system)
    ).mappings()
    out = []
    for row in rows:
        entry = {k: (int(v) if k in _RECONCILED_COUNTS or k in ("days", "days_with_problems") else v)
                 for k, v in row.items()}
        entry["day"] = entry["first_day"] if entry["days"] == 1 else f"{entry['first_day']}…{entry['last_day']}"
        out.append(entry)
    return out


def first_audit_seq_since(conn: Connection, since: datetime) -> int | None:
    """The first audit-log ``seq`` written at or after ``since``, found by bisecting the primary key (the log is
    append-only, written in time order): about 25 indexed lookups on a log of millions, where filtering on the
    unindexed ``at`` would read the whole log on every page view. ``None`` when nothing is that recent."""
    a = audit_log.c
    low, high = conn.execute(select(func.min(a.seq), func.max(a.seq))).one()
    if high is None or conn.execute(select(a.at).where(a.seq == high)).scalar_one() < since:
        return None
    while low < high:
        middle = (low + high) // 2
        at = conn.execute(select(a.at).where(a.seq >= middle).order_by(a.seq).limit(1)).scalar_one()
        if at >= since:
            high = middle
        else:
            low = middle + 1
    return int(low)


def certificate_uses_by_action(conn: Connection, *, first: int | None) -> dict[str, dict[str, int]]:
    """``{action: {outcome: entries}}`` of the audit log from seq ``first`` on (:func:`first_audit_seq_since`;
    ``None``: nothing that recent) — releases, denials, ..."""
    a = audit_log.c
    if first is None:
        return {}
    counts: dict[str, dict[str, int]] = {}
    for action, outcome, n in conn.execute(
        select(a.action, a.outcome, func.count()).where(a.seq >= first).group_by(a.action, a.outcome)
    ).tuples():
        counts.setdefault(action, {})[outcome] = int(n)
    return counts


def certificate_uses_by_client(conn: Connection, *, first: int | None, limit: int = 20) -> list[dict[str, Any]]:
    """Which departments used certificates from seq ``first`` on: ``client_id``, entries, releases, denials, and
    the client's ``client_name`` and ``department_code`` from ``api_clients`` (``None`` for a caller that is not a
    registered client, e.g. the gateway's own ``tongban.bundle``).

    A release is counted once however many hold the certificate: each co-holder's entry of a jointly held one
    (its detail says ``co-holder:``) tells that holder, it is not another release. A denial is any refused
    attempt (``denied:…``, whatever the action: a query, a fetch, a verification), one per holder it was on."""
    a = audit_log.c
    if first is None:
        return []
    released = func.sum(and_(a.outcome == "released", or_(a.detail.is_(None), ~a.detail.contains("co-holder:")))
                        .cast(Integer))
    denied = func.sum(a.outcome.startswith("denied:").cast(Integer))
    used = (
        select(a.client_id, func.count().label("entries"), released.label("released"), denied.label("denied"))
        .where(a.seq >= first, a.client_id.is_not(None))
        .group_by(a.client_id)
        .order_by(func.count().desc())
        .limit(limit)
        .subquery()
    )
    c = api_clients.c
    rows = conn.execute(  # the twenty busiest, then their names: the join costs twenty primary-key lookups
        select(used.c.client_id, c.name.label("client_name"), c.department_code, used.c.entries, used.c.released,
               used.c.denied)
        .select_from(used.outerjoin(api_clients, c.client_id == used.c.client_id))
        .order_by(used.c.entries.desc(), used.c.client_id)
    ).mappings()
    return [{k: (v if k in ("client_id", "client_name", "department_code") else int(v or 0)) for k, v in row.items()}
            for row in rows]


def recent_certificate_uses(conn: Connection, *, limit: int = 15) -> list[dict[str, Any]]:
    """The newest audit entries (no holder reference: the console shows who used what, not whose), with the
    client's ``client_name`` and ``department_code`` where it is a registered client."""
    a, c = audit_log.c, api_clients.c
    newest = (select(a.seq, a.at, a.action, a.outcome, a.client_id, a.certificate, a.item_code)
              .order_by(a.seq.desc()).limit(limit).subquery())
    rows = conn.execute(
        select(*newest.c, c.name.label("client_name"), c.department_code)
        .select_from(newest.outerjoin(api_clients, c.client_id == newest.c.client_id))
        .order_by(newest.c.seq.desc())
    ).mappings()
    return [dict(row) for row in rows]


__all__ = ["certificate_uses_by_action", "certificate_uses_by_client", "first_audit_seq_since",
           "latest_reconciliations", "outbox_by_target_and_status", "recent_certificate_uses", "sync_totals_by_system"]
