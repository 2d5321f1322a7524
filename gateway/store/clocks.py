"""The deadline scan's statements: which cases to read, when to read each again, where the scan stands.

A case is *due* when ``cases.clock_due_at <= now`` (see the column's docstring in :mod:`gateway.store.tables`):
written since the last scan (the epoch, set by the column default and a trigger), or one of its clocks changes
level by now. The scan reads due cases in batches through the partial index, evaluates them and files each one's
next instant with a compare-and-set on its version — a writer that changed the case meanwhile has marked it due
again, and that mark stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, String, bindparam, case, func, literal, select, tuple_, type_coerce, update

from gateway.store.tables import alerts, bundle_applications, cases, clock_scans

__all__ = [
    "BUNDLE_STAGE",
    "SPECIAL_STAGE",
    "CLOCK_DUE_NOW",
    "CLOCK_NEVER",
    "FLAG_GUESSED",
    "FLAG_PAUSED",
    "FLAG_RED",
    "FLAG_PAST_LIMIT_AT_BOUND",
    "FLAG_RUNNING",
    "FLAG_YELLOW",
    "OVERDUE_FLAGS",
    "clock_totals",
    "due_cases",
    "live_bundles",
    "file_next_checks",
    "mark_every_case_due",
    "open_case_alerts",
    "open_clock_alert_counts",
    "orphan_case_alerts",
    "scan_mark",
    "set_scan_mark",
]

CLOCK_DUE_NOW = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""Read at the next scan (what the trigger and the column default write)."""
CLOCK_NEVER = datetime(9999, 1, 1, tzinfo=timezone.utc)
"""A clock that only a change of the case can move (red, paused): kept in the index, for the totals."""

FLAG_RUNNING, FLAG_PAUSED, FLAG_YELLOW, FLAG_RED, FLAG_GUESSED = 1, 2, 4, 8, 16
"""``cases.clock_flags`` bits: the case clock runs, is stopped, is yellow, is red, counts a year without a
published holiday schedule."""
FLAG_PAST_LIMIT_AT_BOUND = 32
"""The case clock is stopped by a special procedure (补正 …) open past its bound, and counted as 按时办结 counts a
finished case's — each such procedure ending at its bound — it is past the limit: 超期未办结, though no case
alert says red (the procedure's own alert does)."""
OVERDUE_FLAGS = FLAG_RED | FLAG_PAST_LIMIT_AT_BOUND
"""The bits that make an open case 超期未办结 (KPI ``overdue_open_cases``)."""

_SCAN = "deadlines"


def scan_mark(conn: Connection) -> tuple[str, datetime] | None:
    """``(fingerprint, scanned_to)`` of the last scan, or None before the first."""
    row = conn.execute(select(clock_scans.c.fingerprint, clock_scans.c.scanned_to)
                       .where(clock_scans.c.name == _SCAN)).first()
    return None if row is None else (row[0], row[1])


def set_scan_mark(conn: Connection, fingerprint: str, scanned_to: datetime, now: datetime) -> None:
    values = {"fingerprint": fingerprint, "scanned_to": scanned_to, "updated_at": now}
    if conn.execute(update(clock_scans).where(clock_scans.c.name == _SCAN).values(**values)).rowcount == 0:
        conn.execute(clock_scans.insert().values(name=_SCAN, **values))


def mark_every_case_due(conn: Connection) -> int:
    """Every case read again at the next scan (a new calendar or stage plan; a scan back in time)."""
    return int(conn.execute(update(cases).values(clock_due_at=CLOCK_DUE_NOW)).rowcount)


def due_cases(conn: Connection, now: datetime, *, after: tuple[Any, str] | None, limit: int) -> list[Any]:
    """Up to ``limit`` cases due at ``now`` after the key ``(due_key, case_no)`` of the previous batch's last row,
    in index order: ``case_no, version, data, origin_system, deleted, clock_due_at, due_key``.

    ``due_key`` is ``clock_due_at`` as the database holds it, and the next batch starts after it as held: on
    SQLite a time is text, and the epoch is written in two spellings (``1970-01-01 00:00:00`` by the column
    default and the trigger, with ``.000000`` by SQLAlchemy), which sort apart. A key rebuilt from the parsed
    time is always the long one, so it skipped every short one after the first batch — more than a batch of
    changed cases between two scans were read a batch per scan."""
    c = cases.c
    held = type_coerce(c.clock_due_at, String) if conn.dialect.name == "sqlite" else c.clock_due_at
    query = (select(c.case_no, c.version, c.data, c.origin_system, c.deleted, c.clock_due_at, c.clock_flags,
                    held.label("due_key"))
             .where(c.clock_due_at.is_not(None), c.clock_due_at <= now)
             .order_by(c.clock_due_at, c.case_no).limit(limit))
    if after is not None:  # a row value: one range of the (clock_due_at, case_no, …) index, whatever the plan
        query = query.where(tuple_(held, c.case_no) > tuple_(literal(after[0], held.type), literal(after[1])))
    return list(conn.execute(query))


