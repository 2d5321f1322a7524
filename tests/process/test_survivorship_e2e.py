"""Two systems hold one case (一窗受理): each copy speaks for its own part, over real HTTP.

The hall's front desk takes a case, the civil department accepts it (受理: its acceptance time and a step), then
the hall touches its own front-desk record (a status refresh). The hall's record never had the department's
step and keeps its own window time for 受理时间: merged whole as the newest change, it wiped the acceptance from
the case, and the push then wiped it inside the department's system too (an outside review's find). A hall
withdrawal must still end the case.

The merge now takes each copy for its own part (``gateway.models.survivorship``): these tests are the
reproductions of the defect, kept as its regression tests.
"""

from __future__ import annotations

import time

from handoff_testlib import (
    ELDERLY,
    OFFICE,
    accepted_by_civil,
    civil_id,
    civil_record,
    deliver,
    frontdesk,
    ledger_case,
    sync,
)
from sqlalchemy import select

from gateway.store.tables import cases
from gateway.sync.engine import sync_system

_case = ledger_case


def _accepted_by_civil(world):
    made, case_no = accepted_by_civil(world)
    version, origin, _, data = _case(world, case_no)
    assert origin == "sd_civil" and data["accepted_at"] is not None and len(data["events"]) == 1, data
    return made, case_no, version, data


def test_a_hall_touch_keeps_the_departments_acceptance_in_the_ledger_and_in_the_department(make_world) -> None:
    world = make_world(civil=5, estate=0)
    made, case_no, version, accepted = _accepted_by_civil(world)
    civil_before = civil_record(world, case_no)
    assert civil_before["acceptTime"] and len(civil_before["steps"]) == 1

    time.sleep(1.1)  # the hall's change comes a second later than the department's (its change times are ms)
    world.admin("sd_hall", "POST", "/_sandbox/mutate", json={"ids": [made["fd_id"]]})
    report = sync_system(world.runtime, "sd_hall")
    assert report.counts.updated == 1, report.counts  # the hall's record did change …
    _, _, _, data = _case(world, case_no)
    # … but not the department's handling: its acceptance time, its step and its status stand
    for name in ("accepted_at", "events", "status", "promised_at"):
        assert data[name] == accepted[name], (name, data[name], accepted[name])

    deliver(world)
    civil_after = civil_record(world, case_no)
    assert civil_after["acceptTime"] == civil_before["acceptTime"] and len(civil_after["steps"]) == 1, civil_after
    sync(world, "sd_civil")  # and reading the department again changes nothing
    _, _, _, again = _case(world, case_no)
    assert again["accepted_at"] == accepted["accepted_at"] and len(again["events"]) == 1


def _withdraw_at_the_hall(world, made) -> None:
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/delete", json={"ids": [made["fd_id"]]})
    sync_system(world.runtime, "sd_hall")


def test_a_case_withdrawn_at_the_hall_still_ends_after_the_departments_acceptance(make_world) -> None:
    world = make_world(civil=5, estate=0)
    made, case_no, version, _ = _accepted_by_civil(world)
    _withdraw_at_the_hall(world, made)
    newer, origin, deleted, data = _case(world, case_no)
    assert newer > version and origin == "sd_hall" and deleted and data["status"] == "deleted", (origin, data["status"])


