"""Stage clocks (issue 15 item 4): the business-subsidy flow's stages turn yellow and red at the right working-day
instants across a weekend, the National Day holiday and its 调休 Saturday (2026 dates pinned); special procedures
pause a stage; deferred materials overdue and 办不成事 replies raise alerts; a deemed acceptance starts the clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from gateway.ops.deadlines import BEIJING, WorkCalendar, case_clocks, scan_deadlines
from gateway.ops.deadlines.scan import material_alert_key
from gateway.ops.deadlines.stages import evaluate_stages
from gateway.process import TongbanCatalogue, open_ticket, reply_ticket
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import alerts, cases, process_handoffs

CAL = WorkCalendar.load()
CATALOGUE = TongbanCatalogue.load()
SUBSIDY = "BIZ-SUBSIDY-001"
PLAN = CATALOGUE.stages_for(SUBSIDY)


def bj(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BEIJING)


def subsidy(*stages: dict, events: list | None = None, **extra) -> dict:
    return {"case_no": "370102202609290000001", "item_code": SUBSIDY, "item_name": "企业扶持资金兑付",
            "dept_name": "济南市工业和信息化局", "status": "in_progress", "accepted_at": bj(9, 28, 9).isoformat(),
            "promised_days": 35, "events": events or [], "stages": list(stages), **extra}


def level(case: dict, name: str, now: datetime) -> str | None:
    (state,) = [s for s in evaluate_stages(case, CAL, now=now, plan=PLAN) if s.stage == name]
    return state.level


def test_the_plan_comes_from_the_catalogue() -> None:
    assert [(p.name, p.days, p.owner) for p in PLAN] == [
        ("转办", 1, "政务服务中心"), ("部门审核", 3, "行业主管部门"), ("财政审核", 5, "财政局"), ("核查", 20, "行业主管部门"),
        ("公示告知", 3, "行业主管部门"), ("拨付", 3, "财政局")]


def test_routing_within_one_working_day_across_a_weekend() -> None:
    # begun Friday 6 Nov 16:00: Saturday and Sunday do not count; Monday 9 Nov is the one working day
    case = subsidy({"name": "转办", "started_at": bj(11, 6, 16).isoformat()})
    assert level(case, "转办", bj(11, 8, 23, 59)) is None            # Sunday night: nothing used yet
    assert level(case, "转办", bj(11, 9, 19, 11)) is None            # 79.9% of Monday
    assert level(case, "转办", bj(11, 9, 19, 12)) == "yellow"        # 80%: 19:12 on Monday
    assert level(case, "转办", bj(11, 9, 23, 59)) == "yellow"
    assert level(case, "转办", bj(11, 10, 0, 0)) == "red"            # past the limit at Tuesday 00:00
    (state,) = evaluate_stages(case, CAL, now=bj(11, 10, 9), plan=PLAN)
    assert state.due_at == bj(11, 10) and state.owner == "政务服务中心" and state.limit_days == 1


def test_review_within_three_working_days_across_national_day() -> None:
    # begun Tue 29 Sep: counts 30 Sep, then (1–7 Oct off) 8 and 9 Oct
    case = subsidy({"name": "部门审核", "started_at": bj(9, 29, 10).isoformat()})
    assert level(case, "部门审核", bj(10, 7, 23)) is None             # one day used after a week of holiday
    assert level(case, "部门审核", bj(10, 9, 9, 35)) is None
    assert level(case, "部门审核", bj(10, 9, 9, 36)) == "yellow"      # 2.4 of 3 days
    assert level(case, "部门审核", bj(10, 10, 0, 0)) == "red"


def test_finance_review_counts_the_adjusted_saturday_and_not_the_sunday() -> None:
    # begun Fri 9 Oct: Sat 10 Oct is a working day (调休), Sun 11 Oct is not; then 12, 13, 14, 15 Oct
    case = subsidy({"name": "财政审核", "started_at": bj(10, 9, 15).isoformat()})
    assert level(case, "财政审核", bj(10, 14, 23, 59)) is None        # 3.99 of 5 days
    assert level(case, "财政审核", bj(10, 15, 0, 0)) == "yellow"      # 4 of 5: the 80% instant
    assert level(case, "财政审核", bj(10, 15, 23, 59)) == "yellow"
    assert level(case, "财政审核", bj(10, 16, 0, 0)) == "red"


def test_a_special_procedure_pauses_the_running_stage_and_ended_stages_are_not_clocked() -> None:
    correction = {"kind": "special", "name": "补正", "special_type": "correction",
                  "started_at": bj(10, 12, 0).isoformat(), "ended_at": bj(10, 14, 0).isoformat()}
    case = subsidy({"name": "转办", "started_at": bj(9, 28, 9).isoformat(), "ended_at": bj(9, 28, 15).isoformat()},
                   {"name": "财政审核", "started_at": bj(10, 9, 15).isoformat()}, events=[correction])
    states = evaluate_stages(case, CAL, now=bj(10, 15, 12), plan=PLAN)
    assert [s.stage for s in states] == ["财政审核"]                   # 转办 ended: no clock
    # two working days (12, 13 Oct) given back: due moves from 16 Oct to 20 Oct 00:00 (17/18 weekend)
    assert states[0].due_at == bj(10, 20) and states[0].level is None
    assert level(case, "财政审核", bj(10, 16, 12)) is None and level(case, "财政审核", bj(10, 19, 0)) == "yellow"


def _ledger(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    return engine


def _store(engine, case: dict) -> None:
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case["case_no"], version=1, content_hash="x" * 32, data=json.dumps(case, ensure_ascii=False),
            origin_system="jn_subsidy", origin_source_id=case["case_no"], source_updated_at=now,
            dept_code=None, item_code=case["item_code"], deleted=False, updated_at=now))


def _open(engine) -> dict[tuple[str, str], dict]:
    with engine.connect() as conn:
        rows = conn.execute(select(alerts).where(alerts.c.status == "open")).mappings().all()
    return {(r["kind"], r["key"]): {**r, "details": json.loads(r["details"] or "null")} for r in rows}


def test_the_scan_raises_one_alert_per_stage_with_its_name_and_resolves_it(tmp_path) -> None:
    engine = _ledger(tmp_path)
    case = subsidy({"name": "部门审核", "started_at": bj(9, 29, 10).isoformat()},
                   deferred_materials=[{"name": "纳税证明", "kind": "pledged", "due_at": bj(10, 9, 17).isoformat(),
                                        "received_at": None}])
    _store(engine, case)
    scan_deadlines(engine, CAL, now=bj(10, 9, 10), catalogue=CATALOGUE)
    found = _open(engine)
    alert = found[("deadline", f"{case['case_no']}/stage/1")]
    assert alert["level"] == "yellow" and alert["details"]["stage"] == "部门审核"
    assert alert["details"]["owner"] == "行业主管部门" and "stage 部门审核" in alert["message"]
    assert ("deferred_material", material_alert_key(case["case_no"], "纳税证明", {})) not in found
    report = scan_deadlines(engine, CAL, now=bj(10, 10, 8), catalogue=CATALOGUE)
    found = _open(engine)
    assert found[("deadline", f"{case['case_no']}/stage/1")]["level"] == "red" and report.stages_red == 1
    overdue = found[("deferred_material", material_alert_key(case["case_no"], "纳税证明", {}))]
    assert overdue["level"] == "red" and "承诺" in overdue["message"]
    # the stage ends and the material arrives: both alerts resolve on the next scan
    case["stages"][0]["ended_at"] = bj(10, 10, 9).isoformat()
    case["deferred_materials"][0]["received_at"] = bj(10, 10, 9).isoformat()
    with engine.begin() as conn:
        conn.execute(cases.update().values(data=json.dumps(case, ensure_ascii=False)))
    scan_deadlines(engine, CAL, now=bj(10, 10, 10), catalogue=CATALOGUE)
    assert not [k for k in _open(engine) if k[0] in ("deadline", "deferred_material")]


def test_every_clock_of_one_case_for_a_case_page(tmp_path) -> None:
    engine = _ledger(tmp_path)
    case = subsidy({"name": "部门审核", "started_at": bj(9, 29, 10).isoformat()},
                   deferred_materials=[{"name": "纳税证明", "kind": "pledged", "due_at": bj(10, 9, 17).isoformat()}])
    _store(engine, case)
    clocks = case_clocks(engine, case["case_no"], CAL, catalogue=CATALOGUE, now=bj(10, 10, 8))
    assert clocks is not None and clocks["case"]["limit_days"] == 35 and clocks["case"]["level"] is None
    (stage,) = clocks["stages"]
    assert (stage["stage"], stage["owner"], stage["level"]) == ("部门审核", "行业主管部门", "red")
    assert clocks["deferred_overdue"] == [{"name": "纳税证明", "kind": "pledged", "due_at": bj(10, 9, 17).isoformat()}]
    assert case_clocks(engine, "NO-SUCH-CASE", CAL) is None


def test_unanswered_tickets_turn_yellow_then_red_in_working_days(tmp_path) -> None:
    engine = _ledger(tmp_path)
    open_ticket(engine, "BBC-001", "simple", "低保复核材料重复提交", office_code="JN370102-QCL", opened_at=bj(9, 29, 15))
    open_ticket(engine, "BBC-002", "coordination", "跨部门户籍与社保信息不一致", opened_at=bj(9, 29, 15))
    scan_deadlines(engine, CAL, now=bj(10, 9, 12), catalogue=CATALOGUE)  # 30 Sep, 8 Oct, half of 9 Oct used
    found = _open(engine)
    assert found[("deadline", "ticket/BBC-001")]["level"] == "yellow"
    assert found[("deadline", "ticket/BBC-001")]["details"]["stage"] == "办不成事答复"
    assert ("deadline", "ticket/BBC-002") not in found                   # 2.5 of 10
    scan_deadlines(engine, CAL, now=bj(10, 10, 0), catalogue=CATALOGUE)
    assert _open(engine)[("deadline", "ticket/BBC-001")]["level"] == "red"
    assert reply_ticket(engine, "BBC-001", "已协调民政与社保部门，材料免于重复提交", at=bj(10, 10, 9))
    assert not reply_ticket(engine, "BBC-001", "again")
    scan_deadlines(engine, CAL, now=bj(10, 12, 9), catalogue=CATALOGUE)
    assert ("deadline", "ticket/BBC-001") not in _open(engine)


def test_a_deemed_acceptance_starts_the_case_clock_whatever_a_late_answer_wrote(tmp_path) -> None:
    engine = _ledger(tmp_path)
    # the department's late answer says it accepted on 5 Nov; the case was deemed accepted on 2 Nov at 10:10
    case = subsidy(accepted_at=bj(11, 5, 9).isoformat(), promised_days=3, stages=[])
    _store(engine, case)
    deemed = bj(11, 2, 10, 10)
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert().values(
            case_no=case["case_no"], hall_system="sd_hall", target_system="jn_subsidy", state="deemed", window_s=600,
            registered_at=deemed - timedelta(minutes=11), handed_at=deemed - timedelta(minutes=10), due_at=deemed,
            decided_at=deemed, decided_by="deemed", forwarded_version=0, late_decision="accepted",
            late_decided_at=bj(11, 5, 9), updated_at=deemed))
    scan_deadlines(engine, CAL, now=bj(11, 6, 1))  # 3 Nov, 4 Nov, 5 Nov used: red from the deemed start
    alert = _open(engine)[("deadline", case["case_no"])]
    assert alert["level"] == "red" and alert["details"]["clock_started_at"] == bj(11, 3).isoformat()
    assert alert["details"]["stage"] is None