def file_next_checks(conn: Connection, rows: Sequence[tuple[str, int, datetime | None, int]]) -> int:
    """``(case_no, version, next_due, flags)``: when each case is read again, if it is still at that version."""
    if not rows:
        return 0
    c = cases.c
    stmt = (update(cases).where(c.case_no == bindparam("b_case_no"), c.version == bindparam("b_version"))
            .values(clock_due_at=bindparam("b_due"), clock_flags=bindparam("b_flags")))
    result = conn.execute(stmt, [{"b_case_no": n, "b_version": v, "b_due": d, "b_flags": f} for n, v, d, f in rows])
    return int(result.rowcount)


def clock_totals(conn: Connection) -> dict[int, int]:
    """``{flags: cases}`` over every case with a clock (the partial index alone)."""
    c = cases.c
    rows = conn.execute(select(c.clock_flags, func.count()).where(c.clock_due_at.is_not(None))
                        .group_by(c.clock_flags))
    return {int(flags): int(n) for flags, n in rows}


BUNDLE_STAGE = "一件事"
"""The stage a 一件事 bundle's alert names (its own limit over all its parts, ``bundle_applications.due_at``)."""
SPECIAL_STAGE = "特别程序"
"""The stage an alert about a special procedure open past its bound names (the deadline scan's)."""


def open_clock_alert_counts(conn: Connection) -> dict[tuple[str, str, str], int]:
    """``{(kind, "case" | "stage" | "special" | "bundle" | "ticket", level): open alerts}`` of the deadline scan's
    kinds (``special``: a special procedure open past its bound, stage ``特别程序``; ``bundle``: a 一件事 past its
    due time, stage ``一件事``)."""
    a = alerts.c
    # from the columns of the (status, level, kind, system, stage) index alone: a ticket's alert names a stage and
    # no system, a stage's both, a case's no stage
    part = case((a.stage == BUNDLE_STAGE, "bundle"), (a.stage.is_not(None) & a.system.is_(None), "ticket"),
                (a.stage == SPECIAL_STAGE, "special"),
                (a.stage.is_not(None), "stage"), else_="case")
    rows = conn.execute(select(a.kind, part, a.level, func.count())
                        .where(a.status == "open", a.kind.in_(["deadline", "deferred_material"]))
                        .group_by(a.kind, part, a.level))
    return {(kind, where, level): int(n) for kind, where, level, n in rows}


def open_case_alerts(conn: Connection, kinds: Iterable[str], case_nos: Sequence[str]) -> dict[tuple[str, str], str]:
    """``{(kind, key): level}`` of the open alerts of ``kinds`` about these cases (tickets excluded)."""
    a = alerts.c
    out: dict[tuple[str, str], str] = {}
    wanted = set(kinds)
    # only the case number in SQL: with (status, kind) in the WHERE clause a planner without statistics walked
    # every open deadline alert per batch (170,000 at a million cases); the few rows per case are filtered here
    for start in range(0, len(case_nos), 500):
        for kind, key, level, status in conn.execute(
                select(a.kind, a.key, a.level, a.status).where(a.case_no.in_(list(case_nos[start:start + 500])))):
            if status == "open" and kind in wanted and not key.startswith("ticket/"):
                out[(kind, key)] = level
    return out


def orphan_case_alerts(conn: Connection, kinds: Iterable[str]) -> list[tuple[str, str]]:
    """``(kind, key)`` of open case alerts whose case is no longer in the ledger (purged); a ticket's and a
    bundle's alerts name no case of the ledger and are the scan's own business."""
    a = alerts.c
    missing = ~select(cases.c.case_no).where(cases.c.case_no == a.case_no).exists()
    return [(k, key) for k, key in conn.execute(
        select(a.kind, a.key).where(a.kind.in_(list(kinds)), a.status == "open", a.case_no.is_not(None),
                                    ~a.key.startswith("ticket/"), ~a.key.startswith("bundle/"), missing))]


def live_bundles(conn: Connection) -> list[dict[str, Any]]:
    """一件事 bundles not finished nor failed that have a due time: ``bundle_no, bundle_code, applicant_name, status,
    submitted_at, due_at``, soonest due first (the deadline scan reads them all: they are few, like tickets)."""
    b = bundle_applications.c
    rows = conn.execute(select(b.bundle_no, b.bundle_code, b.applicant_name, b.status, b.submitted_at, b.due_at)
                        .where(b.status.not_in(["finished", "failed"]), b.due_at.is_not(None))
                        .order_by(b.due_at, b.bundle_no)).mappings()
    return [dict(r) for r in rows]
