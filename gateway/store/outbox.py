"""The outbox, the push job's work queue (DESIGN.md step 6): its statuses and every statement that reads or
moves its rows.

Rows are queued by the ingest transaction (:func:`gateway.store.ledger.add_outbox`, the hot write path); from
then on only the statements here touch them: the push job takes the due rows, supersedes, delivers, retries and
dead-letters them; a dead-letter replay re-queues them; status screens, the Airflow push DAG, the reconciliation
and the demo count them. A status is always an :data:`OutboxStatus`, never a string typed at the call site.

Every function takes the ``Connection`` of a transaction the caller owns: the push job marks each row in its
own transaction right after the target accepted it, and that choice stays with the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import Connection, Row, func, select, update

from gateway.store.db import rare
from gateway.store.ledger import utcnow
from gateway.store.tables import cases, outbox

OutboxStatus = Literal["pending", "delivered", "superseded", "dead"]
"""Where an outbox row stands: ``pending`` (queued, or backing off until ``next_attempt_at``), ``delivered``
(the target accepted it, ``result`` says how), ``superseded`` (a newer version of the case took its place) or
``dead`` (given up; a ``push`` dead letter says why, and ``dead-letters replay`` makes it pending again)."""

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
SUPERSEDED: Final = "superseded"
DEAD: Final = "dead"

OUTBOX_STATUSES: Final[tuple[OutboxStatus, ...]] = (PENDING, DELIVERED, SUPERSEDED, DEAD)

_IN_CHUNK = 900  # stays under SQLite's bound-parameter limit on old builds


# -- the push job ---------------------------------------------------------------------------------------


def due_rows(conn: Connection, target: str, *, now: datetime, limit: int) -> list[dict[str, Any]]:
    """The oldest pending rows for ``target`` whose back-off is over: ``id, case_no, version, operation, attempts``."""
    o = outbox.c
    return [dict(r) for r in conn.execute(
        select(o.id, o.case_no, o.version, o.operation, o.attempts)
        .where(o.target_system == target, o.status == PENDING, o.next_attempt_at <= now)
        .order_by(o.id)
        .limit(limit)
    ).mappings()]


def supersede(conn: Connection, row_ids: Sequence[int]) -> None:
    """Mark rows superseded: a newer version of the same case is queued in their place."""
    conn.execute(update(outbox).where(outbox.c.id.in_(row_ids)).values(status=SUPERSEDED))


def current_cases(conn: Connection, case_nos: Sequence[str]) -> dict[str, Row[Any]]:
    """``case_no → (case_no, version, data)`` of the merged cases the rows are about (absent: no longer held)."""
    return {
        r.case_no: r
        for r in conn.execute(
            select(cases.c.case_no, cases.c.version, cases.c.data).where(cases.c.case_no.in_(case_nos))
        )
    }


def has_newer_row(conn: Connection, target: str, case_no: str, version: int) -> bool:
    """Whether ``target`` has a row queued for a later version of ``case_no`` (in any status)."""
    o = outbox.c
    return (
        conn.execute(
            select(o.id).where(o.target_system == target, o.case_no == case_no, o.version > version).limit(1)
        ).first()
        is not None
    )


def finish(conn: Connection, row_id: int, status: OutboxStatus, *, result: str | None = None,
           error: str | None = None) -> None:
    """Close a row: ``delivered`` (stamped now, with the target's ``result``), ``superseded`` or ``dead``."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id)
        .values(status=status, result=result, last_error=error,
                delivered_at=utcnow() if status == DELIVERED else None)
    )


