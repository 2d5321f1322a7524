"""The citizen's voice's statements: evaluations, callbacks, appeals, work orders and the citizen outbox.

Every function takes a ``Connection`` the caller owns, so an ingested page (rows, outbox items, callbacks,
watermark) is one transaction: a crash leaves either all of it or none, and the re-run finds the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Integer,
    RowMapping,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)

from gateway.crypto.pii import seal_text
from gateway.store.filters import equal_where_given
from gateway.store.kpi import live_case
from gateway.store.ledger import in_chunks
from gateway.store.sealing import require_ledger_keys
from gateway.store.tables import (
    cases,
    citizen_appeals,
    citizen_callbacks,
    citizen_evaluations,
    citizen_outbox,
    citizen_workorders,
    kpi_case_facts,
)

__all__ = [
    "forwarded_rating_counts", "appeal_states", "appeals_pending", "appeal_rows", "callback_groups", "evaluated_case_count",
    "evaluation_groups", "earliest_rating_stored_since", "citizens_bad_ratings", "link_ratings", "unlinked_ratings", "callback_rows", "case_documents", "due_outbox", "enqueue",
    "evaluation", "evaluation_hashes", "evaluation_rows", "insert_appeal", "insert_callbacks",
    "insert_evaluations", "live_case_count", "outbox_counts", "set_appeal", "set_callback", "set_flags",
    "set_outbox", "outbox_status", "update_evaluations", "upsert_workorder", "workorder", "workorder_rows", "workorders_by_status",
    "first_outbox_item", "outbox_status_counts", "unlinked_rating_count", "bad_ratings", "first_callback_opened",
    "update_workorder", "finished_case_count", "superseded_rating_count", "revision_count",
]


# -- evaluations ------------------------------------------------------------------------------------------


def evaluation_hashes(conn: Connection, rating_ids: Sequence[str]) -> dict[str, str]:
    e = citizen_evaluations.c
    out: dict[str, str] = {}
    for chunk in in_chunks(list(rating_ids)):
        out.update(conn.execute(select(e.rating_id, e.content_hash)
                                .where(e.rating_id.in_(chunk))).tuples().all())
    return out


def insert_evaluations(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(citizen_evaluations), rows)


def update_evaluations(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Replace ratings in place (a later comment, a revocation); ``appeal`` and ``flags`` are Tongban's, kept."""
    if not rows:
        return
    e = citizen_evaluations.c
    values = {k: bindparam(k) for k in rows[0] if k not in ("rating_id", "appeal", "flags")}
    conn.execute(update(citizen_evaluations).where(e.rating_id == bindparam("k_id")).values(**values),
                 [{**r, "k_id": r["rating_id"]} for r in rows])


def evaluation(conn: Connection, rating_id: str) -> RowMapping | None:
    return conn.execute(select(citizen_evaluations).where(citizen_evaluations.c.rating_id == rating_id)
                        ).mappings().first()


def evaluation_rows(conn: Connection, *, since: datetime | None = None, until: datetime | None = None,
                    device_only: bool = False) -> list[RowMapping]:
    e = citizen_evaluations.c
    stmt = select(citizen_evaluations).where(e.revoked.is_(False))
    if since is not None:
        stmt = stmt.where(e.rated_at >= since)
    if until is not None:
        stmt = stmt.where(e.rated_at < until)
    if device_only:
        stmt = stmt.where(e.channel == "device")
    return list(conn.execute(stmt.order_by(e.rated_at, e.rating_id)).mappings())


def earliest_rating_stored_since(conn: Connection, stored_since: datetime) -> datetime | None:
    """The earliest rating time among the ratings (of any channel) stored (or changed) since ``stored_since``."""
    e = citizen_evaluations.c
    return conn.execute(select(func.min(e.rated_at)).where(e.updated_at >= stored_since)).scalar()


def unlinked_ratings(conn: Connection, *, rated_since: datetime, after: tuple[datetime, str] | None,
                     limit: int) -> list[tuple[str, str, datetime]]:
    """(rating id, case number, rated at) of ratings whose case the ledger did not hold when they were read, in
    (rated_at, rating_id) order after ``after`` (keyset: ratings that stay unlinked do not hide the rest)."""
    e = citizen_evaluations.c
    stmt = select(e.rating_id, e.case_no, e.rated_at).where(e.case_finished_at.is_(None), e.rated_at >= rated_since)
    if after is not None:
        stmt = stmt.where(or_(e.rated_at > after[0], and_(e.rated_at == after[0], e.rating_id > after[1])))
    return [(r, c, t) for r, c, t in conn.execute(stmt.order_by(e.rated_at, e.rating_id).limit(limit)).tuples()]


