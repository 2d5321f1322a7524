"""The working-day calendar (工作日): weekends and statutory holidays off, 调休 weekend days on.

Time limits of approval items count working days, some items count calendar days (自然日). The national
schedule — statutory holidays and the weekend days worked in exchange (调休) — comes from the maintained
``holidays`` package (:mod:`.national_holidays`), not from a file written from memory. ``config/calendar.yaml``
adds what is local: a county's own closures (``holidays``), extra working days (``workdays``), items counted in
calendar days, the yellow threshold. A year whose schedule is not yet published in the installed package is
*not known* (:meth:`WorkCalendar.is_known`): the deadline scan raises an alert for it instead of guessing quietly.

    cal = WorkCalendar.load()
    cal.is_working_day(date(2026, 2, 14))   # True: a Saturday worked before the Spring Festival
"""

from __future__ import annotations

import os
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from gateway.contract.errors import ConfigError
from gateway.kernel.config import REPO_ROOT
from gateway.kernel.yamlfile import load_yaml_document, read_config_text, refuse_unknown_keys

from .national_holidays import national_schedule

LimitUnit = Literal["working_day", "calendar_day"]
_FIRST_YEAR = 2010
_SPAN_FIRST = date(1990, 1, 1)
_SPAN_END = date(2100, 1, 1)
"""Counting-day arithmetic is O(log n) between these dates (a prefix sum of working days); outside, a day walk."""
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
DEFAULT_SPECIAL_MAX_DAYS = 30
"""Calendar days a special procedure may stay open unless the calendar file says otherwise. The domain sources give
no national bound per type (补正 deadlines are local rules); 30 days is a supervision threshold, not a legal limit."""


def _days(entries: list[Any], where: str) -> set[date]:
    """``2026-01-01`` or ``2026-01-01..2026-01-03`` (inclusive) → a set of dates."""
    out: set[date] = set()
    for entry in entries or []:
        text = entry.isoformat() if isinstance(entry, date) else str(entry)
        first, _, last = text.partition("..")
        try:
            start = date.fromisoformat(first.strip())
            end = date.fromisoformat(last.strip()) if last else start
        except ValueError:
            raise ConfigError(f"{where}: {entry!r} is not a date or a date range like 2026-01-01..2026-01-03") from None
        if end < start:
            raise ConfigError(f"{where}: range {entry!r} ends before it starts")
        while start <= end:
            out.add(start)
            start += timedelta(days=1)
    return out


def _positive(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where} must be a whole number of days above 0, not {value!r}")
    return value


