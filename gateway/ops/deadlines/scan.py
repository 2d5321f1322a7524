"""The deadline scan: every open case in the ledger against its time limit, written to the alerts table.

Each scan sees the whole picture, so the open ``deadline`` alerts afterwards are exactly the cases that are
yellow or red now: a case that finished, or whose clock stopped for a 补正, drops out (its alert is resolved);
a yellow case that ran out turns red. ``tongban status`` shows them; the Airflow DAG ``tongban_deadlines`` runs
the scan on a schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from gateway.ops.alerts import AlertSpec, sync_alerts
from gateway.ops.deadlines.calendar import WorkCalendar
from gateway.ops.deadlines.clock import evaluate
from gateway.store import ledger, queries

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
    red_cases: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "red_cases"} | {"red_cases": self.red_cases[:50]}


def scan_deadlines(engine: Engine, calendar: WorkCalendar, *, now: datetime | None = None) -> DeadlineReport:
    now = now or ledger.utcnow()
    report = DeadlineReport(calendar_known_until=calendar.known_until())
    wanted: list[AlertSpec] = []
    last = ""
    while True:
        with engine.connect() as conn:
            rows = queries.live_cases_after(conn, last, _BATCH)
        if not rows:
            break
        last = rows[-1].case_no
        for row in rows:
            report.checked += 1
            case = ledger.loads(row.data)
            state = evaluate(case, calendar, now=now)
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
                details={**state.as_details(), "promised_at_source": case.get("promised_at"),
                         "dept_code": case.get("dept_code"), "item_code": case.get("item_code")},
            ))
    outcome = sync_alerts(engine, "deadline", wanted)
    report.new_alerts, report.resolved_alerts = outcome["new"], outcome["resolved"]
    _calendar_alert(engine, calendar, report, now)
    return report


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


__all__ = ["DeadlineReport", "scan_deadlines"]
