"""一窗受理 hand-off with deemed acceptance, end to end over real HTTP (issue 15, acceptance line 1).

The hall's front desk takes a case pending acceptance; the sync reads it; the push hands it to the civil
department's system; the hand-off scan (clock injected) starts the window when the department system has it.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from handoff_testlib import (
    CALENDAR,
    ELDERLY,
    OFFICE,
    civil_id,
    civil_record,
    deliver,
    frontdesk,
    hall_case,
    handed,
    handoff,
    outbox_rows,
    restart,
    scan,
    sync,
    trail,
)

from gateway.models.datetimes import BEIJING
from gateway.ops.deadlines import evaluate
from gateway.process import ACTOR
from gateway.store import process as store
from gateway.sync.engine import sync_system


def _handed(world, **body):
    """A pending front-desk case the civil system holds, registered and handed: (case, hand-off row)."""
    made = frontdesk(world, item=ELDERLY, office=OFFICE, **body)
    sync(world, "sd_hall")
    deliver(world)  # the sync queued it for the civil system (the hall routes by department code)
    report = scan(world)
    assert report.registered == 1 and report.handed == 1, report
    row = handoff(world, made["case_no"])
    assert row["state"] == "pending" and row["target_system"] == "sd_civil"
    assert row["due_at"] - row["handed_at"] < timedelta(minutes=10, seconds=1)
    assert row["due_at"] - row["handed_at"] > timedelta(minutes=9, seconds=58)
    return made, row


def test_unanswered_for_ten_minutes_is_deemed_accepted_once_and_a_restart_changes_nothing(make_world) -> None:
    world = make_world(civil=20, estate=5)
    made, row = _handed(world)
    case_no, due = made["case_no"], row["due_at"]
    assert civil_record(world, case_no).get("acceptTime") in (None, "")  # pending acceptance at the department

    # A restart during the window: a new runtime on the same ledger; scans before the due time change nothing.
    restart(world)
    for moment in (due - timedelta(minutes=5), due - timedelta(seconds=1)):
        report = scan(world, moment)
        assert report.deemed == 0 and report.pending == 1
    assert handoff(world, case_no) == {**row, "updated_at": handoff(world, case_no)["updated_at"]}

    # Past the due time (the scan runs late: 3 minutes after): deemed accepted at the due time itself.
    report = scan(world, due + timedelta(minutes=3))
    assert report.deemed == 1 and report.deemed_cases == [case_no]
    deemed = handoff(world, case_no)
    assert deemed["state"] == "deemed" and deemed["decided_at"] == due and deemed["decided_by"] == "deemed"
    # scanning again (a retried task, a second scheduler) tells nobody twice
    restart(world)
    assert scan(world, due + timedelta(minutes=4)).deemed == 0
    deemed_rows = [r for r in outbox_rows(world, case_no) if r[0] == max(v for v, _, _ in outbox_rows(world, case_no))]
    assert sorted(t for _, t, _ in deemed_rows) == ["sd_civil", "sd_hall"]

    deliver(world)
    deliver(world)
    stamp = due.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    # the department holds the deemed acceptance (its acceptance time is the due time) …
    assert civil_record(world, case_no)["acceptTime"] == stamp
    assert world.admin("sd_civil", "GET", "/_sandbox/stats")["writes_applied"] == 2  # pending, then deemed
    # … and so does the hall, told exactly once
    held = hall_case(world, case_no)
    assert held is not None and held["applied_writes"] == 1
    assert held["case"]["status"] == "accepted" and held["case"]["accepted_at"] == due.astimezone(BEIJING).isoformat()
    # the ledger case: accepted then, a 视为受理 step, the item's unified limit (10 working days) from then
    with world.runtime.engine.connect() as conn:
        case = store.read_case(conn, case_no)
    assert case is not None and case["origin_system"] == ACTOR
    assert case["data"]["accepted_at"] == due.astimezone(BEIJING).isoformat()
    assert case["data"]["events"][-1]["name"] == "视为受理" and case["data"]["promised_days"] == 10
    # the promised time is the instant the case clock calls due (按时办结 and the deadline scan agree)
    clock = evaluate({**case["data"], "item_code": case["data"].get("item_code")}, CALENDAR, now=due)
    assert clock is not None and case["data"]["promised_at"] == clock.due_at.astimezone(BEIJING).isoformat()
    assert trail(world, case_no) == ["registered", "routed", "handed", "deemed"]

    # The department's echo of our deemed acceptance is no answer; its own later answer is recorded, not lost.
    sync(world, "sd_civil")
    assert scan(world, due + timedelta(minutes=5)).late_answers == 0
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "refuse",
                                                              "reason": "申请人户籍不在本辖区",
                                                              "at": (due + timedelta(minutes=20)).isoformat()})
    sync(world, "sd_civil")
    report = scan(world, due + timedelta(minutes=30))
    assert report.late_answers == 1 and report.deemed == 0
    late = handoff(world, case_no)
    assert (late["state"], late["late_decision"], late["late_reason"]) == ("deemed", "refused", "申请人户籍不在本辖区")
    assert late["decided_at"] == due  # the case clock still starts at the deemed acceptance
    assert trail(world, case_no)[-1] == "late_answer"
    assert scan(world, due + timedelta(minutes=31)).late_answers == 0  # recorded once


def test_an_answer_within_the_window_is_honoured(make_world) -> None:
    world = make_world(civil=20, estate=5)
    world.admin("sd_civil", "POST", "/_sandbox/acceptance", json={"mode": "fast"})
    made, row = _handed(world)
    case_no, due = made["case_no"], row["due_at"]
    sync(world, "sd_civil")  # the department's acceptance, read through its connector
    # read after the due time (the sync was slow), but given within the window: the department's answer stands
    report = scan(world, due + timedelta(minutes=2))
    assert report.accepted == 1 and report.deemed == 0
    answered = handoff(world, case_no)
    assert answered["state"] == "accepted" and answered["decided_by"] == "department"
    assert answered["handed_at"] <= answered["decided_at"] <= due
    assert all(target != "sd_hall" or version > 1 for version, target, _ in outbox_rows(world, case_no))
    with world.runtime.engine.connect() as conn:
        assert store.read_case(conn, case_no)["origin_system"] == "sd_civil"  # no Tongban version was written
    assert trail(world, case_no) == ["registered", "routed", "handed", "accepted"]
    assert scan(world, due + timedelta(hours=1)).deemed == 0


@pytest.mark.parametrize("pending_read", [False, True], ids=["first-read", "pending-copy-read-before"])
def test_a_refusal_dated_within_the_window_but_entered_after_the_deemed_acceptance_overrules_it(make_world,
                                                                                                 pending_read) -> None:
    """The clerk decided in time and entered the refusal late, dated when it was given: the refusal stands, as it
    would have had it been entered first; the trail says which deemed acceptance it overruled. Also when the civil
    sync had read the pending case before (the refusal is then merged field by field against that copy)."""
    world = make_world(civil=20, estate=5)
    made, row = _handed(world)
    case_no, due = made["case_no"], row["due_at"]
    if pending_read:
        sync(world, "sd_civil")
    assert scan(world, due + timedelta(minutes=1)).deemed == 1
    time.sleep(1.1)  # civil's change times have whole seconds: entered on a later second than the deemed version
    given = row["handed_at"] + timedelta(minutes=5)  # within the window
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "refuse",
                                                              "reason": "未满80周岁，不符合申领条件",
                                                              "at": given.isoformat()})
    sync(world, "sd_civil")
    report = scan(world, due + timedelta(minutes=6))
    assert (report.refused, report.overruled, report.late_answers) == (1, 1, 0)
    refused = handoff(world, case_no)
    assert (refused["state"], refused["decided_by"], refused["reason"]) == ("refused", "department", "未满80周岁，不符合申领条件")
    assert refused["decided_at"] <= due and refused["late_decision"] is None
    assert trail(world, case_no)[-2:] == ["deemed", "refused"]
    with world.runtime.engine.connect() as conn:
        refused_case = store.read_case(conn, case_no)["data"]
    assert refused_case["result"] == "not_accepted"
    # the department's handling replaces the deemed acceptance whole: no 受理时间, no 视为受理 step left behind
    assert refused_case["accepted_at"] is None and refused_case["events"] == [], refused_case["events"]
    deliver(world)
    deliver(world)
    held = hall_case(world, case_no)
    assert held is not None and held["case"]["result"] == "not_accepted"  # the hall ends with the refusal
    assert scan(world, due + timedelta(minutes=30)).as_dict()["overruled"] == 0  # once


def test_an_answer_entered_before_the_deemed_version_but_read_after_it_overrules_it(make_world) -> None:
    """The department refused inside its window, its sync ran only after the scan deemed the case: the refusal
    was given in time, and an answer dated within the window stands however late it is read — the case is
    refused (the deemed acceptance and its 视为受理 cleared), the hand-off records the deemed acceptance overruled,
    and the push does not write the deemed version over the refusal in the department's own system. (Kept as
    older than the deemed version, it was erased there by the next push, and the hall told the applicant
    "accepted" for a case the competent department had refused.)"""
    world = make_world(civil=20, estate=5)
    world.admin("sd_civil", "POST", "/_sandbox/acceptance",
                json={"mode": "fast", "refuse": {"11370000004390448N4000105101001": "未满80周岁，不符合申领条件"}})
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)  # the department refuses at once, inside its window
    scan(world)
    case_no = made["case_no"]
    due = handoff(world, case_no)["due_at"]
    time.sleep(1.1)  # the deemed version is written on a later wall-clock second than the refusal's
    assert scan(world, due + timedelta(minutes=1)).deemed == 1
    report = sync_system(world.runtime, "sd_civil")
    assert "merge.older_than_tongban" not in report.quality["flag"], report.quality
    with world.runtime.engine.connect() as conn:
        data = store.read_case(conn, case_no)["data"]
    assert data["result"] == "not_accepted" and data["accepted_at"] is None, data
    assert all(e.get("name") != "视为受理" for e in data["events"]), data["events"]
    assert scan(world, due + timedelta(minutes=2)).as_dict()["overruled"] == 1
    assert handoff(world, case_no)["state"] == "refused"
    deliver(world)
    assert civil_record(world, case_no)["result"] == "6"  # the department's refusal stands in its own system
    held = hall_case(world, case_no)
    assert held is not None and held["case"]["result"] == "not_accepted"


@pytest.mark.parametrize("result", ["7", "2"], ids=["withdrawn", "voided"])
def test_an_ending_given_in_time_and_read_after_the_deemed_acceptance_withdraws_the_hand_off(make_world,
                                                                                              result) -> None:
    """The applicant withdrew at the department (or it voided the case) inside the window; Tongban read it only
    after a scan had deemed the case: the ending decides, as a refusal does — the case is ended and unaccepted, and
    the hand-off is withdrawn with the deemed acceptance overruled (it stayed "deemed" for an ended case)."""
    world = make_world(civil=20, estate=5)
    made, row = handed(world)
    case_no = made["case_no"]
    given = (row["handed_at"] + timedelta(minutes=2)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"ids": [civil_id(world, case_no)], "set": {
        "result": result, "resultReason": "申请人撤回申请", "finishTime": given}})
    time.sleep(1.1)
    assert scan(world, row["due_at"] + timedelta(minutes=1)).deemed == 1
    sync(world, "sd_civil")
    report = scan(world, row["due_at"] + timedelta(minutes=2))
    with world.runtime.engine.connect() as conn:
        data = store.read_case(conn, case_no)["data"]
    assert data["accepted_at"] is None, data
    h = handoff(world, case_no)
    assert (h["state"], h["decided_by"]) == ("withdrawn", "department") and report.overruled == 1, h
    assert trail(world, case_no)[-1] == "withdrawn"


def test_a_refusal_within_the_window_is_honoured_with_its_reason(make_world) -> None:
    world = make_world(civil=20, estate=5)
    world.admin("sd_civil", "POST", "/_sandbox/acceptance",
                json={"mode": "fast", "refuse": {"11370000004390448N4000105101001": "未满80周岁，不符合申领条件"}})
    made, row = _handed(world)
    sync(world, "sd_civil")
    report = scan(world, row["due_at"] - timedelta(minutes=1))
    assert report.refused == 1
    refused = handoff(world, made["case_no"])
    assert (refused["state"], refused["reason"]) == ("refused", "未满80周岁，不符合申领条件")
    deliver(world)  # the department's refusal reaches the hall by the ordinary path
    held = hall_case(world, made["case_no"])
    assert held is not None and held["case"]["result"] == "not_accepted"


def test_the_cli_drills_a_later_instant_without_writing_lists_and_shows_the_audit_trail(make_world) -> None:
    import json
    import subprocess
    from datetime import datetime, timezone

    from sqlalchemy import select

    from gateway.store.tables import cases

    world = make_world(civil=20, estate=5)
    made, row = _handed(world)
    case_no = made["case_no"]
    late = (row["due_at"] + timedelta(minutes=1)).astimezone(BEIJING).isoformat()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(world.cli("handoff", *args), capture_output=True, text=True, env=world.env, timeout=120)

    # the window is still open on this machine's clock: a writing scan as of later would tell the department and
    # the hall "deemed accepted" now — refused; the drill lists what would be deemed and writes nothing
    refused = run("scan", "--now", late, "--json")
    assert refused.returncode == 1 and "--dry-run" in (refused.stdout + refused.stderr)
    drill = run("scan", "--dry-run", "--now", late, "--json")
    assert drill.returncode == 0, drill.stderr
    assert [w["case_no"] for w in json.loads(drill.stdout)["would_deem"]] == [case_no]
    assert handoff(world, case_no)["state"] == "pending" and not [r for r in outbox_rows(world, case_no) if r[0] > 1]

    # deemed by a scan run as of the due time (a test's injected clock): the version written is dated on the wall
    # clock, so the KPI refresh's watermark never jumps ahead of cases still to come
    assert scan(world, row["due_at"] + timedelta(minutes=1)).deemed_cases == [case_no]
    with world.runtime.engine.connect() as conn:
        written = conn.execute(select(cases.c.updated_at).where(cases.c.case_no == case_no)).scalar_one()
    assert written <= datetime.now(timezone.utc)
    listed = json.loads(run("list", "--state", "deemed", "--json").stdout)
    assert listed["counts"] == {"deemed": 1} and listed["handoffs"][0]["case_no"] == case_no
    shown = json.loads(run("show", case_no, "--json").stdout)
    assert [e["step"] for e in shown["events"]] == ["registered", "routed", "handed", "deemed"]
    assert shown["events"][-1]["detail"]["told"] == ["sd_civil", "sd_hall"]
    missing = run("show", "NOPE")
    assert missing.returncode == 1 and "no hand-off" in (missing.stdout + missing.stderr)
    bad = run("scan", "--now", "2026-03-02 10:10")
    assert bad.returncode == 1 and "give the offset" in (bad.stdout + bad.stderr)


def test_a_case_withdrawn_at_the_hall_before_any_decision_is_not_deemed(make_world) -> None:
    world = make_world(civil=20, estate=5)
    made, row = _handed(world)
    case_no = made["case_no"]
    world.admin("sd_hall", "POST", "/_sandbox/delete", json={"ids": [made["fd_id"]]})
    sync(world, "sd_hall")
    report = scan(world, row["due_at"] + timedelta(minutes=1))
    assert report.deemed == 0
    assert handoff(world, case_no)["state"] == "withdrawn"
    assert trail(world, case_no) == ["registered", "routed", "handed", "withdrawn"]
    assert not [r for r in outbox_rows(world, case_no) if r[1] == "sd_hall"]  # nothing to tell the hall


def test_a_department_echo_read_before_the_first_scan_does_not_hide_the_case(make_world) -> None:
    world = make_world(civil=20, estate=5)
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)
    record = civil_record(world, made["case_no"])
    time.sleep(1.1)  # civil's change times have whole seconds: be later than the hall's, to the second
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"ids": [record["id"]]})  # a first step, no acceptance
    sync(world, "sd_civil")  # the civil system's copy (still not accepted) is now the newest version
    with world.runtime.engine.connect() as conn:
        assert store.read_case(conn, made["case_no"])["origin_system"] == "sd_civil"
    report = scan(world)
    assert report.registered == 1 and report.handed == 1
    assert handoff(world, made["case_no"])["state"] == "pending"


def test_tickets_from_the_command_line(tmp_path) -> None:
    import json
    import subprocess
    import sys

    db = f"sqlite:///{tmp_path / 'ledger.db'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "tickets", *args, "--database-url", db],
                              capture_output=True, text=True, timeout=120)

    opened = run("open", "BBC-9", "--subject", "社保卡补办需往返三次", "--kind", "coordination", "--office", OFFICE)
    assert opened.returncode == 0, opened.stderr
    listed = json.loads(run("list", "--json").stdout)
    assert [(t["ticket_no"], t["kind"], t["level"]) for t in listed] == [("BBC-9", "coordination", None)]
    assert run("open", "BBC-10", "--subject", "x", "--kind", "urgent").returncode == 1
    assert run("reply", "BBC-9", "--reply", "已协调人社与银行，一次办结").returncode == 0
    again = run("reply", "BBC-9", "--reply", "again")
    assert again.returncode == 1 and "no open ticket" in (again.stdout + again.stderr)
    assert json.loads(run("list", "--json").stdout) == []


def test_a_same_day_item_deemed_after_office_hours_is_promised_by_the_end_of_that_day() -> None:
    """即办件 (0 days) deemed at 18:30: promised by the end of that day, never before its own acceptance."""
    from datetime import datetime

    from gateway.ops.deadlines.clock import promised_deadline

    accepted = datetime(2026, 12, 4, 18, 30, tzinfo=BEIJING)
    assert promised_deadline(accepted, 0, "working_day", CALENDAR) == datetime(2026, 12, 5, 0, 0, tzinfo=BEIJING)
    assert promised_deadline(accepted, 1, "working_day", CALENDAR) == datetime(2026, 12, 8, 0, 0, tzinfo=BEIJING)


def test_a_withdrawal_at_the_hall_within_the_window_read_after_the_deemed_acceptance_ends_it(make_world) -> None:
    """The applicant withdrew at the hall inside the window; the hall was read only after the scan had deemed the
    case (a 5-minute hall sync, a 1-minute scan): the withdrawal ends the case and the hand-off (it was 'older than
    the deemed version' and dropped: the case stayed accepted at the department)."""
    world = make_world(civil=20, estate=5)
    made, row = handed(world)
    case_no, due = made["case_no"], row["due_at"]
    world.admin("sd_hall", "POST", "/_sandbox/delete", json={"ids": [made["fd_id"]], "how": "flag"})
    time.sleep(1.1)
    assert scan(world, due + timedelta(minutes=1)).deemed == 1
    sync(world, "sd_hall")
    report = scan(world, due + timedelta(minutes=2))
    with world.runtime.engine.connect() as conn:
        case = store.read_case(conn, case_no)
    assert case["deleted"], case["data"]
    h = handoff(world, case_no)
    assert (h["state"], h["decided_by"]) == ("withdrawn", "hall") and report.overruled == 1, h


def _accept_at_civil(world, case_no: str, at) -> None:
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "accept",
                                                              "at": at.isoformat()})


