"""The named read statements of supervision and reporting: ``tongban status``, the freshness check, the deadline
scan, the reconciliation, the demo's summary and ``tongban dead-letters list``.

They read the ledger and never write it. Keeping them here, named, means a reader of ``gateway.ops`` or the CLI
sees what is asked ("the last sync run of a system") and the one place that knows the schema says how; the data
path's own statements are in :mod:`gateway.store.ledger`, the queue's in :mod:`gateway.store.outbox`, the
alerts' in :mod:`gateway.store.alerts`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, RowMapping, func, select

from gateway.store.tables import cases, dead_letters, runs, source_records, watermarks

_IN_CHUNK = 900  # stays under SQLite's bound-parameter limit on old builds


# -- tongban status ------------------------------------------------------------------------------------


def watermark_cursors(conn: Connection) -> dict[tuple[str, str], datetime | None]:
    """``(system, stream) → cursor`` of every watermark."""
    return {(r.system, r.stream): r.cursor for r in conn.execute(select(watermarks))}


def open_dead_letters_by_system(conn: Connection) -> dict[str, int]:
    """``system → open dead letters`` (records and pushes), for the systems that have any."""
    return {
        system: int(count)
        for system, count in conn.execute(
            select(dead_letters.c.system, func.count())
            .where(dead_letters.c.status == "open")
            .group_by(dead_letters.c.system)
        ).tuples()
    }


def last_sync_run(conn: Connection, system: str) -> RowMapping | None:
    """The newest ``sync`` run of ``system`` (every column), or None when it never ran."""
    return conn.execute(
        select(runs).where(runs.c.system == system, runs.c.kind == "sync").order_by(runs.c.id.desc()).limit(1)
    ).mappings().first()


# -- freshness -----------------------------------------------------------------------------------------


COMPLETED_RUNS = ("succeeded", "degraded")
"""Run statuses of a sync that read its source and committed what it read."""


def last_successful_sync(conn: Connection) -> dict[str, datetime | None]:
    """``system → when its newest completed sync finished`` (succeeded or degraded), for the systems that had one.

    A degraded run read the source and committed what it read: the system is synced, its broken records are the
    ``sync_degraded`` alert's. Counted as no sync, a system synced seconds ago was "behind" — an error sending
    operators to the scheduler — while the runs brought in every change."""
    r = runs.c
    return dict(
        conn.execute(  # type: ignore[arg-type]
            select(r.system, func.max(r.finished_at))
            .where(r.kind == "sync", r.status.in_(COMPLETED_RUNS))
            .group_by(r.system)
        ).all()
    )


# -- deadlines -----------------------------------------------------------------------------------------


# -- reconciliation ------------------------------------------------------------------------------------


def source_record_states(conn: Connection, system: str, *, window: tuple[datetime, datetime] | None = None,
                         ) -> dict[str, tuple[datetime | None, str | None, str | None, bool]]:
    """``source_id → (cursor, content_hash, case_no, deleted)`` of every record the ledger holds for ``system``
    (changed at the source within ``[start, end)`` when a window is given: the ``(system, cursor)`` index)."""
    s = source_records.c
    query = select(s.source_id, s.cursor, s.content_hash, s.case_no, s.deleted).where(s.system == system)
    if window is not None:
        query = query.where(s.cursor >= window[0], s.cursor < window[1])
    return {r.source_id: (r.cursor, r.content_hash, r.case_no, r.deleted) for r in conn.execute(query)}


def record_dead_letter_ids(conn: Connection, system: str) -> set[str | None]:
    """Source ids of ``system``'s record dead letters, open or resolved (a record some sync saw and refused)."""
    d = dead_letters.c
    return set(conn.execute(select(d.source_id).where(d.system == system, d.kind == "record")).scalars())


def originated_case_hashes(conn: Connection, system: str, case_nos: Sequence[str]) -> dict[str, tuple[str, str]]:
    """``origin_source_id → (case_no, digest)`` of those of ``case_nos`` whose current version ``system``'s
    record of that source id wrote (by primary key, a chunk at a time). The digest is the writing copy's own:
    ``origin_digest`` where the version kept what another system holding the case speaks for, else the
    version's ``content_hash`` (the copy merged whole)."""
    found: dict[str, tuple[str, str]] = {}
    c = cases.c
    for start in range(0, len(case_nos), _IN_CHUNK):
        for case_no, source_id, content_hash in conn.execute(
                select(c.case_no, c.origin_source_id, func.coalesce(c.origin_digest, c.content_hash))
                .where(c.case_no.in_(case_nos[start:start + _IN_CHUNK]), c.origin_system == system)):
            found[source_id] = (case_no, content_hash)
    return found


