"""Deadline supervision (时限监察): the working-day calendar, the case clock, and the scan that writes alerts."""

from gateway.ops.deadlines.calendar import BEIJING, LimitUnit, WorkCalendar
from gateway.ops.deadlines.clock import CLOSED_STATUSES, DeadlineLevel, DeadlineState, evaluate
from gateway.ops.deadlines.scan import DeadlineReport, scan_deadlines

__all__ = [
    "BEIJING",
    "CLOSED_STATUSES",
    "DeadlineLevel",
    "DeadlineReport",
    "DeadlineState",
    "LimitUnit",
    "WorkCalendar",
    "evaluate",
    "scan_deadlines",
]
