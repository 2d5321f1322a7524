"""The deemed-acceptance window (一窗受理) counts office time on working days, not the wall clock: a case handed over
at 17:58 on a Friday is deemed accepted at 09:10 on Monday, not at 18:08 with nobody on duty.

``office_hours`` sits next to ``acceptance_window`` in the 通办目录 (default 09:00–17:00, Beijing time); working days
are the calendar's (调休 Saturdays count, the National Day holiday does not); ``always`` is the wall clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.kernel.config import load_systems
from gateway.models.datetimes import BEIJING
from gateway.ops.deadlines import WorkCalendar
from gateway.process import TongbanCatalogue, scan_handoffs
from gateway.process.officehours import DEFAULT_OFFICE_HOURS, OfficeHours
from gateway.store import process as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, outbox, process_handoffs

REPO = Path(__file__).resolve().parents[2]
CAL = WorkCalendar.load()
TEN = timedelta(minutes=10)


def bj(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BEIJING)


def test_ten_minutes_of_office_time_on_working_days() -> None:
    hours = DEFAULT_OFFICE_HOURS
    assert hours.add(bj(12, 4, 17, 58), TEN, CAL) == bj(12, 7, 9, 10)   # Friday after closing → Monday morning
    assert hours.add(bj(12, 4, 16, 55), TEN, CAL) == bj(12, 7, 9, 5)    # 5 minutes on Friday, 5 on Monday
    assert hours.add(bj(12, 2, 10, 0), TEN, CAL) == bj(12, 2, 10, 10)   # inside office hours: as before
    assert hours.add(bj(12, 2, 7, 30), TEN, CAL) == bj(12, 2, 9, 10)    # before opening: from the opening
    assert hours.add(bj(12, 5, 11, 0), TEN, CAL) == bj(12, 7, 9, 10)    # a Saturday: the next working day
    assert hours.add(bj(9, 30, 16, 55), TEN, CAL) == bj(10, 8, 9, 5)    # National Day: 1–7 October off
    assert hours.add(bj(10, 9, 16, 55), TEN, CAL) == bj(10, 10, 9, 5)   # 10 October: a 调休 Saturday, worked
    lunch = OfficeHours.parse(["13:00-17:00", "09:00-12:00"], where="office_hours")
    assert lunch.add(bj(12, 2, 11, 55), TEN, CAL) == bj(12, 2, 13, 5)   # the lunch break does not count
    assert lunch.describe() == "09:00-12:00, 13:00-17:00 on working days"
    always = OfficeHours.parse("always", where="office_hours")
    assert always.add(bj(12, 4, 17, 58), TEN, CAL) == bj(12, 4, 18, 8) and always.describe() == "always"


def test_office_hours_are_read_from_the_catalogue_and_bad_spans_are_named() -> None:
    assert TongbanCatalogue.load().office_hours.spans == ((time(9, 0), time(17, 0)),)
    assert TongbanCatalogue.from_text("items: {}").office_hours == DEFAULT_OFFICE_HOURS
    assert TongbanCatalogue.from_text("office_hours: always").office_hours.always
    with pytest.raises(ConfigError, match=r"<x>: office_hours\[0\]: '17:00-09:00' closes before it opens"):
        TongbanCatalogue.from_text("office_hours: ['17:00-09:00']", where="<x>")
    with pytest.raises(ConfigError, match=r"office_hours\[1\]: '9am' is not a span of the day like 09:00-17:00"):
        OfficeHours.parse(["09:00-12:00", "9am"], where="office_hours")
    with pytest.raises(ConfigError, match="office_hours: spans 09:00-12:00, 11:00-17:00 overlap"):
        OfficeHours.parse(["09:00-12:00", "11:00-17:00"], where="office_hours")


def test_a_case_handed_over_on_friday_evening_is_deemed_on_monday_morning(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    systems = load_systems(REPO / "config" / "systems.yaml")
    catalogue = TongbanCatalogue.load()
    handed, written = bj(12, 4, 17, 58), datetime.now(UTC)
    doc = {"case_no": "370102202612040000051", "item_code": "11370000004390448N4000105101001",
           "item_name": "高龄老人津贴发放", "case_type": "promised", "dept_code": "11370000004390448N",
           "dept_name": "山东省民政厅", "division_code": "370102", "status": "submitted",
           "applied_at": (handed - timedelta(minutes=3)).isoformat(), "events": []}
    case_no = doc["case_no"]
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case_no, version=1, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
            origin_system="sd_hall", origin_source_id=case_no, source_updated_at=written,
            dept_code=doc["dept_code"], item_code=doc["item_code"], deleted=False, updated_at=written))
        conn.execute(process_handoffs.insert().values(
            case_no=case_no, hall_system="sd_hall", target_system="sd_civil", dept_code=doc["dept_code"],
            state="awaiting_delivery", window_s=600, registered_at=handed - timedelta(minutes=1),
            forwarded_version=0, updated_at=handed))
        conn.execute(outbox.insert().values(  # the push delivered it to the civil system at 17:58
            case_no=case_no, version=1, target_system="sd_civil", operation="upsert", status="delivered",
            attempts=1, next_attempt_at=handed, created_at=handed, delivered_at=handed))

    assert scan_handoffs(engine, systems, catalogue, now=handed + timedelta(minutes=1), calendar=CAL).handed == 1
    with engine.connect() as conn:
        row = store.get_handoff(conn, case_no)
        handed_step = store.events(conn, case_no)[-1]
    assert row is not None and row["due_at"] == bj(12, 7, 9, 10)
    assert handed_step["detail"]["office_hours"] == "09:00-17:00 on working days"
    for moment in (bj(12, 4, 18, 9), bj(12, 6, 23, 0), bj(12, 7, 9, 9)):  # nobody on duty, then not yet ten minutes
        assert scan_handoffs(engine, systems, catalogue, now=moment, calendar=CAL).deemed == 0
    report = scan_handoffs(engine, systems, catalogue, now=bj(12, 7, 9, 11), calendar=CAL)
    assert report.deemed_cases == [case_no]
    with engine.connect() as conn:
        deemed = store.read_case(conn, case_no)
    assert deemed is not None and deemed["data"]["accepted_at"] == "2026-12-07T09:10:00+08:00"
