"""The catalogue's statements: 实施清单 entries and their versions, audit runs, tracked findings, case activity.

Every function takes a ``Connection`` the caller owns, so a harvested page (entries, versions, watermark) is
one transaction, and an audit run's findings are written with the run's counts or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, RowMapping, String, and_, bindparam, exists, func, insert, select, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from gateway.store.filters import equal_where_given
from gateway.store.tables import (
    cases,
    catalogue_audit_runs,
    catalogue_findings,
    catalogue_item_versions,
    catalogue_items,
    kpi_case_facts,
)

EntryKey = tuple[str, str, str, str]
"""(catalog_code, item_code, level, division)."""

_KEY = ("catalog_code", "item_code", "level", "division")
_ROW = (*_KEY, "source")
"""A row's key: an entry as one catalogue system lists it (another system may list the same entry)."""


def entry_states(conn: Connection, source: str) -> dict[EntryKey, RowMapping]:
    """Version, content hash, status, change time and source id of every entry of ``source`` (a catalogue is
    thousands, not millions: one read per harvest beats a lookup per page)."""
    c = catalogue_items.c
    rows = conn.execute(select(c.catalog_code, c.item_code, c.level, c.division, c.version, c.content_hash,
                               c.status, c.source_changed_at, c.source_id).where(c.source == source)).mappings()
    return {(r["catalog_code"], r["item_code"], r["level"], r["division"]): r for r in rows}


def insert_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(catalogue_items), rows)


def update_entries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Replace entries in place (same key); ``version`` is the caller's, one more than the stored one."""
    if not rows:
        return
    c = catalogue_items.c
    values = {k: bindparam(k) for k in rows[0] if k not in _ROW}
    stmt = update(catalogue_items).where(*(c[k] == bindparam("k_" + k) for k in _ROW)).values(**values)
    conn.execute(stmt, [{**r, **{"k_" + k: r[k] for k in _ROW}} for r in rows])


def retire_entries(conn: Connection, source: str, source_ids: Sequence[str], *, at: datetime) -> int:
    """Mark the active entries of ``source`` with these source ids retired (one more version); how many."""
    if not source_ids:
        return 0
    c = catalogue_items.c
    done = 0
    for start in range(0, len(source_ids), 900):
        result = conn.execute(update(catalogue_items)
                              .where(c.source == source, c.status == "active",
                                     c.source_id.in_(source_ids[start:start + 900]))
                              .values(status="retired", version=c.version + 1, updated_at=at))
        done += max(result.rowcount, 0)
    return done


def release_entry(conn: Connection, source: str, key: EntryKey, *, tombstone: str, at: datetime) -> None:
    """Retire the entry at ``key`` (one more version) and give up its source id for ``tombstone``: its source
    record now carries another key (a re-coded 实施编码, 基本编码 or division) and (source, source_id) is unique,
    so the record's new key can only be written once the old row lets go of it."""
    c = catalogue_items.c
    conn.execute(update(catalogue_items).where(c.source == source, *(c[k] == v for k, v in zip(_KEY, key, strict=True)))
                 .values(status="retired", version=c.version + 1, source_id=tombstone, updated_at=at))


def insert_versions(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(catalogue_item_versions), rows)


def entry_documents(conn: Connection, *, include_retired: bool = False) -> list[RowMapping]:
    """Every copy's key, source, change time and stored document, in key order (the audit's whole input from the
    catalogue; an entry several systems list is there once per system)."""
    c = catalogue_items.c
    stmt = select(c.catalog_code, c.item_code, c.level, c.division, c.source, c.data, c.status, c.source_changed_at)
    if not include_retired:
        stmt = stmt.where(c.status == "active")
    return list(conn.execute(stmt.order_by(c.catalog_code, c.level, c.division, c.item_code, c.source)).mappings())


class _CodePointOrder(FunctionElement[str]):
    """A text compared by code point, as Python compares it: PostgreSQL compares by the database's collation (an
    ICU ``en-US`` one puts ``gov_catalogue`` before ``SD_catalogue``), and the copy the KPIs read was then not the
    copy the audit compares."""

    type = String()
    inherit_cache = True
    name = "code_point_order"


