"""The case clock: how much of its time limit a case has used, after the electronic supervision systems (电子监察).

The clock starts the day after acceptance (受理; the acceptance day is not counted) and runs through the days
that count in the item's unit — working days by default, calendar days where the item says so. It stops while
a special procedure runs (特别程序: 补正, 听证, 专家评审, 现场勘查, 公示 …): that time is given back. Used time is
measured in counting days with their fractions, so "80% of a 20-working-day limit" is 16 working days of
running clock.

    state = evaluate(case_dict, calendar, now=datetime.now(BEIJING))
    state.level        # None, "yellow" (≥ 80% used) or "red" (past the limit)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal, Protocol

from gateway.ops.deadlines.calendar import LimitUnit, WorkCalendar

DeadlineLevel = Literal["yellow", "red"]
_DAY = 86400.0
_EPSILON = 1e-9
#: Statuses after which the clock no longer matters.
CLOSED_STATUSES = frozenset({"finished", "returned", "voided", "deleted"})


@dataclass(frozen=True)
class DeadlineState:
    case_no: str
    limit_days: int
    unit: LimitUnit
    started_at: datetime          # the clock's start: 00:00 of the day after acceptance
    used_days: float              # counting days of running clock used so far
    stopped_days: float           # counting days given back by special procedures
    paused: bool                  # a special procedure is running now
    due_at: datetime              # when the limit runs out if the clock keeps running from now on
    level: DeadlineLevel | None
    calendar_known: bool          # False when the calendar had to guess a year's holidays
    next_change_at: datetime | None = None
    """The earliest instant the level can change without the case changing (None: only a change can move it)."""

    @property
    def fraction(self) -> float:
        if self.limit_days == 0:
            return 1.0 if self.used_days > 0 else 0.0
        return self.used_days / self.limit_days

    def as_details(self) -> dict[str, Any]:
        return {
            "limit_days": self.limit_days,
            "unit": self.unit,
            "clock_started_at": self.started_at.isoformat(),
            "used_days": round(self.used_days, 2),
            "stopped_days": round(self.stopped_days, 2),
            "used_share": round(self.fraction, 3),
            "paused": self.paused,
            "due_at": self.due_at.isoformat(),
            "calendar_known": self.calendar_known,
        }


def _parse(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _merge(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _special_bounds(events: list[dict[str, Any]]) -> list[tuple[datetime, datetime | None]]:
    """``(start, end or None)`` of every special procedure the clock stops for. One that ends before it starts
    (bad data, flagged on the case as ``case.date_order``) is left out, here once for every reader: counted as
    0 s of stop by :func:`_counting_seconds` but as a stop by :func:`_due`, it made the clock's used days and its
    due time disagree (red before the limit was used)."""
    out: list[tuple[datetime, datetime | None]] = []
    for event in events:
        if event.get("kind") != "special":
            continue
        start, end = _parse(event.get("started_at")), _parse(event.get("ended_at"))
        if start is None or (end is not None and end < start):
            continue
        out.append((start, end))
    return out


def _counting_seconds(start: datetime, end: datetime, calendar: WorkCalendar, unit: LimitUnit) -> float:
    """Seconds between ``start`` and ``end`` that fall on counting days (local time): the two partial days at
    the ends, and the whole days between them counted by the calendar (no walk over the days)."""
    if end <= start:
        return 0.0
    tz = calendar.tz
    start, end = start.astimezone(tz), end.astimezone(tz)
    first, last = start.date(), end.date()
    if first == last:
        return (end - start).total_seconds() if calendar.counts(first, unit) else 0.0
    total = 0.0
    if calendar.counts(first, unit):
        total += (datetime.combine(first + timedelta(days=1), time(0), tz) - start).total_seconds()
    total += calendar.counting_days(first + timedelta(days=1), last, unit) * _DAY
    if calendar.counts(last, unit):
        total += (end - datetime.combine(last, time(0), tz)).total_seconds()
    return total


def _due(start: datetime, budget_s: float, stops: list[tuple[datetime, datetime]], calendar: WorkCalendar,
         unit: LimitUnit) -> datetime:
    """The instant the running clock has used ``budget_s`` counting seconds from ``start``, skipping the (known,
    merged, sorted) stopped intervals: day by day while a stop lies ahead, then in one jump over whole days."""
    tz = calendar.tz
    day = start.astimezone(tz).date()
    left = budget_s
    ahead = [s for s in stops if s[1] > start]
    for _ in range(5000):  # ~13 years of days a stop only partly covers: a bound, not a limit anyone reaches
        day_start = datetime.combine(day, time(0), tz)
        day_end = day_start + timedelta(days=1)
        ahead = [s for s in ahead if s[1] > day_start]
        if ahead and ahead[0][0] <= max(day_start, start) and ahead[0][1] >= day_end:
            day = ahead[0][1].astimezone(tz).date()  # a stop over whole days (a 补正 open for years): over it at once
            continue
        if calendar.counts(day, unit):
            cursor = max(day_start, start)
            for s_start, s_end in ahead:
                if s_end <= cursor or s_start >= day_end:
                    continue
                free = max((s_start - cursor).total_seconds(), 0.0)
                if free >= left:
                    return cursor + timedelta(seconds=left)
                left -= free
                cursor = max(cursor, s_end)
                if cursor >= day_end:
                    break
            free = max((day_end - cursor).total_seconds(), 0.0)
            if free >= left:
                return cursor + timedelta(seconds=left)
            left -= free
        if not ahead:  # nothing stops the clock any more: whole counting days, then the rest of the last one
            whole, rest = divmod(left, _DAY)
            if rest < _EPSILON and whole >= 1:
                return datetime.combine(calendar.add_days(day, int(whole), unit), time(0), tz) + timedelta(days=1)
            return datetime.combine(calendar.add_days(day, int(whole) + 1, unit), time(0), tz) + timedelta(seconds=rest)
        day += timedelta(days=1)
    raise ValueError("time limit too far in the future")


def is_closed(case: Mapping[str, Any]) -> bool:
    """No clock of this case runs any more: deleted, in a closed status, or finished."""
    return bool(case.get("deleted") or case.get("status") in CLOSED_STATUSES or case.get("finished_at"))


class UnitCatalogue(Protocol):
    """What :func:`limit_unit` and :func:`catalogue_limit` ask of the 通办目录
    (:class:`gateway.process.TongbanCatalogue`, a layer above)."""

    def unit_for(self, item_code: str | None, catalog_code: str | None, calendar: WorkCalendar) -> LimitUnit: ...

    def item(self, item_code: str | None, catalog_code: str | None = None) -> Any: ...


def limit_unit(case: Mapping[str, Any], calendar: WorkCalendar, catalogue: UnitCatalogue | None = None) -> LimitUnit:
    """What a case's time limit counts in: its item's ``limit.unit`` in the 通办目录 (the unit a deemed acceptance
    was promised in), else the calendar's rule (``calendar_day_items``). Every reader of a case clock that has the
    目录 passes this to :func:`evaluate` — the scan, a case page, 按时办结 — so the promise and the clocks agree."""
    if catalogue is None:
        return calendar.unit_for(case.get("item_code"))
    return catalogue.unit_for(case.get("item_code"), case.get("catalog_code"), calendar)


def catalogue_limit(case: Mapping[str, Any], clock_start: datetime | None,
                    catalogue: UnitCatalogue | None) -> int | None:
    """The limit a case the hand-off decided runs on when its newest version states none: the item's unified limit
    in the 通办目录 (what the deemed acceptance promised). None for any other case (no clock without a limit).
    Every reader of a case clock passes it to :func:`evaluate` with :func:`limit_unit` — the scan, a case page,
    按时办结 — so a case filed red is never left out of the on-time figures."""
    if clock_start is None or catalogue is None or case.get("promised_days") is not None:
        return None
    entry = catalogue.item(case.get("item_code"), case.get("catalog_code"))
    return entry.limit_days if entry is not None else None


def evaluate(case: dict[str, Any], calendar: WorkCalendar, *, now: datetime,
             clock_start: datetime | None = None, unit: LimitUnit | None = None,
             limit_days: int | None = None) -> DeadlineState | None:
    """The clock of one canonical case (as the ledger stores it), or None when no clock runs: not yet
    accepted, no time limit, finished or deleted. ``clock_start`` overrides the acceptance time: a case deemed
    accepted by the 一窗受理 hand-off starts its clock then, whatever a late answer later wrote — and whatever a
    later version lacks: with ``clock_start`` the document needs no ``accepted_at`` (the hall's own record, edited
    after the deemed acceptance, never had one). ``limit_days``: the limit when the document states none (the
    item's unified limit in the 通办目录, which the deemed acceptance promised). ``unit``: what the item's limit
    counts in, where the caller knows it (the 通办目录's ``limit.unit``, which the deemed promise was made in);
    else the calendar's rule for the item."""
    if is_closed(case):
        return None
    accepted = clock_start if clock_start is not None else _parse(case.get("accepted_at"))
    limit = case.get("promised_days")
    if limit is None:
        limit = limit_days
    unit = unit or calendar.unit_for(case.get("item_code"))
    if limit is None and accepted is not None:
        limit = _days_to_promise(accepted, _parse(case.get("promised_at")), unit, calendar)
    if accepted is None or limit is None:
        return None
    limit = int(limit)
    reading = run_clock(accepted, limit, unit, case.get("events") or [], calendar, now=now)
    return DeadlineState(case_no=str(case.get("case_no")), limit_days=limit, unit=unit, started_at=reading.started_at,
                         used_days=reading.used_days, stopped_days=reading.stopped_days, paused=reading.paused,
                         due_at=reading.due_at, level=reading.level, calendar_known=reading.calendar_known,
                         next_change_at=reading.next_change_at)


def case_clock(case: dict[str, Any], calendar: WorkCalendar, catalogue: UnitCatalogue | None, *, now: datetime,
               clock_start: datetime | None = None) -> DeadlineState | None:
    """The case's own clock as the scan and a case page read it: :func:`evaluate` in the unit of
    :func:`limit_unit` and, for a case the hand-off decided that states no limit, on :func:`catalogue_limit`."""
    return evaluate(case, calendar, now=now, clock_start=clock_start, unit=limit_unit(case, calendar, catalogue),
                    limit_days=catalogue_limit(case, clock_start, catalogue))


def _days_to_promise(accepted: datetime, promised: datetime | None, unit: LimitUnit,
                     calendar: WorkCalendar) -> int | None:
    """The limit a source states only as a promised finish time (承诺办结时间, no days): the counting days from the
    day after acceptance through the promised day — so the clock is due at the end of that day, and a special
    procedure moves it as it moves any limit (a day that does not count in ``unit`` runs to the next one that
    does). None without a promise, or with one before the acceptance day."""
    if promised is None:
        return None
    accepted_day = accepted.astimezone(calendar.tz).date()
    # the day the promise ends: its own, or the day before for a promise "by 00:00" (that day's end)
    promised_day = (promised.astimezone(calendar.tz) - timedelta(microseconds=1)).date()
    if promised_day < accepted_day:
        return None
    days = calendar.counting_days(accepted_day + timedelta(days=1), promised_day + timedelta(days=1), unit)
    # a promise for a day that does not count (a Sunday, for working days) runs to the next one that does
    return days + (0 if calendar.counts(promised_day, unit) or promised_day == accepted_day else 1)


@dataclass(frozen=True)
class ClockReading:
    """One clock read at ``now``: what :func:`evaluate` reports for a case and :mod:`.stages` for each stage."""

    started_at: datetime
    used_days: float
    stopped_days: float
    paused: bool
    due_at: datetime
    level: DeadlineLevel | None
    calendar_known: bool
    next_change_at: datetime | None = None
    """When to read this clock again: the instant it turns yellow or red, or a recorded special procedure starts
    or ends, whichever is first (exactly: the level read at that instant is the new one; never ``now`` or
    before). None when only a change of the case can move it: red already, or stopped with no recorded end."""


def promised_deadline(accepted: datetime, limit: int, unit: LimitUnit, calendar: WorkCalendar) -> datetime:
    """When a case accepted at ``accepted`` with ``limit`` days in ``unit`` is due, as its clock will read it with
    no special procedure: the end (Beijing midnight) of the last counting day — one rule for the promised time a
    version states (KPI 按时办结) and the clock that supervises it."""
    return run_clock(accepted, limit, unit, [], calendar, now=accepted).due_at


def run_clock(begun: datetime, limit: int, unit: LimitUnit, events: list[dict[str, Any]], calendar: WorkCalendar, *,
              now: datetime) -> ClockReading:
    """A clock begun at ``begun`` (acceptance, or a stage's start) with ``limit`` days in ``unit``: it starts the
    next day (0 days: due by the end of that day) and stops while any special procedure of ``events`` runs."""
    local_begun = begun.astimezone(calendar.tz)
    started = datetime.combine(local_begun.date() + timedelta(days=1), time(0), calendar.tz)
    if limit == 0:  # 即办件: due by the end of the day it was accepted
        started = datetime.combine(local_begun.date(), time(0), calendar.tz)
    stops: list[tuple[datetime, datetime]] = []
    paused = False
    for s_start, s_end in _special_bounds(events):
        if s_end is None or s_end > now:
            paused = paused or s_start <= now
            s_end = max(now, s_start)
        stops.append((s_start, s_end))
    stops = _merge(stops)
    elapsed = _counting_seconds(started, now, calendar, unit)
    stopped = sum(_counting_seconds(max(s, started), min(e, now), calendar, unit) for s, e in stops)
    used_days = max(elapsed - stopped, 0.0) / _DAY
    budget = (limit if limit > 0 else 1) * _DAY
    counted_due = _due(started, budget, stops, calendar, unit)
    due = calendar.period_end(counted_due, unit)  # a calendar-day limit ending on a holiday runs on past it
    level: DeadlineLevel | None = None
    used_share = used_days / limit if limit else (1.0 if now >= due else 0.0)
    if now >= due or (used_share >= 1.0 and due == counted_due):
        level = "red"
    elif used_share >= calendar.yellow_at - _EPSILON:  # 2.4 / 3 is 0.7999…: the 80% instant is yellow
        level = "yellow"
    known = calendar.is_known(started.date()) and calendar.is_known(due.astimezone(calendar.tz).date())
    return ClockReading(started_at=started, used_days=used_days, stopped_days=stopped / _DAY, paused=paused,
                        due_at=due, level=level, calendar_known=known,
                        next_change_at=_next_change(started, limit, unit, level, paused, stops, due, events,
                                                    calendar, now))


_RECHECK_MARGIN = timedelta(seconds=1)


def _next_change(started: datetime, limit: int, unit: LimitUnit, level: DeadlineLevel | None, paused: bool,
                 stops: list[tuple[datetime, datetime]], due: datetime, events: list[dict[str, Any]],
                 calendar: WorkCalendar, now: datetime) -> datetime | None:
    """See :attr:`ClockReading.next_change_at`. Reading a clock early costs one evaluation; reading it late would
    miss a level, so every instant that might change the answer counts — a special procedure that starts later
    (the clock will stop) or ends later (it will run again)."""
    candidates = []
    for bounds in _special_bounds(events):
        for bound in bounds:
            if bound is not None and bound > now:
                candidates.append(bound)
    if not paused and level != "red":
        if level == "yellow" or limit == 0:
            candidates.append(due)
        else:
            candidates.append(_due(started, calendar.yellow_at * limit * _DAY, stops, calendar, unit))
    if not candidates:
        return None
    first = min(candidates)
    return first if first > now else now + _RECHECK_MARGIN  # (rounding) never now: the scan would loop on it


__all__ = ["CLOSED_STATUSES", "ClockReading", "DeadlineLevel", "DeadlineState", "UnitCatalogue", "case_clock",
           "catalogue_limit", "evaluate",
           "is_closed", "limit_unit", "promised_deadline", "run_clock"]