def link_ratings(conn: Connection, rows: list[dict[str, Any]], *, now: datetime) -> None:
    """Set the case facts (finish time, office, unit) of ratings whose case has arrived since. The row changed
    (``updated_at`` = ``now``): what re-examines recently changed ratings (the misuse rules' ``stored_since``)
    must see the finish time arrive. A row without the source's change time keeps its stored moment there, the
    replay's comparison basis for it (``_replayable`` in :mod:`gateway.citizen.evaluations`)."""
    if rows:
        e = citizen_evaluations.c
        conn.execute(update(citizen_evaluations).where(e.rating_id == bindparam("k_id"))
                     .values(case_finished_at=bindparam("finished"), office_code=bindparam("office"),
                             dept_code=func.coalesce(e.dept_code, bindparam("dept")),
                             source_changed_at=func.coalesce(e.source_changed_at, e.updated_at),
                             updated_at=bindparam("k_now")), [{**r, "k_now": now} for r in rows])


def citizens_bad_ratings(conn: Connection, case_nos: Sequence[str]) -> list[tuple[str, datetime]]:
    """(case number, rated at) of the standing 差评 given on channels other than the window's evaluator (the
    citizen's own: PC, app, QR code, SMS) for ``case_nos``: not revoked, not set aside by an upheld appeal."""
    e = citizen_evaluations.c
    nos = list(dict.fromkeys(case_nos))
    out: list[tuple[str, datetime]] = []
    for start in range(0, len(nos), 900):
        out += [(c, t) for c, t in conn.execute(select(e.case_no, e.rated_at).where(
            e.case_no.in_(nos[start:start + 900]), e.bad.is_(True), e.revoked.is_(False),
            func.coalesce(e.channel, "") != "device", _standing(e))).tuples()]
    return out


def set_flags(conn: Connection, flags: dict[str, str | None]) -> None:
    """rating id → flags JSON (None clears)."""
    if flags:
        e = citizen_evaluations.c
        conn.execute(update(citizen_evaluations).where(e.rating_id == bindparam("k_id"))
                     .values(flags=bindparam("flags")), [{"k_id": k, "flags": v} for k, v in flags.items()])


def clear_flags_of_revoked(conn: Connection, *, since: datetime | None) -> int:
    """Clear the misuse flags of withdrawn ratings (rated since ``since``; None: all): a rating the citizen
    withdrew is in no misuse figure, and its flag outlived it."""
    e = citizen_evaluations.c
    stmt = update(citizen_evaluations).where(e.revoked.is_(True), e.flags.is_not(None))
    if since is not None:
        stmt = stmt.where(e.rated_at >= since)
    return int(conn.execute(stmt.values(flags=None)).rowcount or 0)


def case_documents(conn: Connection, case_nos: Sequence[str]) -> dict[str, str]:
    """case number → the ledger's canonical document (JSON text) of the live cases among ``case_nos``."""
    c = cases.c
    out: dict[str, str] = {}
    nos = list(dict.fromkeys(case_nos))
    for start in range(0, len(nos), 900):
        out.update(conn.execute(select(c.case_no, c.data).where(c.case_no.in_(nos[start:start + 900]),
                                                                 c.deleted.is_(False))).tuples().all())
    return out


def live_case_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(cases).where(cases.c.deleted.is_(False))).scalar_one())


def _rateable(finished_in: str = "") -> Any:
    """Live cases (:func:`gateway.store.kpi.live_case`: the KPIs' definition — not deleted, not 作废 or 删除) whose
    document names a finish time (the cases that can be rated) — beginning with ``finished_in`` (``2026-11``,
    ``2026``: the case document's times are Beijing time, so its text's month is the Beijing month)."""
    c = cases.c
    return and_(or_(c.data.like(f'%"finished_at": "{finished_in}%'), c.data.like(f'%"finished_at":"{finished_in}%')),
                live_case())


