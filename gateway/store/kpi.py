"""The KPIs' statements: per-case contribution rows, their watermark, and the GROUP BY that sums them.

The refresh reads only cases whose version differs from the one their contribution row was computed from
(a join on ``kpi_case_facts``, bounded below by the watermark — and, once an hour, not bounded: the sweep that
catches a case whose writer stamped an ``updated_at`` older than the watermark), page by page in case-number order,
so its cost follows what changed and its memory one page; the KPIs are then one grouped scan of the narrow
contribution table, never of the case documents. Nothing is added to the write path: no trigger, no change log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    String,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from gateway.models.codes import CaseResult
from gateway.store.catalogue import one_copy
from gateway.store.clocks import OVERDUE_FLAGS
from gateway.store.documents import document_field_sql
from gateway.store.tables import audit_log, cases, catalogue_items, kpi_case_facts, watermarks

__all__ = ["DEAD_RESULTS", "DIMENSIONS", "ITEM_DIMENSIONS", "aggregate", "catalogue_mark", "changed_cases",
           "fact_count", "get_checkpoint", "is_live", "item_aggregate", "live_case", "materials_answers_after", "set_checkpoint",
           "set_submissions_saved", "write_facts"]

DEAD_RESULTS: tuple[str, ...] = (CaseResult.VOIDED.value, CaseResult.DELETED.value)
"""Results of a dead case — 作废 (voided) and 删除 (deleted): with a tombstone, out of every figure."""


def is_live(deleted: bool, result: Any) -> bool:
    """Is a case live — not a tombstone, its result (the document's top-level ``result``) neither 作废 nor 删除?
    The one definition: the KPI rows store it (``kpi_case_facts.live``) and :func:`live_case` asks the same of
    the ledger's rows in SQL (评价率's cases, before the rows are computed)."""
    return not deleted and (result is None or str(result) not in DEAD_RESULTS)


class _DocumentResult(FunctionElement[str]):
    """The top-level ``result`` of a case document (``cases.data``, JSON text): NULL when it has none."""

    type = String()
    inherit_cache = True
    name = "document_result"


@compiles(_DocumentResult)
def _document_result(element: _DocumentResult, compiler: SQLCompiler, **kw: Any) -> str:
    return document_field_sql(compiler.dialect.name, compiler.process(element.clauses, **kw), "result")


def live_case() -> ColumnElement[bool]:
    """:func:`is_live` over the ledger's ``cases`` rows, in SQL."""
    c = cases.c
    result = _DocumentResult(c.data)
    return and_(c.deleted.is_(False), or_(result.is_(None), result.not_in(list(DEAD_RESULTS))))

_MARK = ("kpi", "case_facts")
_CHUNK = 900
DIMENSIONS = ("item", "department", "office", "channel", "month")
ITEM_DIMENSIONS = ("department", "level")
"""What the item-based sums (over the catalogue, not the cases) can be grouped by."""


def get_checkpoint(conn: Connection) -> dict[str, Any]:
    """``{"cases": ISO time | None, "audit_seq": int, "refreshed_at": time | None, "fingerprint": str | None}``:
    how far the refresh has read, when it last ran, and what the rows were computed with (None: before that was
    recorded — the rows must be computed again)."""
    w = watermarks.c
    row = conn.execute(select(w.cursor, w.checkpoint, w.updated_at)
                       .where(w.system == _MARK[0], w.stream == _MARK[1])).first()
    if row is None:
        return {"cases": None, "audit_seq": 0, "refreshed_at": None, "fingerprint": None, "pending_saved": {},
                "swept_at": None}
    state = orjson.loads(row.checkpoint) if row.checkpoint else {}
    return {"cases": row.cursor, "audit_seq": int(state.get("audit_seq", 0)), "refreshed_at": row.updated_at,
            "fingerprint": state.get("fingerprint"),
            "pending_saved": {str(k): int(v) for k, v in (state.get("pending_saved") or {}).items()},
            "swept_at": datetime.fromisoformat(state["swept_at"]) if state.get("swept_at") else None}


