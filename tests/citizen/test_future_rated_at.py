"""A rating time later than the rating's own change time (a device clock years ahead) is a quality flag, and the
change time stands in: the 差评's same-day callback falls due that day, not in 2036, and is overdue a week on.
A few minutes ahead is clock skew, kept as sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, add_case, migrated, rating

from gateway.citizen import list_evaluations, load_citizen, sync_evaluations
from gateway.citizen.conventions import from_evaluator
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

ARRIVED = datetime(2026, 12, 1, 11, 0, tzinfo=BEIJING)  # when the collection point stored it (updateTime)
FUTURE = datetime(2036, 1, 1, 9, 0, tzinfo=BEIJING)


def test_the_change_time_stands_in_with_a_flag() -> None:
    ev = from_evaluator(rating("R1", "C1", 1, FUTURE, ARRIVED))
    assert ev.rated_at == ARRIVED
    assert [(i.record, i.field, i.rule) for i in ev.quality] == [("evaluator:R1", "rated_at", "rated_at.after_change")]
    assert "2036-01-01 09:00:00" in ev.quality[0].message


def test_clock_skew_is_no_flag() -> None:
    ahead = ARRIVED + timedelta(minutes=4)  # within CLOCK_SKEW (5 minutes)
    ev = from_evaluator(rating("R1", "C1", 1, ahead, ARRIVED))
    assert ev.rated_at == ahead.replace(microsecond=0) and ev.quality == ()


def test_the_callback_of_a_future_rating_is_due_the_day_it_arrived(sqlite_url: str) -> None:
    engine = migrated(sqlite_url)
    try:
        add_case(engine, "C1", ARRIVED - timedelta(hours=2))
        report = sync_evaluations(engine, load_citizen(), client=Pages([rating("R1", "C1", 1, FUTURE, ARRIVED)]),  # type: ignore[arg-type]
                                  calendar=WorkCalendar.load(), now=ARRIVED)
        assert report.inserted == 1 and report.rejected == 0 and report.bad == 1
        held = list_evaluations(engine, bad=True)[0]
        assert held["callback_due_at"].astimezone(BEIJING) == datetime(2026, 12, 1, 18, 0, tzinfo=BEIJING)
    finally:
        engine.dispose()
