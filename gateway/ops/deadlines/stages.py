"""Stage clocks: each stage of a staged flow against its own limit, and the other clocks a case carries.

One limit for the whole case hides where a case is stuck: a business subsidy is routed within 1 working day,
reviewed within 3 (finance 5), checked within 20, notified within 3 and paid within 3 (seed 003), and each
of those belongs to a different office. A stage's clock works like the case clock (:func:`.clock.run_clock`):
it starts the day after the stage began, counts working or calendar days, stops while a special procedure
runs; yellow at 80%, red past the limit.

A stage's limit and owner come from the case's own stage record when the source gives them, else from the
item's plan in the 通办目录 (``stages:``), matched by name. Only running stages (begun, not ended) are clocked;
a stage the source never closes ends when the flow moves past it (:func:`superseded`).

Two more clocks of issue 15 live here because they raise alerts the same way: deferred materials (容缺/承诺)
past their due date, and the replies owed to 办不成事 tickets (3 working days simple, 10 coordination).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from gateway.ops.deadlines.calendar import LimitUnit, WorkCalendar
from gateway.ops.deadlines.clock import CLOSED_STATUSES, DeadlineLevel, is_closed, run_clock

__all__ = ["OpenSpecial", "OverdueMaterial", "StageState", "TicketState", "evaluate_stages", "evaluate_ticket",
           "open_specials", "overdue_materials", "superseded", "upcoming_materials", "upcoming_stage_starts"]


class StagePlanLike(Protocol):
    """A planned stage (:class:`gateway.process.StagePlan`): what this module reads of it."""

    @property
    def name(self) -> str: ...
    @property
    def days(self) -> int: ...
    @property
    def unit(self) -> str: ...
    @property
    def owner(self) -> str | None: ...


@dataclass(frozen=True)
class StageState:
    case_no: str
    stage: str
    seq: int                      # 1-based place of the stage in the case's stage list
    owner: str | None
    limit_days: int
    unit: LimitUnit
    started_at: datetime          # when the stage began (its clock starts the next day)
    used_days: float
    paused: bool
    due_at: datetime
    level: DeadlineLevel | None
    calendar_known: bool
    next_change_at: datetime | None = None

    @property
    def fraction(self) -> float:
        return self.used_days / self.limit_days if self.limit_days else (1.0 if self.level == "red" else 0.0)

    def as_details(self) -> dict[str, Any]:
        """Alert details; ``stage`` is what the ops console groups deadline alerts by."""
        return {"stage": self.stage, "stage_seq": self.seq, "owner": self.owner, "limit_days": self.limit_days,
                "unit": self.unit, "stage_started_at": self.started_at.isoformat(),
                "used_days": round(self.used_days, 2), "used_share": round(self.fraction, 3), "paused": self.paused,
                "due_at": self.due_at.isoformat(), "calendar_known": self.calendar_known}


def evaluate_stages(case: Mapping[str, Any], calendar: WorkCalendar, *, now: datetime,
                    plan: Sequence[StagePlanLike] = ()) -> list[StageState]:
    """The clock of every running stage of a canonical case (empty for a closed case or one without stages)."""
    if is_closed(case):
        return []
    planned = {p.name: p for p in plan}
    events = case.get("events") or []
    stages = list(case.get("stages") or [])
    out = []
    for i, stage in enumerate(stages, start=1):
        if not isinstance(stage, Mapping) or stage.get("ended_at"):
            continue
        begun = _parse(stage.get("started_at"))
        if superseded(stages, i - 1, now=now):
            continue  # the source never closed it, but a later stage has started: it is over
        name = str(stage.get("name") or f"stage {i}")
        p = planned.get(name)
        limit = stage.get("limit_days") if stage.get("limit_days") is not None else (p.days if p else None)
        if begun is None or limit is None or begun > now:
            continue
        unit: LimitUnit = stage.get("unit") or (p.unit if p else "working_day")  # type: ignore[assignment]
        reading = run_clock(begun, int(limit), unit, events, calendar, now=now)
        out.append(StageState(str(case.get("case_no")), name, i, stage.get("owner") or (p.owner if p else None),
                              int(limit), unit, begun, reading.used_days, reading.paused, reading.due_at,
                              reading.level, reading.calendar_known, reading.next_change_at))
    return out


def superseded(stages: Sequence[Any], index: int, *, now: datetime) -> bool:
    """The stage at ``index``, which the source never closed, is over because the flow moved past it: the same
    stage was started again later in the list (re-opened under its name), or a stage at least two places later
    has started (by ``now``, not before this one began). The stage right after it may run alongside it (a
    subsidy's 部门审核 and 财政审核 review in parallel), so its start alone ends nothing. A source that never writes
    a stage's end kept it red after the case had moved on."""
    this = stages[index]
    if not isinstance(this, Mapping):
        return False
    begun = _parse(this.get("started_at"))
    for offset, later in enumerate(stages[index + 1:], start=1):
        start = _parse(later.get("started_at")) if isinstance(later, Mapping) else None
        if start is None or start > now or (begun is not None and start < begun):
            continue
        if offset >= 2 or later.get("name") == this.get("name"):
            return True
    return False


@dataclass(frozen=True)
class OpenSpecial:
    """A special procedure (特别程序) still open: the case clock is stopped while it runs."""

    case_no: str
    seq: int
    name: str
    special_type: str | None
    started_at: datetime
    bound_at: datetime
    """When it has been open longer than the calendar's bound for its type (:meth:`WorkCalendar.special_bound`)."""
    place: int = 0
    """Its place among the case's events (from 1)."""


def open_specials(case: Mapping[str, Any], calendar: WorkCalendar, *, now: datetime) -> list[OpenSpecial]:
    """Special procedures of a case still open that have begun by ``now`` (none for a closed case), each with the
    instant it outlives its bound: a 补正 the source never ends stops the clock for good, and nobody would know."""
    if is_closed(case):
        return []
    out = []
    for i, event in enumerate(case.get("events") or [], start=1):
        if not isinstance(event, Mapping) or event.get("kind") != "special":
            continue
        ended = _parse(event.get("ended_at"))
        if event.get("ended_at") and (ended is None or ended <= now):
            continue  # ended (an end still ahead — 9999-12-31 for "open" — is running: its bound applies)
        begun = _parse(event.get("started_at"))
        if begun is None or begun > now:
            continue
        kind = event.get("special_type")
        bound = begun + timedelta(days=calendar.special_bound(kind))
        out.append(OpenSpecial(str(case.get("case_no")), int(event.get("seq") or i), str(event.get("name") or kind
                               or "特别程序"), kind, begun, bound, i))
    return out


def specials_ended_by(case: dict[str, Any], calendar: WorkCalendar, *, at: datetime,
                      only_past_bound: bool = False) -> dict[str, Any]:
    """``case`` with each special procedure still open at ``at`` ended there, or at its bound
    (:meth:`WorkCalendar.special_bound`) if that came first (``only_past_bound``: only those open past their bound,
    ended at it; the others stay open). How 按时办结 reads a case that finished with a 补正 nobody closed (it
    stopped the clock to the finish: a late case read as on time), and how the deadline scan finds an open case
    with such a procedure past its limit (超期未办结). The case itself when none is."""
    still_open = [sp for sp in open_specials(case, calendar, now=at) if not only_past_bound or sp.bound_at <= at]
    if not still_open:
        return case
    events = list(case.get("events") or [])
    for special in still_open:
        events[special.place - 1] = {**events[special.place - 1], "ended_at": min(at, special.bound_at).isoformat()}
    return {**case, "events": events}


def first_special_of_each_number(case: Mapping[str, Any]) -> dict[int, tuple[datetime, int]]:
    """Of every special procedure the case records, open or ended, the first of each number (``seq``): its start and
    its place among the events — what keeps a number's alert with one procedure when a source numbers two alike."""
    first: dict[int, tuple[datetime, int]] = {}
    for i, event in enumerate(case.get("events") or [], start=1):
        if not isinstance(event, Mapping) or event.get("kind") != "special":
            continue
        begun = _parse(event.get("started_at"))
        seq = int(event.get("seq") or i)
        if begun is not None and (seq not in first or (begun, i) < first[seq]):
            first[seq] = (begun, i)
    return first


def upcoming_stage_starts(case: Mapping[str, Any], *, now: datetime) -> list[datetime]:
    """Start times still ahead of ``now`` of stages not ended (a source's clock ahead of ours): their clocks begin
    then, so the case is read again then."""
    if is_closed(case):
        return []
    starts = (_parse(st.get("started_at")) for st in case.get("stages") or []
              if isinstance(st, Mapping) and not st.get("ended_at"))
    return [begun for begun in starts if begun is not None and begun > now]


@dataclass(frozen=True)
class OverdueMaterial:
    case_no: str
    name: str
    kind: str
    due_at: datetime


def overdue_materials(case: Mapping[str, Any], *, now: datetime) -> list[OverdueMaterial]:
    """Deferred materials (容缺/承诺) past their due date and not received, of a case still open."""
    return [m for m in _outstanding_materials(case) if m.due_at <= now]


def upcoming_materials(case: Mapping[str, Any], *, now: datetime) -> list[OverdueMaterial]:
    """Deferred materials not yet received whose due date is still ahead (the instant each turns overdue)."""
    return [m for m in _outstanding_materials(case) if m.due_at > now]


_OWES_NOTHING = CLOSED_STATUSES - {"finished"}
"""Statuses after which a case is owed no material at all (voided, deleted, returned)."""
_ENDED_UNGRANTED = frozenset({"withdrawn", "voided", "deleted", "not_accepted", "not_permitted",
                              "correction_timeout", "returned"})
"""Results of a case that ended without what was asked for (撤回, 不予受理, 不予许可 …): no pledge is checked then."""
_GRANTED = frozenset({"issued", "finished"})
"""Results of a case that granted what was asked for (出证办结, 办结): its pledges are checked afterwards."""
BOTH_KINDS = frozenset({"tolerated", "pledged"})


def owed_material_kinds(case: Mapping[str, Any]) -> frozenset[str]:
    """Which kinds of deferred material a case is still owed — one rule for the deadline scan's alerts and the
    deferred step's look-ups: both while it runs; none once it was voided, returned or ended without what was asked
    for; of a case finished with the licence granted (or no result said) only the pledged ones (告知承诺: the licence is issued first and
    the pledge checked afterwards — the finished case is the one whose pledge must be watched)."""
    if case.get("deleted") or case.get("status") in _OWES_NOTHING or case.get("result") in _ENDED_UNGRANTED:
        return frozenset()
    if is_closed(case):
        # a source that states no result finished what it was asked for as far as anyone can tell: watched
        return frozenset({"pledged"}) if case.get("result") in _GRANTED or not case.get("result") else frozenset()
    return BOTH_KINDS


def _outstanding_materials(case: Mapping[str, Any]) -> list[OverdueMaterial]:
    """Deferred materials with a due date and not received, of the kinds the case is still owed
    (:func:`owed_material_kinds`)."""
    owed = owed_material_kinds(case)
    if not owed:
        return []
    out = []
    for m in case.get("deferred_materials") or []:
        due = _parse(m.get("due_at")) if isinstance(m, Mapping) else None
        if owed is not BOTH_KINDS and isinstance(m, Mapping) and m.get("kind") not in owed:
            continue
        if due is not None and not m.get("received_at"):
            out.append(OverdueMaterial(str(case.get("case_no")), str(m.get("name")), str(m.get("kind")), due))
    return out


@dataclass(frozen=True)
class TicketState:
    ticket_no: str
    kind: str
    limit_days: int
    due_at: datetime
    used_days: float
    level: DeadlineLevel | None


def evaluate_ticket(ticket: Mapping[str, Any], limits: Mapping[str, int], calendar: WorkCalendar, *,
                    now: datetime) -> TicketState | None:
    """The reply clock of an unanswered 办不成事 ticket (working days from the day after it was opened)."""
    if ticket.get("replied_at") is not None:
        return None
    days = int(limits.get(str(ticket["kind"]), limits.get("simple", 3)))
    reading = run_clock(ticket["opened_at"], days, "working_day", [], calendar, now=now)
    return TicketState(str(ticket["ticket_no"]), str(ticket["kind"]), days, reading.due_at, reading.used_days,
                       reading.level)


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