def set_checkpoint(conn: Connection, *, cases_at: datetime | None, audit_seq: int, fingerprint: str,
                   pending_saved: dict[str, int] | None = None, swept_at: datetime | None = None) -> None:
    """``pending_saved``: materials answers read from the audit log for cases with no contribution row yet (case →
    the most spared), applied by a later refresh once the row exists; ``swept_at``: when the refresh last compared
    every case's version with its row's (not only those changed since the watermark)."""
    w = watermarks.c
    now = datetime.now(timezone.utc)
    state = orjson.dumps({"audit_seq": audit_seq, "fingerprint": fingerprint,
                          **({"pending_saved": pending_saved} if pending_saved else {}),
                          **({"swept_at": swept_at.isoformat()} if swept_at else {})}).decode()
    values = {"cursor": cases_at, "checkpoint": state, "updated_at": now}
    done = conn.execute(update(watermarks).where(w.system == _MARK[0], w.stream == _MARK[1]).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(watermarks).values(system=_MARK[0], stream=_MARK[1], **values))


def changed_cases(conn: Connection, since: datetime | None = None, *, after: str | None = None, limit: int = 2000,
                  every: bool = False, only: Sequence[str] | None = None) -> Sequence[Row[Any]]:
    """One page (``limit`` rows, case numbers after ``after``, in order) of the cases changed at or after
    ``since`` (None: whenever — the sweep) whose contribution row is missing or of another version — ``every``: of
    all cases, whatever their row (a rebuild); ``only``: of these case numbers, those with no row — with the
    materials-saved figure their old row holds (it comes from the audit log, not from the case) and the old row's
    office, item and 通办目录 scope (``had_row``: whether there is one), which a case keeps while it is taken by the
    same office for the same item. Keyset pages: a rebuild over a million cases holds one page of documents, not
    all of them."""
    c, f = cases.c, kpi_case_facts.c
    stmt = (select(c.case_no, c.version, c.data, c.dept_code, c.item_code, c.deleted, c.updated_at,
                   f.submissions_saved.label("saved_before"), f.case_no.isnot(None).label("had_row"),
                   f.office_code.label("office_before"), f.item_code.label("item_before"),
                   f.tongban_scope.label("scope_before"))
            .select_from(cases.outerjoin(kpi_case_facts, f.case_no == c.case_no))
            .order_by(c.case_no).limit(limit))
    if only is not None:
        stmt = stmt.where(c.case_no.in_(list(only)), f.case_no.is_(None))
    elif not every:
        stmt = stmt.where(or_(f.case_no.is_(None), f.case_version != c.version))
    if since is not None:
        stmt = stmt.where(c.updated_at >= since)
    if after is not None:
        stmt = stmt.where(c.case_no > after)
    return conn.execute(stmt).all()