def test_a_department_whose_mapping_reads_no_intake_office_keeps_the_halls(make_world, tmp_path) -> None:
    """A department mapping that never reads the intake office (most do not: jn_social, jn_welfare, sd_market …)
    speaks for nothing about it: its copy keeps the office the hall's front desk recorded."""
    from pathlib import Path

    original = (Path(__file__).resolve().parents[2] / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8")
    kept = [line for line in original.splitlines() if "office." not in line]
    assert len(kept) == len(original.splitlines()) - 6  # office.code/name/division, in and out
    mapping = tmp_path / "sd_civil_no_office.yaml"
    mapping.write_text("\n".join(kept) + "\n", encoding="utf-8")
    world = make_world(civil=5, estate=0, mappings={"sd_civil": mapping})
    made, case_no, _, data = _accepted_by_civil(world)
    assert data["office"] is not None and data["office"]["code"] == OFFICE, data["office"]


# -- what the first fix broke (a review reproduced each): the redo must hold them ----------------------------


def _hall_edit(world, made, **edits) -> None:
    time.sleep(1.1)  # a change time later than the department's (its change times are whole seconds)
    world.admin("sd_hall", "POST", "/_sandbox/mutate", json={"ids": [made["fd_id"]], "set": edits})
    sync_system(world.runtime, "sd_hall")


def test_what_the_hall_speaks_for_comes_through_and_the_reconciliation_agrees(make_world) -> None:
    """An agent (帮办代办) added at the hall's window is the hall's to say: the case takes it and keeps the
    department's acceptance — and the nightly reconciliation compares the hall's record with the hall's copy, not
    with the merged case (the first fix's versions were all ``case_divergent``: an error alert every night)."""
    from gateway.sync.reconcile import reconcile_system

    world = make_world(civil=5, estate=0)
    made, case_no, version, accepted = _accepted_by_civil(world)
    _hall_edit(world, made, proxy={"name": "王芳", "kind": "代办", "letter_no": "WT-2026-001"})
    newer, origin, _, data = _case(world, case_no)
    assert newer == version + 1 and origin == "sd_hall", (newer, origin)
    assert data["agent"]["name"] == "王芳" and data["agent"]["role"] == "proxy"
    for name in ("accepted_at", "events", "status"):
        assert data[name] == accepted[name], name
    with world.runtime.engine.connect() as conn:
        origin_digest, content_hash = conn.execute(select(cases.c.origin_digest, cases.c.content_hash)
                                                   .where(cases.c.case_no == case_no)).one()
    assert origin_digest is not None and origin_digest != content_hash  # the version is not the hall's copy whole

    report = reconcile_system(world.runtime, "sd_hall")
    totals = report.totals()
    assert totals["divergent"] == 0 and not [p for d in report.days for p in d.problems
                                             if p["problem"] == "case_divergent"], report.days
    deliver(world)  # the department gets the agent, and keeps its acceptance
    civil = civil_record(world, case_no)
    assert civil["acceptTime"] and len(civil["steps"]) == 1
    sync(world, "sd_civil")
    _, _, _, again = _case(world, case_no)
    assert again["agent"] == data["agent"] and again["accepted_at"] == accepted["accepted_at"]


def test_a_case_returned_at_the_desk_after_the_window_accepted_it_ends_there(make_world) -> None:
    """The hall accepted at the window (its own 受理时间), the department holds the case; then the desk returns
    it (退件): the case ends returned. The first fix took the window's acceptance for the department's handling
    and kept the case open."""
    world = make_world(civil=5, estate=0)
    made = frontdesk(world, item=ELDERLY, office=OFFICE, pending=False)
    sync(world, "sd_hall")
    deliver(world)
    sync(world, "sd_civil")
    case_no = made["case_no"]
    _, _, _, held = _case(world, case_no)
    assert held["accepted_at"] is not None
    _hall_edit(world, made, status="rejected", result="returned", reason="材料不齐全，申请人补正后重新申报")
    _, origin, _, data = _case(world, case_no)
    assert origin == "sd_hall" and (data["status"], data["result"]) == ("returned", "returned"), data["status"]
    assert data["result_reason"].startswith("材料不齐全")


def test_the_hall_extends_a_deadline_no_holding_department_reads(make_world, tmp_path) -> None:
    """A department whose mapping has no 承诺办结时间 cannot speak for it: the hall's extension stands after the
    department accepted (the first fix froze every handling field once a department had handled the case)."""
    from pathlib import Path

    original = (Path(__file__).resolve().parents[2] / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8")
    kept = [line for line in original.splitlines() if "promised_at:" not in line and "promiseTime:" not in line]
    assert len(kept) == len(original.splitlines()) - 2
    mapping = tmp_path / "sd_civil_no_deadline.yaml"
    mapping.write_text("\n".join(kept) + "\n", encoding="utf-8")
    world = make_world(civil=5, estate=0, mappings={"sd_civil": mapping})
    made, case_no, _, accepted = _accepted_by_civil(world)
    _hall_edit(world, made, due_at="2027-01-29T17:00:00+08:00")
    _, _, _, data = _case(world, case_no)
    assert data["promised_at"] == "2027-01-29T17:00:00+08:00" and data["accepted_at"] == accepted["accepted_at"]


def test_a_case_the_department_voided_stays_voided_when_the_hall_touches_its_record(make_world) -> None:
    world = make_world(civil=5, estate=0)
    made, case_no, version, _ = _accepted_by_civil(world)
    record_id = next(rid for rid, r in world.source_records("sd_civil").items() if r.get("projectNo") == case_no)
    time.sleep(1.1)
    world.admin("sd_civil", "POST", "/_sandbox/delete", json={"ids": [record_id], "how": "void"})
    sync(world, "sd_civil")
    voided, origin, deleted, data = _case(world, case_no)
    assert origin == "sd_civil" and deleted and data["result"] == "voided", data["result"]
    deliver(world)
    _hall_edit(world, made)  # a status refresh at the hall: 办理中
    after, _, deleted, again = _case(world, case_no)
    assert deleted and again["status"] == data["status"] and again["result"] == "voided", again["status"]


# -- what the second review found in the redo (its reproductions, kept) ---------------------------------------


def _civil_edit(world, case_no, **edits) -> None:
    time.sleep(1.1)
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"ids": [civil_id(world, case_no)], "set": edits})