def live_case_versions(conn: Connection, case_nos: Sequence[str]) -> list[tuple[str, int, str]]:
    """``(case_no, version, origin_system)`` of those of ``case_nos`` that are merged cases not deleted."""
    found: list[tuple[str, int, str]] = []
    for start in range(0, len(case_nos), _IN_CHUNK):
        for case_no, version, origin in conn.execute(
            select(cases.c.case_no, cases.c.version, cases.c.origin_system)
            .where(cases.c.case_no.in_(case_nos[start:start + _IN_CHUNK]), cases.c.deleted.is_(False))):
            found.append((case_no, version, origin))
    return found


# -- the demo's summary --------------------------------------------------------------------------------


def open_dead_letter_total(conn: Connection) -> int:
    """Open dead letters of every system and kind."""
    return int(conn.execute(
        select(func.count()).select_from(dead_letters).where(dead_letters.c.status == "open")).scalar_one())


def live_case_numbers(conn: Connection) -> set[str]:
    """Case numbers of every merged case not deleted."""
    return set(conn.execute(select(cases.c.case_no).where(cases.c.deleted.is_(False))).scalars())


def live_case_count(conn: Connection) -> int:
    """How many merged cases are not deleted."""
    return int(conn.execute(select(func.count()).select_from(cases).where(cases.c.deleted.is_(False))).scalar_one())


# -- tongban dead-letters list -------------------------------------------------------------------------


def dead_letter_listing(conn: Connection, *, system: str | None, include_resolved: bool,
                        limit: int, newest_first: bool = False, before: int | None = None) -> list[dict[str, Any]]:
    """The first ``limit`` dead letters by id — the oldest, or with ``newest_first`` the newest — (of ``system``;
    open ones only unless ``include_resolved``; with ``before``, those of a smaller id: the next page of a newest-
    first listing, by the primary key): ``id, kind, system, source_id, case_no, status, attempts, reason,
    mapping_version, updated_at``."""
    d = dead_letters.c
    query = select(d.id, d.kind, d.system, d.source_id, d.case_no, d.status, d.attempts, d.reason, d.mapping_version,
                   d.updated_at).order_by(d.id.desc() if newest_first else d.id).limit(limit)
    if before is not None:
        query = query.where(d.id < before)
    if system:
        query = query.where(d.system == system)
    if not include_resolved:
        query = query.where(d.status == "open")
    return [dict(r) for r in conn.execute(query).mappings()]


def dead_letter_count(conn: Connection, *, system: str | None, include_resolved: bool) -> int:
    """How many dead letters :func:`dead_letter_listing` would list without a limit."""
    d = dead_letters.c
    query = select(func.count()).select_from(dead_letters)
    if system:
        query = query.where(d.system == system)
    if not include_resolved:
        query = query.where(d.status == "open")
    return int(conn.execute(query).scalar_one())


def dead_letter_issues(conn: Connection, *, system: str | None, include_resolved: bool) -> Iterator[RowMapping]:
    """``id, system, kind, source_id, issues, reason`` of every dead letter (of ``system``; open ones unless
    ``include_resolved``), streamed: grouping them by rule reads each once and holds none."""
    d = dead_letters.c
    query = select(d.id, d.system, d.kind, d.source_id, d.issues, d.reason).order_by(d.id)
    if system:
        query = query.where(d.system == system)
    if not include_resolved:
        query = query.where(d.status == "open")
    yield from conn.execution_options(yield_per=2000).execute(query).mappings()


def case_dead_letters(conn: Connection, case_no: str) -> Sequence[Row[Any]]:
    """The dead letters filed under a case number (open first, then the newest): ``id, system, source_id, status,
    reason``."""
    d = dead_letters.c
    return conn.execute(select(d.id, d.system, d.source_id, d.status, d.reason).where(d.case_no == case_no)
                        .order_by(d.status != "open", d.id.desc()).limit(50)).all()


def dead_letter(conn: Connection, dead_letter_id: int) -> RowMapping | None:
    """One dead letter, every column (the raw payload as stored: it may be sealed)."""
    return conn.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id)).mappings().first()


__all__ = [
    "case_dead_letters",
    "dead_letter",
    "dead_letter_issues",
    "dead_letter_listing",
    "dead_letter_count",
    "last_successful_sync",
    "last_sync_run",
    "live_case_count",
    "live_case_numbers",
    "live_case_versions",
    "open_dead_letter_total",
    "open_dead_letters_by_system",
    "originated_case_hashes",
    "record_dead_letter_ids",
    "source_record_states",
    "watermark_cursors",
]
