"""The deadline scan: every open case in the ledger against its time limit, written to the alerts table.

Each scan sees the whole picture, so the open ``deadline`` alerts afterwards are exactly the cases that are
yellow or red now: a case that finished, or whose clock stopped for a 补正, drops out (its alert is resolved);
a yellow case that ran out turns red. ``tongban status`` shows them; the Airflow DAG ``tongban_deadlines`` runs
the scan on a schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from gateway.ops.alerts import AlertSpec, sync_alerts
from gateway.ops.deadlines.calendar import WorkCalendar
from gateway.ops.deadlines.clock import evaluate
from gateway.ops.deadlines.stages import evaluate_stages, evaluate_ticket, overdue_materials
from gateway.store import ledger, queries
from gateway.store import process as process_store

if TYPE_CHECKING:
    from gateway.process.catalogue import TongbanCatalogue

_BATCH = 2000


@dataclass
class DeadlineReport:
    checked: int = 0
    running: int = 0
    paused: int = 0
    yellow: int = 0
    red: int = 0
    new_alerts: int = 0
    resolved_alerts: int = 0
    calendar_known_until: int | None = None
    guessed_calendar: int = 0
    stages_running: int = 0
    stages_yellow: int = 0
    stages_red: int = 0
    materials_overdue: int = 0
    tickets_open: int = 0
    tickets_late: int = 0
    red_cases: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "red_cases"} | {"red_cases": self.red_cases[:50]}


def scan_deadlines(engine: Engine, calendar: WorkCalendar, *, now: datetime | None = None,
                   catalogue: TongbanCatalogue | None = None) -> DeadlineReport:
    """Every clock against its limit: the case's, each running stage's (limits from the case or the item's plan in
    ``catalogue``), each deferred material's due date, each 办不成事 ticket's reply; alerts synced per kind.
    A case the 一窗受理 hand-off decided starts its clock at that decision (deemed acceptance included)."""
    now = now or ledger.utcnow()
    report = DeadlineReport(calendar_known_until=calendar.known_until())
    wanted: list[AlertSpec] = []
    materials: list[AlertSpec] = []
    last = ""
    while True:
        with engine.connect() as conn:
            rows = queries.live_cases_after(conn, last, _BATCH)
            starts = process_store.clock_starts(conn, [r.case_no for r in rows])
        if not rows:
            break
        last = rows[-1].case_no
        for row in rows:
            report.checked += 1
            case = ledger.loads(row.data)
            wanted += _stage_alerts(case, row.origin_system, calendar, catalogue, now, report)
            materials += _material_alerts(case, row.origin_system, now, report)
            state = evaluate(case, calendar, now=now, clock_start=starts.get(row.case_no))
            if state is None:
                continue
            report.running += 1
            report.paused += state.paused
            report.guessed_calendar += not state.calendar_known
            if state.level is None:
                continue
            if state.level == "red":
                report.red += 1
                report.red_cases.append(state.case_no)
                headline = f"past its time limit ({state.limit_days} {_unit(state.unit)}, due {state.due_at:%Y-%m-%d %H:%M})"
            else:
                report.yellow += 1
                headline = (f"{state.fraction:.0%} of its time limit used ({state.limit_days} {_unit(state.unit)}, "
                            f"due {state.due_at:%Y-%m-%d %H:%M})")
            wanted.append(AlertSpec(
                key=state.case_no, level=state.level, system=row.origin_system, case_no=state.case_no,
                message=f"{case.get('item_name', '')} {state.case_no} ({case.get('dept_name', '')}): {headline}"
                        + ("; clock stopped for a special procedure" if state.paused else ""),
                details={**state.as_details(), "stage": None, "promised_at_source": case.get("promised_at"),
                         "dept_code": case.get("dept_code"), "item_code": case.get("item_code")},
            ))
    wanted += _ticket_alerts(engine, calendar, catalogue, now, report)
    outcome = sync_alerts(engine, "deadline", wanted)
    sync_alerts(engine, "deferred_material", materials)
    report.new_alerts, report.resolved_alerts = outcome["new"], outcome["resolved"]
    _calendar_alert(engine, calendar, report, now)
    return report


def _stage_alerts(case: dict[str, Any], system: str, calendar: WorkCalendar, catalogue: TongbanCatalogue | None,
                  now: datetime, report: DeadlineReport) -> list[AlertSpec]:
    """One ``deadline`` alert per running stage that is yellow or red; ``details["stage"]`` names the stage."""
    if not case.get("stages"):
        return []
    plan = catalogue.stages_for(case.get("item_code")) if catalogue is not None else ()
    out = []
    for st in evaluate_stages(case, calendar, now=now, plan=plan):
        report.stages_running += 1
        if st.level is None:
            continue
        report.stages_yellow += st.level == "yellow"
        report.stages_red += st.level == "red"
        what = ("past its stage limit" if st.level == "red" else f"{st.fraction:.0%} of its stage limit used")
        out.append(AlertSpec(
            key=f"{st.case_no}/stage/{st.seq}", level=st.level, system=system, case_no=st.case_no,
            message=(f"{case.get('item_name', '')} {st.case_no}: stage {st.stage} ({st.owner or 'no owner'}) {what} "
                     f"({st.limit_days} {_unit(st.unit)}, due {st.due_at:%Y-%m-%d %H:%M})"
                     + ("; clock stopped for a special procedure" if st.paused else "")),
            details={**st.as_details(), "item_code": case.get("item_code"), "dept_code": case.get("dept_code")}))
    return out


def _material_alerts(case: dict[str, Any], system: str, now: datetime, report: DeadlineReport) -> list[AlertSpec]:
    """``deferred_material``: a material accepted as missing (容缺) or promised (承诺) is past its due date."""
    out = []
    for m in overdue_materials(case, now=now):
        report.materials_overdue += 1
        label = "容缺" if m.kind == "tolerated" else "承诺"
        out.append(AlertSpec(
            key=f"{m.case_no}/{m.name}", level="red", system=system, case_no=m.case_no,
            message=f"{case.get('item_name', '')} {m.case_no}: deferred material {m.name} ({label}) was due "
                    f"{m.due_at:%Y-%m-%d %H:%M} and has not been received",
            details={"material": m.name, "kind": m.kind, "due_at": m.due_at.isoformat(),
                     "item_code": case.get("item_code"), "dept_code": case.get("dept_code")}))
    return out


def _ticket_alerts(engine: Engine, calendar: WorkCalendar, catalogue: TongbanCatalogue | None, now: datetime,
                   report: DeadlineReport) -> list[AlertSpec]:
    """办不成事 tickets whose reply is 80% or more of its 3 / 10 working days late; stage ``办不成事答复``."""
    limits = catalogue.tickets if catalogue is not None else {"simple": 3, "coordination": 10}
    with engine.connect() as conn:
        tickets = process_store.open_tickets(conn)
    out = []
    for t in tickets:
        state = evaluate_ticket(t, limits, calendar, now=now)
        if state is None:
            continue
        report.tickets_open += 1
        if state.level is None:
            continue
        report.tickets_late += state.level == "red"
        out.append(AlertSpec(
            key=f"ticket/{state.ticket_no}", level=state.level, system=None, case_no=t.get("case_no"),
            message=(f"办不成事 ticket {state.ticket_no} ({state.kind}, {t.get('office_code') or 'no office'}): reply "
                     f"{'overdue' if state.level == 'red' else 'due soon'} ({state.limit_days} working days, due "
                     f"{state.due_at:%Y-%m-%d %H:%M}): {t['subject'][:80]}"),
            details={"stage": "办不成事答复", "ticket_no": state.ticket_no, "kind": state.kind,
                     "limit_days": state.limit_days, "due_at": state.due_at.isoformat(),
                     "used_days": round(state.used_days, 2), "office_code": t.get("office_code")}))
    return out


def case_clocks(engine: Engine, case_no: str, calendar: WorkCalendar, *, catalogue: TongbanCatalogue | None = None,
                now: datetime | None = None) -> dict[str, Any] | None:
    """Every clock of one case, for a case page: ``{"case_no", "case": {...} | None, "stages": [{...}],
    "deferred_overdue": [{"name", "kind", "due_at"}]}`` (the same details the alerts carry), or None when the
    ledger has no such case."""
    now = now or ledger.utcnow()
    with engine.connect() as conn:
        case = process_store.read_case(conn, case_no)
        start = process_store.clock_starts(conn, [case_no]).get(case_no)
    if case is None:
        return None
    data = case["data"]
    state = evaluate(data, calendar, now=now, clock_start=start)
    plan = catalogue.stages_for(data.get("item_code")) if catalogue is not None else ()
    return {
        "case_no": case_no,
        "case": None if state is None else {**state.as_details(), "level": state.level},
        "stages": [{**st.as_details(), "level": st.level} for st in evaluate_stages(data, calendar, now=now, plan=plan)],
        "deferred_overdue": [{"name": m.name, "kind": m.kind, "due_at": m.due_at.isoformat()}
                             for m in overdue_materials(data, now=now)],
    }


_LOOKAHEAD = timedelta(days=60)


def _calendar_alert(engine: Engine, calendar: WorkCalendar, report: DeadlineReport, now: datetime) -> None:
    """``calendar_unknown``: the working-day calendar has no published schedule (调休) for a year that running
    cases' clocks reach, or that starts within two months — say so instead of counting Monday to Friday."""
    today = calendar.local_date(now)
    years = sorted({y for y in (today.year, (today + _LOOKAHEAD).year) if not calendar.is_known(date(y, 1, 1))})
    wanted = []
    if years or report.guessed_calendar:
        label = ", ".join(map(str, years)) or f"after {calendar.known_until()}"
        wanted.append(AlertSpec(
            key="calendar", level="warning",
            message=(f"no published holiday schedule for {label} in the working-day calendar ({calendar.source}): "
                     f"{report.guessed_calendar} running case(s) count Monday-Friday there; update the holidays "
                     f"package or add the year to config/calendar.yaml"),
            details={"years": years, "known_until": calendar.known_until(), "cases": report.guessed_calendar}))
    sync_alerts(engine, "calendar_unknown", wanted)


def _unit(unit: str) -> str:
    return "working days" if unit == "working_day" else "calendar days"


__all__ = ["DeadlineReport", "case_clocks", "scan_deadlines"]
