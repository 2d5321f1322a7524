"""Routing by the 通办目录 (issue 15, acceptance line 2), end to end over real HTTP.

The hall hands off (``intake: handoff``): the sync sends its front-desk cases to no department; the hand-off
routes each by item and division to the competent department's system, or refuses it with its reason.
"""

from __future__ import annotations

from handoff_testlib import (
    ELDERLY,
    OFFICE,
    SOCIAL_ORG,
    add_cross_province_hall,
    civil_record,
    deliver,
    frontdesk,
    hall_case,
    handoff,
    outbox_rows,
    scan,
    set_intake,
    sync,
    trail,
)
from sqlalchemy import select

from gateway.store.tables import dead_letters


def test_an_elderly_allowance_taken_at_a_street_office_reaches_civil_affairs_and_its_result_returns(make_world) -> None:
    world = make_world(civil=20, estate=5)
    set_intake(world, "sd_hall", "handoff")
    made = frontdesk(world, item=ELDERLY, office=OFFICE, origin="app",
                     proxy={"name": "王志刚", "kind": "代办", "letter_no": "WT-370102-0091"})
    case_no = made["case_no"]
    sync(world, "sd_hall")
    assert outbox_rows(world, case_no) == []  # the sync routes a handing-off hall's case to no department
    report = scan(world)
    assert report.registered == 1
    row = handoff(world, case_no)
    assert (row["target_system"], row["dept_code"], row["office_code"]) == ("sd_civil", "11370000004390448N", OFFICE)
    deliver(world)
    record = civil_record(world, case_no)  # exactly that department, pending, with where and how it came in
    assert record["acceptOrgCode"] == OFFICE and record["acceptOrgArea"] == "370102"
    assert record["applyChannel"] == "4" and not record.get("acceptTime")
    assert world.admin("jn_estate", "GET", "/_sandbox/stats")["writes_applied"] == 0
    assert scan(world).handed == 1

    # civil affairs accepts, works the case through and issues the result
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "accept"})
    for _ in range(4):  # 承办, 审核, 批准, then the result
        world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"ids": [record["id"]]})
    sync(world, "sd_civil")
    assert scan(world).accepted == 1
    deliver(world)
    held = hall_case(world, case_no)
    assert held is not None
    assert held["case"]["result"] == "issued" and held["case"]["status"] == "done"
    assert held["case"]["intake_office"]["code"] == OFFICE  # back to the office that took it
    assert trail(world, case_no) == ["registered", "routed", "handed", "accepted"]


def test_an_item_outside_the_offices_catalogue_is_refused_with_its_reason(make_world) -> None:
    world = make_world(civil=20, estate=5)
    set_intake(world, "sd_hall", "handoff")
    made = frontdesk(world, item=SOCIAL_ORG, office=OFFICE)
    case_no = made["case_no"]
    sync(world, "sd_hall")
    report = scan(world)
    assert report.refused_routing == 1 and report.registered == 0
    row = handoff(world, case_no)
    assert row["state"] == "refused_routing" and row["target_system"] is None
    assert "not in the 通办目录 'city'" in row["reason"] and OFFICE in row["reason"] and "item_code" in row["reason"]
    # a dead letter names the record, the field and the rule
    with world.runtime.engine.connect() as conn:
        (letter,) = conn.execute(select(dead_letters).where(dead_letters.c.case_no == case_no)).mappings().all()
    assert letter["kind"] == "routing" and letter["system"] == "sd_hall"
    assert letter["reason"].startswith(f"{case_no}: item_code: routing.not_in_catalogue: ")
    # back to the caller: the hall holds the refusal with its reason; the department never saw the case
    deliver(world)
    held = hall_case(world, case_no)
    assert held is not None and held["case"]["result"] == "not_accepted"
    assert held["case"]["status"] == "rejected" and held["case"]["reason"] == row["reason"]
    assert not [r for r in world.source_records("sd_civil").values() if r.get("projectNo") == case_no]
    assert trail(world, case_no) == ["refused_routing"]
    assert scan(world).refused_routing == 0  # refused once


def test_a_cross_province_application_reaches_the_competent_department_and_its_result_goes_back(
        make_world, monkeypatch) -> None:
    world = make_world(civil=20, estate=5)
    add_cross_province_hall(world, monkeypatch)
    made = world.admin("xhall", "POST", "/_sandbox/take", json={
        "item_code": "11370000004390448N4000105101001", "item_name": "高龄老人津贴发放", "destination": "370102",
        "channel": "03"})["created"][0]
    case_no = made["sblsh"]
    sync(world, "hb_xhall")
    assert scan(world).registered == 1
    row = handoff(world, case_no)
    assert (row["hall_system"], row["office_code"], row["target_system"]) == ("hb_xhall", "HB-ZWFW", "sd_civil")
    deliver(world)
    record = civil_record(world, case_no)
    # the department gets the case naming itself as 实施主体, the Hebei 专窗 as the accepting office
    assert (record["deptCode"], record["deptName"]) == ("11370000004390448N", "山东省民政厅")
    assert (record["acceptOrgCode"], record["acceptOrgArea"], record["applyChannel"]) == ("HB-ZWFW", "130102", "4")
    assert scan(world).handed == 1
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "accept"})
    for _ in range(4):
        world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"ids": [record["id"]]})
    sync(world, "sd_civil")
    assert scan(world).accepted == 1
    deliver(world)
    (back,) = world.admin("xhall", "GET", "/_sandbox/cases", params={"case_no": case_no})
    assert back["case"]["slzt"] == "04" and back["case"]["bjjg"] == "1" and back["case"]["blbm"] == "山东省民政厅"
    steps = trail(world, case_no)
    assert steps[:3] == ["registered", "routed", "competent_department"]
    assert [s for s in steps if s != "returned"] == ["registered", "routed", "competent_department", "handed",
                                                     "accepted"]
    assert back["applied_writes"] == steps.count("returned") >= 2  # each version returned applied once
    # it receives its own cases only: no other Shandong case was sent to the other province's hall
    assert [c["case_no"] for c in world.admin("xhall", "GET", "/_sandbox/cases")] == [case_no]
    assert scan(world).returned == 0  # once per version