def write_facts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Replace the contribution rows of these cases (delete + insert: the same on SQLite and PostgreSQL)."""
    f = kpi_case_facts.c
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        conn.execute(delete(kpi_case_facts).where(f.case_no.in_([r["case_no"] for r in chunk])))
        conn.execute(insert(kpi_case_facts), chunk)


def fact_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(kpi_case_facts)).scalar_one())


def _saved(outcome: str) -> int:
    _, _, n = outcome.partition(":")
    return int(n) if n.isdigit() else 0


def materials_answers_after(conn: Connection, seq: int) -> tuple[dict[str, int], int]:
    """Materials answers logged after audit sequence ``seq``: (case → the most any of them spared, highest seq
    read). The most, not the latest: what an answer spares depends on who asked (a client's policy, the holder's
    consent token), and an answer that looked up less — the hall asking without consent — does not undo the
    materials a fuller one spared the applicant."""
    a = audit_log.c
    out: dict[str, int] = {}
    high = seq
    rows = conn.execute(select(a.seq, a.case_no, a.outcome).where(a.action == "materials", a.seq > seq)
                        .order_by(a.seq))
    for number, case_no, outcome in rows:
        high = max(high, number)
        if case_no:
            out[case_no] = max(out.get(case_no, 0), _saved(outcome))
    return out, high


def set_submissions_saved(conn: Connection, saved: dict[str, int]) -> tuple[int, dict[str, int]]:
    """Raise each case's 材料减免 to the most an answer spared (never lower it): (rows raised, the answers whose
    case has no contribution row — the caller keeps them pending rather than lose them)."""
    if not saved:
        return 0, {}
    f = kpi_case_facts.c
    have: set[str] = set()
    nos = list(saved)
    for start in range(0, len(nos), _CHUNK):
        have.update(conn.execute(select(f.case_no).where(f.case_no.in_(nos[start:start + _CHUNK]))).scalars())
    more = or_(f.submissions_saved.is_(None), f.submissions_saved < bindparam("n"))  # never less than before
    stmt = update(kpi_case_facts).where(f.case_no == bindparam("k_case"), more).values(
        submissions_saved=bindparam("n"))
    rows = [{"k_case": k, "n": n} for k, n in saved.items() if k in have]
    raised = max(conn.execute(stmt, rows).rowcount, 0) if rows else 0
    return raised, {k: n for k, n in saved.items() if k not in have}


def catalogue_mark(conn: Connection) -> tuple[int, int, datetime | None]:
    """The catalogue store's change mark: (entries, Σ versions, last change). Every write to an entry — a harvest's
    insert or update, a retirement — adds an entry or a version and stamps ``updated_at``, so the mark moves with
    each; the case KPIs join the catalogue's legal limits in when they are summed (:func:`aggregate`), so sums
    cached as of a refresh are stale once it moves."""
    i = catalogue_items.c
    entries, versions, last = conn.execute(select(func.count(), func.coalesce(func.sum(i.version), 0),
                                                  func.max(i.updated_at))).one()
    return int(entries), int(versions), last


def _ones(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _item_limits() -> Any:
    """Per 实施编码: its legal limit in working days (when given so) in the harvested catalogue."""
    i = catalogue_items.c
    return (select(i.item_code,
                   func.max(case((i.legal_unit == "working_day", i.legal_days), else_=None)).label("legal_days"))
            .where(one_copy()).group_by(i.item_code).subquery("items"))  # the copy the audit compares


def month_span(conn: Connection) -> tuple[str | None, str | None]:
    """The first and last month (``YYYY-MM``, of the 申请时间) the KPI facts count a case in."""
    f = kpi_case_facts.c
    first, last = conn.execute(select(func.min(f.month), func.max(f.month))).one()
    return first, last


def aggregate(conn: Connection, by: str | None, *, month_from: str | None = None, month_to: str | None = None,
              month_of: str = "applied", set_aside: Sequence[str] = (),
              city_scope: str = "city") -> list[dict[str, Any]]:
    """Sums of the live cases' contribution rows, grouped by one of :data:`DIMENSIONS` (None: one row).

    A live case whose result is one of ``set_aside`` (not accepted, withdrawn: no case was handled) is in no sum
    but its own count, labelled by the result (``{"not_accepted": n, …}``) and ``finished_any`` (live cases
    with a finish time whatever their result: the cases a citizen can rate). ``city_scope``: the 通办目录 whose
    cases are 全城通办件 (the scope the refresh stamped on each row from the office it was accepted at).
    ``month_of``: which month of a case the period and the ``month`` group read — ``applied`` (申请时间),
    ``accepted`` (受理时间) or ``finished`` (办结时间: a case not finished is in no month then).
    ``overdue_open``: open cases the last deadline scan found past their time limit (``cases.clock_flags``:
    :data:`gateway.store.clocks.OVERDUE_FLAGS`), in the month they are grouped by like every sum.
    """
    f = kpi_case_facts.c
    months = {"applied": f.month, "accepted": f.accepted_month, "finished": f.finished_month}
    if month_of not in months:
        raise ValueError(f"unknown month of a case {month_of!r}; expected one of {tuple(months)}")
    month = months[month_of]
    items = _item_limits()
    group = {"item": f.item_code, "department": f.dept_code, "office": f.office_code, "channel": f.channel,
             "month": month, None: literal("all")}
    if by not in group:
        raise ValueError(f"unknown KPI dimension {by!r}; expected one of {DIMENSIONS}")
    key = group[by].label("key")
    counted = or_(f.result.is_(None), f.result.not_in(list(set_aside))) if set_aside else true()

    def ones(condition: Any) -> Any:
        return _ones(and_(counted, condition))

    def total(value: Any) -> Any:
        return func.coalesce(func.sum(case((counted, value), else_=0)), 0)

    speed = and_(items.c.legal_days > 0, f.promised_days.is_not(None))
    stmt = (select(key, ones(true()).label("cases"), ones(f.instant).label("instant"),
                   ones(f.finished).label("finished"),
                   ones(and_(f.finished, f.with_deadline)).label("finished_with_deadline"),
                   ones(f.on_time).label("on_time"),
                   ones(f.online.is_not(None)).label("channel_known"), ones(f.online).label("online"),
                   total(f.materials).label("materials"),
                   total(f.materials_reused).label("materials_reused"),
                   total(f.submissions_saved).label("submissions_saved"),
                   total(case((speed, f.promised_days), else_=0)).label("promised_days"),
                   total(case((speed, items.c.legal_days), else_=0)).label("legal_days"),
                   ones(f.office_code.is_not(None)).label("office_cases"),
                   ones(f.cross_province).label("cross_province"),
                   ones(and_(f.office_code.is_not(None), f.tongban_scope == city_scope,
                             or_(f.cross_province.is_(None), f.cross_province.is_(False)))).label("tongban_city"),
                   _ones(f.finished).label("finished_any"),
                   *(_ones(f.result == value).label(value) for value in set_aside))
            .select_from(kpi_case_facts.outerjoin(items, items.c.item_code == f.item_code))
            .where(f.live))
    # the open cases past their limit, read apart: only the cases with a clock (the partial index the deadline
    # scan keeps) and of those the red ones, joined to their narrow rows — not a join of every case to its row
    c = cases.c
    overdue = (select(key, func.count().label("n"))
               .select_from(cases.join(kpi_case_facts, f.case_no == c.case_no))
               .where(c.clock_due_at.is_not(None), c.clock_flags.op("&")(OVERDUE_FLAGS) != 0, f.live, counted,
                      f.finished.is_(False)))
    if month_from is not None:
        stmt, overdue = stmt.where(month >= month_from), overdue.where(month >= month_from)
    if month_to is not None:
        stmt, overdue = stmt.where(month <= month_to), overdue.where(month <= month_to)
    if by is not None:
        stmt = stmt.group_by(group[by]).order_by(group[by])
        overdue = overdue.group_by(group[by])
    late = {r.key: int(r.n) for r in conn.execute(overdue)}
    return [{**dict(r), "overdue_open": late.get(r["key"], 0)} for r in conn.execute(stmt).mappings()]


def item_aggregate(conn: Connection, by: str | None = None, *, division: str | None = None) -> list[dict[str, Any]]:
    """Item-based sums over the active catalogue entries, grouped by ``department``/``level``/``division`` or not at
    all; ``division``: only the 实施清单 of that division (the catalogue holds every level's and district's)."""
    i = catalogue_items.c
    group = {"department": i.dept_code, "level": i.level, "division": i.division, None: literal("all")}
    if by not in group:
        raise ValueError(f"unknown item dimension {by!r}; expected one of {ITEM_DIMENSIONS} or none")
    # a promise of 0 (即办, 当场: stored as 0 working days) is 0 in any unit: against a legal limit in calendar
    # days it was left out of 提速率 while 0日 counted as a full speed-up
    same_unit = and_(i.legal_days > 0, i.promised_days.is_not(None),
                     or_(i.promised_unit == i.legal_unit, i.promised_days == 0))
    stmt = (select(group[by].label("key"), func.count().label("items"),
                   _ones(i.promised_days == 0).label("instant"),
                   func.coalesce(func.sum(case((same_unit, i.promised_days), else_=0)), 0).label("promised_days"),
                   func.coalesce(func.sum(case((same_unit, i.legal_days), else_=0)), 0).label("legal_days"),
                   _ones(i.visits == 0).label("zero_visits"), _ones(i.visits == 1).label("one_visit"))
            .where(one_copy()))  # an entry two catalogue systems list is one item
    if division is not None:
        stmt = stmt.where(i.division == division)
    if by is not None:
        stmt = stmt.group_by(group[by]).order_by(group[by])
    return [dict(r) for r in conn.execute(stmt).mappings()]