def schedule_retry(conn: Connection, row_id: int, *, attempts: int, error: str, next_attempt_at: datetime) -> None:
    """Keep a row pending after a transient failure, not to be tried again before ``next_attempt_at``."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id)
        .values(attempts=attempts, last_error=error, next_attempt_at=next_attempt_at)
    )


def mark_dead(conn: Connection, row_id: int, *, reason: str, attempts: int) -> None:
    """Give up on a row (the caller writes its ``push`` dead letter in the same transaction)."""
    conn.execute(update(outbox).where(outbox.c.id == row_id).values(status=DEAD, last_error=reason,
                                                                     attempts=attempts))


def requeue(conn: Connection, row_id: int) -> None:
    """Make a dead row pending again, due now, with its attempts counted afresh (``dead-letters replay``)."""
    conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id)
        .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), last_error=None)
    )


# -- counting and reading the queue ---------------------------------------------------------------------


def count_with_status(conn: Connection, status: OutboxStatus, *, target: str | None = None) -> int:
    """How many rows are in ``status`` (for ``target``, or for every target)."""
    o = outbox.c
    where = ([o.target_system == target] if target is not None else []) + [o.status == status]
    return int(conn.execute(select(func.count()).select_from(outbox).where(*where)).scalar_one())


def pending_count(conn: Connection, *, target: str | None = None) -> int:
    """Rows still to deliver (to ``target``, or to every target): the push report's and the demo's queue."""
    return count_with_status(conn, PENDING, target=target)


def pending_by_target(conn: Connection) -> dict[str, int]:
    """``target → pending rows``, for the targets that have any (``tongban status``, the Airflow push DAG)."""
    o = outbox.c
    return {
        target: int(count)
        for target, count in conn.execute(
            select(o.target_system, func.count()).where(rare(conn, o.status == PENDING)).group_by(o.target_system)
        ).tuples()
    }


def live_cases_after(conn: Connection, after: str, limit: int) -> list[Row[Any]]:
    """The next ``limit`` live (not deleted) merged cases by case number after ``after``: ``case_no, version,
    dept_code, origin_system`` (a backfill pages through them)."""
    c = cases.c
    return list(conn.execute(select(c.case_no, c.version, c.dept_code, c.origin_system)
                             .where(c.case_no > after, c.deleted.is_(False)).order_by(c.case_no).limit(limit)))


def queued_versions(conn: Connection, target: str, case_nos: Sequence[str]) -> set[tuple[str, int]]:
    """``(case_no, version)`` of every outbox row for ``target`` about these cases, whatever its status."""
    o = outbox.c
    found: set[tuple[str, int]] = set()
    for start in range(0, len(case_nos), _IN_CHUNK):
        found.update((r.case_no, r.version) for r in conn.execute(
            select(o.case_no, o.version).where(o.target_system == target,
                                               o.case_no.in_(case_nos[start:start + _IN_CHUNK]))))
    return found


def queued_case_nos(conn: Connection, target: str) -> set[str]:
    """Case numbers with a row pending for ``target``: on their way there, not lost (the reconciliation)."""
    o = outbox.c
    return set(conn.execute(select(o.case_no).where(o.target_system == target, o.status == PENDING)).scalars())


def delivered_versions(conn: Connection, target: str, case_nos: Sequence[str]) -> dict[str, int]:
    """``case_no → newest version delivered to target as an upsert``: the push receipts standing for the
    target's own view when it cannot be asked (the reconciliation)."""
    o = outbox.c
    held: dict[str, int] = {}
    for start in range(0, len(case_nos), _IN_CHUNK):
        chunk = case_nos[start:start + _IN_CHUNK]
        for case_no, version in conn.execute(
            select(o.case_no, func.max(o.version))
            .where(o.target_system == target, o.status == DELIVERED, o.operation == "upsert",
                   o.case_no.in_(chunk))
            .group_by(o.case_no)
        ):
            held[case_no] = int(version)
    return held


__all__ = [
    "DEAD",
    "DELIVERED",
    "OUTBOX_STATUSES",
    "OutboxStatus",
    "PENDING",
    "SUPERSEDED",
    "count_with_status",
    "current_cases",
    "delivered_versions",
    "due_rows",
    "finish",
    "has_newer_row",
    "mark_dead",
    "pending_by_target",
    "pending_count",
    "queued_case_nos",
    "requeue",
    "schedule_retry",
    "supersede",
]
