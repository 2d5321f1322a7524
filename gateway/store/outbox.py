"""The outbox, the push job's work queue (DESIGN.md step 6): its statuses and every statement that reads or
moves its rows.

Rows are queued by the ingest transaction (:func:`gateway.store.ledger.add_outbox`, the hot write path); from
then on only the statements here touch them: the push job takes the due rows, supersedes, delivers, retries and
dead-letters them; a dead-letter replay re-queues them; status screens, the Airflow push DAG, the reconciliation
and the demo count them. A status is always an :data:`OutboxStatus`, never a string typed at the call site.

Every function takes the ``Connection`` of a transaction the caller owns: the push job marks each row in its
own transaction right after the target accepted it, and that choice stays with the caller. The push job's moves
(supersede, finish, retry, dead) are compare-and-set: they move a row only while it is still ``pending`` and say
whether they did, so a drain that was overtaken (its lease expired mid-write and another drain took over) cannot
write ``delivered`` over the other's ``superseded``, nor back off a row the other delivered.

A target that asked to be left alone for a while (HTTP 429/503 with a ``Retry-After`` past the transport's own
wait) has a not-before instant here (:func:`target_wait`), kept in the ``watermarks`` table under the system
``~push:<target>`` as the KPI refresh and the mapping mark keep theirs: drains are separate processes, and every
later one must honour it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from gateway.store.db import rare
from gateway.store.ledger import utcnow
from gateway.store.tables import cases, dead_letters, outbox, source_records, watermarks

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


def due_rows(conn: Connection, target: str, *, now: datetime, limit: int, failed_only: bool = False
             ) -> list[dict[str, Any]]:
    """The pending rows for ``target`` whose back-off is over, those never tried first, then oldest first:
    ``id, case_no, version, operation, attempts``. Rows a target failed on go last: a few cases it keeps refusing
    with a 500 (a record its code cannot take) came first on every drain, failed three in a row and stopped it
    as "target down", holding back every other case for hours. (Versions of one case need no order here: only
    the newest is ever sent.) ``failed_only``: rows the target failed on (a probe of a target that may be down;
    not a row held back without an attempt). Each row also says when it was due (``next_attempt_at``)."""
    o = outbox.c
    return [dict(r) for r in conn.execute(
        select(o.id, o.case_no, o.version, o.operation, o.attempts, o.next_attempt_at)
        .where(o.target_system == target, o.status == PENDING, o.next_attempt_at <= now,
               *([o.attempts > 0] if failed_only else []))
        .order_by(o.attempts > 0, o.id)
        .limit(limit)
    ).mappings()]


def supersede(conn: Connection, row_ids: Sequence[int]) -> int:
    """Mark rows superseded: a newer version of the same case is queued in their place. Only rows still pending
    move; returns how many did."""
    moved = 0
    for start in range(0, len(row_ids), _IN_CHUNK):
        moved += conn.execute(update(outbox).where(outbox.c.id.in_(row_ids[start:start + _IN_CHUNK]),
                                                   outbox.c.status == PENDING)
                              .values(status=SUPERSEDED)).rowcount
    return moved


def send_check(conn: Connection, row_id: int, target: str, case_no: str) -> tuple[str | None, int | None]:
    """Right before a row is sent: ``(its status now, the newest version queued for its case and target)``
    (``(None, None)``: the row is gone). A drain sends a row only while it is pending and the newest; a stale
    in-memory batch (another drain ran meanwhile) must not send an older version over a newer one."""
    o = outbox.c
    status = conn.execute(select(o.status).where(o.id == row_id)).scalar_one_or_none()
    newest = conn.execute(select(func.max(o.version)).where(o.target_system == target, o.case_no == case_no)
                          ).scalar_one_or_none()
    return status, None if newest is None else int(newest)


def current_cases(conn: Connection, case_nos: Sequence[str]) -> dict[str, Row[Any]]:
    """``case_no → (case_no, version, data)`` of the merged cases the rows are about (absent: no longer held)."""
    return {
        r.case_no: r
        for r in conn.execute(
            select(cases.c.case_no, cases.c.version, cases.c.data).where(cases.c.case_no.in_(case_nos))
        )
    }


def finish(conn: Connection, row_id: int, status: OutboxStatus, *, result: str | None = None,
           error: str | None = None) -> bool:
    """Close a pending row: ``delivered`` (stamped now, with the target's ``result``), ``superseded`` or ``dead``.
    Compare-and-set: a row another drain already closed keeps its status; returns whether this one moved it."""
    return conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id, outbox.c.status == PENDING)
        .values(status=status, result=result, last_error=error,
                delivered_at=utcnow() if status == DELIVERED else None)
    ).rowcount == 1


def schedule_retry(conn: Connection, row_id: int, *, attempts: int, error: str, next_attempt_at: datetime) -> bool:
    """Keep a pending row pending after a transient failure, not to be tried again before ``next_attempt_at``
    (a row another drain closed meanwhile stays closed: returns False)."""
    return conn.execute(
        update(outbox)
        .where(outbox.c.id == row_id, outbox.c.status == PENDING)
        .values(attempts=attempts, last_error=error, next_attempt_at=next_attempt_at)
    ).rowcount == 1


def mark_dead(conn: Connection, row_id: int, *, reason: str, attempts: int) -> bool:
    """Give up on a pending row (the caller writes its ``push`` dead letter in the same transaction, only when
    this returns True: a row another drain closed meanwhile is not dead)."""
    return conn.execute(update(outbox).where(outbox.c.id == row_id, outbox.c.status == PENDING)
                        .values(status=DEAD, last_error=reason, attempts=attempts)).rowcount == 1


# -- a target's own "come back later" -------------------------------------------------------------------

_WAIT_STREAM = "not_before"


def _wait_mark(target: str) -> str:
    return f"~push:{target}"[:64]


def target_wait(conn: Connection, target: str) -> tuple[datetime, str] | None:
    """``(not before, why)`` when ``target`` asked to be left alone (its Retry-After), else None."""
    w = watermarks.c
    row = conn.execute(select(w.cursor, w.checkpoint).where(w.system == _wait_mark(target),
                                                            w.stream == _WAIT_STREAM)).first()
    if row is None or row.cursor is None:
        return None
    return row.cursor, row.checkpoint or ""


def set_target_wait(conn: Connection, target: str, until: datetime, reason: str) -> None:
    """Leave ``target`` alone until ``until`` (a later instant already kept stays: the longest wait asked wins)."""
    kept = target_wait(conn, target)
    if kept is not None and kept[0] >= until:
        return
    w = watermarks.c
    values = {"cursor": until, "checkpoint": reason[:2000], "updated_at": utcnow()}
    done = conn.execute(update(watermarks).where(w.system == _wait_mark(target), w.stream == _WAIT_STREAM)
                        .values(**values))
    if done.rowcount == 0:
        conn.execute(insert(watermarks).values(system=_wait_mark(target), stream=_WAIT_STREAM, **values))


def clear_target_wait(conn: Connection, target: str) -> None:
    """``target`` accepted a write again: no wait kept for it."""
    w = watermarks.c
    conn.execute(delete(watermarks).where(w.system == _wait_mark(target), w.stream == _WAIT_STREAM))


def release_target_wait(conn: Connection, target: str, now: datetime) -> int:
    """An operator overrides ``target``'s wait (``tongban push --ignore-wait``): the wait is dropped and the rows it
    parked — the one that received the Retry-After, backed off until the wait's end, and any due no later — are due
    at ``now``; a row backed off further on its own account keeps its back-off. Returns the rows released."""
    kept = target_wait(conn, target)
    clear_target_wait(conn, target)
    if kept is None:
        return 0
    o = outbox.c
    return max(conn.execute(update(outbox).where(o.target_system == target, o.status == PENDING,
                                                 o.next_attempt_at > now, o.next_attempt_at <= kept[0])
                            .values(next_attempt_at=now)).rowcount, 0)


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


def held_by_target(conn: Connection, target: str, case_nos: Sequence[str]) -> set[str]:
    """Of ``case_nos``, those ``target`` holds as far as the ledger knows: a record of the case read from it, or an
    upsert of the case delivered to it. A case it does not hold has nothing there a write could replace."""
    s, o = source_records.c, outbox.c
    held: set[str] = set()
    for start in range(0, len(case_nos), _IN_CHUNK):
        chunk = list(case_nos[start:start + _IN_CHUNK])
        held.update(r[0] for r in conn.execute(
            select(s.case_no).where(s.system == target, s.case_no.in_(chunk)).union(
                select(o.case_no).where(o.target_system == target, o.status == DELIVERED, o.operation == "upsert",
                                        o.case_no.in_(chunk)))))
    return held


def unread_at_target(conn: Connection, target: str, case_nos: Sequence[str]) -> set[str]:
    """Of ``case_nos``, those whose record at ``target`` Tongban could not read the last time it came (an open
    record dead letter of the target naming the case, or of the record it holds the case under): what the target
    holds of them now is unknown, and a write that replaces the record would erase it."""
    s, d = source_records.c, dead_letters.c
    unread: set[str] = set()
    for start in range(0, len(case_nos), _IN_CHUNK):
        chunk = list(case_nos[start:start + _IN_CHUNK])
        named = select(d.case_no).where(d.system == target, d.kind == "record", d.status == "open",
                                        d.case_no.in_(chunk))
        under = (select(s.case_no).join(dead_letters, (d.system == s.system) & (d.source_id == s.source_id))
                 .where(s.system == target, s.case_no.in_(chunk), d.kind == "record", d.status == "open"))
        unread.update(r[0] for r in conn.execute(named.union(under)))
    return unread


__all__ = [
    "DEAD",
    "DELIVERED",
    "OUTBOX_STATUSES",
    "PENDING",
    "SUPERSEDED",
    "OutboxStatus",
    "clear_target_wait",
    "count_with_status",
    "current_cases",
    "delivered_versions",
    "due_rows",
    "finish",
    "held_by_target",
    "release_target_wait",
    "mark_dead",
    "pending_by_target",
    "pending_count",
    "queued_case_nos",
    "requeue",
    "schedule_retry",
    "send_check",
    "set_target_wait",
    "supersede",
    "unread_at_target",
    "target_wait",
]
