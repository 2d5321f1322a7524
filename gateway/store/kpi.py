"""The KPIs' statements: per-case contribution rows, their watermark, and the GROUP BY that sums them.

The refresh reads only cases whose version differs from the one their contribution row was computed from
(a join on ``kpi_case_facts``, bounded below by the watermark), so its cost follows what changed; the KPIs
are then one grouped scan of the narrow contribution table, never of the case documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from gateway.store.tables import audit_log, cases, catalogue_items, kpi_case_facts, watermarks

__all__ = ["DIMENSIONS", "aggregate", "changed_cases", "fact_count", "get_checkpoint", "item_aggregate",
           "materials_answers_after", "set_checkpoint", "set_submissions_saved", "write_facts"]

_MARK = ("kpi", "case_facts")
_CHUNK = 900
DIMENSIONS = ("item", "department", "office", "channel", "month")


def get_checkpoint(conn: Connection) -> dict[str, Any]:
    """``{"cases": ISO time | None, "audit_seq": int, "refreshed_at": time | None}``: how far the refresh has
    read, and when it last ran."""
    w = watermarks.c
    row = conn.execute(select(w.cursor, w.checkpoint, w.updated_at)
                       .where(w.system == _MARK[0], w.stream == _MARK[1])).first()
    if row is None:
        return {"cases": None, "audit_seq": 0, "refreshed_at": None}
    state = orjson.loads(row.checkpoint) if row.checkpoint else {}
    return {"cases": row.cursor, "audit_seq": int(state.get("audit_seq", 0)), "refreshed_at": row.updated_at}


def set_checkpoint(conn: Connection, *, cases_at: datetime | None, audit_seq: int) -> None:
    w = watermarks.c
    now = datetime.now(timezone.utc)
    values = {"cursor": cases_at, "checkpoint": orjson.dumps({"audit_seq": audit_seq}).decode(), "updated_at": now}
    done = conn.execute(update(watermarks).where(w.system == _MARK[0], w.stream == _MARK[1]).values(**values))
    if done.rowcount == 0:
        conn.execute(insert(watermarks).values(system=_MARK[0], stream=_MARK[1], **values))


def changed_cases(conn: Connection, since: datetime | None) -> Sequence[Row[Any]]:
    """Cases changed at or after ``since`` whose contribution row is missing or of another version, with the
    materials-saved figure their old row holds (it comes from the audit log, not from the case)."""
    c, f = cases.c, kpi_case_facts.c
    stmt = (select(c.case_no, c.version, c.data, c.dept_code, c.item_code, c.deleted, c.updated_at,
                   f.submissions_saved.label("saved_before"))
            .select_from(cases.outerjoin(kpi_case_facts, f.case_no == c.case_no))
            .where(or_(f.case_no.is_(None), f.case_version != c.version)))
    if since is not None:
        stmt = stmt.where(c.updated_at >= since)
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
    """Materials answers logged after audit sequence ``seq``: (case → latest saved count, highest seq read)."""
    a = audit_log.c
    out: dict[str, int] = {}
    high = seq
    rows = conn.execute(select(a.seq, a.case_no, a.outcome).where(a.action == "materials", a.seq > seq)
                        .order_by(a.seq))
    for number, case_no, outcome in rows:
        high = max(high, number)
        if case_no:
            out[case_no] = _saved(outcome)
    return out, high


def set_submissions_saved(conn: Connection, saved: dict[str, int]) -> int:
    if not saved:
        return 0
    f = kpi_case_facts.c
    stmt = update(kpi_case_facts).where(f.case_no == bindparam("k_case")).values(submissions_saved=bindparam("n"))
    result = conn.execute(stmt, [{"k_case": k, "n": n} for k, n in saved.items()])
    return max(result.rowcount, 0)


def _ones(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _item_limits() -> Any:
    """Per 实施编码: its legal limit in working days (when given so) and its 通办目录 scope."""
    i = catalogue_items.c
    return (select(i.item_code,
                   func.max(case((i.legal_unit == "working_day", i.legal_days), else_=None)).label("legal_days"),
                   func.max(i.tongban).label("tongban"))
            .where(i.status == "active").group_by(i.item_code).subquery("items"))


def aggregate(conn: Connection, by: str | None, *, month_from: str | None = None,
              month_to: str | None = None) -> list[dict[str, Any]]:
    """Sums of the live cases' contribution rows, grouped by one of :data:`DIMENSIONS` (None: one row)."""
    f = kpi_case_facts.c
    items = _item_limits()
    group = {"item": f.item_code, "department": f.dept_code, "office": f.office_code, "channel": f.channel,
             "month": f.month, None: literal("all")}
    if by not in group:
        raise ValueError(f"unknown KPI dimension {by!r}; expected one of {DIMENSIONS}")
    key = group[by].label("key")
    speed = and_(items.c.legal_days > 0, f.promised_days.is_not(None))
    stmt = (select(key, func.count().label("cases"), _ones(f.instant).label("instant"),
                   _ones(f.finished).label("finished"),
                   _ones(and_(f.finished, f.with_deadline)).label("finished_with_deadline"),
                   _ones(f.on_time).label("on_time"),
                   _ones(f.online.is_not(None)).label("channel_known"), _ones(f.online).label("online"),
                   func.coalesce(func.sum(f.materials), 0).label("materials"),
                   func.coalesce(func.sum(f.materials_reused), 0).label("materials_reused"),
                   func.coalesce(func.sum(f.submissions_saved), 0).label("submissions_saved"),
                   func.coalesce(func.sum(case((speed, f.promised_days), else_=0)), 0).label("promised_days"),
                   func.coalesce(func.sum(case((speed, items.c.legal_days), else_=0)), 0).label("legal_days"),
                   _ones(f.office_code.is_not(None)).label("office_cases"),
                   _ones(f.cross_province).label("cross_province"),
                   _ones(and_(f.office_code.is_not(None), items.c.tongban == "city",
                              or_(f.cross_province.is_(None), f.cross_province.is_(False)))).label("tongban_city"))
            .select_from(kpi_case_facts.outerjoin(items, items.c.item_code == f.item_code))
            .where(f.live))
    if month_from is not None:
        stmt = stmt.where(f.month >= month_from)
    if month_to is not None:
        stmt = stmt.where(f.month <= month_to)
    if by is not None:
        stmt = stmt.group_by(group[by]).order_by(group[by])
    return [dict(r) for r in conn.execute(stmt).mappings()]


def item_aggregate(conn: Connection, by: str | None = None) -> list[dict[str, Any]]:
    """Item-based sums over the active catalogue entries, grouped by ``department``/``level`` or not at all."""
    i = catalogue_items.c
    group = {"department": i.dept_code, "level": i.level, None: literal("all")}
    if by not in group:
        raise ValueError(f"unknown item dimension {by!r}; expected department, level or none")
    same_unit = and_(i.legal_days > 0, i.promised_days.is_not(None), i.promised_unit == i.legal_unit)
    stmt = (select(group[by].label("key"), func.count().label("items"),
                   _ones(i.promised_days == 0).label("instant"),
                   func.coalesce(func.sum(case((same_unit, i.promised_days), else_=0)), 0).label("promised_days"),
                   func.coalesce(func.sum(case((same_unit, i.legal_days), else_=0)), 0).label("legal_days"),
                   _ones(i.visits == 0).label("zero_visits"), _ones(i.visits == 1).label("one_visit"))
            .where(i.status == "active"))
    if by is not None:
        stmt = stmt.group_by(group[by]).order_by(group[by])
    return [dict(r) for r in conn.execute(stmt).mappings()]
