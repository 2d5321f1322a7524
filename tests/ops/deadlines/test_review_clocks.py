"""Clock defects an outside review found, on a fresh SQLite ledger (as the other deadline tests):

4. A case deemed accepted lost its clock once a newer hall version without ``accepted_at`` (or without the 目录's
   limit) won the merge; the hand-off's decision starts the clock, with the item's unified limit.
6. A stage plan's ``unit: calendar_day`` never applied: the stage record's unit defaulted to working days.
7. A special procedure (补正) that never ends stopped the clock for good, silently: alerted past its bound, and a
   paused case is read again at that bound.
8. A stage the source never closes stayed red after later stages ran: it ends when a later stage starts.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import orjson
from sqlalchemy import select

from gateway.models.hashing import _model_fields
from gateway.models.intake import StageRecord
from gateway.ops.deadlines import BEIJING, WorkCalendar, case_clocks, evaluate, scan_deadlines
from gateway.ops.deadlines.stages import evaluate_stages
from gateway.process import TongbanCatalogue
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import alerts, cases, process_handoffs

CAL = WorkCalendar.load()
CATALOGUE = TongbanCatalogue.load()
ELDERLY = "11370000004390448N4000105101001"  # 10 working days in the 通办目录


def bj(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BEIJING)


def _ledger(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    return engine


def _store(engine, case: dict, origin: str = "src") -> None:
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case["case_no"], version=1, content_hash="x" * 32, data=json.dumps(case, ensure_ascii=False),
            origin_system=origin, origin_source_id=case["case_no"], source_updated_at=now,
            dept_code=None, item_code=case["item_code"], deleted=False, updated_at=now))


def _open(engine) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(alerts).where(alerts.c.status == "open", alerts.c.kind == "deadline")).mappings()
        return {r["key"]: {**r, "details": json.loads(r["details"] or "null")} for r in rows}


def _clock_due(engine, case_no: str) -> datetime:
    with engine.connect() as conn:
        return conn.execute(select(cases.c.clock_due_at).where(cases.c.case_no == case_no)).scalar_one()


# -- 4 ----------------------------------------------------------------------------------------------------------

def test_a_deemed_case_keeps_its_clock_when_the_hall_version_has_no_acceptance() -> None:
    deemed = bj(11, 2, 10, 10)
    hall_edit = {"case_no": "C1", "item_code": ELDERLY, "status": "submitted", "applied_at": bj(11, 2, 10).isoformat(),
                 "promised_days": 10}  # the hall's own record: it never had accepted_at
    state = evaluate(hall_edit, CAL, now=bj(11, 30, 12), clock_start=deemed)
    assert state is not None and state.level == "red" and state.started_at == bj(11, 3)
    # no limit in the document: the caller's (the 目录's) applies; without either there is no clock
    bare = {k: v for k, v in hall_edit.items() if k != "promised_days"}
    assert evaluate(bare, CAL, now=bj(11, 30, 12), clock_start=deemed) is None
    assert evaluate(bare, CAL, now=bj(11, 30, 12), clock_start=deemed, limit_days=10).level == "red"  # type: ignore[union-attr]
    assert evaluate(bare, CAL, now=bj(11, 30, 12)) is None  # not accepted, not decided: no clock


def test_the_scan_clocks_a_deemed_case_from_the_decision_with_the_catalogue_limit(tmp_path) -> None:
    engine = _ledger(tmp_path)
    deemed = bj(11, 2, 10, 10)
    hall_edit = {"case_no": "C-DEEMED", "item_code": ELDERLY, "item_name": "高龄老人津贴发放", "status": "submitted",
                 "applied_at": bj(11, 2, 10).isoformat()}  # newer than the deemed version: no acceptance, no limit
    _store(engine, hall_edit, origin="sd_hall")
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert().values(
            case_no="C-DEEMED", hall_system="sd_hall", target_system="sd_civil", state="deemed", window_s=600,
            registered_at=deemed - timedelta(minutes=11), handed_at=deemed - timedelta(minutes=10), due_at=deemed,
            decided_at=deemed, decided_by="deemed", forwarded_version=0, updated_at=deemed))
    scan_deadlines(engine, CAL, now=bj(11, 30, 12), catalogue=CATALOGUE)
    alert = _open(engine)["C-DEEMED"]
    assert alert["level"] == "red" and alert["details"]["limit_days"] == 10
    assert alert["details"]["clock_started_at"] == bj(11, 3).isoformat()
    clocks = case_clocks(engine, "C-DEEMED", CAL, catalogue=CATALOGUE, now=bj(11, 30, 12))
    assert clocks is not None and clocks["case"]["level"] == "red"


# -- 6 ----------------------------------------------------------------------------------------------------------

def test_a_stage_without_a_unit_counts_in_the_plans_unit() -> None:
    stored = orjson.loads(orjson.dumps(StageRecord(name="公示", started_at="2026-09-30T09:00:00+08:00"),
                                       default=_model_fields))
    assert stored["unit"] is None  # the source did not say
    plan = TongbanCatalogue.from_text("""
