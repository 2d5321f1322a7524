"""The national schedule comes from the ``holidays`` package: 2026's dates pinned here as the State Council's
notice (国办发明电〔2025〕7号) has them; a year without a published schedule is not known; local entries win."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from gateway.ops.deadlines import WorkCalendar

CAL = WorkCalendar.from_text("holidays: []\nworkdays: []\n")


@pytest.mark.parametrize("day", [
    "2026-01-01", "2026-01-02",                                   # 元旦 (Jan 2 moved from Sunday Jan 4)
    "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",   # 春节
    "2026-04-06",                                                 # 清明 (observed Monday)
    "2026-05-01", "2026-05-04", "2026-05-05",                     # 劳动节
    "2026-06-19", "2026-09-25",                                   # 端午, 中秋
    "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07",   # 国庆
])
def test_2026_holidays_are_days_off(day: str) -> None:
    assert not CAL.is_working_day(date.fromisoformat(day))


@pytest.mark.parametrize("day", ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"])
def test_2026_adjusted_weekends_are_working_days(day: str) -> None:
    d = date.fromisoformat(day)
    assert d.weekday() >= 5 and CAL.is_working_day(d)


def test_ordinary_days() -> None:
    assert CAL.is_working_day(date(2026, 10, 8)) and not CAL.is_working_day(date(2026, 11, 7))
    # across the Spring Festival: Fri 13 Feb + 1 working day is Sat 14 (调休), then Tue 24 Feb
    assert CAL.add_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert CAL.add_days(date(2026, 2, 14), 1) == date(2026, 2, 24)


def test_a_year_without_a_published_schedule_is_not_known() -> None:
    assert CAL.is_known(date(2026, 12, 31))
    future = date.today().year + 2
    assert not CAL.is_known(date(future, 3, 1))
    assert CAL.known_until() is not None and CAL.known_until() < future


def test_local_closures_and_workdays_win() -> None:
    local = WorkCalendar.from_text("holidays: [2026-12-24]\nworkdays: [2026-10-07]\n")
    assert not local.is_working_day(date(2026, 12, 24)) and local.is_working_day(date(2026, 10, 7))
    assert local.source.startswith("holidays ")


def test_national_false_counts_only_the_file() -> None:
    only = WorkCalendar.from_text("national: false\nholidays: [2026-01-01]\n")
    assert only.is_working_day(date(2026, 2, 17)) and not only.is_working_day(date(2026, 1, 1))
    assert only.known_years == {2026}


def test_every_weekday_off_in_2026_is_a_holiday_the_notice_lists() -> None:
    """Guards against a package update that drops a day: 2026 has 19 weekdays off (the list above)."""
    start = date(2026, 1, 1)
    off = [start + timedelta(n) for n in range(365) if (start + timedelta(n)).weekday() < 5
           and not CAL.is_working_day(start + timedelta(n))]
    assert len(off) == 19


def test_the_scan_alerts_when_the_coming_year_has_no_published_schedule(tmp_path) -> None:
    from datetime import datetime, timezone

    from gateway.ops.alerts import open_alerts
    from gateway.ops.deadlines import scan_deadlines
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    known_until = CAL.known_until()
    assert known_until is not None
    scan_deadlines(engine, CAL, now=datetime(known_until, 6, 1, tzinfo=timezone.utc))
    assert open_alerts(engine, kind="calendar_unknown") == []      # the year and the next two months are known
    scan_deadlines(engine, CAL, now=datetime(known_until, 12, 1, tzinfo=timezone.utc))
    (alert,) = open_alerts(engine, kind="calendar_unknown")         # December: next year is not yet published
    assert alert["level"] == "warning" and str(known_until + 1) in alert["message"]
    assert "holidays" in alert["message"]
