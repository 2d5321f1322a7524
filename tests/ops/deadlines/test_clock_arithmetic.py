"""The clock's fast arithmetic (prefix sums, one jump over whole days) equals a plain day-by-day walk.

The walk is the definition — count the seconds of each counting day, skip what a special procedure stopped —
written here the slow, obvious way; hypothesis picks calendars, starts, stops and budgets we did not choose.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.ops.deadlines.clock import _counting_seconds, _due, run_clock

DAY = 86400.0


def walk_seconds(start: datetime, end: datetime, cal: WorkCalendar, unit: str) -> float:
    if end <= start:
        return 0.0
    total, day = 0.0, start.astimezone(BEIJING).date()
    while True:
        lo = max(start, datetime.combine(day, time(0), BEIJING))
        hi = min(end, datetime.combine(day + timedelta(days=1), time(0), BEIJING))
        if hi > lo and cal.counts(day, unit):  # type: ignore[arg-type]
            total += (hi - lo).total_seconds()
        if hi >= end:
            return total
        day += timedelta(days=1)


def walk_due(start: datetime, budget: float, stops: list[tuple[datetime, datetime]], cal: WorkCalendar,
             unit: str) -> datetime:
    """Second by second would be exact; hour by hour with the stops' edges is exact enough and obvious."""
    left, day = budget, start.astimezone(BEIJING).date()
    while True:
        day_start = datetime.combine(day, time(0), BEIJING)
        day_end = day_start + timedelta(days=1)
        if cal.counts(day, unit):  # type: ignore[arg-type]
            cursor = max(day_start, start)
            edges = sorted({cursor, day_end} | {t for s in stops for t in s if cursor < t < day_end})
            for lo, hi in itertools.pairwise(edges):
                if any(s <= lo and hi <= e for s, e in stops):
                    continue
                span = (hi - lo).total_seconds()
                if span >= left:
                    return lo + timedelta(seconds=left)
                left -= span
        day += timedelta(days=1)


def merged(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


BASE = datetime(2025, 12, 1, tzinfo=BEIJING)
moments = st.integers(min_value=0, max_value=400 * 24 * 60).map(lambda m: BASE + timedelta(minutes=m))
units = st.sampled_from(["working_day", "calendar_day"])


@st.composite
def calendars(draw: st.DrawFn) -> WorkCalendar:
    offs = draw(st.sets(st.integers(0, 420), max_size=40))
    ons = draw(st.sets(st.integers(0, 420), max_size=10)) - offs
    return WorkCalendar(holidays={BASE.date() + timedelta(days=d) for d in offs},
                        workdays={BASE.date() + timedelta(days=d) for d in ons}, known_years={2025, 2026, 2027})


@settings(max_examples=300, deadline=None)
@given(cal=calendars(), a=moments, b=moments, unit=units)
def test_counting_seconds_equals_the_walk(cal: WorkCalendar, a: datetime, b: datetime, unit: str) -> None:
    assert _counting_seconds(a, b, cal, unit) == walk_seconds(a, b, cal, unit)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(cal=calendars(), start=moments, days=st.integers(0, 60), extra_minutes=st.integers(0, 24 * 60 - 1),
       stop_list=st.lists(st.tuples(moments, st.integers(1, 20 * 24 * 60)), max_size=3), unit=units)
def test_due_equals_the_walk(cal: WorkCalendar, start: datetime, days: int, extra_minutes: int,
                             stop_list: list[tuple[datetime, int]], unit: str) -> None:
    budget = days * DAY + extra_minutes * 60.0 or DAY
    stops = merged([(s, s + timedelta(minutes=m)) for s, m in stop_list])
    assert _due(start, budget, stops, cal, unit) == walk_due(start, budget, stops, cal, unit)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), offset=st.integers(0, 380), days=st.integers(0, 40), unit=units)
def test_add_days_equals_the_walk(cal: WorkCalendar, offset: int, days: int, unit: str) -> None:
    start = BASE.date() + timedelta(days=offset)
    day, left = start, days
    while left > 0:
        day += timedelta(days=1)
        left -= cal.counts(day, unit)  # type: ignore[arg-type]
    assert cal.add_days(start, days, unit) == day  # type: ignore[arg-type]


def test_far_dates_fall_back_to_the_walk() -> None:
    cal = WorkCalendar(known_years={2026})
    assert cal.counting_days(date(1980, 1, 1), date(1980, 1, 8), "working_day") == 5
    assert cal.add_days(date(2105, 1, 2), 1, "working_day") == date(2105, 1, 5)  # a Friday → the Monday


@st.composite
def messy_specials(draw: st.DrawFn, accepted: datetime) -> list[dict[str, str]]:
    """Special procedures as real systems record them: before the acceptance, overlapping, zero-length, across
    weekends — and ending before they start (``case.date_order``), which the clock must ignore everywhere."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        start = accepted + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 40 * 24 * 60)))
        end = start + timedelta(minutes=draw(st.integers(-10 * 24 * 60, 10 * 24 * 60)))
        out.append({"kind": "special", "name": "补正", "started_at": start.isoformat(), "ended_at": end.isoformat()})
    return out


@settings(max_examples=300, deadline=None)
@given(cal=calendars(), accepted=moments, limit=st.integers(1, 25), unit=units, data=st.data())
def test_at_its_due_time_a_clock_has_used_exactly_its_limit_whatever_the_special_procedures(
        cal: WorkCalendar, accepted: datetime, limit: int, unit: str, data: st.DataObject) -> None:
    """``due_at`` is the instant the used days reach the limit: red then, not a second before — the two halves of
    the clock (the used days, the due time) read the same stops, inverted ones included (left out by both)."""
    events = data.draw(messy_specials(accepted))
    bounds = [datetime.fromisoformat(e[k]) for e in events for k in ("started_at", "ended_at")]
    known = max([accepted, *bounds]) + timedelta(seconds=1)  # every procedure has ended: the due time is final
    due = run_clock(accepted, limit, unit, events, cal, now=known).due_at  # type: ignore[arg-type]
    at_due = run_clock(accepted, limit, unit, events, cal, now=due)  # type: ignore[arg-type]
    before = run_clock(accepted, limit, unit, events, cal, now=due - timedelta(seconds=1))  # type: ignore[arg-type]
    if unit == "working_day":
        assert at_due.used_days == pytest.approx(limit, abs=1e-6), (events, due)
    else:  # a calendar-day limit whose last day is a rest day runs on to the end of the next working day (民法典 203)
        assert at_due.used_days >= limit - 1e-6, (events, due)
        assert cal.is_working_day((due - timedelta(microseconds=1)).astimezone(cal.tz).date()), (events, due)
    assert at_due.level == "red" and before.level != "red", (events, due)
    assert at_due.due_at == due