def test_a_copy_that_changes_nothing_in_the_case_keeps_the_reconciliation_in_order(make_world) -> None:
    """The hall adds an agent (a version of its own), then extends a deadline the department set (overruled: no
    version). The record's newest digest is what the reconciliation compares: no ``case_divergent``."""
    from gateway.sync.reconcile import reconcile_system

    world = make_world(civil=5, estate=0)
    made, case_no, version, _ = _accepted_by_civil(world)
    _hall_edit(world, made, proxy={"name": "王芳", "kind": "代办", "letter_no": "WT-1"})
    _hall_edit(world, made, due_at="2027-01-29T17:00:00+08:00")
    report = reconcile_system(world.runtime, "sd_hall")
    assert report.totals()["divergent"] == 0, [p for d in report.days for p in d.problems]


def test_values_inside_the_applicant_are_each_systems_own(make_world) -> None:
    """The department adds the applicant's phone; the hall corrects the name at the window: the case and the
    department keep the phone (the hall's applicant, which has no phone, was a collision it won whole)."""
    world = make_world(civil=5, estate=0)
    made, case_no, _, _ = _accepted_by_civil(world)
    _civil_edit(world, case_no, **{"applicant.mobile": "13912345678", "applicant.address": "历下区1号"})
    sync(world, "sd_civil")
    deliver(world)
    hall_applicant = world.source_records("sd_hall")[made["fd_id"]]["applicant"]
    _hall_edit(world, made, **{"applicant.name": hall_applicant["name"] + "明"})
    _, _, _, data = _case(world, case_no)
    assert data["applicant"]["phone"] == "13912345678" and data["applicant"]["name"].endswith("明")
    deliver(world)
    assert civil_record(world, case_no)["applicant"].get("mobile") == "13912345678"


def test_the_hall_extends_a_deadline_it_set_itself_with_the_shipped_civil_mapping(make_world) -> None:
    world = make_world(civil=5, estate=0)
    made, case_no, _, _ = _accepted_by_civil(world)
    _hall_edit(world, made, due_at="2027-01-29T17:00:00+08:00")
    _, _, _, data = _case(world, case_no)
    assert data["promised_at"] == "2027-01-29T17:00:00+08:00"


def test_a_hall_that_takes_its_withdrawal_back_brings_the_case_back_whole(make_world) -> None:
    """Never a live case whose status still says deleted: the outcome comes from one copy, together."""
    world = make_world(civil=5, estate=0)
    made, case_no, _, _ = _accepted_by_civil(world)
    _withdraw_at_the_hall(world, made)
    _hall_edit(world, made, deleted=False, status="processing")
    _, origin, deleted, data = _case(world, case_no)
    assert (origin, deleted, data["status"]) == ("sd_hall", False, "in_progress")