@dataclass
class WorkCalendar:
    holidays: set[date] = field(default_factory=set)
    workdays: set[date] = field(default_factory=set)
    calendar_day_items: set[str] = field(default_factory=set)
    yellow_at: float = 0.8
    known_years: set[int] = field(default_factory=set)
    tz: timezone = BEIJING
    path: Path | None = None
    source: str = "local file only"
    """Where the national schedule came from (``holidays 0.109``), for messages and alerts."""
    special_max_days: int = DEFAULT_SPECIAL_MAX_DAYS
    """How long (calendar days) a special procedure (特别程序: 补正, 听证 …) may stay open before the deadline scan
    says so: the case clock is stopped meanwhile, and one the source never closes would silence the case for good.
    ``special_procedures: {max_days: 30}`` in the calendar file; per type under ``by_type`` (``correction: 60``)."""
    special_max_days_by_type: dict[str, int] = field(default_factory=dict)

    def special_bound(self, special_type: str | None) -> int:
        """The calendar days a special procedure of ``special_type`` may stay open (:attr:`special_max_days`)."""
        return self.special_max_days_by_type.get(str(special_type or ""), self.special_max_days)

    @classmethod
    def load(cls, path: str | Path | None = None, *, systems_path: str | Path | None = None) -> WorkCalendar:
        """``path``, else ``TONGBAN_CALENDAR``, else ``calendar.yaml`` next to the systems file, else the
        repository's ``config/calendar.yaml``."""
        candidates = [Path(p) for p in (path, os.environ.get("TONGBAN_CALENDAR")) if p]
        if not candidates:
            if systems_path:
                candidates.append(Path(systems_path).resolve().parent / "calendar.yaml")
            candidates.append(REPO_ROOT / "config" / "calendar.yaml")
        chosen = next((p for p in candidates if p.exists()), None)
        if chosen is None:
            raise ConfigError(f"no working-day calendar found (looked at {', '.join(map(str, candidates))})")
        return cls.from_text(read_config_text(chosen), where=str(chosen), path=chosen)

    @classmethod
    def from_text(cls, text: str, *, where: str = "<calendar>", path: Path | None = None,
                  national: bool | None = None) -> WorkCalendar:
        """The calendar of a YAML text: the national schedule (unless ``national: false`` in the file or
        ``national=False`` here) with the file's local closures and working days over it."""
        document = load_yaml_document(text, where=where)
        refuse_unknown_keys(document, CALENDAR_SETTINGS, what="the working-day calendar")
        data = document.data or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: a calendar is a mapping of settings ({', '.join(sorted(CALENDAR_SETTINGS))})")
        _beijing_only(data.get("timezone"), document.at("timezone"))
        holidays = _days(data.get("holidays") or [], where)
        workdays = _days(data.get("workdays") or [], where)
        clash = holidays & workdays
        if clash:
            raise ConfigError(f"{where}: {min(clash)} is listed both as a holiday and as a working day")
        yellow = float(data.get("yellow_at", 0.8))
        if not 0 < yellow < 1:
            raise ConfigError(f"{where}: yellow_at must be between 0 and 1, not {yellow}")
        known = {int(y) for y in data.get("known_years") or []}
        source = "local file only"
        if data.get("national", True) if national is None else national:
            years = {d.year for d in holidays | workdays} | set(range(_FIRST_YEAR, date.today().year + 3))
            schedule = national_schedule(years)
            # local entries win over the national ones for the same day
            holidays |= {d for d in schedule.days_off if d not in workdays}
            workdays |= {d for d in schedule.weekend_workdays if d not in holidays}
            known |= set(schedule.scheduled_years)
            source = schedule.source
        elif not known:
            known = {d.year for d in holidays | workdays}
        special = data.get("special_procedures") or {}
        if not isinstance(special, dict):
            raise ConfigError(f"{where}: special_procedures must be a mapping like {{max_days: 30, by_type: {{}}}}")
        max_days = _positive(special.get("max_days", DEFAULT_SPECIAL_MAX_DAYS), f"{where}: special_procedures.max_days")
        by_type = {str(k): _positive(v, f"{where}: special_procedures.by_type.{k}")
                   for k, v in (special.get("by_type") or {}).items()}
        return cls(holidays=holidays, workdays=workdays, calendar_day_items={str(i) for i in
                   data.get("calendar_day_items") or []}, yellow_at=yellow, known_years=known, path=path,
                   source=source, special_max_days=max_days, special_max_days_by_type=by_type)

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def counts(self, day: date, unit: LimitUnit) -> bool:
        """Does ``day`` count towards a time limit in ``unit``?"""
        return unit == "calendar_day" or self.is_working_day(day)

    def unit_for(self, item_code: str | None) -> LimitUnit:
        return "calendar_day" if item_code and item_code in self.calendar_day_items else "working_day"

    def period_end(self, due: datetime, unit: LimitUnit) -> datetime:
        """``due`` — the end of a limit counted in ``unit`` — moved past rest days for a limit in calendar days:
        one whose last day is a rest day or a statutory holiday ends with the first working day after it (民法典
        第二百零三条: 期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日). Ten calendar days from
        21 September 2026 end with 8 October, after 国庆, not with 1 October. A limit in working days ends on one.
        A period ends with a day (24:00): a count a special procedure left part-way through a day is that day's
        end (else a 25-hour 补正 ending the count at 01:00 on a Monday after a weekend made the case due a day
        earlier than without the 补正)."""
        if unit != "calendar_day":
            return due
        local = due.astimezone(self.tz)
        if local.timetz().replace(tzinfo=None) != time(0):
            local = datetime.combine(local.date() + timedelta(days=1), time(0), self.tz)
            due = local
        last = (local - timedelta(microseconds=1)).date()
        if self.is_working_day(last):
            return due
        day = last + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day + timedelta(days=1), time(0), self.tz)

    def add_days(self, start: date, days: int, unit: LimitUnit = "working_day") -> date:
        """The ``days``-th counting day after ``start`` (the start day itself is not counted, as in 行政许可法
        第八十二条: 期间开始的日不计算在内). ``add_days(d, 0)`` is ``d``."""
        if days <= 0:
            return start
        if unit == "calendar_day":
            return start + timedelta(days=days)
        if _SPAN_FIRST <= start < _SPAN_END:
            prefix = self._working_prefix
            # the first index whose count of working days before it reaches prefix[start+1] + days - 1, i.e. the
            # day that is the ``days``-th working day after ``start``
            offset = (start - _SPAN_FIRST).days
            target = prefix[offset + 1] + days
            index = bisect_left(prefix, target)  # prefix[index] == target: working days before `index` reach it
            if index < len(prefix):
                return _SPAN_FIRST + timedelta(days=index - 1)
        day = start
        left = days
        while left > 0:
            day += timedelta(days=1)
            if self.counts(day, unit):
                left -= 1
        return day

    def counting_days(self, first: date, end: date, unit: LimitUnit) -> int:
        """How many days in ``[first, end)`` count in ``unit`` (0 when ``end <= first``)."""
        if end <= first:
            return 0
        if unit == "calendar_day":
            return (end - first).days
        if _SPAN_FIRST <= first and end <= _SPAN_END:
            prefix = self._working_prefix
            return prefix[(end - _SPAN_FIRST).days] - prefix[(first - _SPAN_FIRST).days]
        count, day = 0, first
        while day < end:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count

    @cached_property
    def _working_prefix(self) -> list[int]:
        """``prefix[i]``: working days in ``[_SPAN_FIRST, _SPAN_FIRST + i days)`` — a deadline is two lookups,
        not a walk over every day since 2020 (a scan of a million open cases read red ones day by day).
        Built once per calendar (40,000 days, a few milliseconds); the calendar's sets are not changed after."""
        prefix = [0]
        day, total = _SPAN_FIRST, 0
        while day < _SPAN_END:
            total += self.is_working_day(day)
            prefix.append(total)
            day += timedelta(days=1)
        return prefix

    def known_until(self) -> int | None:
        return max(self.known_years) if self.known_years else None

    def is_known(self, day: date) -> bool:
        return day.year in self.known_years

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()



