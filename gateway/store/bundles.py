"""Every statement of the 一件事 bundles (issue 15): applications, their materials stored once, their parts, and the
cases Tongban itself writes for the parts.

Parts and bundles move by compare-and-set (``UPDATE … WHERE state = :expected``), in the same transaction as the
case and outbox rows a move writes: two scans racing over one bundle — a DAG run and a CLI run, or a task retried
after a crash — cannot both release a part, so each department system gets each part once. Each function takes
the ``Connection`` of a transaction the caller owns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update

from gateway.store.ledger import insert_cases
from gateway.store.tables import bundle_applications, bundle_materials, bundle_parts

__all__ = ["applications", "bundle_by_reference", "count_live_bundles", "get_application", "insert_application",
           "insert_case", "insert_materials", "insert_parts", "live_bundles", "material", "material_index", "move_part",
           "parts_of", "set_status"]

FINAL = ("finished", "failed")


def bundle_by_reference(conn: Connection, bundle_code: str, reference: str,
                        submitted_by: str | None = "") -> tuple[str, str | None] | None:
    """``(bundle_no, application_sha256)`` of the bundle ``submitted_by`` already applied for under its own number
    ``reference``, if any; ``submitted_by=None``: whoever submitted it (the operator's view)."""
    a = bundle_applications.c
    query = select(a.bundle_no, a.application_sha256).where(a.bundle_code == bundle_code, a.reference == reference)
    if submitted_by is not None:
        query = query.where(a.submitted_by == submitted_by)
    row = conn.execute(query.order_by(a.submitted_at).limit(1)).first()
    return (row[0], row[1]) if row else None


def insert_application(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(bundle_applications).values(**row))


def insert_materials(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(bundle_materials), rows)


def insert_parts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(bundle_parts), rows)


def insert_case(conn: Connection, row: dict[str, Any]) -> None:
    """A part's case, born in Tongban (no source system has it yet): version 1 of the merged case."""
    insert_cases(conn, [row])


def get_application(conn: Connection, bundle_no: str) -> dict[str, Any] | None:
    row = conn.execute(select(bundle_applications).where(bundle_applications.c.bundle_no == bundle_no)).mappings().first()
    return dict(row) if row else None


def applications(conn: Connection, *, statuses: Iterable[str] | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Applications, newest first (all, or those in ``statuses``)."""
    a = bundle_applications.c
    query = select(bundle_applications).order_by(a.submitted_at.desc(), a.bundle_no).limit(limit)
    if statuses is not None:
        query = query.where(a.status.in_(list(statuses)))
    return [dict(r) for r in conn.execute(query).mappings()]


def live_bundles(conn: Connection, *, after: tuple[datetime, str] | None = None,
                 limit: int = 500) -> list[tuple[str, datetime]]:
    """One page of the bundles not finished or failed, oldest first, as ``(bundle_no, submitted_at)``: those
    after ``after`` (the last pair of the page before, keyset paging: a bundle that finishes meanwhile shifts
    nothing). The scan's working set, page by page."""
    a = bundle_applications.c
    query = select(a.bundle_no, a.submitted_at).where(a.status.not_in(FINAL))
    if after is not None:
        at, number = after
        query = query.where(or_(a.submitted_at > at, and_(a.submitted_at == at, a.bundle_no > number)))
    return [(r[0], r[1]) for r in conn.execute(query.order_by(a.submitted_at, a.bundle_no).limit(limit))]


def count_live_bundles(conn: Connection) -> int:
    """How many bundles are not finished or failed (all of them, one COUNT)."""
    a = bundle_applications.c
    return int(conn.execute(select(func.count()).select_from(bundle_applications)
                            .where(a.status.not_in(FINAL))).scalar_one())


def bundle_status_counts(conn: Connection) -> dict[str, int]:
    """``{status: n}`` over every bundle (one GROUP BY), not over a page of them."""
    a = bundle_applications.c
    rows = conn.execute(select(a.status, func.count()).group_by(a.status))
    return {str(status): int(n) for status, n in rows}


def parts_of(conn: Connection, bundle_no: str) -> list[dict[str, Any]]:
    p = bundle_parts.c
    return [dict(r) for r in conn.execute(select(bundle_parts).where(p.bundle_no == bundle_no)
                                          .order_by(p.released_at, p.part)).mappings()]


def material_index(conn: Connection, bundle_no: str) -> list[dict[str, Any]]:
    """The materials of a bundle without their content: ``code, name, sha256, size, media_type``."""
    m = bundle_materials.c
    return [dict(r) for r in conn.execute(select(m.code, m.name, m.sha256, m.size, m.media_type)
                                          .where(m.bundle_no == bundle_no).order_by(m.code)).mappings()]


def material(conn: Connection, bundle_no: str, code: str) -> dict[str, Any] | None:
    """One stored material with its content (base64, sealed when keys exist), or None."""
    m = bundle_materials.c
    row = conn.execute(select(bundle_materials).where(m.bundle_no == bundle_no, m.code == code)).mappings().first()
    return dict(row) if row else None


def move_part(conn: Connection, bundle_no: str, part: str, *, expected: str, if_seen: int | None = None,
              **values: Any) -> bool:
    """Compare-and-set: update the part only if it is still in state ``expected`` (and, when given, was last seen
    at version ``if_seen`` of its case); True if this call did."""
    p = bundle_parts.c
    query = update(bundle_parts).where(p.bundle_no == bundle_no, p.part == part, p.state == expected)
    if if_seen is not None:
        query = query.where(p.seen_version == if_seen)
    return bool(conn.execute(query.values(**values)).rowcount)


def set_status(conn: Connection, bundle_no: str, *, expected: str, **values: Any) -> bool:
    """Compare-and-set on the bundle's status: a transition is logged once, by the scan that made it."""
    a = bundle_applications.c
    result = conn.execute(update(bundle_applications)
                          .where(a.bundle_no == bundle_no, a.status == expected).values(**values))
    return bool(result.rowcount)


def cases_by_number(conn: Connection, case_nos: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``case_no → {version, data (text), origin_system, deleted}`` of the given cases."""
    from gateway.store.tables import cases

    c = cases.c
    if not case_nos:
        return {}
    rows = conn.execute(select(c.case_no, c.version, c.data, c.origin_system, c.deleted)
                        .where(c.case_no.in_(list(case_nos)))).mappings()
    return {r["case_no"]: dict(r) for r in rows}


def touch(conn: Connection, bundle_no: str, at: datetime) -> None:
    conn.execute(update(bundle_applications).where(bundle_applications.c.bundle_no == bundle_no)
                 .values(updated_at=at))


__all__ += ["cases_by_number", "touch"]
