"""一窗受理 hand-off with deemed acceptance (前台综合受理、后台分类审批): a case taken at a front desk goes to the
competent department's system *pending acceptance*; the department accepts or refuses it (with a reason)
through its own system, which Tongban reads through its connector like any change; with no answer within the
window (10 minutes by default, per item in the 通办目录, counted in office hours on working days:
:mod:`gateway.process.officehours`) the case is deemed accepted at that instant, the department and the hall are told
exactly once, and the case clock starts then.

The timer is a **stored due time and a frequent scan** (the ``tongban_handoff`` DAG, every minute), not an
Airflow deferrable trigger per case. Why:

- *It survives anything by construction.* The due time is a row in the ledger (``process_handoffs.due_at``),
  written when the department system took the case; a restart of Airflow, of the scheduler or of the whole
  host loses nothing, and a scan after a long outage deems every overdue case *at its own due time*, not at
  the time of the scan. A trigger's state lives in Airflow's metadata database and in a triggerer process;
  the ledger would not know a case is waiting, and the console could not show it.
- *Exactly once without coordination.* The scan moves a hand-off by compare-and-set (``pending → deemed``) in
  the same transaction as the case version and the outbox rows it writes, so two scans (a DAG run and a CLI
  run, or a retried task) cannot both tell the department: the loser's update matches no row.
- *Cost in proportion to work.* One indexed query for ``state = 'pending' AND due_at <= now``; thousands of
  front-desk cases a day are thousands of rows, not thousands of deferred task instances in the triggerer.

The price is lateness in *telling*, at most one scan interval (plus the push): the deemed instant recorded,
pushed and clocked is the due time itself. An answer the department gave within its window but which Tongban
reads after the due time is honoured (its own time decides) — and when a scan had already deemed the case, an
answer dated within the window still overrules it (the trail says so), whether it was entered after the deemed
version or before it and read after (:mod:`gateway.models.survivorship`: an answer given in time decides
however late it is read). An answer dated after the deemed acceptance is recorded as a late answer on the
hand-off and in its audit trail — never lost, never overriding the deemed acceptance.

A hall that receives only its own cases (``receives: own``, another province's hall) gets every later version
of the cases it accepted from this scan — the department's acceptance, its result — and nothing else.

States: ``awaiting_delivery`` (routed; the department system does not have it yet, no clock) → ``pending``
(handed at the outbox delivery; due = handed + window) → ``accepted`` | ``refused`` (the department answered in
time) | ``deemed`` | ``withdrawn`` (the hall withdrew the case before anyone decided: nobody is told, no clock);
or ``refused_routing`` (not in the office's 通办目录, no competent department, no system — a still-pending case only);
or ``not_handled`` (a hall routing by department code, ``intake: direct``, whose department has no system that takes
cases: nothing to hand off, the case is left as the hall wrote it).
A front-desk case the hall already accepted (or finished) itself (the old way) is registered ``accepted`` with no
timer — also when routing finds no department for it: a refusal is never written over an acceptance or a result.

An answer the department gave after its window but which the ledger read before the deeming scan is recorded as a
late answer in the deeming transaction (the deemed version carries the acceptance fields only, never a late
refusal's result or finish time). An acceptance the hall's copy echoes before a scan read the department's own
version still counts as the department's. A routed case the hall corrects so that another department is competent
is neither forwarded to the first one nor deemed accepted by it: a ``routing`` alert names both departments, and
``tongban handoff reroute`` moves an undecided one (:mod:`gateway.process.reroute`); a
hand-off still ``awaiting_delivery`` after :data:`UNDELIVERED_AFTER` raises a ``handoff_undelivered`` alert.

A case that ended before anyone accepted it (withdrawn, refused at the desk, voided: :mod:`.unaccepted`) is never
deemed accepted nor handed over: its hand-off ends ``withdrawn`` or ``refused`` with the reason, at registration
(nothing is pushed: the department never sees the applicant's data) or at the end of the window (nobody is told
"deemed accepted"; a routed department already holding the pending case gets the hall's closing version, as it
gets any later change of it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from gateway.crypto.error_text import describe_error
from gateway.kernel.config import SystemsConfig
from gateway.models.datetimes import beijing_iso, parse_instant
from gateway.models.text import fitted
from gateway.ops.deadlines.calendar import WorkCalendar
from gateway.ops.deadlines.clock import promised_deadline
from gateway.process.catalogue import Route, TongbanCatalogue
from gateway.process.unaccepted import Ended, ended_unaccepted
from gateway.store import process as store
from gateway.store.ledger import utcnow
from gateway.store.sealing import require_ledger_keys

__all__ = ["ACTOR", "HANDOFF_STATES", "HandoffReport", "handoff_detail", "handoff_overview", "preview_deemed", "scan_handoffs"]

HANDOFF_STATES = ("awaiting_delivery", "pending", "accepted", "refused", "deemed", "withdrawn", "refused_routing",
                  "not_handled")
"""Every state a hand-off can be in (the module's docstring says what each means)."""

ACTOR = "tongban.handoff"
"""The origin of the case versions the hand-off writes, and the actor of its audit entries."""

_REFUSED_RESULTS = frozenset({"not_accepted", "returned"})
_ENDING_FIELDS = ("result", "result_reason", "finished_at", "certificate_name", "certificate_no")
"""What a deemed acceptance never takes over from the version it is written on (a late refusal's or finish's)."""
HORIZON = timedelta(days=180)
"""How long after registration a decided hand-off is still watched (late answers, the hall's later changes, results
returned to another province's hall): longer than any item's limit with its special procedures, and it keeps
every scan's working set bounded by the last half year's front-desk cases, not all of them."""


@dataclass
class HandoffReport:
    registered: int = 0
    refused_routing: int = 0
    not_handled: int = 0
    """Front-desk cases registered with nothing to hand off: the department has no system that takes cases (a hall
    routing by department code), or the hall accepted or finished the case itself before routing failed."""
    handed: int = 0
    accepted: int = 0
    refused: int = 0
    deemed: int = 0
    late_answers: int = 0
    overruled: int = 0
    """Deemed acceptances a department answer given within the window overruled, read after the scan."""
    forwarded: int = 0
    returned: int = 0
    closed_at_hall: int = 0
    """Hand-offs ended ``withdrawn`` or ``refused`` because the case ended before anyone accepted it (the hall
    withdrew or refused it, or it was voided): registered so, or at the end of the window instead of deemed."""
    pending: int = 0
    undelivered: int = 0
    """Hand-offs awaiting delivery to the department longer than :data:`UNDELIVERED_AFTER` (alerted)."""
    deemed_cases: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """Front-desk cases this pass could not register (case number → why): each alerted (``handoff_scan``), the
    others registered — one case the ledger cannot take must not stop every deemed acceptance in the district."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def scan_handoffs(engine: Engine, systems: SystemsConfig, catalogue: TongbanCatalogue, *,
                  now: datetime | None = None, calendar: WorkCalendar | None = None,
                  pii: Any = None) -> HandoffReport:
    """One pass: register new front-desk cases, start the window of those the department now has, take the
    departments' answers, deem the overdue ones, forward the hall's later changes. Idempotent; ``now`` is
    injectable (tests, and a DAG run's own time). ``pii`` (the ledger's PiiCodec) seals the case document a
    routing refusal keeps as its dead letter; a sealed ledger refuses a scan without its keys before anything is
    written (that dead letter would be written in clear)."""
    now = now or utcnow()
    with engine.begin() as conn:
        require_ledger_keys(conn, pii, what="scan the hand-offs")
    report = HandoffReport()
    _register(engine, systems, catalogue, now, report, pii)
    _deliveries(engine, catalogue, calendar, now, report)
    _answers(engine, now, report)
    _deem(engine, systems, catalogue, now, calendar, report)
    _forward(engine, systems, catalogue, now, report)
    _return(engine, systems, now, report)
    with engine.connect() as conn:
        report.pending = len(store.live_handoffs(conn, ["awaiting_delivery", "pending"]))
    return report


def preview_deemed(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """What a scan as of ``now`` would deem accepted, writing nothing (a drill: "what is deemed at 10:10?"):
    the pending hand-offs due by then with no answer given within the window among what the ledger has read —
    ``case_no, target_system, hall_system, due_at`` (Beijing time), soonest first."""
    with engine.connect() as conn:
        out = []
        for h in store.due_handoffs(conn, now):
            case = store.read_case(conn, h["case_no"])
            answer = _answer(case, h, conn)
            if answer is not None and answer[1] <= h["due_at"]:
                continue  # the scan takes this answer instead
            if _closing(case, h, conn) is not None:
                continue  # withdrawn or refused before anyone accepted it: ended, not deemed
            out.append({"case_no": h["case_no"], "target_system": h["target_system"],
                        "hall_system": h["hall_system"], "due_at": beijing_iso(h["due_at"])})
    return out


# -- 1. registration and routing ------------------------------------------------------------------------------

def _register(engine: Engine, systems: SystemsConfig, catalogue: TongbanCatalogue, now: datetime,
              report: HandoffReport, pii: Any) -> None:
    halls = [s.name for s in systems.systems.values() if s.role == "hall"]
    with engine.connect() as conn:
        candidates = store.frontdesk_candidates(conn, halls)
    for row in candidates:
        data = _loads(row["data"])
        hall = systems.get(row["hall_system"])
        by_catalogue = hall.intake == "handoff"
        route = catalogue.route(data, systems) if by_catalogue else _by_department(data, systems, hall.name,
                                                                                   catalogue)
        # pending: nobody has accepted it yet (the department's copy may already show its own first steps)
        pending = not data.get("accepted_at") and not data.get("result")
        office = data.get("office") if isinstance(data.get("office"), dict) else {}
        # the row keeps codes as far as its columns hold them (a window's name mapped into the code: 200 characters)
        base = {"case_no": row["case_no"], "hall_system": hall.name, "office_code": fitted(office.get("code"), 64),
                "item_code": fitted(data.get("item_code"), 64), "division": fitted(data.get("division_code"), 12),
                "target_system": route.target, "dept_code": route.dept_code,
                "window_s": int(route.window.total_seconds()), "registered_at": now, "updated_at": now}
        try:
            _register_one(engine, row, data, hall.name, by_catalogue, route, pending, base, catalogue, now, report,
                          pii)
        except _MovedOn:
            continue  # a newer version arrived meanwhile: registered on the next scan
        except (OperationalError, InterfaceError):
            raise  # the database, not this case: the task fails and is retried
        except Exception as exc:  # noqa: BLE001 - this case's own trouble: alerted, the others still registered
            report.errors[row["case_no"]] = describe_error(exc, 1000)
    _scan_alerts(engine, report, now)


SCAN_ALERT = "handoff_scan"
"""The alert kind of a front-desk case the hand-off scan could not register (key: the case number); resolved by a
scan that registers it."""


def _scan_alerts(engine: Engine, report: HandoffReport, now: datetime) -> None:
    """One ``handoff_scan`` alert per case this pass could not register; the others' alerts resolved."""
    from gateway.ops.alerts import item_error_alerts

    item_error_alerts(engine, SCAN_ALERT, report.errors, lambda case_no, error: (
        f"case {case_no}: the hand-off scan cannot register it ({error}); no acceptance window or deemed acceptance "
        "runs for it until it is fixed; the other cases are registered"), now=now)


def _register_one(engine: Engine, row: dict[str, Any], data: dict[str, Any], hall: str, by_catalogue: bool,
                  route: Route, pending: bool, base: dict[str, Any], catalogue: TongbanCatalogue, now: datetime,
                  report: HandoffReport, pii: Any) -> None:
    case_no = row["case_no"]
    ended = ended_unaccepted({"version": row["version"], "data": data}, case_no, route.target)
    with engine.begin() as conn:
        if ended is not None:  # before routing: a case the hall took back is refused to nobody, handed to nobody
            if store.insert_handoff(conn, {**base, "target_system": None, "state": ended.state,
                                           "decided_at": ended.at or now, "decided_by": ended.by,
                                           "reason": ended.reason}):
                store.log(conn, case_no, now, "registered", ACTOR, hall=hall, office=base["office_code"],
                          pending=False, version=row["version"])
                store.log(conn, case_no, ended.at or now, ended.state, hall, reason=ended.reason, told=[])
                report.closed_at_hall += 1
            return
        if route.refused and not by_catalogue and route.rule == "routing.no_system":
            # routed by department code (``intake: direct``): a department with no system that takes cases
            # (none connected, or read-only) has nothing to be handed — the hall keeps the case as it is. Not a
            # refusal: the applicant's case is not returned, the hall's acceptance or result is not overwritten.
            if store.insert_handoff(conn, {**base, "state": "not_handled" if pending else "accepted",
                                           **({} if pending else {"decided_at": _hall_decided(data, now),
                                                                  "decided_by": "hall"}),
                                           "reason": route.reason}):
                store.log(conn, case_no, now, "registered", ACTOR, hall=hall, office=base["office_code"],
                          pending=pending, version=row["version"])
                store.log(conn, case_no, now, "not_handled", ACTOR, rule=route.rule, reason=route.reason,
                          dept_code=route.dept_code, told=[])
                report.not_handled += 1
            return
        if route.refused and not pending:
            # the hall already accepted (or finished) it itself: a refusal at routing would overwrite its
            # acceptance or its result with 不予受理. Registered accepted by the hall, with no timer; the routing
            # problem is in the trail (and the reason), for an operator.
            if store.insert_handoff(conn, {**base, "state": "accepted", "decided_at": _hall_decided(data, now),
                                           "decided_by": "hall", "reason": route.reason}):
                store.log(conn, case_no, now, "registered", ACTOR, hall=hall, office=base["office_code"],
                          pending=False, version=row["version"])
                store.log(conn, case_no, now, "not_routed", ACTOR, rule=route.rule, reason=route.reason, told=[])
                report.not_handled += 1
            return
        if route.refused:  # still pending: nobody accepted it, and nobody can
            if store.insert_handoff(conn, {**base, "state": "refused_routing", "decided_at": now,
                                           "decided_by": "routing", "reason": route.reason}):
                _refuse(conn, row, data, route, hall, now, pii)
                report.refused_routing += 1
            return
        state = "awaiting_delivery" if pending else "accepted"
        extra: dict[str, Any] = {}
        if not pending:
            extra = {"decided_at": _hall_decided(data, now), "decided_by": "hall"}
        if not store.insert_handoff(conn, {**base, "state": state, **extra}):
            return
        store.log(conn, case_no, now, "registered", ACTOR, hall=hall, office=base["office_code"], pending=pending,
                  version=row["version"])
        store.log(conn, case_no, now, "routed", ACTOR, target=route.target, dept_code=route.dept_code,
                  by="catalogue" if by_catalogue else "department_code", window_s=int(route.window.total_seconds()))
        if by_catalogue:  # the sync sent it to no department: the hand-off does
            version = _for_department(conn, case_no, row["version"], data, route.dept_code, catalogue, now)
            store.queue(conn, case_no, version, [route.target], now)  # type: ignore[list-item]
            store.move(conn, case_no, state, forwarded_version=version)
        report.registered += 1


def _hall_decided(data: dict[str, Any], now: datetime) -> datetime:
    """When the hall decided a front-desk case it accepted (or finished) itself: its acceptance time, else now."""
    return parse_instant(data.get("accepted_at")) or now


def _for_department(conn: Any, case_no: str, version: int, data: dict[str, Any], dept_code: str | None,
                    catalogue: TongbanCatalogue, now: datetime) -> int:
    """The version of a routed case to send to the department: the hall's own when it already names the
    competent department (实施主体), else a new version naming it (another province's hall names only itself)."""
    if not dept_code or data.get("dept_code") == dept_code:
        return version
    routed = {**data, "dept_code": dept_code, "dept_name": catalogue.departments.get(dept_code, data.get("dept_name"))}
    written = store.write_case_version(conn, case_no, version, routed, origin=ACTOR)
    if written is None:
        raise _MovedOn(case_no)
    store.log(conn, case_no, now, "competent_department", ACTOR, dept_code=dept_code, was=data.get("dept_code"),
              version=written)
    return written


def _by_department(data: dict[str, Any], systems: SystemsConfig, hall: str, catalogue: TongbanCatalogue) -> Route:
    """A hall that routes by department code (``intake: direct``): the sync already queued the department."""
    dept = data.get("dept_code")
    window = catalogue.window_for(data.get("item_code"), data.get("catalog_code"))
    target = next((t for t in systems.targets_for(dept, origin=hall) if systems.route(t).role == "department"), None)
    if target is None:
        return Route(None, dept, window, f"case {data.get('case_no')}: department {dept} has no connected system "
                     "that takes cases", "routing.no_system")
    return Route(target, dept, window)


def _refuse(conn: Any, row: dict[str, Any], data: dict[str, Any], route: Route, hall: str, now: datetime,
            pii: Any = None) -> None:
    """Refused at routing: back to the hall as 不予受理 with the reason, and a ``routing`` dead letter. Only a case
    still pending: a refusal is never written over a version that was accepted or has a result."""
    if data.get("accepted_at") or data.get("result"):
        return  # (the caller registers such a case accepted by the hall: never reached)
    at = beijing_iso(now)
    refused = {**data, "status": "returned", "result": "not_accepted", "result_reason": route.reason,
               "finished_at": at, "updated_at": at}
    version = store.write_case_version(conn, row["case_no"], row["version"], refused, origin=ACTOR)
    if version is not None:
        store.queue(conn, row["case_no"], version, [hall], now)
    store.refuse_to_dead_letters(conn, system=hall, case_no=row["case_no"], reason=route.reason or "",
                                 rule=route.rule or "routing.refused", field=_field_of(route.rule), raw=data, now=now,
                                 pii=pii)
    store.log(conn, row["case_no"], now, "refused_routing", ACTOR, rule=route.rule, reason=route.reason,
              told=[hall] if version is not None else [])


def _field_of(rule: str | None) -> str:
    return {"routing.unknown_office": "office.code", "routing.not_in_catalogue": "item_code",
            "routing.no_department": "division_code"}.get(rule or "", "dept_code")


# -- 2. the department system has it: the window starts ----------------------------------------------------------

def _deliveries(engine: Engine, catalogue: TongbanCatalogue, calendar: WorkCalendar | None, now: datetime,
                report: HandoffReport) -> None:
    """The department system has the case: its window starts, counted in office hours on working days
    (:mod:`gateway.process.officehours`) — nobody is deemed to have let ten minutes pass at night."""
    hours = catalogue.office_hours
    with engine.connect() as conn:
        waiting = store.live_handoffs(conn, ["awaiting_delivery"])
    for h in waiting:
        with engine.begin() as conn:
            handed = _handed_at(conn, h)
            if handed is None:
                continue
            due = hours.add(handed, timedelta(seconds=h["window_s"]), calendar).replace(microsecond=0)
            if store.move(conn, h["case_no"], "awaiting_delivery", holder=h["target_system"], state="pending",
                          handed_at=handed, due_at=due, updated_at=now):
                store.log(conn, h["case_no"], handed, "handed", h["target_system"], due_at=due.isoformat(),
                          office_hours=hours.describe())
                report.handed += 1
    _undelivered(engine, now, report)


def _handed_at(conn: Any, h: dict[str, Any]) -> datetime | None:
    """When the department system the hand-off waits for had the case. After an operator's move
    (:mod:`.reroute`): a version the move sent or later (a department the case is moved back to had an older one),
    and never before the move itself (a hall routing by department code had the sync deliver it already) — the
    window is the new department's own, from when it can answer."""
    moves = _moves(conn, h["case_no"]) if h["registered_at"] is not None else []
    if not moves:
        return store.delivered_at(conn, h["case_no"], h["target_system"])
    last = moves[-1]
    handed = store.delivered_at(conn, h["case_no"], h["target_system"], min_version=int(last.get("version") or 0))
    return None if handed is None else max(handed, last["at"])


UNDELIVERED_AFTER = timedelta(hours=1)
"""How long a routed case may wait for the department system to take it (``awaiting_delivery``: no window, no clock
runs) before the hand-off scan raises a ``handoff_undelivered`` alert — its outbox row may have died."""
UNDELIVERED_ALERT = "handoff_undelivered"


def _moves(conn: Any, case_no: str) -> list[dict[str, Any]]:
    """The operator's moves of the hand-off (``rerouted`` steps of its trail: ``at`` and what the move recorded —
    ``from_system``, ``from_dept_code``, ``to_system``, ``version`` …), oldest first. Read only for the few hand-offs
    that need it: one waiting for delivery, an acceptance that is not the department's own."""
    return [{**e["detail"], "at": e["at"]} for e in store.events(conn, case_no) if e["step"] == "rerouted"]


def _routed_at(conn: Any, h: dict[str, Any]) -> datetime:
    """When the hand-off was last routed: its registration, or the newest ``rerouted`` step of its trail."""
    return max((m["at"] for m in _moves(conn, h["case_no"])), default=h["registered_at"])


def _undelivered(engine: Engine, now: datetime, report: HandoffReport) -> None:
    """One alert per hand-off still ``awaiting_delivery`` longer than :data:`UNDELIVERED_AFTER` (with the status of
    its outbox rows to the department); it resolves when the department system has the case, or the hand-off ends."""
    from gateway.ops.alerts import AlertSpec, apply_alerts
    from gateway.store import alerts as alert_store

    with engine.connect() as conn:
        stuck = [h for h in store.live_handoffs(conn, ["awaiting_delivery"])
                 if h["registered_at"] is not None and now - h["registered_at"] >= UNDELIVERED_AFTER]
        # a hand-off an operator moved waits for its new department from the move (the few old enough: one query
        # each), not from its registration
        routed = {h["case_no"]: _routed_at(conn, h) for h in stuck}
        stuck = [h for h in stuck if now - routed[h["case_no"]] >= UNDELIVERED_AFTER]
        outbox_status = {h["case_no"]: store.outbox_statuses(conn, h["case_no"], h["target_system"]) for h in stuck}
    wanted = []
    for h in stuck:
        statuses = outbox_status[h["case_no"]]
        wanted.append(AlertSpec(
            key=f"undelivered:{h['case_no']}", level="error", system=h["target_system"], case_no=h["case_no"],
            message=(f"case {h['case_no']}: routed to {h['target_system']} ({h['dept_code']}) at "
                     f"{beijing_iso(routed[h['case_no']])}, and the department system has not taken it "
                     f"(outbox: {', '.join(statuses) or 'no row'}): no acceptance window, no clock runs; "
                     "check the push to the department"),
            details={"hall": h["hall_system"], "target": h["target_system"], "dept_code": h["dept_code"],
                     "registered_at": beijing_iso(h["registered_at"]), "outbox": statuses}))
    report.undelivered = len(wanted)
    with engine.begin() as conn:
        apply_alerts(conn, UNDELIVERED_ALERT, wanted, alert_store.open_keys(conn, UNDELIVERED_ALERT), now=now)


# -- 3. the department's answer ------------------------------------------------------------------------------

def _answer(case: dict[str, Any] | None, h: dict[str, Any], conn: Any) -> tuple[str, datetime, str | None] | None:
    """The department's own decision on the case: ``("accepted" | "refused", when, reason)``. Our own deemed
    acceptance echoed back is no answer.

    Read from the newest version when the department's system wrote it; else (the hall's copy won the merge
    before a scan read the department's: the hall echoing the department's acceptance, or a desk edit) an
    acceptance another system's newest version carries — one nobody but the department can have given while the
    hand-off waited for it — still counts (:func:`_echoed`)."""
    if case is None:
        return None
    data = case["data"]
    if case.get("handled_by", case["origin_system"]) != h["target_system"]:
        return _echoed(case, h, conn)
    if data.get("result") in _REFUSED_RESULTS:
        at = parse_instant(data.get("finished_at")) or parse_instant(data.get("updated_at"))
        return ("refused", at, data.get("result_reason")) if at else None
    accepted = parse_instant(data.get("accepted_at"))
    if accepted is None or data.get("status") == "submitted":
        return None
    if _ours(accepted, h):
        return None  # the department system holding our deemed acceptance
    return "accepted", accepted, None


def _ours(accepted: datetime, h: dict[str, Any]) -> bool:
    """``accepted`` is the hand-off's own deemed acceptance (echoed back by a source)."""
    return (h["state"] == "deemed" and h["decided_at"] is not None
            and abs((accepted - h["decided_at"]).total_seconds()) < 1)


def _echoed(case: dict[str, Any], h: dict[str, Any], conn: Any) -> tuple[str, datetime, str | None] | None:
    """An acceptance in a version another system wrote (the hall's echo of the department's decision): the hall
    registered the case pending — it had not accepted it — so an acceptance time its later copy carries is the
    department's. Tongban's own versions (the deemed acceptance, the routed copy) are no answer; nor is a copy
    closed by a result (the hall's own ending, :func:`_closing`). Nor is an acceptance by a department an operator
    moved the case away from (``tongban handoff reroute``), entered before the withdrawal reached it: neither its
    own version nor the hall's echo of it (the version names that department) is the competent one's answer."""
    by = case.get("handled_by", case["origin_system"])
    if case["origin_system"] in (ACTOR, None) or by == h["target_system"] or case["deleted"]:
        return None
    data = case["data"]
    if data.get("result") or data.get("status") in (None, "submitted", "returned", "voided", "deleted"):
        return None
    accepted = parse_instant(data.get("accepted_at"))
    if accepted is None or _ours(accepted, h):
        return None
    if h.get("handed_at") is not None and accepted < h["handed_at"]:
        return None  # accepted before the department even had it: not the department's answer
    if _from_released(conn, case, h):
        return None
    return "accepted", accepted, None


def _from_released(conn: Any, case: dict[str, Any], h: dict[str, Any]) -> bool:
    """Whether a version comes from a department the hand-off was moved away from (its system wrote it, or it names
    that department: the hall's echo of its acceptance) — and not the one it is routed to now (A → B → A)."""
    moves = _moves(conn, h["case_no"])
    if not moves:
        return False
    systems = {m.get("from_system") for m in moves} - {h["target_system"], None}
    depts = {m.get("from_dept_code") for m in moves} - {h["dept_code"], None}
    return case["origin_system"] in systems or case["data"].get("dept_code") in depts


def _answers(engine: Engine, now: datetime, report: HandoffReport) -> None:
    with engine.connect() as conn:
        watched = store.answer_candidates(conn, since=now - HORIZON)
    for h in watched:
        with engine.begin() as conn:
            case = store.read_case(conn, h["case_no"])
            answer = _answer(case, h, conn)
            if answer is None and h["state"] == "deemed" and case is not None:
                _ended_in_time(conn, case, h, now, report)
            if h["state"] == "deemed" and case is not None:
                # whatever this version said has been taken (an ending, an answer: the hand-off moved or holds a
                # late answer, and this marks nothing); a deemed one still open is read again when the case changes
                store.answers_seen(conn, h["case_no"], case["version"])
            if answer is None or case is None:
                continue
            decision, at, reason = answer
            via = {} if case["origin_system"] == h["target_system"] else {"via": case["origin_system"]}
            if h["state"] == "pending" and at <= h["due_at"]:
                if store.move(conn, h["case_no"], "pending", holder=h["target_system"], state=decision,
                              decided_at=at, decided_by="department", reason=reason, updated_at=now):
                    store.log(conn, h["case_no"], at, decision, h["target_system"], reason=reason, seen_at=beijing_iso(now),
                              **via)
                    report.accepted += decision == "accepted"
                    report.refused += decision == "refused"
            elif h["state"] == "deemed" and at <= h["decided_at"]:
                # Dated within the window but entered (or read) after a scan had deemed the case: the department's
                # answer stands, as it would have had it come first. The deemed version already went out; the
                # department's own version, newer in the ledger, follows it to the hall, and the trail says the
                # deemed acceptance was overruled.
                if _overrule_deemed(conn, h, decision, at, "department", h["target_system"], reason, now, report,
                                    **via):
                    report.accepted += decision == "accepted"
                    report.refused += decision == "refused"
            elif h["state"] == "deemed":
                if store.record_late_answer(conn, h, decision, at, reason, now=now, via=via.get("via")):
                    report.late_answers += 1
            # pending with an answer dated after the due time: deemed (below), the answer recorded late with it


def _ended_in_time(conn: Any, case: dict[str, Any], h: dict[str, Any], now: datetime, report: HandoffReport) -> None:
    """A deemed hand-off whose case was withdrawn or voided within its window — at the department, or by the
    applicant at the hall — but read only after the scan: the ending decides, as a refusal would — the hand-off is
    withdrawn, its trail says which deemed acceptance the ending overruled. (It stayed "deemed" for a case the
    ledger holds ended and unaccepted.) An ending dated only by its version's change time (no finish time) is
    judged by that, later than the deemed instant: such a hand-off stays deemed."""
    ended = ended_unaccepted(case, h["case_no"], h["target_system"])
    if (ended is None or ended.state != "withdrawn" or ended.at is None
            or h["decided_at"] is None or ended.at > h["decided_at"] or _from_released(conn, case, h)):
        return
    by = h["target_system"] if ended.by == "department" else h["hall_system"]
    _overrule_deemed(conn, h, ended.state, ended.at, ended.by, by, ended.reason, now, report)


def _overrule_deemed(conn: Any, h: dict[str, Any], state: str, at: datetime, decided_by: str, actor: str,
                     reason: str | None, now: datetime, report: HandoffReport, **detail: Any) -> bool:
    """The deemed hand-off decided instead by what was given within its window and read after the scan (an answer,
    an ending): its state and decision replaced, its trail naming the deemed acceptance overruled. False when
    another scan moved it first."""
    if not store.move(conn, h["case_no"], "deemed", holder=h["target_system"], state=state, decided_at=at,
                      decided_by=decided_by, reason=reason, updated_at=now):
        return False
    store.log(conn, h["case_no"], at, state, actor, reason=reason, overruled_deemed_at=beijing_iso(h["decided_at"]),
              seen_at=beijing_iso(now), **detail)
    report.overruled += 1
    return True


def _closing(case: dict[str, Any] | None, h: dict[str, Any], conn: Any) -> Ended | None:
    """What ends a pending hand-off at the end of its window instead of a deemed acceptance: the case ended before
    anyone accepted it — unless the department's own answer decides (:func:`_answer`), or the department closed it
    only after its window (then it is deemed first, like any answer dated after the due time). A tombstone ends it
    whoever wrote it, as it always did: there is no case left to accept."""
    if _answer(case, h, conn) is not None:
        return None
    ended = ended_unaccepted(case, h["case_no"], h["target_system"])
    late = ended is not None and ended.by == "department" and (ended.at is None or ended.at > h["due_at"])
    if late and case is not None and not case["deleted"]:
        return None
    return ended


# -- 4. deemed acceptance ------------------------------------------------------------------------------------

def _deem(engine: Engine, systems: SystemsConfig, catalogue: TongbanCatalogue, now: datetime,
          calendar: WorkCalendar | None, report: HandoffReport) -> None:
    routed = _routing_halls(systems)
    with engine.connect() as conn:
        due = store.due_handoffs(conn, now)
    for h in due:
        try:
            _deem_one(engine, h, catalogue, now, calendar, report, routed)
        except _MovedOn:
            continue  # the case changed between read and write: rolled back, the next scan deems it


class _MovedOn(Exception):
    """The case got a newer version while it was being deemed accepted."""


def _deem_one(engine: Engine, h: dict[str, Any], catalogue: TongbanCatalogue, now: datetime,
              calendar: WorkCalendar | None, report: HandoffReport, routed: set[str]) -> None:
    deemed_at: datetime = h["due_at"]
    with engine.begin() as conn:
        case = store.read_case(conn, h["case_no"])
        ended = _closing(case, h, conn)
        if ended is not None:  # withdrawn or refused at the hall (or voided) before anyone decided: no clock
            if store.move(conn, h["case_no"], "pending", holder=h["target_system"], state=ended.state,
                          decided_at=ended.at,
                          decided_by=ended.by, reason=ended.reason, updated_at=now):
                told = _forward_closing(conn, h, ended.state, case, catalogue, now)
                store.log(conn, h["case_no"], now, ended.state, h["hall_system"] if ended.by == "hall"
                          else h["target_system"], due_at=beijing_iso(deemed_at), reason=ended.reason, told=told)
                report.closed_at_hall += 1
            return
        if case is None:  # (ended above: a purged case is withdrawn)
            return
        competent = (_competent(case["data"], catalogue, by_catalogue=h["hall_system"] in routed)
                     if case["origin_system"] == h["hall_system"] else None)
        if competent and h["dept_code"] and competent != h["dept_code"]:
            # the hall corrected the case so that another department is competent: not deemed accepted by the one
            # routed first (it was never sent the correction); an operator moves it (the routing alert)
            _rerouted(conn, h, "pending", case, competent, now)
            return
        # The department answered only after its window (read before this scan): the case is deemed accepted, and
        # its answer is recorded as late here, in the same transaction — once the deemed version is the newest, no
        # later scan can read it any more.
        answer = _answer(case, h, conn)
        late = answer if answer is not None and answer[1] > deemed_at else None
        extra = {"late_decision": late[0], "late_decided_at": late[1], "late_reason": late[2]} if late else {}
        if not store.move(conn, h["case_no"], "pending", holder=h["target_system"], state="deemed",
                          decided_at=deemed_at, decided_by="deemed", updated_at=now, **extra):
            return
        data = _deemed(case["data"], h, catalogue, calendar, deemed_at)
        # Dated on the wall clock: a change a source makes after it is newer (a department's answer dated within
        # the window overrules it, see _answers); a change made before it but read after gives none of the handling
        # it set unless it is an answer (merge.older_than_tongban) — dating the version "just after what was read"
        # let any such change, a clerk merely opening the case, wipe the 视为受理.
        version = store.write_case_version(conn, h["case_no"], case["version"], data, origin=ACTOR)
        if version is None:
            raise _MovedOn(h["case_no"])
        told = sorted({h["hall_system"], h["target_system"]})
        store.queue(conn, h["case_no"], version, told, now)
        store.log(conn, h["case_no"], deemed_at, "deemed", ACTOR, window_s=h["window_s"], version=version,
                  told=told, scanned_at=beijing_iso(now))
        if late is not None:
            store.log_late_answer(conn, h["case_no"], h["target_system"], late[0], late[1], late[2],
                                  deemed_at=deemed_at, now=now)
    report.deemed += 1
    report.late_answers += late is not None
    report.deemed_cases.append(h["case_no"])


def _deemed(data: dict[str, Any], h: dict[str, Any], catalogue: TongbanCatalogue, calendar: WorkCalendar | None,
            at: datetime) -> dict[str, Any]:
    """The case as deemed accepted at ``at``: accepted then, a 视为受理 step, and the item's unified limit. Built
    from the acceptance fields only: a refusal (or any ending) the department entered after its window — recorded
    as a late answer — does not ride along (an "accepted" version with 不予受理 and a finish time)."""
    stamp = beijing_iso(at)
    minutes = h["window_s"] // 60
    data = {**data, **{key: None for key in _ENDING_FIELDS if key in data}}
    events = list(data.get("events") or [])
    events.append({"seq": len(events) + 1, "kind": "step", "name": "视为受理", "action": "accept",
                   "special_type": None, "started_at": stamp, "ended_at": stamp, "handler": ACTOR,
                   "opinion": f"部门{minutes}分钟内未作出受理决定，视为受理并开始计时", "reason": None, "result": None})
    out = {**data, "accepted_at": stamp, "status": "accepted", "events": events, "updated_at": stamp}
    entry = catalogue.item(data.get("item_code"), data.get("catalog_code"))
    if entry is not None and entry.limit_days is not None:
        out["promised_days"] = entry.limit_days
        if calendar is not None:
            # the instant the case clock will call due (the unit it will count in): a promise at 17:00 of the last
            # day made a 即办件 deemed after 17:00 promised before it was accepted, and 按时办结 disagree with the clock
            unit = catalogue.unit_for(data.get("item_code"), data.get("catalog_code"), calendar)
            due = promised_deadline(at, entry.limit_days, unit, calendar)
            out["promised_at"] = beijing_iso(due)
    return out


# -- 5. the hall's later changes reach the routed department -------------------------------------------------------

def _routing_halls(systems: SystemsConfig) -> set[str]:
    """The halls whose front-desk cases the hand-off routes by the 通办目录 (``intake: handoff``)."""
    return {s.name for s in systems.systems.values() if s.role == "hall" and s.intake == "handoff"}


def _forward(engine: Engine, systems: SystemsConfig, catalogue: TongbanCatalogue, now: datetime,
             report: HandoffReport) -> None:
    routed = _routing_halls(systems)
    if not routed:
        return
    with engine.connect() as conn:
        live = store.forwardable_handoffs(conn, ["awaiting_delivery", "pending", "accepted", "deemed"],
                                          since=now - HORIZON, halls=sorted(routed))
    for h in live:
        try:
            with engine.begin() as conn:
                if _forward_one(conn, h, h["state"], store.read_case(conn, h["case_no"]), catalogue, now):
                    report.forwarded += 1
        except _MovedOn:
            continue  # moved on (a newer version, an operator's move) between read and write: rolled back


def _forward_one(conn: Any, h: dict[str, Any], state: str, case: dict[str, Any] | None, catalogue: TongbanCatalogue,
                 now: datetime) -> bool:
    """Queue the hall's newest version of a routed case for its department, once per version; False when there is
    none to forward (not the hall's, already forwarded, or the case moved on meanwhile)."""
    if case is None or case["origin_system"] != h["hall_system"] or case["version"] <= h["forwarded_version"]:
        return False
    competent = _competent(case["data"], catalogue, by_catalogue=True)  # (only halls that hand off are forwarded)
    if competent and h["dept_code"] and competent != h["dept_code"]:
        _rerouted(conn, h, state, case, competent, now)
        return False
    try:
        version = _for_department(conn, h["case_no"], case["version"], case["data"], h["dept_code"], catalogue, now)
    except _MovedOn:
        return False
    if not store.move(conn, h["case_no"], state, holder=h["target_system"], forwarded_version=version,
                      updated_at=now):
        raise _MovedOn(h["case_no"])  # moved by an operator meanwhile: the version written above is rolled back
    store.queue(conn, h["case_no"], version, [h["target_system"]], now)
    store.log(conn, h["case_no"], now, "forwarded", ACTOR, version=version, target=h["target_system"])
    return True


def _competent(data: dict[str, Any], catalogue: TongbanCatalogue, *, by_catalogue: bool) -> str | None:
    """The competent department of a version of a routed case, as its registration routed it: for a hall that
    hands off by the 目录 (:meth:`TongbanCatalogue.route`, step 2) the item's department for the case's 行政区划, else
    the department the case names — which is all a hall routing by department code (``intake: direct``) goes by
    (its alert would name a department ``handoff reroute`` cannot move the case to)."""
    entry = catalogue.item(data.get("item_code"), data.get("catalog_code")) if by_catalogue else None
    if entry is not None:
        return entry.department_for(str(data.get("division_code") or ""))
    dept = data.get("dept_code")
    return str(dept) if dept else None


ROUTING_ALERT = "routing"
"""The alert kind of a routed case whose hall version names another competent department than the one holding it."""


def _rerouted(conn: Any, h: dict[str, Any], state: str, case: dict[str, Any], competent: str, now: datetime) -> None:
    """The hall corrected a routed case (its item or division) so that another department is competent: the
    version is not forwarded to the department holding it, nor rewritten back to name that department (the hall's
    correction stands in the ledger); an operator moves the case (:func:`gateway.process.reroute.reroute_handoff`)
    — a routing alert names the case, both departments and the command, once per hall version (the trail too)."""
    from gateway.store import alerts as alert_store
    from gateway.store.ledger import dumps

    if not store.move(conn, h["case_no"], state, holder=h["target_system"], updated_at=now):
        return  # moved by an operator (or decided) since the scan read it: the alert it resolved stays resolved
    decided = state not in ("awaiting_delivery", "pending")
    data = case["data"]
    message = (f"case {h['case_no']}: the hall's version {case['version']} (item_code {data.get('item_code')}, "
               f"division_code {data.get('division_code')}) makes department {competent} competent, but the "
               f"hand-off routed it to {h['dept_code']} ({h['target_system']}), which "
               + ("already decided it (" + state + ")" if decided else "holds it pending its acceptance")
               + ": not forwarded there; "
               + ("the departments transfer it between them (转办)" if decided
                  else f"move it to the competent department: tongban handoff reroute {h['case_no']}"))
    details = {"case_no": h["case_no"], "version": case["version"], "state": state, "from_dept_code": h["dept_code"],
               "from_system": h["target_system"], "to_dept_code": competent}
    alert_store.upsert_alert(conn, ROUTING_ALERT, f"reroute:{h['case_no']}", level="error", message=message,
                             details=dumps(details), system=h["hall_system"], case_no=h["case_no"], now=now)
    seen = any(e["step"] == "reroute_needed" and e["detail"].get("version") == case["version"]
               for e in store.events(conn, h["case_no"]))
    if not seen:
        store.log(conn, h["case_no"], now, "reroute_needed", ACTOR,
                  **{k: v for k, v in details.items() if k != "case_no"})


def _forward_closing(conn: Any, h: dict[str, Any], state: str, case: dict[str, Any] | None,
                     catalogue: TongbanCatalogue, now: datetime) -> list[str]:
    """The department holding a pending case the hall routed (``forwarded_version`` > 0: the hand-off, not the
    sync, sends it the hall's versions) gets the hall's closing version, as :func:`_forward` would have sent it had
    it been read a scan earlier — else the department keeps a case the applicant took back as waiting for its
    decision. A tombstone is not sent (as before: nobody is told). Returns who was told."""
    if not h["forwarded_version"] or not h["target_system"] or case is None or case["deleted"]:
        return []
    return [h["target_system"]] if _forward_one(conn, h, state, case, catalogue, now) else []


# -- 6. the result returns to a hall that receives only its own cases -------------------------------------------------

def _return(engine: Engine, systems: SystemsConfig, now: datetime, report: HandoffReport) -> None:
    """A hall with ``receives: own`` (another province's) gets no case from the sync; every later version of a
    case it accepted is queued for it here — once per version (the outbox is unique per case, version, target)."""
    own = [s.name for s in systems.systems.values() if s.role == "hall" and s.receives == "own" and s.writable]
    if not own:
        return
    with engine.begin() as conn:
        for row in store.unreturned(conn, own, since=now - HORIZON):
            store.queue(conn, row["case_no"], row["version"], [row["hall_system"]], now)
            store.log(conn, row["case_no"], now, "returned", ACTOR, version=row["version"], hall=row["hall_system"])
            report.returned += 1


# -- for the console and the CLI ---------------------------------------------------------------------------------

def handoff_overview(engine: Engine, *, limit: int = 200, states: Sequence[str] | None = None) -> dict[str, Any]:
    """``{"counts": {state: n}, "late_answers": n, "handoffs": [row…]}``: counts over every hand-off (in SQL),
    rows the newest ``limit`` (in ``states`` when given: filtered in the query, so an old pending one is found)."""
    with engine.connect() as conn:
        rows = store.handoffs(conn, states=states, limit=limit)
        counts, late = store.handoff_state_counts(conn)
    return {"counts": counts, "late_answers": late, "handoffs": [_public(r) for r in rows]}


def handoff_detail(engine: Engine, case_no: str) -> dict[str, Any] | None:
    """One hand-off with its audit trail: ``{**row, "events": [{at, step, actor, detail}]}``."""
    with engine.connect() as conn:
        row = store.get_handoff(conn, case_no)
        if row is None:
            return None
        return {**_public(row), "events": [{**e, "at": beijing_iso(e["at"])} for e in store.events(conn, case_no)]}


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (beijing_iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}


# -- helpers -------------------------------------------------------------------------------------------------

def _loads(text: Any) -> dict[str, Any]:
    from gateway.store.ledger import loads

    value = loads(text) if isinstance(text, (str, bytes)) else text
    return value if isinstance(value, dict) else {}


