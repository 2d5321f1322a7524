"""Deadline supervision (时限监察): the working-day calendar, the case clock, and the scan that writes alerts."""

from gateway.ops.deadlines.calendar import BEIJING, LimitUnit, WorkCalendar
from gateway.ops.deadlines.clock import CLOSED_STATUSES, DeadlineLevel, DeadlineState, evaluate, limit_unit
from gateway.ops.deadlines.scan import DeadlineReport, case_clocks, scan_deadlines
from gateway.ops.deadlines.stages import StageState, evaluate_stages

__all__ = [
    "BEIJING",
    "CLOSED_STATUSES",
    "DeadlineLevel",
    "DeadlineReport",
    "DeadlineState",
    "LimitUnit",
    "StageState",
    "WorkCalendar",
    "case_clocks",
    "evaluate",
    "evaluate_stages",
    "limit_unit",
    "scan_deadlines",
]
