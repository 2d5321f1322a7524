"""The unit of an item's limit in the 通办目录 (``limit: {days: 10, unit: calendar_day}``) decides both the promise a
deemed acceptance makes and the case clock that supervises it; where the 目录 gives no unit, the calendar's rule
(``calendar_day_items``) does.

The unit used to be parsed and never used: a deemed case of a calendar-day item was promised and clocked in working
days — across National Day 2026 that is 17 October instead of 9 October, eight days late to turn red.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.kernel.config import load_systems
from gateway.models.datetimes import BEIJING
from gateway.ops.deadlines import WorkCalendar, limit_unit, scan_deadlines
from gateway.process import TongbanCatalogue, scan_handoffs
from gateway.store import process as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import alerts, cases, process_handoffs

REPO = Path(__file__).resolve().parents[2]
SYSTEMS = load_systems(REPO / "config" / "systems.yaml")
CALENDAR = WorkCalendar.load()
CIVIL = "11370000004390448N"
DUE = datetime(2026, 9, 28, 10, 0, tzinfo=BEIJING)  # the Monday before National Day: the window ends at 10:00


def _catalogue(unit: str | None) -> TongbanCatalogue:
    limit = "{days: 10}" if unit is None else f"{{days: 10, unit: {unit}}}"
    return TongbanCatalogue.from_text(f"""
items:
  "ITEM-CAL":
    name: 自然日事项
    catalog_code: "000199001000"
    departments: {{"37": "{CIVIL}"}}
    limit: {limit}
""")


def _deemed_case(url: str, catalogue: TongbanCatalogue, calendar: WorkCalendar = CALENDAR) -> tuple[Any, dict]:
    """A front-desk case of ITEM-CAL nobody answered: deemed accepted at DUE by a scan a minute later."""
    engine = make_engine(url)
    upgrade(engine)
    doc = {"case_no": "370102202609280000041", "item_code": "ITEM-CAL", "item_name": "自然日事项", "case_type": "promised",
           "dept_code": CIVIL, "dept_name": "山东省民政厅", "division_code": "370102", "status": "submitted",
           "applied_at": (DUE - timedelta(minutes=12)).isoformat(), "events": []}
    written = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=doc["case_no"], version=1, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
            origin_system="sd_hall", origin_source_id=doc["case_no"], source_updated_at=written, dept_code=CIVIL,
            item_code="ITEM-CAL", deleted=False, updated_at=written))
        conn.execute(process_handoffs.insert().values(
            case_no=doc["case_no"], hall_system="sd_hall", target_system="sd_civil", dept_code=CIVIL, state="pending",
            window_s=600, registered_at=DUE - timedelta(minutes=10), handed_at=DUE - timedelta(minutes=10), due_at=DUE,
            forwarded_version=0, updated_at=DUE - timedelta(minutes=10)))
    report = scan_handoffs(engine, SYSTEMS, catalogue, now=DUE + timedelta(minutes=1), calendar=calendar)
    assert report.deemed_cases == [doc["case_no"]]
    with engine.connect() as conn:
        case = store.read_case(conn, doc["case_no"])
    assert case is not None
    return engine, case["data"]


def _level(engine: Any, case_no: str) -> str | None:
    with engine.connect() as conn:
        row = conn.execute(select(alerts.c.level).where(alerts.c.kind == "deadline", alerts.c.key == case_no,
                                                        alerts.c.status == "open")).first()
    return row[0] if row else None


def test_a_calendar_day_item_is_promised_and_clocked_in_calendar_days(database_url: str) -> None:
    catalogue = _catalogue("calendar_day")
    engine, data = _deemed_case(database_url, catalogue)
    # 10 calendar days from 29 September (the acceptance day does not count): through 8 October, holidays included
    assert (data["promised_days"], data["promised_at"]) == (10, "2026-10-09T00:00:00+08:00")
    assert limit_unit(data, CALENDAR, catalogue) == "calendar_day"

    scan_deadlines(engine, CALENDAR, now=datetime(2026, 10, 8, 23, 59, tzinfo=BEIJING), catalogue=catalogue)
    assert _level(engine, data["case_no"]) == "yellow"
    scan_deadlines(engine, CALENDAR, now=datetime(2026, 10, 9, 12, 0, tzinfo=BEIJING), catalogue=catalogue)
    assert _level(engine, data["case_no"]) == "red"  # the promise and the clock agree: due at the promised instant
    with engine.connect() as conn:
        details = json.loads(conn.execute(select(alerts.c.details).where(alerts.c.key == data["case_no"])).scalar_one())
    assert (details["unit"], details["due_at"]) == ("calendar_day", "2026-10-09T00:00:00+08:00")

    # the 目录 corrected to working days: every clock is read again (the fingerprint), in the new unit
    corrected = _catalogue("working_day")
    report = scan_deadlines(engine, CALENDAR, now=datetime(2026, 10, 9, 12, 0, tzinfo=BEIJING), catalogue=corrected)
    assert report.full and _level(engine, data["case_no"]) is None


def test_without_a_unit_in_the_catalogue_the_calendars_rule_decides(database_url: str) -> None:
    catalogue = _catalogue(None)
    assert catalogue.items["ITEM-CAL"].limit_unit is None
    _, working = _deemed_case(database_url, catalogue)
    assert working["promised_at"] == "2026-10-17T00:00:00+08:00"  # 10 working days, 调休 Saturday 10 Oct counted

    calendar = WorkCalendar.from_text("calendar_day_items: [ITEM-CAL]")
    assert limit_unit(working, calendar, catalogue) == "calendar_day"
    assert limit_unit(working, calendar, _catalogue("working_day")) == "working_day"  # the 目录's unit wins