items:
  ITEM-1:
    name: 公示事项
    departments: {"37": "X"}
    stages:
      - {name: 公示, days: 7, unit: calendar_day, owner: 公示办}
""").stages_for("ITEM-1")
    case = {"case_no": "C1", "item_code": "ITEM-1", "status": "in_progress", "stages": [stored]}
    # 7 calendar days from 30 September: the last, 7 October, is in 国庆 — the period runs on to the end of
    # 8 October, the first working day (民法典 第二百零三条)
    (state,) = evaluate_stages(case, CAL, now=bj(10, 8, 12), plan=plan)
    assert state.unit == "calendar_day" and state.level == "yellow" and state.due_at == bj(10, 9)
    (state,) = evaluate_stages(case, CAL, now=bj(10, 9, 0), plan=plan)
    assert state.level == "red"
    # a unit the source states still wins over the plan's
    said = {**stored, "unit": "working_day"}
    (state,) = evaluate_stages({**case, "stages": [said]}, CAL, now=bj(10, 8, 12), plan=plan)
    assert state.unit == "working_day" and state.level is None


# -- 7 ----------------------------------------------------------------------------------------------------------

BASE = {"item_code": "X-ITEM", "item_name": "测试事项", "status": "in_progress", "case_type": "promised",
        "applied_at": bj(11, 2, 9).isoformat(), "accepted_at": bj(11, 2, 9).isoformat(), "promised_days": 5}


def test_a_special_procedure_that_never_ends_is_alerted_at_its_bound(tmp_path) -> None:
    engine = _ledger(tmp_path)
    case = {**BASE, "case_no": "C-SPECIAL", "events": [
        {"seq": 1, "kind": "special", "name": "补正", "special_type": "correction",
         "started_at": bj(11, 3, 10).isoformat(), "ended_at": None}]}
    _store(engine, case)
    bound = bj(11, 3, 10) + timedelta(days=30)  # the default bound (config/calendar.yaml says none)
    report = scan_deadlines(engine, CAL, now=bj(11, 10, 12), catalogue=CATALOGUE)
    assert report.paused == 1 and "C-SPECIAL/special/1" not in _open(engine)
    assert _clock_due(engine, "C-SPECIAL") == bound  # read again at the bound, not never
    report = scan_deadlines(engine, CAL, now=bound, catalogue=CATALOGUE)
    alert = _open(engine)["C-SPECIAL/special/1"]
    assert alert["level"] == "red" and alert["details"]["stage"] == "特别程序" and "补正" in alert["message"]
    assert report.specials_overdue == 1 and report.stages_red == 0
    # ended in the source: the alert resolves
    ended = {**case, "events": [{**case["events"][0], "ended_at": (bound + timedelta(days=1)).isoformat()}]}
    with engine.begin() as conn:
        conn.execute(cases.update().values(data=json.dumps(ended, ensure_ascii=False), version=2))
    scan_deadlines(engine, CAL, now=bound + timedelta(days=1, hours=1), catalogue=CATALOGUE)
    assert "C-SPECIAL/special/1" not in _open(engine)


def test_the_bound_is_configurable_per_type() -> None:
    cal = WorkCalendar.from_text("special_procedures: {max_days: 10, by_type: {correction: 60}}\n", national=False)
    assert (cal.special_bound("correction"), cal.special_bound("hearing"), cal.special_bound(None)) == (60, 10, 10)


# -- 8 ----------------------------------------------------------------------------------------------------------

def test_a_stage_never_closed_ends_when_a_later_stage_starts(tmp_path) -> None:
    engine = _ledger(tmp_path)
    case = {**BASE, "case_no": "C-STAGES", "promised_days": 30, "stages": [
        {"name": "受理", "started_at": bj(11, 2, 9).isoformat(), "limit_days": 1},  # never closed by the source
        {"name": "审核", "started_at": bj(11, 3, 9).isoformat(), "ended_at": bj(11, 4, 9).isoformat(), "limit_days": 3},
        {"name": "决定", "started_at": bj(11, 4, 9).isoformat(), "limit_days": 20}]}
    assert [s.stage for s in evaluate_stages(case, CAL, now=bj(11, 20))] == ["决定"]
    # before the next stage started, the first one was still running (and past its limit)
    assert [(s.stage, s.level) for s in evaluate_stages(case, CAL, now=bj(11, 2, 23))] == [("受理", None)]
    _store(engine, case)
    scan_deadlines(engine, CAL, now=bj(12, 4, 12), catalogue=CATALOGUE)
    assert set(_open(engine)) == {"C-STAGES/stage/3"}


def test_a_stage_reopened_under_its_name_ends_the_first_but_a_parallel_next_stage_does_not() -> None:
    reopened = {**BASE, "case_no": "C-REOPEN", "stages": [
        {"name": "审核", "started_at": bj(11, 2, 9).isoformat(), "limit_days": 1},
        {"name": "审核", "started_at": bj(11, 5, 9).isoformat(), "limit_days": 3}]}
    assert [(s.seq, s.stage) for s in evaluate_stages(reopened, CAL, now=bj(11, 6))] == [(2, "审核")]
    parallel = {**BASE, "case_no": "C-PARALLEL", "stages": [  # 部门审核 and 财政审核 review side by side
        {"name": "部门审核", "started_at": bj(11, 2, 9).isoformat(), "limit_days": 3},
        {"name": "财政审核", "started_at": bj(11, 3, 9).isoformat(), "limit_days": 5}]}
    assert [s.stage for s in evaluate_stages(parallel, CAL, now=bj(11, 4))] == ["部门审核", "财政审核"]


# -- 9 ----------------------------------------------------------------------------------------------------------

def test_a_bundle_past_its_due_time_is_alerted_until_it_ends(tmp_path) -> None:
    from gateway.store.tables import bundle_applications

    engine = _ledger(tmp_path)
    with engine.begin() as conn:
        conn.execute(bundle_applications.insert().values(
            bundle_no="YJS20261102ABCD", bundle_code="company_opening", applicant_name="张三", form="{}",
            consent=False, status="in_progress", submitted_at=bj(11, 2, 9), due_at=bj(11, 4), updated_at=bj(11, 2, 9)))
    report = scan_deadlines(engine, CAL, now=bj(11, 3, 12), catalogue=CATALOGUE)
    assert (report.bundles_open, report.bundles_late) == (1, 0) and "bundle/YJS20261102ABCD" not in _open(engine)
    report = scan_deadlines(engine, CAL, now=bj(11, 4, 1), catalogue=CATALOGUE)
    alert = _open(engine)["bundle/YJS20261102ABCD"]
    assert report.bundles_late == 1 and alert["level"] == "red" and alert["details"]["stage"] == "一件事"
    assert alert["due_at"] is not None
    # a full scan (the orphan sweep) keeps it: the bundle number is no case of the ledger
    scan_deadlines(engine, CAL, now=bj(11, 4, 2), catalogue=CATALOGUE, full=True)
    assert "bundle/YJS20261102ABCD" in _open(engine)
    with engine.begin() as conn:
        conn.execute(bundle_applications.update().values(status="finished", finished_at=bj(11, 4, 3)))
    scan_deadlines(engine, CAL, now=bj(11, 4, 4), catalogue=CATALOGUE)
    assert "bundle/YJS20261102ABCD" not in _open(engine)


def test_a_calendar_day_limit_ending_on_a_rest_day_runs_on_to_the_next_working_day() -> None:
    """民法典 第二百零三条 (行政诉讼法 第八十三条 alike): 期间的最后一日是法定休假日的，以法定休假日结束的次日为期间
    的最后一日. Ten calendar days from Monday 21 September 2026 ended on 1 October, inside 国庆: a case finished on
    8 October, the first working day after it, was counted late."""
    from gateway.ops.deadlines.clock import promised_deadline

    assert promised_deadline(bj(9, 21, 10), 10, "calendar_day", CAL) == bj(10, 9)  # the end of 8 October
    assert promised_deadline(bj(11, 4, 10), 3, "calendar_day", CAL) == bj(11, 10)  # Sat 7 Nov → the end of Mon 9th
    assert promised_deadline(bj(11, 2, 10), 3, "calendar_day", CAL) == bj(11, 6)  # a Thursday: as counted
    assert promised_deadline(bj(9, 21, 10), 8, "working_day", CAL) == bj(10, 10)  # working days: unchanged rule