def _late_acceptance_shown(world, case_no: str, due, accepted) -> None:
    """The hand-off holds the department's acceptance as its late answer; the case clock keeps the deemed time and
    the clerk's 受理 step stands beside 视为受理."""
    h = handoff(world, case_no)
    assert (h["state"], h["decided_at"], h["late_decision"], h["late_decided_at"]) == (
        "deemed", due, "accepted", accepted), h
    assert trail(world, case_no)[-1] == "late_answer"
    with world.runtime.engine.connect() as conn:
        data = store.read_case(conn, case_no)["data"]
    assert data["accepted_at"] == due.astimezone(BEIJING).isoformat(), data
    assert {"视为受理", "受理"} <= {e["name"] for e in data["events"]}, data["events"]


def test_a_department_acceptance_after_the_deemed_acceptance_is_recorded_as_its_late_answer(make_world) -> None:
    """The clerk accepts after the deemed acceptance reached the department (its system holds the deemed time, read
    back): the case showed no answer — its acceptance time is the deemed one, the clock keeps it — so the late
    acceptance was recorded nowhere. It is recorded by the sync that reads it, once."""
    world = make_world(civil=20, estate=5)
    made, row = handed(world)
    case_no, due = made["case_no"], row["due_at"]
    assert scan(world, due + timedelta(minutes=1)).deemed == 1
    deliver(world)
    deliver(world)
    sync(world, "sd_civil")  # the deemed acceptance read back from the department: no answer
    assert scan(world, due + timedelta(minutes=5)).late_answers == 0
    accepted = (due + timedelta(minutes=20)).replace(microsecond=0)
    _accept_at_civil(world, case_no, accepted)
    sync(world, "sd_civil")
    _late_acceptance_shown(world, case_no, due, accepted)
    sync(world, "sd_civil")  # read again: nothing new
    assert scan(world, due + timedelta(minutes=30)).late_answers == 0  # recorded once
    assert [s for s in trail(world, case_no) if s == "late_answer"] == ["late_answer"]


def test_an_acceptance_entered_before_a_late_scan_and_read_after_it_is_recorded_as_a_late_answer(make_world) -> None:
    """The scan ran late (an outage): the clerk accepted a minute after the window, before the scan deemed the case,
    and the department was read only after the scan. The deemed acceptance stands (the clock starts at the due
    time) and the clerk's acceptance is the hand-off's late answer."""
    world = make_world(civil=20, estate=5)
    made, row = handed(world)
    case_no, due = made["case_no"], row["due_at"]
    accepted = (due + timedelta(minutes=1)).replace(microsecond=0)
    _accept_at_civil(world, case_no, accepted)
    time.sleep(1.1)  # the deemed version is written after the clerk's change (both dated on the wall clock)
    assert scan(world, due + timedelta(minutes=3)).deemed == 1
    sync(world, "sd_civil")
    _late_acceptance_shown(world, case_no, due, accepted)
