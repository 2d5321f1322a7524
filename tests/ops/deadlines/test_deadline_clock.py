"""Working-day calendar, the case clock (special procedures stop it) and the scan that writes alerts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from gateway.ops.deadlines import BEIJING, WorkCalendar, evaluate, scan_deadlines
from gateway.contract.errors import ConfigError

CAL = WorkCalendar.load()


def at(day: int, hour: int = 12, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=BEIJING)


def case(limit: int = 10, accepted: datetime | None = None, events: list | None = None, **extra) -> dict:
    return {"case_no": "370100202611020000001", "item_code": "ITEM", "item_name": "测试事项", "dept_name": "测试局",
            "accepted_at": (accepted or at(2, 10)).isoformat(), "promised_days": limit, "status": "in_progress",
            "events": events or [], **extra}


def special(start: datetime, end: datetime | None) -> dict:
    return {"kind": "special", "name": "补正", "special_type": "correction", "started_at": start.isoformat(),
            "ended_at": end.isoformat() if end else None}


def test_the_holiday_calendar_knows_adjusted_working_weekends() -> None:
    assert CAL.is_working_day(date(2026, 2, 14))        # Saturday worked before the Spring Festival (调休)
    assert not CAL.is_working_day(date(2026, 2, 16))    # Monday inside the Spring Festival
    assert CAL.is_working_day(date(2026, 10, 8)) and not CAL.is_working_day(date(2026, 10, 7))
    assert not CAL.is_working_day(date(2026, 11, 7))    # an ordinary Saturday
    assert CAL.add_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert CAL.add_days(date(2026, 2, 14), 1) == date(2026, 2, 24)  # across the holiday
    assert CAL.add_days(date(2026, 2, 13), 3, "calendar_day") == date(2026, 2, 16)
    assert CAL.known_until() == 2026 and not CAL.is_known(date(2027, 3, 1))


def test_a_calendar_file_with_a_clash_or_bad_range_is_refused() -> None:
    with pytest.raises(ConfigError, match="both as a holiday and as a working day"):
        WorkCalendar.from_text("holidays: [2026-01-01]\nworkdays: [2026-01-01]")
    with pytest.raises(ConfigError, match="ends before it starts"):
        WorkCalendar.from_text("holidays: [2026-01-05..2026-01-01]")


def test_yellow_at_80_percent_and_red_past_the_limit_in_working_days() -> None:
    # accepted Monday 2 Nov: the clock starts on the 3rd; 10 working days run out at the end of Monday 16 Nov
    levels = {d: evaluate(case(), CAL, now=at(d)).level for d in (5, 11, 12, 13, 16, 17)}
    assert levels == {5: None, 11: None, 12: None, 13: "yellow", 16: "yellow", 17: "red"}
    state = evaluate(case(), CAL, now=at(13))
    assert state.due_at == datetime(2026, 11, 17, tzinfo=BEIJING)
    assert state.used_days == pytest.approx(8.5)
    assert state.fraction == pytest.approx(0.85)


def test_weekends_do_not_count_but_do_for_calendar_day_items() -> None:
    saturday = evaluate(case(), CAL, now=at(7))
    sunday_night = evaluate(case(), CAL, now=at(8, 23))
    assert saturday.used_days == sunday_night.used_days == pytest.approx(4.0)
    calendar_items = WorkCalendar(holidays=CAL.holidays, workdays=CAL.workdays, calendar_day_items={"ITEM"},
                                  known_years=CAL.known_years)
    state = evaluate(case(), calendar_items, now=at(8, 12))
    assert state.unit == "calendar_day" and state.used_days == pytest.approx(5.5)
    assert state.due_at == datetime(2026, 11, 13, tzinfo=BEIJING)


def test_a_special_procedure_stops_the_clock_and_an_open_one_pauses_it() -> None:
    stopped = case(events=[special(at(4, 9), at(6, 9))])  # 补正 for two working days
    state = evaluate(stopped, CAL, now=at(17))
    assert state.stopped_days == pytest.approx(2.0)
    assert state.due_at == datetime(2026, 11, 19, tzinfo=BEIJING)
    assert state.level == "yellow"  # red without the stop
    running = evaluate(case(events=[special(at(4, 9), None)]), CAL, now=at(30))
    assert running.paused and running.level is None
    assert running.used_days == pytest.approx(1.375)  # the 3rd and the morning of the 4th only


def test_no_clock_for_finished_unaccepted_or_unlimited_cases() -> None:
    assert evaluate(case(status="finished", finished_at=at(5).isoformat()), CAL, now=at(30)) is None
    assert evaluate(case(deleted=True), CAL, now=at(30)) is None
    assert evaluate({**case(), "accepted_at": None}, CAL, now=at(30)) is None
    assert evaluate({**case(), "promised_days": None}, CAL, now=at(30)) is None
    instant = evaluate(case(limit=0, accepted=at(2, 10)), CAL, now=at(3, 9))
    assert instant.level == "red"  # 即办件: due by the end of the day it was accepted


def test_the_scan_writes_alerts_and_resolves_them_when_cases_finish(sqlite_url: str) -> None:
    from sqlalchemy import insert, update

    from gateway.ops.alerts import open_alerts
    from gateway.store import ledger
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from gateway.store.tables import cases

    engine = make_engine(sqlite_url)
    upgrade(engine)
    now = at(13)
    rows = []
    for i, (accepted_day, limit) in enumerate([(2, 10), (2, 20), (2, 5), (12, 10)]):
        data = case(limit=limit, accepted=at(accepted_day, 10), case_no=f"CASE{i}")
        rows.append({"case_no": f"CASE{i}", "version": 1, "content_hash": "h", "data": ledger.dumps(data),
                     "origin_system": "sd_civil", "origin_source_id": str(i), "source_updated_at": now,
                     "dept_code": None, "item_code": "ITEM", "deleted": False, "updated_at": now})
    with engine.begin() as conn:
        conn.execute(insert(cases), rows)
    report = scan_deadlines(engine, CAL, now=now)
    assert (report.checked, report.running, report.yellow, report.red) == (4, 4, 1, 1)
    alerts = {a["case_no"]: a for a in open_alerts(engine, kind="deadline")}
    assert {k: a["level"] for k, a in alerts.items()} == {"CASE0": "yellow", "CASE2": "red"}
    assert alerts["CASE2"]["details"]["limit_days"] == 5 and "past its time limit" in alerts["CASE2"]["message"]

    finished = case(limit=5, accepted=at(2, 10), case_no="CASE2", status="finished", finished_at=now.isoformat())
    with engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.case_no == "CASE2").values(data=ledger.dumps(finished)))
    report = scan_deadlines(engine, CAL, now=now + timedelta(days=4))  # Tuesday 17th: CASE0 is now red
    assert report.resolved_alerts == 1
    assert {a["case_no"]: a["level"] for a in open_alerts(engine, kind="deadline")} == {"CASE0": "red"}
    first = open_alerts(engine, kind="deadline")[0]
    assert first["occurrences"] == 2
    engine.dispose()
