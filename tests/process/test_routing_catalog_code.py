"""The 通办目录 finds an item by its 实施编码, else by its 基本编码 (catalog_code) — and then every question about
the item (may this office take it, how long is the window, what are its stages) is asked of the item found.

A street office's case carrying another level's 实施编码 of the same 基本编码 (the county's copy of a provincial
item: 八统一, one item at every level) was matched by 基本编码, then refused at the office because the office's 目录
was checked with the raw 实施编码 — while the hall's own window routed the same case; its window and stage plan
were looked up by 实施编码 only (the default window, no stages).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.kernel.config import load_systems
from gateway.models.datetimes import BEIJING
from gateway.ops.deadlines import WorkCalendar, case_clocks
from gateway.process import TongbanCatalogue
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases

REPO = Path(__file__).resolve().parents[2]
SYSTEMS = load_systems(REPO / "config" / "systems.yaml")
CIVIL = "11370000004390448N"
PROVINCIAL = "11370000004390448N4000105101001"  # 高龄老人津贴发放 as the 目录 lists it
COUNTY = "37010200000105101001X"  # the same item (基本编码 000105101000) as a district system codes it
CATALOGUE = TongbanCatalogue.from_text(f"""
departments: {{"{CIVIL}": 山东省民政厅}}
catalogues: {{city: ["{PROVINCIAL}"]}}
offices:
  JN370102-QCL: {{name: 历下区泉城路街道便民服务中心, division: "370102", catalogue: city}}
items:
  "{PROVINCIAL}":
    name: 高龄老人津贴发放
    catalog_code: "000105101000"
    departments: {{"37": "{CIVIL}"}}
    acceptance_window: 15m
    limit: {{days: 10, unit: working_day}}
    stages:
      - {{name: 受理转办, days: 1, owner: 受理点}}
      - {{name: 审核, days: 3, owner: "{CIVIL}"}}
""")


def _case(**extra: object) -> dict:
    return {"case_no": "370102202611020000031", "item_code": COUNTY, "catalog_code": "000105101000",
            "item_name": "高龄老人津贴发放", "division_code": "370102", "dept_code": CIVIL, **extra}


def test_a_street_office_takes_another_levels_code_of_an_item_in_its_catalogue() -> None:
    at_the_hall = CATALOGUE.route(_case(), SYSTEMS)
    at_the_office = CATALOGUE.route(_case(office={"code": "JN370102-QCL"}), SYSTEMS)
    assert (at_the_office.target, at_the_office.dept_code, at_the_office.rule) == ("sd_civil", CIVIL, None)
    assert at_the_office == at_the_hall  # the same item, wherever it was taken
    assert at_the_office.window == timedelta(minutes=15)  # the item's own window, not the default 10 minutes


def test_an_item_outside_the_offices_catalogue_is_still_refused_by_its_code() -> None:
    other = _case(item_code="37010200000117001000Y", catalog_code="000117001000", item_name="社会团体成立登记",
                  office={"code": "JN370102-QCL"})
    refused = CATALOGUE.route(other, SYSTEMS)
    assert refused.refused and refused.rule == "routing.not_in_catalogue"
    assert "item_code 37010200000117001000Y" in (refused.reason or "")


def test_window_and_stages_are_found_by_the_basic_code_as_routing_finds_the_item() -> None:
    assert CATALOGUE.window_for(COUNTY, "000105101000") == timedelta(minutes=15)
    assert [s.name for s in CATALOGUE.stages_for(COUNTY, "000105101000")] == ["受理转办", "审核"]
    assert CATALOGUE.window_for(COUNTY) == timedelta(minutes=10)  # no basic code: not the item, the default
    assert CATALOGUE.stages_for(COUNTY) == ()


def test_the_stage_clock_of_such_a_case_runs_on_the_items_plan(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    case = _case(dept_name="山东省民政厅", status="in_progress", accepted_at="2026-11-02T09:00:00+08:00",
                 promised_days=10, events=[], stages=[{"name": "审核", "started_at": "2026-11-02T09:00:00+08:00"}])
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case["case_no"], version=1, content_hash="x" * 32, data=json.dumps(case, ensure_ascii=False),
            origin_system="sd_civil", origin_source_id="MZ31", source_updated_at=now, dept_code=CIVIL,
            item_code=COUNTY, deleted=False, updated_at=now))
    clocks = case_clocks(engine, case["case_no"], WorkCalendar.load(), catalogue=CATALOGUE,
                         now=datetime(2026, 11, 6, 12, tzinfo=BEIJING))
    assert clocks is not None
    (stage,) = clocks["stages"]  # 审核: 3 working days from 2 Nov (plan), red on Friday the 6th
    assert (stage["stage"], stage["limit_days"], stage["owner"], stage["level"]) == ("审核", 3, CIVIL, "red")
