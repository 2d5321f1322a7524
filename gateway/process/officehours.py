"""Office hours (工作时间): when the deemed-acceptance window of the 一窗受理 hand-off runs.

"超过10分钟未作出受理决定的，视为同意" presumes somebody on duty to decide: ten minutes of a department's working time,
not of the wall clock. Counted on the wall clock, a case handed over at 17:58 on a Friday was deemed accepted at
18:08 with nobody there, and its limit started running before any clerk had seen it. So the window counts only
inside the office hours of ``config/tongban_catalogue.yaml`` (``office_hours``, next to ``acceptance_window``) on
the working days of the working-day calendar (调休 Saturdays count, holidays do not): handed over at 16:55 on a
Friday, ten minutes are due at 09:05 on Monday; at 17:58, after closing, at 09:10.

The project had no notion of office hours before (the case clock counts whole days, to midnight); the default is
09:00–17:00, Beijing time, which a district whose hall opens earlier, closes later or breaks for lunch writes in
the file (``office_hours: ["08:30-12:00", "13:30-17:30"]``); ``office_hours: always`` restores the wall clock
(a 7×24 back office).

    hours = OfficeHours.parse(["09:00-12:00", "13:00-17:00"], where="office_hours")
    hours.add(friday_1655, timedelta(minutes=10), calendar)   # Monday 09:05 (+08:00)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

__all__ = ["DEFAULT_OFFICE_HOURS", "OfficeHours"]

_SEARCH_DAYS = 3660
"""How far ahead a window's end is looked for: ten years of days without office time is a broken calendar."""


@dataclass(frozen=True)
class OfficeHours:
    """Daily spans of Beijing time (sorted, disjoint) in which a department is on duty, on working days; no spans:
    always on duty (the wall clock)."""

    spans: tuple[tuple[time, time], ...] = ()

    @classmethod
    def parse(cls, value: Any, *, where: str) -> OfficeHours:
        """``always`` (or null), ``"09:00-17:00"`` or a list of such spans; an error names ``where`` and the span."""
        if value is None or value == "always":
            return ALWAYS
        items: Sequence[Any] = [value] if isinstance(value, str) else value
        if not isinstance(items, Sequence) or not items:
            raise ConfigError(f"{where}: expected always, a span like 09:00-17:00 or a list of spans, not {value!r}")
        spans = sorted(_span(item, f"{where}[{i}]") for i, item in enumerate(items))
        for (_, end), (start, _) in pairwise(spans):
            if start < end:
                raise ConfigError(f"{where}: spans {_text(spans)} overlap; list each period of duty once")
        return cls(tuple(spans))

    @property
    def always(self) -> bool:
        return not self.spans

    def describe(self) -> str:
        """``09:00-17:00 on working days`` or ``always`` (for the audit trail and messages)."""
        return "always" if self.always else f"{_text(self.spans)} on working days"

    def add(self, start: datetime, window: timedelta, calendar: WorkCalendar | None) -> datetime:
        """The instant ``window`` of office time after ``start``: what is left of the current span, then the next
        spans of the next working days (``calendar``; without one, Monday to Friday). Handed over outside office
        hours, the window starts at the next opening."""
        if self.always:
            return start + window
        days = calendar or WorkCalendar()
        left = window
        day = start.astimezone(BEIJING).date()
        for _ in range(_SEARCH_DAYS):
            if days.is_working_day(day):
                for opens, closes in self.spans:
                    lo = max(datetime.combine(day, opens, BEIJING), start)
                    hi = datetime.combine(day, closes, BEIJING)
                    if hi <= lo:
                        continue
                    if hi - lo >= left:
                        return lo + left
                    left -= hi - lo
            day += timedelta(days=1)
        raise ConfigError(f"office hours {self.describe()}: no office time within {_SEARCH_DAYS} days after "
                          f"{start.isoformat()} (does the working-day calendar have any working day?)")


ALWAYS = OfficeHours()
DEFAULT_OFFICE_HOURS = OfficeHours(((time(9, 0), time(17, 0)),))
"""09:00–17:00, Beijing time, on working days: used when the 通办目录 does not say."""


def _span(item: Any, where: str) -> tuple[time, time]:
    first, _, last = str(item).partition("-")
    try:
        opens, closes = time.fromisoformat(first.strip()), time.fromisoformat(last.strip())
    except ValueError:
        raise ConfigError(f"{where}: {item!r} is not a span of the day like 09:00-17:00") from None
    if closes <= opens:
        raise ConfigError(f"{where}: {item!r} closes before it opens (a span within one day, Beijing time)")
    return opens, closes


def _text(spans: Sequence[tuple[time, time]]) -> str:
    return ", ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in spans)
