"""12345 work orders: read from the hotline platform, routed to the competent department at once (the
platform's rule is 15 minutes), out-of-scope ones returned with the reason, the department's signature and
reply sent back once, an unsatisfied rating opening one redo due in 5 working days — and a second refused.

    sync_workorders(engine, settings, now=...)     # read, route, queue 转派 / 退回 (one transaction per page)
    deliver(engine, "hotline", HotlineClient(settings.hotline))
    sign_workorder(engine, "1234520260901…")       # the department signs (签收)
    reply_workorder(engine, "1234520260901…", "已核实处理")   # and replies (答复); the platform calls back
    workorder_summary(engine)                      # for the ops console

Routing is by (category, division) through ``routes`` of ``config/citizen.yaml``; the department sees the order
in Tongban's queue (``tongban workorders list --dept``). Times are injectable (``now=``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from statistics import quantiles
from typing import Any

import orjson
from sqlalchemy import Engine

from gateway.contract.errors import FieldIssue, RecordRejected
from gateway.crypto.pii import PiiCodec, redact, seal_text
from gateway.models.datetimes import beijing_minute, change_horizon
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.ops.periods import month_bounds
from gateway.store import citizen as store
from gateway.store import ledger
from gateway.store.lease import Lease
from gateway.store.sealing import require_ledger_keys

from .clients import HotlineClient
from .conventions import count_flags, dead_letter_id, from_hotline, hotline_time, raw_text
from .evaluations import CitizenError, callback_due
from .models import OUT_OF_SCOPE, WorkOrder
from .outbox import queue_item
from .replay import replay_pages
from .settings import CitizenSettings, Policy

__all__ = ["list_workorders", "replay_rejected", "WorkOrderReport", "reply_workorder", "request_redo", "sign_workorder", "sync_workorders",
           "workorder_summary"]

SOURCE = "hotline"
STREAM = "workorders"
LOOKBACK = timedelta(hours=1)
STATUSES = ("received", "dispatched", "returned", "replied", "redo", "closed")
"""The states Tongban holds an order in (``status`` of :func:`list_workorders`, ``by_status`` of the summary)."""


@dataclass
class WorkOrderReport:
    read: int = 0
    new: int = 0
    updated: int = 0
    dispatched: int = 0
    returned: int = 0
    unroutable: int = 0
    redo_opened: int = 0
    redo_refused: int = 0
    rehanded: int = 0
    """Orders the platform handed out again after a 退回 (重新派单: same number, 待转派 again), routed anew."""
    rejected: int = 0
    flagged: int = 0
    """Quality flags raised on orders kept (text no store can hold, repaired): record, field and rule in ``flags``."""
    rejections: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("rejections", "flags")} | {
            "rejections": self.rejections[:20], "flags": self.flags[:20]}


def _closing(day: Any, policy: Policy) -> datetime:
    return datetime.combine(day, policy.callback_closing, BEIJING)


def _due(start: datetime, days: int, calendar: WorkCalendar, policy: Policy) -> datetime:
    """The close (``callback_closing``, 18:00) of the ``days``-th working day after the day of ``start`` (that day
    itself not counted, 期间开始的日不计算在内). ``0`` days (当日办结, ``blsx: 0``) is the close of the same working
    day — the next working day's close when ``start`` is after closing or on a day off, so a due time is never
    before its start."""
    if days <= 0:
        return callback_due(start, calendar, policy.callback_closing)
    return _closing(calendar.add_days(start.astimezone(BEIJING).date(), days), policy)


def sync_workorders(engine: Engine, settings: CitizenSettings, *, client: HotlineClient | None = None,
                    calendar: WorkCalendar | None = None, now: datetime | None = None,
                    pii: PiiCodec | None = None) -> WorkOrderReport:
    """Read the orders changed since the watermark and act on each in the same transaction as its row. An order
    that cannot be used is dead-lettered, its raw payload sealed with ``pii`` (the ledger's keys: a sealed ledger
    refuses a run without them)."""
    calendar = calendar or WorkCalendar.load()
    report = WorkOrderReport()
    own = client is None
    source = client or HotlineClient(settings.hotline)
    try:
        with Lease(engine, f"citizen:{SOURCE}") as lease:
            with engine.begin() as conn:
                require_ledger_keys(conn, pii, what="sync the 12345 work orders")
                mark = ledger.get_watermark(conn, f"citizen:{SOURCE}", STREAM)
            since = None if mark is None else hotline_time(mark - LOOKBACK)
            for page in source.orders(since):
                stamp = now or datetime.now(timezone.utc)
                with engine.begin() as conn:
                    _first_read(conn, stamp)  # kept when a page is first read: a failed first run keeps nothing
                    high = _ingest(conn, page, settings, calendar, stamp, report, pii)
                    if high is not None and (mark is None or high > mark):
                        ledger.set_watermark(conn, f"citizen:{SOURCE}", STREAM, high)
                        mark = high
                    lease.renew(conn)
    finally:
        if own:
            source.close()
    return report


def _first_read(conn: Any, now: datetime) -> datetime:
    """When Tongban first read the platform (:func:`gateway.store.ledger.first_read`): an order whose 15 minutes ran
    out before then is late on arrival, not a dispatch of Tongban's that came late (:func:`workorder_summary`). A
    ledger that holds orders from before this mark was kept takes the first message it queued for the platform (the
    first run's 转派 or 退回), not an order's dispatch time, which for history read as the platform reports it is
    the platform's own, months before Tongban."""
    return ledger.first_read(conn, f"citizen:{SOURCE}", now, before=lambda: _first_message(conn))


def _first_message(conn: Any) -> datetime | None:
    """The first message queued for the platform: when a ledger from before the first-read mark first read it."""
    return store.first_outbox_item(conn, SOURCE)


def _dead(raw: Any, exc: RecordRejected, now: datetime) -> dict[str, Any]:
    return {"kind": "record", "system": SOURCE, "stream": STREAM, "source_id": dead_letter_id(raw, "gdbh"), "case_no": None,
            "cursor": None, "raw": raw_text(raw), "reason": str(exc),
            "issues": orjson.dumps([{"record": i.record, "field": i.field, "rule": i.rule, "message": i.message}
                                    for i in exc.issues]).decode(),
            "mapping_version": None, "status": "open", "attempts": 1, "created_at": now, "updated_at": now}


def _ingest(conn: Any, page: list[Any], settings: CitizenSettings, calendar: WorkCalendar, now: datetime,
            report: WorkOrderReport, pii: PiiCodec | None) -> datetime | None:
    high: datetime | None = None
    horizon = change_horizon()
    dead: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    for raw in page:
        report.read += 1
        try:
            order = from_hotline(raw)
        except RecordRejected as exc:
            report.rejected += 1
            report.rejections.append(redact(str(exc)))  # to the CLI and the task result: masked
            dead.append(_dead(raw, exc, now))
            continue
        count_flags(report, order.quality)
        old = store.workorder(conn, order.order_no)
        if order.changed_at > horizon:  # a 2099 gxsj must not move the watermark past every order still to come,
            count_flags(report, [FieldIssue(f"hotline:{order.order_no}", "changed_at", "changed_at.future",
                                            f"gxsj {beijing_minute(order.changed_at)} is after this machine's clock: "
                                            "not used as the watermark")])
            # nor be kept as the order's change time (a later hand-out after a 退回 would never be newer than it);
            # it says nothing newer than what is held, so a re-read is no hand-out either
            held = old["source_changed_at"] if old is not None and old["source_changed_at"] is not None else now
            order = order.model_copy(update={"changed_at": min(held, now)})
        elif high is None or order.changed_at > high:
            high = order.changed_at
        if old is None:
            _new_order(conn, order, raw, settings, calendar, now, report, outbox, dead, pii=pii)
        elif _handed_again(old, order):
            report.rehanded += 1
            _new_order(conn, order, raw, settings, calendar, now, report, outbox, dead,
                       handout=int(old["handout"] or 0) + 1, pii=pii)
        else:
            _platform_update(conn, old, order, settings, calendar, now, report)
    ledger.add_dead_letters(conn, list({d["source_id"]: d for d in dead}.values()), pii=pii)
    store.enqueue(conn, outbox, pii=pii)
    return high


_HANDED_OUT = ("", "待转派")
_FRESH = {"dispatched_at": None, "dept_code": None, "dept_name": None, "dept_system": None, "routed_by": None,
          "return_reason": None,
          "sign_due_at": None, "signed_at": None, "reply_due_at": None, "replied_at": None, "first_replied_at": None,
          "redo_due_at": None, "rating": None, "rated_at": None}
"""What an earlier hand-out of an order left that a new hand-out starts without."""


def _handed_again(old: Any, order: WorkOrder) -> bool:
    """Has the platform handed out again (重新派单, 待转派) an order Tongban holds as returned (退回) — typically
    reclassified after our 退回? Only a newer record counts: a re-read of the record we returned is no hand-out."""
    return (old["status"] == "returned" and order.platform_status in _HANDED_OUT
            and order.changed_at > old["source_changed_at"])


def _new_order(conn: Any, order: WorkOrder, raw: Any, settings: CitizenSettings, calendar: WorkCalendar,
               now: datetime, report: WorkOrderReport, outbox: list[dict[str, Any]], dead: list[dict[str, Any]],
               *, handout: int = 0, pii: PiiCodec | None = None) -> None:
    """A new order (``handout`` > 0: the n-th time the platform hands it out again after a 退回, routed as a new
    one, its former hand-out's department, times and rating cleared, and its messages to the platform keyed anew:
    :func:`order_ref`); its content (the citizen's complaint) sealed with ``pii``."""
    again = handout > 0
    policy = settings.policy
    row: dict[str, Any] = {
        "order_no": order.order_no, "matter_type": order.matter_type, "category": order.category,
        "division": order.division, "content": seal_text(order.content, pii), "case_no": order.case_no, "status": "received",
        "received_at": order.received_at, "month": order.received_at.astimezone(BEIJING).strftime("%Y-%m"),
        "limit_days": order.limit_days,
        "dispatch_due_at": order.received_at + timedelta(minutes=policy.dispatch_minutes),
        "platform_status": order.platform_status[:16], "source_changed_at": order.changed_at, "updated_at": now,
        "redo_round": 0, "redo_refused": 0, "handout": handout} | (_FRESH if again else {})
    report.new += not again
    if order.platform_status not in _HANDED_OUT:
        row.update(_as_reported(order, settings, calendar, report))
    else:
        row.update(_route(order, raw, settings, calendar, now, report, outbox, dead, handout=handout))
    store.upsert_workorder(conn, row, exists=again)


_REPORTED = {"已转派": "dispatched", "已签收": "dispatched", "重办": "redo", "已办结": "closed", "已退回": "returned"}
"""The platform's states that say outright where an order stands. 已答复 — and a state this module does not know
(已回访 …) — is read from the order's own facts: replied when it has a reply (``dfsj``), its rating then applied
as a rating read later is (:func:`_rated`)."""


def _as_reported(order: WorkOrder, settings: CitizenSettings, calendar: WorkCalendar,
                 report: WorkOrderReport) -> dict[str, Any]:
    """The state of an order Tongban did not route — read for the first time past 待转派 (history at the first
    sync, an order dispatched on the platform itself), or held unrouted while the platform moved it on — taken as
    the platform reports it: its department, dispatch, signature, reply, rating and redo, and the time limits that
    follow from them. Nothing is sent back: what is done is not done again."""
    policy = settings.policy
    status = _REPORTED.get(order.platform_status) or ("replied" if order.replied_at is not None else "dispatched")
    values: dict[str, Any] = {"status": status, "platform_status": order.platform_status[:16]}
    if status == "returned":
        return values | {"return_reason": order.return_reason}
    route = settings.route(order.category, order.division)
    ours = route is not None and route.dept_code == order.dept_code
    start = order.dispatched_at or order.received_at
    replied = order.replied_at
    values.update(
        dept_code=order.dept_code, dept_name=route.dept_name if ours else order.dept_name,  # type: ignore[union-attr]
        dept_system=route.system if ours else None, dispatched_at=order.dispatched_at,  # type: ignore[union-attr]
        routed_by="platform" if order.dept_code is not None else None,
        sign_due_at=start + timedelta(hours=policy.sign_hours),
        signed_at=order.signed_at or replied,  # a reply is only taken once signed for (先签收后答复)
        reply_due_at=_due(start, order.limit_days, calendar, policy), replied_at=replied,
        redo_round=1 if order.redo_count or status == "redo" else 0)
    if order.rating is not None and order.rated_at is not None:
        values.update(rating=order.rating, rated_at=order.rated_at)
    if status == "redo":
        values["redo_due_at"] = _due(order.rated_at or order.changed_at, policy.redo_days, calendar, policy)
    elif status == "replied" and "rated_at" in values:
        values.update(_rated(order, values["redo_round"], 0, policy, calendar, report))
    if values["status"] == "redo":  # the reply the redo answers: judged on its own due time (按时答复率)
        values["first_replied_at"] = replied
    return values


def _rated(order: WorkOrder, redo_round: int, redo_refused: int, policy: Policy, calendar: WorkCalendar,
           report: WorkOrderReport) -> dict[str, Any]:
    """What a callback rating of a replied order does: an unsatisfied first one opens the one redo, due in
    ``redo_days`` working days of the rating; an unsatisfied one after the redo closes the order and counts the
    refused second redo; any other closes it."""
    assert order.rating is not None and order.rated_at is not None
    values: dict[str, Any] = {"rating": order.rating, "rated_at": order.rated_at}
    if order.rating == "unsatisfied" and redo_round == 0:
        report.redo_opened += 1
        return values | {"status": "redo", "redo_round": 1,
                         "redo_due_at": _due(order.rated_at, policy.redo_days, calendar, policy)}
    if order.rating == "unsatisfied":
        report.redo_refused += 1
        return values | {"status": "closed", "redo_refused": 1}  # once per order: there is one redo to refuse
    return values | {"status": "closed"}


def _route(order: WorkOrder, raw: Any, settings: CitizenSettings, calendar: WorkCalendar, now: datetime,
           report: WorkOrderReport, outbox: list[dict[str, Any]], dead: list[dict[str, Any]], *,
           handout: int = 0) -> dict[str, Any]:
    """Where a new order goes: back to the platform when out of scope, else to the department of its route (转派);
    with no route it stays ``received`` and its raw record goes to the dead-letter store naming the rule."""
    policy = settings.policy
    if order.category in OUT_OF_SCOPE:
        reason = f"{order.category}类诉求不属于12345受理范围，请按相应渠道处理"
        outbox.append(queue_item("hotline", f"th:{order_ref(order.order_no, handout)}", "/gd/api/th",
                                 {"gdbh": order.order_no, "thyy": reason, "thsj": hotline_time(now)}, now=now))
        report.returned += 1
        return {"status": "returned", "return_reason": reason, "dispatched_at": now}
    route = settings.route(order.category, order.division)
    if route is None:
        report.unroutable += 1
        record = f"hotline:{order.order_no}"
        dead.append(_dead(raw, RecordRejected(record, [FieldIssue(
            record, "category", "route.missing", f"no department for category {order.category!r} in division "
                                                 f"{order.division}: add a route to config/citizen.yaml")]), now))
        return {}
    reply_due = _due(now, order.limit_days, calendar, policy)
    outbox.append(queue_item("hotline", f"zp:{order_ref(order.order_no, handout)}", "/gd/api/zp",
                             {"gdbh": order.order_no, "cbdw": route.dept_code, "cbdwmc": route.dept_name,
                              "zpsj": hotline_time(now)}, now=now))
    report.dispatched += 1
    return {"status": "dispatched", "dispatched_at": now, "dept_code": route.dept_code, "dept_name": route.dept_name,
            "dept_system": route.system, "routed_by": "tongban", "sign_due_at": now + timedelta(hours=policy.sign_hours),
            "reply_due_at": reply_due}


def replay_rejected(engine: Engine, settings: CitizenSettings, *, calendar: WorkCalendar | None = None,
                    now: datetime | None = None, pii: PiiCodec | None = None) -> WorkOrderReport:
    """Run the dead-lettered orders again — after a fix to the conventions, or a route added to
    ``config/citizen.yaml`` — and resolve the dead letters of those that now go through: an order that could not
    be routed is routed now (it waited as ``received``, its dispatch alert open)."""
    calendar, now = calendar or WorkCalendar.load(), now or datetime.now(timezone.utc)
    report = WorkOrderReport()
    # the sync's lease: the two must not write one order at once
    replay_pages(engine, SOURCE, lambda conn, rows: _replay_page(conn, rows, settings, calendar, now, report, pii),
                 pii=pii, what="replay the 12345 work orders' dead letters")
    return report


def _replay_page(conn: Any, rows: Any, settings: CitizenSettings, calendar: WorkCalendar, now: datetime,
                 report: WorkOrderReport, pii: PiiCodec | None) -> None:
    """One page of dead-lettered orders, in the caller's transaction: each that now goes through is taken (a new
    order routed, an unrouted one routed now) and its dead letter resolved; the others are dead-lettered again."""
    dead: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    fixed: list[str] = []
    for row in rows:
        raw = orjson.loads(row.raw) if row.raw else None
        report.read += 1
        try:
            order = from_hotline(raw)
        except RecordRejected as exc:
            report.rejected += 1
            dead.append(_dead(raw, exc, now))
            continue
        old = store.workorder(conn, order.order_no)
        if old is None:
            before = len(dead)
            _new_order(conn, order, raw, settings, calendar, now, report, outbox, dead, pii=pii)
        elif old["status"] == "received":
            before = len(dead)
            values = _route(order, raw, settings, calendar, now, report, outbox, dead, handout=old["handout"] or 0)
            if values:
                store.update_workorder(conn, order.order_no, **values, updated_at=now)
        else:
            before = len(dead)
        if len(dead) == before:
            fixed.append(str(row.source_id))
    ledger.add_dead_letters(conn, list({d["source_id"]: d for d in dead}.values()), pii=pii)
    store.enqueue(conn, outbox, pii=pii)
    ledger.resolve_dead_letters(conn, kind="record", system=SOURCE, stream=STREAM, source_ids=fixed)


def _platform_update(conn: Any, old: Any, order: WorkOrder, settings: CitizenSettings, calendar: WorkCalendar,
                     now: datetime, report: WorkOrderReport) -> None:
    """The platform's news about an order we hold: a signature (签收) or a reply (答复) given on the platform
    itself, its callback rating (回访) after a reply, a redo (重办) it opens on an order Tongban holds closed (a 复核
    turned the rating unsatisfied), and its end there — closed (已办结) or taken back (已退回) — whatever Tongban
    held it as. Each is taken once — a re-read of the same state (the one-hour lookback) changes
    nothing — and only when newer than what Tongban holds."""
    policy = settings.policy
    values: dict[str, Any] = {"platform_status": order.platform_status[:16], "source_changed_at": order.changed_at,
                              "updated_at": now}
    report.updated += 1
    status = old["status"]
    if status == "received" and order.platform_status not in ("", "待转派"):
        # never routed here (no route yet), and the platform has moved it on: it stands where the platform says
        store.update_workorder(conn, old["order_no"], **(values | _as_reported(order, settings, calendar, report)))
        return
    ended = _ended(old, order)
    if ended == "returned":  # taken back on the platform (改派, 退单): no time limit of Tongban's runs on for it
        store.update_workorder(conn, old["order_no"], **values, status="returned",
                               return_reason=order.return_reason or old["return_reason"])
        return
    if (status == "dispatched" and old["signed_at"] is None and order.signed_at is not None):
        values["signed_at"] = order.signed_at
    if (status in ("dispatched", "redo") and order.replied_at is not None
            and (old["replied_at"] is None or order.replied_at > old["replied_at"])):
        status = "replied"  # replied on the platform (the first reply, or the redo's)
        values.update(status=status, replied_at=order.replied_at)
        if old["signed_at"] is None:
            values["signed_at"] = order.signed_at or order.replied_at
    fresh_rating = order.rating is not None and order.rated_at is not None and (
        old["rated_at"] is None or order.rated_at > old["rated_at"])
    reopened = (status == "closed" and order.platform_status == "重办" and fresh_rating
                and _opens_redo(order, old["redo_round"]))  # a 复核 turned a closed order's rating: the redo opens
    if fresh_rating and (status == "replied" or reopened) and not (ended and _opens_redo(order, old["redo_round"])):
        values.update(_rated(order, old["redo_round"], old["redo_refused"], policy, calendar, report))
    elif fresh_rating and (status == "closed" or ended):  # the latest rating counts (a closed order's, or the one
        values.update(rating=order.rating, rated_at=order.rated_at)  # the platform closed it with)
    if ended == "closed":  # closed on the platform: it ends there, whatever Tongban held it as (no redo opens)
        values["status"] = "closed"
    if values.get("status") == "redo" and old["first_replied_at"] is None:  # the reply the redo answers
        values["first_replied_at"] = values.get("replied_at") or old["replied_at"]
    store.update_workorder(conn, old["order_no"], **values)


def _ended(old: Any, order: WorkOrder) -> str | None:
    """``closed`` or ``returned`` when the platform ended an order Tongban still holds open (dispatched, replied,
    redo) — 已办结 or 已退回 on the platform itself; else None."""
    if old["status"] in ("closed", "returned"):
        return None
    state = _REPORTED.get(order.platform_status)
    return state if state in ("closed", "returned") else None


def _opens_redo(order: WorkOrder, redo_round: int) -> bool:
    """Would this rating open the one redo (unsatisfied, no redo yet)? Not for an order the platform has closed."""
    return order.rating == "unsatisfied" and redo_round == 0


def order_ref(order_no: str, handout: int | None) -> str:
    """How the outbox keys an order's messages to the platform (``zp:<ref>``, ``qs:<ref>``, ``df:<ref>:<round>``):
    its number, and for each time the platform handed it out again after a 退回 ``#<n>`` — the same keys again
    would be taken for messages already delivered, and the new hand-out's 转派, 签收 and 答复 never sent."""
    return order_no if not handout else f"{order_no}#{handout}"


def _order(conn: Any, order_no: str) -> Any:
    row = store.workorder(conn, order_no)
    if row is None:
        raise CitizenError(f"workorder:{order_no}", "order_no", "unknown", "no such work order")
    return row


def sign_workorder(engine: Engine, order_no: str, *, at: datetime | None = None,
                   pii: PiiCodec | None = None) -> dict[str, Any]:
    """The department signs for the order (签收); sent to the platform once (queued sealed with ``pii``)."""
    at = at or datetime.now(timezone.utc)
    with engine.begin() as conn:
        row = _order(conn, order_no)
        if row["status"] == "dispatched" and row["signed_at"] is not None:
            raise CitizenError(f"workorder:{order_no}", "signed_at", "sign.once",
                               f"signed for already, at {beijing_minute(row['signed_at'])}")
        if row["status"] != "dispatched":
            raise CitizenError(f"workorder:{order_no}", "status", "sign.dispatched_only",
                               f"only a dispatched order is signed for; this one is {row['status']}")
        store.update_workorder(conn, order_no, signed_at=at, updated_at=at)
        store.enqueue(conn, [queue_item("hotline", f"qs:{order_ref(order_no, row['handout'])}", "/gd/api/qs",
                                        {"gdbh": order_no, "qssj": hotline_time(at)}, now=at)], pii=pii)
    return {"order_no": order_no, "signed_at": at, "on_time": row["sign_due_at"] is None or at <= row["sign_due_at"]}


def reply_workorder(engine: Engine, order_no: str, text: str, *, at: datetime | None = None,
                    pii: PiiCodec | None = None) -> dict[str, Any]:
    """The department's reply (答复) — the first one, or the redo's; sent to the platform once per round. An order
    not yet signed for is signed for first, at the same instant (the platform takes no 答复 before the 签收, and a
    department that answers has received the order): the platform is sent both, in that order. The reply (to the
    citizen, by name often) is queued sealed with ``pii``."""
    at = at or datetime.now(timezone.utc)
    record = f"workorder:{order_no}"
    if not text.strip():
        raise CitizenError(record, "reply.text", "required", "a reply needs its text")
    with engine.begin() as conn:
        row = _order(conn, order_no)
        if row["status"] not in ("dispatched", "redo"):
            raise CitizenError(record, "status", "reply.open_only",
                               f"only a dispatched order or a redo is replied to; this one is {row['status']}")
        round_ = row["redo_round"] if row["status"] == "redo" else 0
        due = row["redo_due_at"] if row["status"] == "redo" else row["reply_due_at"]
        # a redo opened here by hand (request_redo) is unknown to the platform, which would refuse its reply
        sent = round_ == 0 or row["platform_status"] == "重办"
        signing = row["status"] == "dispatched" and row["signed_at"] is None
        first = {"first_replied_at": row["replied_at"]} if round_ and row["first_replied_at"] is None else {}
        store.update_workorder(conn, order_no, status="replied", replied_at=at, updated_at=at,
                               **({"signed_at": at} if signing else {}), **first)
        ref = order_ref(order_no, row["handout"])
        if signing:
            store.enqueue(conn, [queue_item("hotline", f"qs:{ref}", "/gd/api/qs",
                                            {"gdbh": order_no, "qssj": hotline_time(at)}, now=at)], pii=pii)
        if sent:
            store.enqueue(conn, [queue_item("hotline", f"df:{ref}:{round_}", "/gd/api/df",
                                            {"gdbh": order_no, "cbdw": row["dept_code"], "dfnr": text,
                                             "dfsj": hotline_time(at), "cblc": round_}, now=at)], pii=pii)
    return {"order_no": order_no, "round": round_, "replied_at": at, "on_time": due is None or at <= due,
            "sent": sent, "signed_now": signing}


HAND_REDO_UNSENT = ("the redo was opened here by hand (tongban workorders redo), not by the platform, which would "
                    "refuse a reply to a redo it does not know: send it on the platform's own screen")
"""Why the reply to a redo opened by hand (:func:`request_redo`) is recorded and not sent to the platform
(``sent: false`` in what :func:`reply_workorder` returns)."""


def request_redo(engine: Engine, order_no: str, *, at: datetime | None = None,
                 calendar: WorkCalendar | None = None, policy: Policy | None = None) -> dict[str, Any]:
    """Open a redo by hand (an unsatisfied rating reported outside the platform): one per order ("重办次数为1次"),
    due in ``redo_days`` working days; a second is refused with the rule it breaks."""
    at = at or datetime.now(timezone.utc)
    calendar, policy = calendar or WorkCalendar.load(), policy or Policy()
    record = f"workorder:{order_no}"
    with engine.begin() as conn:
        row = _order(conn, order_no)
        if _second_redo(row) and not row["redo_refused"]:  # counted (committed) once per order, then told
            store.update_workorder(conn, order_no, redo_refused=1, updated_at=at)
    if row["redo_round"] >= 1:
        raise CitizenError(record, "redo_round", "redo.once",
                           "an order is redone once (重办次数为1次); this one was redone already")
    with engine.begin() as conn:
        row = _order(conn, order_no)
        if row["status"] not in ("replied", "closed") or row["replied_at"] is None:
            raise CitizenError(record, "status", "redo.after_reply", "only a replied order can be redone")
        due = _due(at, policy.redo_days, calendar, policy)
        store.update_workorder(conn, order_no, status="redo", redo_round=1, redo_due_at=due, updated_at=at,
                               first_replied_at=row["first_replied_at"] or row["replied_at"])
    return {"order_no": order_no, "redo_due_at": due}


def _second_redo(row: Any) -> bool:
    """Is a redo asked for now a second one the rules refuse (the KPI "second redo refused")? Only once the redo
    was answered (replied or closed since): asking again while it is still open is the same redo asked twice, not
    a second — and an order counts at most once however often the command is repeated."""
    return row["redo_round"] >= 1 and row["status"] in ("replied", "closed")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _replies(r: Any) -> list[tuple[datetime, datetime | None]]:
    """(replied at, due by) of each reply an order had: the first reply against ``reply_due_at`` — kept when a
    redo is replied to, so a late first answer counts late whatever the redo does — and the redo's against
    ``redo_due_at``. A row from before the first reply was kept (no ``first_replied_at``): the reply held."""
    first = r["first_replied_at"]
    if first is None:
        if r["replied_at"] is None:
            return []
        due = r["redo_due_at"] if r["redo_round"] and r["redo_due_at"] else r["reply_due_at"]
        return [(r["replied_at"], due)]
    out: list[tuple[datetime, datetime | None]] = [(first, r["reply_due_at"])]
    if r["replied_at"] is not None and r["replied_at"] != first:
        out.append((r["replied_at"], r["redo_due_at"]))
    return out


def _routed(r: Any) -> bool:
    """Was the order routed to a department (转派)? An order Tongban returned (退回) to the platform has its
    ``dispatched_at`` (the time of the 退回) but no department: it was not routed, and a quick 退回 is no quick
    转派. One routed and then taken back on the platform (改派, 已退回) was routed, at that time."""
    return r["dispatched_at"] is not None and r["dept_code"] is not None


def _in_time(r: Any) -> bool:
    return bool(r["dispatched_at"] <= r["dispatch_due_at"])


def _by_platform(r: Any, first_read: datetime | None) -> bool:
    """Was the order routed after the cut-over by the platform's own staff (read for the first time already
    已转派: they were quicker, or Tongban was not reading)? Not Tongban's dispatch: counted apart
    (``routed_by_platform``), in no figure of Tongban's — its dispatch time is the platform's."""
    return r["routed_by"] == "platform" and not _before_tongban(r, first_read)


def _before_tongban(r: Any, first_read: datetime | None) -> bool:
    """Was the order routed before Tongban first read the platform (history, read as the platform reports it)?
    Not Tongban's dispatch, in time or not: counted in no figure of Tongban's."""
    return first_read is not None and r["dispatched_at"] < first_read


def _late_on_arrival(r: Any, first_read: datetime | None) -> bool:
    """Was the order, routed by Tongban, late because its 15 minutes had run out before Tongban first read the
    platform (``first_read``: the platform's backlog when Tongban was connected)? Then no dispatch of Tongban's
    could be in time, and counting it late would say nothing of what Tongban does."""
    return (first_read is not None and not _before_tongban(r, first_read) and not _by_platform(r, first_read)
            and r["dispatch_due_at"] < first_read and not _in_time(r))


def workorder_summary(engine: Engine, *, now: datetime | None = None, period: str | None = None) -> dict[str, Any]:
    """The 12345 figures for the ops console and ``tongban workorders summary --json``.

    ``period`` (``2026-11``, ``2026``): the orders handed out (派单) in it, Beijing month; the replies not received
    stay those of every order. None: every order.

    Returns::

        {"orders": int,
         "by_status": {"received": int, "dispatched": int, "returned": int, "replied": int, "redo": int,
                       "closed": int},
         "dispatch_minutes": {"p50": float | None, "p90": float | None, "p99": float | None, "max": float | None},
                                          # received (派单) → routed, over the routed orders not late on arrival
         "dispatched_in_time_ratio": float | None,   # routed within dispatch_minutes (15) / routed, of the orders
                                          # not late on arrival: what Tongban controls
         "routed": int,                   # orders routed to a department (转派): the base of the dispatch figures;
                                          # those Tongban returned (退回, by_status "returned") are not routed
         "routed_before_tongban": int,    # routed before Tongban first read the platform (history, as the
                                          # platform reports it): in no figure of Tongban's
         "routed_by_platform": int,       # routed after it by the platform's own staff (first read already
                                          # 已转派): in no figure of Tongban's either
         "late_on_arrival": int,          # routed by Tongban, but their 15 minutes ran out before Tongban first
                                          # read the platform (its backlog): counted apart, in no dispatch figure
         "dispatched_late": int,          # routed past the 15 minutes though not late on arrival: Tongban's own
         "dispatched_in_time_ratio_all": float | None,  # routed within the 15 minutes / routed, every routed
                                          # order (as the platform counts the district)
         "undispatched_overdue": int,     # still unrouted past the 15 minutes
         "sign_on_time_ratio": float | None,   # 按时签收率: signed for by the sign due time / (signed for +
                                          # signs_overdue) (orders with a sign due time: routed by Tongban)
         "signs_overdue": int,            # dispatched, not signed for, past the sign due time
         "reply_on_time_ratio": float | None,        # replies by their due time / (replies + replies_overdue):
                                          # the first reply and the redo's, each against its own due time
         "replies_overdue": int,          # dispatched or redo, unreplied past the due time
         "replies_not_received": {"pending": int, "dead": int},  # replies recorded here (counted above at the
                                          # time given) the platform has not received: on their way, or given up
                                          # (a push dead letter each: the city's figure lacks them)
         "redo": {"opened": int, "refused": int},
         "satisfaction": float | None,    # (满意 + 基本满意) / rated, latest rating of each order
         "by_unit_month": [{"dept_code": str, "dept_name": str | None, "month": "2026-09", "rated": int,
                            "satisfied": int, "basic": int, "unsatisfied": int, "satisfaction": float | None}],
                                          # month of 派单 (received); unit = the department Tongban routed to
         "timeliness_by_unit_month": [{"dept_code": str, "dept_name": str | None, "month": "2026-09",
                                       "sign_on_time_ratio": ..., "signs_overdue": ..., "reply_on_time_ratio": ...,
                                       "replies_overdue": ...}]}  # the timeliness figures above, per department
                                          # routed to and month of 派单
    """
    now = now or datetime.now(timezone.utc)
    first, last = month_bounds(period)
    with engine.connect() as conn:
        rows = [r for r in store.workorder_rows(conn)
                if period is None or (r["month"] is not None and first <= r["month"] <= last)]  # type: ignore[operator]
        first_read = ledger.known_first_read(conn, f"citizen:{SOURCE}", before=lambda: _first_message(conn))
        unsent = store.outbox_status_counts(conn, SOURCE, key_prefix="df:")
    routed = [r for r in rows if _routed(r)]
    history = [r for r in routed if _before_tongban(r, first_read)]
    arrived_late = [r for r in routed if _late_on_arrival(r, first_read)]
    by_platform = [r for r in routed if _by_platform(r, first_read)]
    ours = [r for r in routed if not _before_tongban(r, first_read) and not _by_platform(r, first_read)
            and not _late_on_arrival(r, first_read)]
    minutes = sorted((r["dispatched_at"] - r["received_at"]).total_seconds() / 60 for r in ours)

    def pct(p: int) -> float | None:
        if not minutes:
            return None
        if len(minutes) == 1:
            return round(minutes[0], 2)
        return round(quantiles(minutes, n=100, method="inclusive")[p - 1], 2)

    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["rating"] is None or r["dept_code"] is None:
            continue
        g = groups.setdefault((r["dept_code"], r["month"]), {"dept_code": r["dept_code"], "dept_name": r["dept_name"],
                                                             "month": r["month"], "rated": 0, "satisfied": 0,
                                                             "basic": 0, "unsatisfied": 0})
        g["rated"] += 1
        g[r["rating"]] += 1
    by_unit = [{**g, "satisfaction": _ratio(g["satisfied"] + g["basic"], g["rated"])}
               for _, g in sorted(groups.items())]
    rated = [r for r in rows if r["rating"] is not None]
    units: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        if r["dept_code"] is not None and r["month"] is not None:
            units.setdefault((r["dept_code"], r["month"]), []).append(r)
    timeliness_by_unit = [{"dept_code": code, "dept_name": unit[-1]["dept_name"], "month": month,
                           **_timeliness(unit, now)} for (code, month), unit in sorted(units.items())]
    return {
        "period": period,
        "orders": len(rows), "by_status": {s: sum(1 for r in rows if r["status"] == s) for s in STATUSES},
        "dispatch_minutes": {"p50": pct(50), "p90": pct(90), "p99": pct(99),
                             "max": round(minutes[-1], 2) if minutes else None},
        # the limit in force when the order was read (policy.dispatch_minutes), stored with it
        "dispatched_in_time_ratio": _ratio(sum(1 for r in ours if _in_time(r)), len(ours)),
        "routed": len(routed), "routed_before_tongban": len(history), "routed_by_platform": len(by_platform),
        "late_on_arrival": len(arrived_late),
        "dispatched_late": sum(1 for r in ours if not _in_time(r)),
        "dispatched_in_time_ratio_all": _ratio(sum(1 for r in routed if _in_time(r)), len(routed)),
        "undispatched_overdue": sum(1 for r in rows if r["status"] == "received" and r["dispatch_due_at"] < now),
        **_timeliness(rows, now),
        "replies_not_received": {"pending": unsent.get("pending", 0), "dead": unsent.get("dead", 0)},
        "redo": {"opened": sum(1 for r in rows if r["redo_round"]), "refused": sum(r["redo_refused"] for r in rows)},
        "satisfaction": _ratio(sum(1 for r in rated if r["rating"] in ("satisfied", "basic")), len(rated)),
        "by_unit_month": by_unit,
        "timeliness_by_unit_month": timeliness_by_unit,
    }


def _timeliness(rows: list[Any], now: datetime) -> dict[str, Any]:
    """按时签收率 and 按时答复率 of ``rows``, each over what was due: the orders signed for plus those still unsigned
    past their sign due time (late, though no signature was recorded), the replies given plus each reply still
    owed past its due time. Counting only what was done left a department that ignored its orders at 100%."""
    signed = [r for r in rows if r["signed_at"] is not None and r["sign_due_at"] is not None]
    signs_overdue = sum(1 for r in rows if r["status"] == "dispatched" and r["signed_at"] is None
                        and r["sign_due_at"] is not None and r["sign_due_at"] < now)
    replies = [reply for r in rows for reply in _replies(r)]

    def due(r: Any) -> Any:
        return r["redo_due_at"] if r["redo_round"] and r["redo_due_at"] else r["reply_due_at"]

    replies_overdue = sum(1 for r in rows if r["status"] in ("dispatched", "redo") and due(r) is not None
                          and due(r) < now)
    return {
        "sign_on_time_ratio": _ratio(sum(1 for r in signed if r["signed_at"] <= r["sign_due_at"]),
                                     len(signed) + signs_overdue),
        "signs_overdue": signs_overdue,
        "reply_on_time_ratio": _ratio(sum(1 for at, by in replies if by is None or at <= by),
                                      len(replies) + replies_overdue),
        "replies_overdue": replies_overdue,
    }


def list_workorders(engine: Engine, *, dept_code: str | None = None, status: str | None = None,
                    after: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Work orders, oldest first (``tongban workorders list``, ``GET /v1/workorders``): a department's queue with
    ``dept_code``; ``after`` is the last order number of the previous page."""
    with engine.connect() as conn:
        rows = store.department_workorders(conn, dept_code, status=status, after=after, limit=limit)
    return [{k: r[k] for k in LISTED} for r in rows]


LISTED = ("order_no", "matter_type", "category", "division", "status", "case_no", "dept_code", "dept_name",
          "received_at", "dispatched_at", "sign_due_at", "signed_at", "reply_due_at", "replied_at", "redo_round",
          "redo_due_at", "rating")
"""The columns of a listed work order (its content stays with the platform and the order's page there)."""