def finished_case_count(conn: Connection, *, finished_in: str = "") -> int:
    """Live cases whose document names a finish time (the cases that can be rated), finished in ``finished_in`` (a
    month or a year) when given."""
    return int(conn.execute(select(func.count()).select_from(cases).where(_rateable(finished_in))).scalar_one())


def finished_cases(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rateable cases: ``case_no``, ``finished_at``, ``dept_code``, ``division_code`` (the facts a
    rating names), by case number."""
    c = cases.c
    out = []
    for case_no, data in conn.execute(select(c.case_no, c.data).where(_rateable()).order_by(c.case_no).limit(limit)):
        doc = orjson.loads(data)
        out.append({"case_no": case_no, "finished_at": doc.get("finished_at"), "dept_code": doc.get("dept_code"),
                    "division_code": doc.get("division_code")})
    return out


def _may_replace(later: Any, earlier: Any) -> Any:
    """May rating ``later`` of a case take the place of the earlier ``earlier`` in the figures? Yes, unless
    ``earlier`` is a standing 差评: a 差评 is changed only by the citizen's own rating after its rectification
    (整改 done, then rated again — not on the window's evaluator, which staff can press) or set aside by an upheld
    appeal (申诉)."""
    b = citizen_callbacks.c
    rectified = select(b.rating_id).where(b.rating_id == earlier.rating_id, b.rect_done_at.is_not(None),
                                          b.rect_done_at <= later.rated_at).exists()
    return or_(earlier.bad.is_(False), func.coalesce(earlier.appeal, "") == "upheld",  # never NULL: negated
               and_(func.coalesce(later.channel, "") != "device", rectified))


def _standing(e: Any) -> Any:
    """Not set aside by an upheld appeal (申诉成立)."""
    return or_(e.appeal.is_(None), e.appeal != "upheld")


def _counted_of_its_case() -> Any:
    """The one rating of its case the figures count (一事一评; the others are kept, ``superseded``): the newest —
    a changed mind replaces an earlier rating — except that a standing 差评 (:func:`_may_replace`) keeps its place
    against any later rating, which is then the one superseded. Later: rated after, or at the same instant with a
    greater id (a total order). A rating set aside by an upheld appeal (申诉成立) takes no other's place: it is out
    of every figure, and the case's earlier rating counts (it replaced it, and the case was counted by none)."""
    e, other = citizen_evaluations.c, citizen_evaluations.alias("other").c
    later = or_(other.rated_at > e.rated_at, and_(other.rated_at == e.rated_at, other.rating_id > e.rating_id))
    earlier = or_(other.rated_at < e.rated_at, and_(other.rated_at == e.rated_at, other.rating_id < e.rating_id))
    return ~select(other.rating_id).where(
        other.case_no == e.case_no, other.revoked.is_(False), _standing(other),
        or_(and_(later, _may_replace(other, e)), and_(earlier, ~_may_replace(e, other)))
    ).exists()


def evaluation_groups(conn: Connection) -> list[RowMapping]:
    """Ratings counted per (unit, month, level, channel), with how many are flagged: the summary's whole input
    from the ratings, whatever their number."""
    e = citizen_evaluations.c
    return list(conn.execute(
        select(e.dept_code, e.month, e.level, e.channel, func.count().label("n"),
               func.count(e.flags).label("flagged"), func.count(e.appeal).label("appealed"))
        # a 差评 set aside by an upheld appeal (申诉成立) is out of every figure, as the province counts it
        .where(e.revoked.is_(False), _standing(e), _counted_of_its_case())
        .group_by(e.dept_code, e.month, e.level, e.channel)).mappings())


def _given_in(months: tuple[str, str] | None) -> Any:
    """The ratings given (Beijing month of the rating) from the first to the last month of ``months``; None: all."""
    e = citizen_evaluations.c
    return true() if months is None else and_(e.month >= months[0], e.month <= months[1])


def unlinked_rating_count(conn: Connection, months: tuple[str, str] | None = None) -> int:
    """Counted ratings naming a case the ledger does not hold (another district's, one not synced yet, a typo):
    in 好评率 and 差评, in no 评价率. ``months``: of the ratings given in them (a month's report)."""
    e = citizen_evaluations.c
    held = select(cases.c.case_no).where(cases.c.case_no == e.case_no).exists()
    return int(conn.execute(select(func.count()).select_from(citizen_evaluations).where(
        e.revoked.is_(False), _standing(e), _counted_of_its_case(), ~held, _given_in(months))
    ).scalar_one())


def superseded_rating_count(conn: Connection) -> int:
    """Ratings a later rating of the same case replaced (kept, not counted in the ratios); one set aside by an
    upheld appeal is not replaced but out (the summary counts appeals on their own)."""
    e = citizen_evaluations.c
    return int(conn.execute(select(func.count()).select_from(citizen_evaluations)
                            .where(e.revoked.is_(False), _standing(e), ~_counted_of_its_case())).scalar_one())


def evaluated_case_count(conn: Connection, *, from_facts: bool = False, finished_in: str = "") -> int:
    """Rateable cases (the 评价率's denominator) with at least one rating: a rating naming a case the ledger does
    not hold (another district's, a typo) rates nothing here, and many ratings of one case are one evaluated case.
    ``from_facts``: the rateable cases as the KPI facts count them (live and finished: the denominator the
    console takes from their sums; a join on the key, no read of case documents), else from the ledger's cases."""
    e = citizen_evaluations.c
    if from_facts:
        f = kpi_case_facts.c
        return int(conn.execute(
            select(func.count(func.distinct(e.case_no))).select_from(
                citizen_evaluations.join(kpi_case_facts, f.case_no == e.case_no))
            .where(e.revoked.is_(False), _standing(e), f.live.is_(True), f.finished.is_(True))).scalar_one())
    # a rating set aside by an upheld appeal is out of every figure: its case is evaluated only by another rating
    rated = select(e.case_no).where(e.revoked.is_(False), _standing(e), e.case_no == cases.c.case_no).exists()
    return int(conn.execute(select(func.count()).select_from(cases).where(_rateable(finished_in), rated)).scalar_one())


def appeal_states(conn: Connection, months: tuple[str, str] | None = None) -> dict[str, int]:
    """The appeals' states, of every rating or of those given in ``months`` (a month's table showed the whole
    history)."""
    e = citizen_evaluations.c
    rows = conn.execute(select(e.appeal, func.count()).where(e.appeal.is_not(None), _given_in(months))
                        .group_by(e.appeal))
    return {state: int(n) for state, n in rows}


def callback_groups(conn: Connection, *, now: datetime) -> list[RowMapping]:
    """Bad reviews not set aside by an upheld appeal, per (unit, month): how many, how many from before the cut-over
    (``predates``); of the others: called back, called back in time, overdue; rectifications counted (done or due),
    done in time, overdue."""
    b, e = citizen_callbacks.c, citizen_evaluations.c

    def n(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0).cast(Integer))

    tracked = b.predates.is_(False)  # history from before the cut-over: a 差评, not a callback Tongban counts
    counted = and_(tracked, b.rect_due_at.is_not(None), or_(b.rect_done_at.is_not(None), b.rect_due_at < now))
    return list(conn.execute(
        select(e.dept_code, e.month, func.count().label("bad"), n(b.predates.is_(True)).label("predates"),
               n(and_(tracked, b.done_at.is_not(None))).label("done"),
               n(and_(tracked, b.done_at <= b.due_at)).label("done_in_time"),
               n(and_(tracked, b.done_at.is_(None), b.due_at < now)).label("overdue"),
               n(counted).label("rect_counted"), n(and_(tracked, b.rect_done_at <= b.rect_due_at)).label("rect_in_time"),
               n(and_(tracked, b.rect_due_at.is_not(None), b.rect_done_at.is_(None), b.rect_due_at < now))
               .label("rect_overdue"))
        .join(citizen_evaluations, b.rating_id == e.rating_id)
        # a callback whose rating is no longer bad (the citizen changed it to 满意) is no 差评 to call back
        .where(_standing(e), e.revoked.is_(False), e.bad.is_(True))
        .group_by(e.dept_code, e.month)).mappings())


# -- callbacks and rectifications ------------------------------------------------------------------------


def insert_callbacks(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Open callbacks; one per rating (a rating read again opens none). A row marked ``again`` — a rating that
    became 差评 again after it was good, a new complaint — re-opens its callback not yet done from the new due time
    (and cut-over flag): kept at the first one's, a history 差评 revised after the cut-over stayed history and was
    never counted. Returns how many were opened or re-opened."""
    if not rows:
        return 0
    b = citizen_callbacks.c
    have = {r.rating_id: r.done_at for r in conn.execute(select(b.rating_id, b.done_at)
                                                         .where(b.rating_id.in_([r["rating_id"] for r in rows])))}
    fresh = [{k: v for k, v in r.items() if k != "again"} for r in rows if r["rating_id"] not in have]
    if fresh:
        conn.execute(insert(citizen_callbacks), fresh)
    again = [r for r in rows if r.get("again") and r["rating_id"] in have and have[r["rating_id"]] is None]
    for r in again:
        conn.execute(update(citizen_callbacks).where(b.rating_id == r["rating_id"], b.done_at.is_(None))
                     .values(due_at=r["due_at"], predates=r["predates"], rect_due_at=r.get("rect_due_at")))
    return len(fresh) + len(again)


def bad_ratings(conn: Connection, rating_ids: Sequence[str]) -> set[str]:
    """Those of ``rating_ids`` the ledger holds as a standing 差评 (bad, not withdrawn)."""
    e = citizen_evaluations.c
    found: set[str] = set()
    ids = list(rating_ids)
    for start in range(0, len(ids), 900):
        found.update(conn.execute(select(e.rating_id).where(e.rating_id.in_(ids[start:start + 900]),
                                                            e.bad.is_(True), e.revoked.is_(False))).scalars())
    return found


def first_callback_opened(conn: Connection) -> datetime | None:
    """When the ledger opened its first 差评 callback: the first read of the collection point, for a ledger that
    began before that read was kept."""
    return conn.execute(select(func.min(citizen_callbacks.c.created_at))).scalar_one_or_none()


def callback_rows(conn: Connection) -> list[RowMapping]:
    b, e = citizen_callbacks.c, citizen_evaluations.c
    return list(conn.execute(select(citizen_callbacks, e.case_no, e.level, e.bad, e.dept_code, e.month, e.appeal,
                                    e.rated_at, e.revoked).join(citizen_evaluations, b.rating_id == e.rating_id)
                             .order_by(b.due_at, b.rating_id)).mappings())


def callback_row(conn: Connection, rating_id: str) -> RowMapping | None:
    """The callback of one rating (as :func:`callback_rows` lists it), None when it has none."""
    b, e = citizen_callbacks.c, citizen_evaluations.c
    return conn.execute(select(citizen_callbacks, e.case_no, e.level, e.bad, e.dept_code, e.month, e.appeal,
                               e.rated_at, e.revoked).join(citizen_evaluations, b.rating_id == e.rating_id)
                        .where(b.rating_id == rating_id)).mappings().first()


def callbacks_without_rectification_due(conn: Connection) -> list[RowMapping]:
    """``rating_id, due_at, done_at`` of the callbacks opened before a rectification was due for every 差评 (the
    callbacks of a ledger from before: their 整改 was in no figure)."""
    b = citizen_callbacks.c
    return list(conn.execute(select(b.rating_id, b.due_at, b.done_at).where(b.rect_due_at.is_(None))).mappings())


def date_rectification(conn: Connection, rating_id: str, due: Any) -> int:
    """Set a callback's rectification due time where it has none (a callback recorded meanwhile keeps its own)."""
    b = citizen_callbacks.c
    return conn.execute(update(citizen_callbacks).where(b.rating_id == rating_id, b.rect_due_at.is_(None))
                        .values(rect_due_at=due)).rowcount


def set_callback(conn: Connection, rating_id: str, **values: Any) -> int:
    return conn.execute(update(citizen_callbacks).where(citizen_callbacks.c.rating_id == rating_id)
                        .values(**values)).rowcount


# -- appeals ---------------------------------------------------------------------------------------------


def insert_appeal(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(insert(citizen_appeals), [row])


def appeal_rows(conn: Connection, rating_id: str | None = None) -> list[RowMapping]:
    a = citizen_appeals.c
    stmt = equal_where_given(select(citizen_appeals), (a.rating_id, rating_id))
    return list(conn.execute(stmt.order_by(a.rating_id, a.filed_at)).mappings())


def appeals_pending(conn: Connection) -> list[RowMapping]:
    a = citizen_appeals.c
    return list(conn.execute(select(citizen_appeals).where(a.status == "pending").order_by(a.filed_at)).mappings())


def set_appeal(conn: Connection, rating_id: str, level: str, *, status: str, decided_at: datetime | None,
               opinion: str | None, evaluation_appeal: str | None) -> None:
    a = citizen_appeals.c
    conn.execute(update(citizen_appeals).where(a.rating_id == rating_id, a.level == level)
                 .values(status=status, decided_at=decided_at, opinion=opinion))
    if evaluation_appeal is not None:
        conn.execute(update(citizen_evaluations).where(citizen_evaluations.c.rating_id == rating_id)
                     .values(appeal=evaluation_appeal))


# -- work orders -----------------------------------------------------------------------------------------


def workorder(conn: Connection, order_no: str) -> RowMapping | None:
    return conn.execute(select(citizen_workorders).where(citizen_workorders.c.order_no == order_no)
                        ).mappings().first()


def upsert_workorder(conn: Connection, row: dict[str, Any], *, exists: bool) -> None:
    if exists:
        conn.execute(update(citizen_workorders).where(citizen_workorders.c.order_no == row["order_no"])
                     .values(**{k: v for k, v in row.items() if k != "order_no"}))
    else:
        conn.execute(insert(citizen_workorders), [row])


def update_workorder(conn: Connection, order_no: str, **values: Any) -> int:
    return conn.execute(update(citizen_workorders).where(citizen_workorders.c.order_no == order_no)
                        .values(**values)).rowcount


def workorders_by_status(conn: Connection, statuses: Sequence[str]) -> list[RowMapping]:
    w = citizen_workorders.c
    return list(conn.execute(select(citizen_workorders).where(w.status.in_(list(statuses)))
                             .order_by(w.received_at, w.order_no)).mappings())


def department_workorders(conn: Connection, dept_code: str | None, *, status: str | None = None,
                          after: str | None = None, limit: int = 100) -> list[RowMapping]:
    """Work orders routed to ``dept_code`` (every department's with None), oldest first by (received_at,
    order_no); ``after``: the last order number of the previous page."""
    w = citizen_workorders.c
    stmt = equal_where_given(select(citizen_workorders), (w.dept_code, dept_code), (w.status, status))
    if after is not None:  # the cursor is an order of the same queue: another department's tells nothing here
        last = equal_where_given(select(w.received_at), (w.order_no, after), (w.dept_code, dept_code)).scalar_subquery()
        stmt = stmt.where(or_(w.received_at > last, and_(w.received_at == last, w.order_no > after)))
    return list(conn.execute(stmt.order_by(w.received_at, w.order_no).limit(limit)).mappings())


def outbox_status_counts(conn: Connection, target: str, *, key_prefix: str) -> dict[str, int]:
    """``status → items`` of ``target``'s queue whose key starts with ``key_prefix`` (``df:``: the 12345 replies)."""
    o = citizen_outbox.c
    rows = conn.execute(select(o.status, func.count()).where(o.target == target, o.key.startswith(key_prefix))
                        .group_by(o.status))
    return {status: int(n) for status, n in rows}


def first_outbox_item(conn: Connection, target: str) -> datetime | None:
    """When Tongban first queued anything for ``target`` (the 12345 platform: its first 转派 or 退回): the first read
    of that platform, for a ledger that began before that read was kept."""
    o = citizen_outbox.c
    return conn.execute(select(func.min(o.created_at)).where(o.target == target)).scalar_one_or_none()


def workorder_rows(conn: Connection, *, month: str | None = None) -> list[RowMapping]:
    w = citizen_workorders.c
    stmt = equal_where_given(select(citizen_workorders), (w.month, month))
    return list(conn.execute(stmt.order_by(w.received_at, w.order_no)).mappings())


# -- the citizen outbox ----------------------------------------------------------------------------------


def revision_count(conn: Connection, rating_key: str) -> int:
    """How many revisions of a rating were queued for the province (outbox keys ``rating:R:<n>``; ``rating_key``:
    the rating's id as it stands in keys, :func:`gateway.citizen.outbox.key_part`)."""
    o = citizen_outbox.c
    return int(conn.execute(select(func.count()).where(
        o.target == "provincial_pj", o.key.like(f"rating:{_like_literal(rating_key)}:%", escape="\\"))).scalar_one())


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def enqueue(conn: Connection, rows: list[dict[str, Any]], *, pii: Any = None) -> int:
    """Queue items to send; a key already queued (pending, delivered or dead) is not queued again. Each payload is
    sealed whole with ``pii`` (a PiiCodec: a rating's comment, a reply to a citizen); a sealed ledger refuses a
    caller without its keys before anything is queued (:func:`gateway.store.sealing.require_ledger_keys`)."""
    if not rows:
        return 0
    require_ledger_keys(conn, pii, what=f"queue messages for {rows[0]['target']}")
    o = citizen_outbox.c
    fresh: list[dict[str, Any]] = []
    by_target: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_target.setdefault(r["target"], []).append(r)
    for target, items in by_target.items():
        keys = [r["key"] for r in items]
        have: set[str] = set()
        for start in range(0, len(keys), 900):
            have.update(conn.execute(select(o.key).where(o.target == target,
                                                          o.key.in_(keys[start:start + 900]))).scalars())
        fresh += [r for r in items if r["key"] not in have]
    if fresh:
        conn.execute(insert(citizen_outbox), [{**r, "payload": seal_text(r["payload"], pii)} for r in fresh])
    return len(fresh)


def due_outbox(conn: Connection, target: str, *, now: datetime, limit: int) -> list[RowMapping]:
    o = citizen_outbox.c
    return list(conn.execute(select(citizen_outbox).where(o.target == target, o.status == "pending",
                                                          o.next_attempt_at <= now)
                             .order_by(o.id).limit(limit)).mappings())


def set_outbox(conn: Connection, item_id: int, **values: Any) -> None:
    conn.execute(update(citizen_outbox).where(citizen_outbox.c.id == item_id).values(**values))


def outbox_status(conn: Connection, target: str, key: str) -> str | None:
    o = citizen_outbox.c
    return conn.execute(select(o.status).where(o.target == target, o.key == key)).scalar()


def _unescaped(part: str) -> str:
    """A rating id from its part of an outbox key (the inverse of :func:`gateway.citizen.outbox.key_part`)."""
    return part.replace("%3A", ":").replace("%25", "%")


def forwarded_rating_counts(conn: Connection, months: tuple[str, str]) -> dict[str, int]:
    """The provincial items (``sbPj``: a rating and each of its revisions) of the ratings given in ``months``, by
    status: a month's 上报省级, counted as the whole ledger's is (:func:`outbox_counts`, items) so that the months
    add up to it. An item is its rating's by its key: ``rating:<id>`` — the id escaped as
    :func:`gateway.citizen.outbox.key_part` does (a join on the key) — or ``rating:<id>:<n>`` (a revision; few: read
    one by one), or ``rating:<id>`` with ``:`` in the id as an older Tongban wrote it."""
    o, e = citizen_outbox.c, citizen_evaluations.c
    escaped = func.replace(func.replace(e.rating_id, "%", "%25", type_=String), ":", "%3A", type_=String)
    provincial = and_(o.target == "provincial_pj", o.operation == "sbPj")
    counts = {status: int(n) for status, n in conn.execute(
        select(o.status, func.count()).select_from(citizen_outbox.join(citizen_evaluations,
                                                                       o.key == literal("rating:") + escaped))
        .where(provincial, _given_in(months)).group_by(o.status)).tuples()}
    others = conn.execute(select(o.key, o.status).where(provincial, o.key.like("rating:%:%"))).tuples().all()
    candidates: list[tuple[str, list[str]]] = []  # (status, ids the key may be of, the likelier first)
    for key, status in others:
        rest = key[len("rating:"):]
        head, _, tail = rest.rpartition(":")
        candidates.append((status, [_unescaped(head), rest] if tail.isascii() and tail.isdigit() else [rest]))
    month_of: dict[str, str] = {}
    wanted = sorted({i for _, ids in candidates for i in ids})
    for chunk in in_chunks(wanted):
        month_of.update(conn.execute(select(e.rating_id, e.month).where(e.rating_id.in_(chunk))).tuples().all())
    for status, ids in candidates:
        month = next((month_of[i] for i in ids if i in month_of), None)
        if month is not None and months[0] <= month <= months[1]:
            counts[status] = counts.get(status, 0) + 1
    return counts


def outbox_counts(conn: Connection) -> dict[tuple[str, str, str], int]:
    """(target, operation, status) → how many items."""
    o = citizen_outbox.c
    rows = conn.execute(select(o.target, o.operation, o.status, func.count()).group_by(o.target, o.operation,
                                                                                         o.status))
    return {(t, op, s): int(n) for t, op, s, n in rows}