CALENDAR_SETTINGS = ("timezone", "yellow_at", "national", "holidays", "workdays", "known_years", "calendar_day_items",
                     "special_procedures")
"""What a calendar file may set; any other key is a typo refused (``holiday: [2026-12-24]`` counted the day as
a working day without a word)."""
_BEIJING_NAMES = {"+08:00", "+0800", "+08", "UTC+8", "UTC+08:00", "GMT+8", "ASIA/SHANGHAI", "ASIA/CHONGQING",
                  "ASIA/HARBIN", "ASIA/URUMQI", "PRC", "CST", "BEIJING"}


def _beijing_only(value: object, where: str) -> None:
    """The calendar's days are Beijing's: ``timezone`` may say so (the shipped file does), never another zone — a
    zone it named was read by nobody, so ``Asia/Shangai`` or ``-05:00`` loaded as if it were honoured."""
    written = getattr(value, "written", None) or str(value)  # +08:00 unquoted: YAML 1.1's base-60 480
    if value is None or written.strip().upper() in _BEIJING_NAMES:
        return
    raise ConfigError(f"{where}: timezone {value!r}: the working-day calendar and every deadline are Beijing time "
                      "(+08:00, Asia/Shanghai); another zone is not supported — leave timezone out or write \"+08:00\"")


__all__ = ["BEIJING", "LimitUnit", "WorkCalendar"]