def test_a_departments_refusal_stays_its_own_after_the_hall_adds_an_agent(make_world) -> None:
    """The hall's version after the refusal carries it: the hand-off still reads the department's decision
    (who set the result), not the hall's closing."""
    from datetime import timedelta

    from handoff_testlib import handoff, scan

    world = make_world(civil=20, estate=5)
    world.admin("sd_civil", "POST", "/_sandbox/acceptance",
                json={"mode": "fast", "refuse": {"11370000004390448N4000105101001": "未满80周岁，不符合申领条件"}})
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)
    assert scan(world).handed == 1
    row = handoff(world, made["case_no"])
    sync(world, "sd_civil")  # the refusal, inside the window
    _hall_edit(world, made, proxy={"name": "王芳", "kind": "代办", "letter_no": "WT-1"})
    _, origin, _, data = _case(world, made["case_no"])
    assert origin == "sd_hall" and data["result"] == "not_accepted" and data["agent"]["name"] == "王芳"
    scan(world, row["due_at"] - timedelta(minutes=1))
    scan(world, row["due_at"] + timedelta(minutes=1))
    h = handoff(world, made["case_no"])
    assert (h["state"], h["decided_by"]) == ("refused", "department")


def _handed(world):
    """A pending front-desk case the civil system holds, registered and handed: ``(case, hand-off row)``."""
    from handoff_testlib import handed

    return handed(world)


def test_a_copy_older_than_the_deemed_acceptance_still_gives_what_is_not_handling(make_world) -> None:
    """The hall added an agent; the scan deemed the case accepted before the hall's sync read it: the agent still
    arrives (the copy was dropped whole, and its payload became the previous copy: the agent was lost for good)."""
    from datetime import timedelta

    from handoff_testlib import scan

    world = make_world(civil=20, estate=5)
    made, row = _handed(world)
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"]], "set": {"proxy": {"name": "王芳", "kind": "代办", "letter_no": "WT-1"}}})
    time.sleep(1.1)
    assert scan(world, row["due_at"] + timedelta(minutes=1)).deemed == 1
    sync_system(world.runtime, "sd_hall")
    _, _, _, data = _case(world, made["case_no"])
    assert data["agent"] is not None and data["status"] == "accepted"


def test_a_mapping_edit_does_not_let_the_next_copy_speak_for_everything(make_world, tmp_path) -> None:
    """A comment added to the hall's mapping changes its fingerprint; the next copy is still compared with its
    previous one (mapped under the mapping in force), so a status refresh does not wipe the department's phone."""
    from pathlib import Path

    from handoff_testlib import restart

    original = (Path(__file__).resolve().parents[2] / "mappings" / "sd_hall.yaml").read_text(encoding="utf-8")
    mapping = tmp_path / "sd_hall.yaml"
    mapping.write_text(original, encoding="utf-8")
    world = make_world(civil=5, estate=0, mappings={"sd_hall": mapping})
    made, case_no, _, _ = _accepted_by_civil(world)
    _civil_edit(world, case_no, **{"applicant.mobile": "13912345678"})
    sync(world, "sd_civil")
    deliver(world)
    mapping.write_text(original + "# a comment: the mapping's fingerprint changes\n", encoding="utf-8")
    restart(world)
    _hall_edit(world, made)
    _, _, _, data = _case(world, case_no)
    assert data["applicant"]["phone"] == "13912345678"


def test_a_department_edit_read_before_the_deemed_acceptance_reached_it_keeps_the_acceptance(make_world) -> None:
    from datetime import timedelta

    from handoff_testlib import scan

    world = make_world(civil=20, estate=5)
    made, row = _handed(world)
    sync(world, "sd_civil")  # civil holds the pending case
    assert scan(world, row["due_at"] + timedelta(minutes=1)).deemed == 1
    _, _, _, deemed = _case(world, made["case_no"])
    _civil_edit(world, made["case_no"], **{"applicant.mobile": "13912345678"})
    sync(world, "sd_civil")  # before the deemed version was delivered
    _, _, _, data = _case(world, made["case_no"])
    assert data["accepted_at"] == deemed["accepted_at"] and data["status"] == "accepted"
    assert data["applicant"]["phone"] == "13912345678"