@compiles(_CodePointOrder)
def _code_point_order(element: _CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f'({inner} COLLATE "C")' if compiler.dialect.name == "postgresql" else inner  # SQLite: BINARY already


def one_copy() -> Any:
    """The condition that keeps one active copy of each entry (that of the first source by name: the one the audit
    compares, :func:`gateway.catalogue.findings.one_of_each`) in a query over ``catalogue_items``: counts of items
    must not count an entry twice because two systems list it, and every figure reads the same copy."""
    c, other = catalogue_items.c, catalogue_items.alias("other_copy").c
    return and_(c.status == "active", ~exists().where(*(other[k] == c[k] for k in _KEY), other.status == "active",
                                                      _CodePointOrder(other.source) < _CodePointOrder(c.source)))


def entry_count(conn: Connection) -> int:
    """Active entries, each once however many systems list it."""
    return int(conn.execute(select(func.count()).select_from(catalogue_items).where(one_copy())).scalar_one())


def entry_versions(conn: Connection, item_code: str) -> list[RowMapping]:
    v = catalogue_item_versions.c
    return list(conn.execute(select(v.source, v.version, v.content_hash, v.source_changed_at, v.recorded_at)
                             .where(v.item_code == item_code).order_by(v.source, v.version)).mappings())


@dataclass(frozen=True)
class CaseActivity:
    """When a case of an item was last applied for, as far as the ledger can tell (:func:`last_case_activity`)."""

    latest: datetime
    """The latest instant it can have been: what the dormant cutoff is compared with (for a ``month``, its end —
    an application in March can have been on the 31st)."""
    month: str | None = None
    """The Beijing month ``YYYY-MM`` of the last 申请时间, when that is what is known (then ``latest`` is no time
    anyone applied, and is not to be shown); None when ``latest`` is a case's source change time."""

    @classmethod
    def applied_in(cls, month: str | None) -> CaseActivity | None:
        """The last application in Beijing month ``month``; None for a month text that is not one (a fact taken
        from an unreadable 申请时间)."""
        end = _month_end(month)
        return None if end is None or month is None else cls(end, month)


def last_case_activity(conn: Connection) -> dict[str, CaseActivity]:
    """实施编码 → when a case of that item was last applied for (长期无办件 is about applications): the latest
    Beijing month of 申请时间 among its KPI facts; for an item the facts do not date (not refreshed yet, no
    申请时间), the latest source change of a live case. A change time alone would let any touch of an old case — a
    late correction, Tongban's own writes — hide an item nobody applies for any more."""
    c, f = cases.c, kpi_case_facts.c
    applied = {code: activity for code, month in conn.execute(
        select(f.item_code, func.max(f.month)).where(f.item_code.is_not(None), f.month.is_not(None))
        .group_by(f.item_code)) if (activity := CaseActivity.applied_in(month)) is not None}
    changed = conn.execute(select(c.item_code, func.max(c.source_updated_at))
                           .where(c.deleted.is_(False), c.item_code.is_not(None)).group_by(c.item_code))
    return {**{code: CaseActivity(at) for code, at in changed if at is not None}, **applied}


def _month_end(month: str | None) -> datetime | None:
    """The first instant after Beijing month ``YYYY-MM`` (the latest an application in it can have been); None
    for a month text that is not one."""
    try:
        year, number = int((month or "")[:4]), int((month or "")[5:7])
        if not 1 <= number <= 12:
            return None
        year, number = (year + 1, 1) if number == 12 else (year, number + 1)
        return datetime(year, number, 1, tzinfo=timezone(timedelta(hours=8)))
    except ValueError:
        return None


# -- audit runs and findings ----------------------------------------------------------------------------------


def start_audit_run(conn: Connection, *, started_at: datetime, params: str) -> int:
    result = conn.execute(insert(catalogue_audit_runs).values(started_at=started_at, params=params, entries=0,
                                                              findings=0, new=0, still_open=0, fixed=0))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def finish_audit_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(catalogue_audit_runs).where(catalogue_audit_runs.c.id == run_id).values(**values))


def open_finding_keys(conn: Connection) -> set[str]:
    f = catalogue_findings.c
    return set(conn.execute(select(f.finding_key).where(f.status == "open")).scalars())


def known_finding_keys(conn: Connection, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` have a row (open or fixed), so a finding that comes back reopens its row."""
    f = catalogue_findings.c
    found: set[str] = set()
    for start in range(0, len(keys), 900):
        found.update(conn.execute(select(f.finding_key).where(f.finding_key.in_(keys[start:start + 900]))).scalars())
    return found


def insert_findings(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(catalogue_findings), rows)


def reopen_or_touch_findings(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Findings seen again: open, last seen in this run, with what the catalogue says now."""
    if not rows:
        return
    f = catalogue_findings.c
    stmt = (update(catalogue_findings).where(f.finding_key == bindparam("k_key"))
            .values(status="open", last_run=bindparam("last_run"), last_seen_at=bindparam("last_seen_at"),
                    expected=bindparam("expected"), found=bindparam("found"), message=bindparam("message"),
                    fixed_at=None))
    conn.execute(stmt, [{**r, "k_key": r["finding_key"]} for r in rows])


def mark_fixed(conn: Connection, keys: Iterable[str], *, at: datetime) -> None:
    keys = list(keys)
    if not keys:
        return
    f = catalogue_findings.c
    stmt = update(catalogue_findings).where(f.finding_key == bindparam("k_key")).values(status="fixed", fixed_at=at)
    conn.execute(stmt, [{"k_key": k} for k in keys])


def latest_audit_run(conn: Connection) -> RowMapping | None:
    r = catalogue_audit_runs.c
    return conn.execute(select(catalogue_audit_runs).where(r.finished_at.is_not(None))
                        .order_by(r.id.desc()).limit(1)).mappings().first()


def findings(conn: Connection, *, status: str | None = "open", kind: str | None = None) -> list[RowMapping]:
    f = catalogue_findings.c
    stmt = equal_where_given(select(catalogue_findings), (f.status, status), (f.kind, kind))
    return list(conn.execute(stmt.order_by(f.kind, f.catalog_code, f.level, f.division, f.element)).mappings())


def finding_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """(status, kind) → how many findings."""
    f = catalogue_findings.c
    rows = conn.execute(select(f.status, f.kind, func.count()).group_by(f.status, f.kind))
    return {(status, kind): int(n) for status, kind, n in rows}


__all__ = [
    "CaseActivity",
    "EntryKey",
    "entry_count",
    "entry_documents",
    "entry_states",
    "entry_versions",
    "finding_counts",
    "findings",
    "finish_audit_run",
    "insert_entries",
    "insert_findings",
    "insert_versions",
    "known_finding_keys",
    "last_case_activity",
    "latest_audit_run",
    "mark_fixed",
    "one_copy",
    "open_finding_keys",
    "reopen_or_touch_findings",
    "retire_entries",
    "start_audit_run",
    "update_entries",
]
