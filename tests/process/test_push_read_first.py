"""A department whose API replaces the whole record on a write keeps the step its clerk recorded after Tongban's
last read (``push.read_first``), over the sandbox's HTTP systems.

The civil system's ``PUT /approvals/by-project/{no}`` replaces the record. The hall adds an agent to a case the
department accepted; before the civil system was read again, its clerk recorded the next step (初审). The push of
the hall's version wrote the record back without it: the step vanished from the department's own system (a known
limit of the two-copies merge, kept open last session). Read first, the drain merges the department's step into
the case and sends the version that holds both.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from handoff_testlib import (
    ELDERLY,
    OFFICE,
    accepted_by_civil,
    civil_id,
    civil_record,
    deliver,
    delivered_frontdesk,
    frontdesk,
    ledger_case,
    sync,
    unreadable_civil_change,
)
from sqlalchemy import select

from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.store import ledger
from gateway.store.tables import outbox, runs
from gateway.sync.engine import sync_system
from gateway.sync.push import push


def _case(world, case_no):
    version, _, _, data = ledger_case(world, case_no)
    return version, data


def _accepted(world):
    made, case_no = accepted_by_civil(world)
    assert len(civil_record(world, case_no)["steps"]) == 1
    return made, case_no


def _clerk_step_then_hall_agent(world, made, case_no) -> None:
    """The department's clerk records 初审 (not read by Tongban yet), then the hall adds an agent (read)."""
    time.sleep(1.1)  # change times in whole seconds: each change later than the one before
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"ids": [civil_id(world, case_no)]})
    assert len(civil_record(world, case_no)["steps"]) == 2
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"]], "set": {"proxy": {"name": "王芳", "kind": "代办", "letter_no": "WT-1"}}})
    sync_system(world.runtime, "sd_hall")


def _unreadable_then_hall_agent(world) -> str:
    """A case the civil clerk changed with a date the mapping refuses (its next read dead-letters the copy), then the
    hall adds an agent (read): the push has a version to send over a record Tongban could not read."""
    made, case_no = _accepted(world)
    unreadable_civil_change(world, case_no)
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"]], "set": {"proxy": {"name": "王芳", "kind": "代办", "letter_no": "WT-1"}}})
    sync_system(world.runtime, "sd_hall")
    return case_no


def _runtime_with(world, tmp_path: Path, **push: object) -> Runtime:
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data["systems"]["sd_civil"]["push"].update(push)
    path = tmp_path / "systems-read-first.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return Runtime(load_systems(path), world.runtime.engine)


def test_the_shipped_systems_whose_put_replaces_the_record_read_first() -> None:
    systems = load_systems(Path(__file__).resolve().parents[2] / "config" / "systems.yaml")
    assert systems.get("sd_civil").push.read_first and systems.get("jn_estate").push.read_first


def test_a_step_the_clerk_recorded_after_the_last_read_survives_the_push(make_world) -> None:
    world = make_world(civil=5, estate=0)
    made, case_no = _accepted(world)
    _clerk_step_then_hall_agent(world, made, case_no)

    report = push(world.runtime)
    assert report.ok, report.as_dict()
    civil = next(t for t in report.targets if t.target == "sd_civil")
    assert civil.read_first and "updated 1" in civil.read_first, civil
    held = civil_record(world, case_no)
    assert [s["name"] for s in held["steps"]] == ["受理", held["steps"][1]["name"]] and len(held["steps"]) == 2, held
    assert held["steps"][1]["name"] != "受理"
    _, data = _case(world, case_no)
    assert data["agent"]["name"] == "王芳" and len(data["events"]) == 2, data  # the case holds both
    hall = world.admin("sd_hall", "GET", "/_sandbox/cases", params={"case_no": case_no})
    assert hall, "the hall holds the case"


def test_without_read_first_the_push_erases_the_step(make_world, tmp_path) -> None:
    """The defect itself, kept visible: a target that does not read first loses the clerk's step."""
    world = make_world(civil=5, estate=0)
    made, case_no = _accepted(world)
    _clerk_step_then_hall_agent(world, made, case_no)
    runtime = _runtime_with(world, tmp_path, read_first=False)
    assert push(runtime).ok
    assert len(civil_record(world, case_no)["steps"]) == 1  # replaced whole: 初审 is gone from the department


def test_a_running_sync_of_the_target_holds_back_the_cases_it_holds_and_says_so(make_world) -> None:
    import subprocess

    from gateway.store.lease import Lease

    world = make_world(civil=5, estate=0)
    made, case_no = _accepted(world)
    _clerk_step_then_hall_agent(world, made, case_no)
    with Lease(world.runtime.engine, "sync:sd_civil"):  # the civil sync DAG (or a full refresh), mid-run
        shown = subprocess.run(world.cli("push", "--target", "sd_civil"), capture_output=True, text=True,
                               env=world.env, timeout=300)
        # held rows wait a minute (the next push): that one holds it again while the sync runs
        report = push(world.runtime, targets=["sd_civil"], now=ledger.utcnow() + timedelta(minutes=2))
    civil = report.targets[0]
    assert report.ok and civil.delivered == 0 and civil.held == 1 and civil.pending >= 1, civil
    assert civil.read_first and "sync of sd_civil is running" in civil.read_first
    assert shown.returncode == 0 and "sync of sd_civil is running" in shown.stdout and "held 1" in shown.stdout, \
        shown.stdout[-1500:]
    assert len(civil_record(world, case_no)["steps"]) == 2  # nothing sent over the step
    with world.runtime.engine.connect() as conn:
        row = conn.execute(select(outbox.c.attempts, outbox.c.last_error).where(
            outbox.c.case_no == case_no, outbox.c.target_system == "sd_civil", outbox.c.status == "pending")).one()
    assert row.attempts == 0 and row.last_error.startswith("held: sd_civil holds the case"), row  # said on the row
    later = ledger.utcnow() + timedelta(minutes=4)
    assert push(world.runtime, targets=["sd_civil"], now=later).ok  # reads first, then sends
    assert len(civil_record(world, case_no)["steps"]) == 2
    assert civil_record(world, case_no)["agent"]["name"] == "王芳"


def test_a_new_case_is_handed_over_while_the_targets_sync_runs(make_world) -> None:
    """A case the department never held has nothing there to erase: its hand-over (and its acceptance window) does
    not wait for a sync of the department that may run for an hour (a full refresh)."""
    from gateway.store.lease import Lease

    world = make_world(civil=5, estate=0)
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    with Lease(world.runtime.engine, "sync:sd_civil"):
        report = push(world.runtime, targets=["sd_civil"])
    civil = report.targets[0]
    assert report.ok and civil.delivered == 1 and civil.held == 0, civil
    assert civil_record(world, made["case_no"])["projectNo"] == made["case_no"]


def test_a_read_that_fails_sends_nothing_over_what_the_target_holds(make_world) -> None:
    from gateway.ops.alerts import open_alerts

    world = make_world(civil=5, estate=0)
    made, case_no = _accepted(world)
    _clerk_step_then_hall_agent(world, made, case_no)
    world.admin("sd_civil", "POST", "/_sandbox/faults", json={"outage": True})  # 503 on every call
    report = push(world.runtime, targets=["sd_civil"])
    world.admin("sd_civil", "POST", "/_sandbox/faults", json={})
    civil = report.targets[0]
    assert not report.ok and "read before it is written" in (civil.error or ""), civil
    assert civil.delivered == 0 and civil.held == 1 and civil.pending >= 1
    assert len(civil_record(world, case_no)["steps"]) == 2
    with world.runtime.engine.connect() as conn:
        failed = conn.execute(select(runs.c.status).where(runs.c.system == "sd_civil", runs.c.kind == "sync")
                              .order_by(runs.c.id.desc())).first()
    assert failed is not None and failed.status == "failed"
    # the push says it (its task fails); one failed read is no sync alert of its own (the sync DAG's retries judge)
    assert not open_alerts(world.runtime.engine, kind="sync_failed", system="sd_civil")


def test_a_record_the_read_could_not_take_is_not_written_over(make_world) -> None:
    """The clerk's change carries a date the mapping refuses: the read dead-letters the copy, so what the
    department holds is not in the case — sending the case would erase the clerk's step with it."""
    world = make_world(civil=5, estate=0)
    case_no = _unreadable_then_hall_agent(world)
    report = push(world.runtime, targets=["sd_civil"])
    civil = report.targets[0]
    assert report.ok and civil.delivered == 0 and civil.held == 1, civil
    assert "rejected 1" in (civil.read_first or ""), civil.read_first
    assert len(civil_record(world, case_no)["steps"]) == 2  # the step stays where the clerk put it


def test_a_refusal_given_in_time_but_read_after_the_deemed_acceptance_stays_in_the_department(make_world) -> None:
    """The clerk refused inside the window; the hand-off scan deemed the case accepted before Tongban read the
    department. The refusal decides (it was given in time): the case is refused, the hand-off records the deemed
    acceptance overruled, and the push does not write the deemed version over the department's refusal."""
    from datetime import timedelta

    from handoff_testlib import handoff, scan

    world = make_world(civil=20, estate=5)
    world.admin("sd_civil", "POST", "/_sandbox/acceptance",
                json={"mode": "fast", "refuse": {"11370000004390448N4000105101001": "未满80周岁，不符合申领条件"}})
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)  # the civil system refuses at once, inside its window; Tongban has not read it
    scan(world)
    case_no = made["case_no"]
    assert civil_record(world, case_no)["result"] == "6"
    due = handoff(world, case_no)["due_at"]
    time.sleep(1.1)
    assert scan(world, due + timedelta(minutes=1)).deemed == 1
    assert push(world.runtime, targets=["sd_civil"]).ok
    held = civil_record(world, case_no)
    assert held["result"] == "6" and held["resultReason"] == "未满80周岁，不符合申领条件", held
    _, data = _case(world, case_no)
    assert data["result"] == "not_accepted" and data["accepted_at"] is None, data
    scan(world, due + timedelta(minutes=2))
    assert handoff(world, case_no)["state"] == "refused"


def _with_batch(world, tmp_path: Path, size: int) -> Runtime:
    return _runtime_with(world, tmp_path, batch_size=size)  # a batch of 2 stands for the default 200


def test_held_rows_do_not_stop_the_rows_behind_them(make_world, tmp_path) -> None:
    """Two cases whose civil record is an open dead letter are held, oldest of the queue: a new hand-over behind
    them still goes (held rows left due filled every batch, and nothing was sent to civil any more)."""
    world = make_world(civil=5, estate=0)
    both = [accepted_by_civil(world) for _ in range(2)]
    for _, case_no in both:  # the clerk's change carries a date the mapping refuses: the read dead-letters it
        unreadable_civil_change(world, case_no)
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"] for made, _ in both],
                      "set": {"proxy": {"name": "王芳", "kind": "代办", "letter_no": "WT-1"}}})
    runtime = _with_batch(world, tmp_path, 2)
    sync_system(runtime, "sd_hall")
    new = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync_system(runtime, "sd_hall")
    report = push(runtime, targets=["sd_civil"])
    civil = report.targets[0]
    assert report.ok and civil.held == 2 and civil.delivered == 1, civil
    assert civil_record(world, new["case_no"])["projectNo"] == new["case_no"]
    for _, case_no in both:
        assert len(civil_record(world, case_no)["steps"]) == 2  # the clerks' steps stand


def test_cases_held_while_the_targets_sync_runs_do_not_stop_a_new_hand_over(make_world, tmp_path) -> None:
    from gateway.store.lease import Lease

    world = make_world(civil=5, estate=0)
    made, case_no = _accepted(world)
    _clerk_step_then_hall_agent(world, made, case_no)
    new = frontdesk(world, item=ELDERLY, office=OFFICE)
    runtime = _with_batch(world, tmp_path, 1)
    sync_system(runtime, "sd_hall")
    with Lease(world.runtime.engine, "sync:sd_civil"):
        report = push(runtime, targets=["sd_civil"])
    civil = report.targets[0]
    assert report.ok and civil.held == 1 and civil.delivered == 1, civil
    assert civil_record(world, new["case_no"])["projectNo"] == new["case_no"]


def test_nothing_is_read_when_nothing_is_due(make_world) -> None:
    world = make_world(civil=5, estate=0)
    _accepted(world)
    report = push(world.runtime, targets=["sd_civil"])
    assert report.ok and report.targets[0].read_first is None


pytestmark = pytest.mark.timeout(600)


def test_a_refusal_and_the_halls_later_agent_are_both_kept(make_world) -> None:
    """The clerk refuses a handed-over case (civil's first copy Tongban reads), then the hall adds an agent. The
    refusal ends the case — its handling and outcome win — but says nothing newer about the agent: the hall's
    agent stays, in the case and in both systems (an ending took every value its mapping reads, the agent
    emptied among them)."""
    world = make_world(civil=5, estate=0)
    made, case_no = delivered_frontdesk(world)
    time.sleep(1.1)
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "refuse",
                                                              "reason": "材料不全"})
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"]], "set": {"proxy": {"name": "王芳", "kind": "代办", "letter_no": "WT-1"}}})
    sync_system(world.runtime, "sd_hall")
    deliver(world)
    sync(world, "sd_civil")
    _, data = _case(world, case_no)
    assert data["result"] == "not_accepted" and data["agent"]["name"] == "王芳", data
    held = civil_record(world, case_no)
    assert held["result"] == "6" and held["agent"]["name"] == "王芳", held


def test_a_late_refusal_entered_before_the_late_scan_is_recorded_and_stays_in_the_department(make_world) -> None:
    """The scan runs late (after an Airflow outage) and deems the case at its due time; the clerk refused 30 s
    after the due time, before that scan ran; Tongban reads the refusal after it. A late answer however it is
    read: the hand-off records it, and the read-first push does not write 视为受理 over the department's refusal
    (kept as older than the deemed version, it was neither recorded nor kept)."""
    from handoff_testlib import handed, handoff, scan

    world = make_world(civil=20, estate=5)
    made, row = handed(world)
    case_no, due = made["case_no"], row["due_at"]
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={
        "projectNo": case_no, "decision": "refuse", "reason": "申请人户籍不在本辖区",
        "at": (due + timedelta(seconds=30)).isoformat()})
    time.sleep(1.1)
    assert scan(world, due + timedelta(minutes=1)).deemed == 1
    assert push(world.runtime, targets=["sd_civil"]).ok
    report = scan(world, due + timedelta(minutes=2))
    h = handoff(world, case_no)
    assert report.late_answers == 1 and (h["state"], h["late_decision"]) == ("deemed", "refused"), h
    held = civil_record(world, case_no)
    assert held["result"] == "6" and held["resultReason"] == "申请人户籍不在本辖区", held
    _, data = _case(world, case_no)
    assert data["result"] == "not_accepted" and data["accepted_at"] is not None  # the deemed clock stays


def test_the_departments_first_copy_read_first_keeps_the_halls_newer_agent(make_world) -> None:
    """Hand-over delivered; the hall adds an agent; then the clerk accepts — with no sync of the department in
    between (the ordinary flow: a 10-minute window, a 15-minute schedule). The push reads the department first:
    its first copy (no agent, and newer) gives its acceptance and leaves the hall's agent, in the case and in both
    systems (it emptied the agent, and the push erased it everywhere)."""
    world = make_world(civil=5, estate=0)
    made, case_no = delivered_frontdesk(world)
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"]], "set": {"proxy": {"name": "王芳", "kind": "代办", "letter_no": "WT-1"}}})
    time.sleep(1.1)
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "accept"})
    sync(world, "sd_hall")
    assert push(world.runtime).ok
    _, data = _case(world, case_no)
    assert data["agent"]["name"] == "王芳" and data["accepted_at"] is not None, data
    held = civil_record(world, case_no)
    assert held["agent"]["name"] == "王芳" and held["acceptTime"] and len(held["steps"]) == 1, held


def test_a_name_the_clerk_corrected_before_the_first_read_is_the_departments_edit(make_world) -> None:
    """The clerk accepts and corrects the applicant's name before Tongban first reads the department: a value of
    its own in its first copy is its edit (only a first copy's "nothing" where the hall set a value is stale)."""
    world = make_world(civil=5, estate=0)
    made, case_no = delivered_frontdesk(world)
    name = ledger_case(world, case_no)[3]["applicant"]["name"]
    fixed = name[:-1] + ("丽" if name[-1] != "丽" else "娜")
    time.sleep(1.1)
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "accept"})
    time.sleep(1.1)
    world.admin("sd_civil", "POST", "/_sandbox/mutate",
                json={"ids": [civil_id(world, case_no)], "set": {"applicant.name": fixed}})
    sync(world, "sd_civil")
    assert ledger_case(world, case_no)[3]["applicant"]["name"] == fixed
    assert push(world.runtime).ok
    assert civil_record(world, case_no)["applicant"]["name"] == fixed


def test_a_withdrawal_is_not_held_back_by_an_unread_department_record(make_world) -> None:
    """The department's record is an open dead letter (unread) and the applicant withdraws at the hall: the
    delete is not held (it replaces nothing worth keeping over the withdrawal) — it goes to the department, whose
    connector here has no delete operation: a push dead letter asks an operator, instead of a row held for ever."""
    world = make_world(civil=5, estate=0)
    made, case_no = _accepted(world)
    unreadable_civil_change(world, case_no)
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/delete", json={"ids": [made["fd_id"]], "how": "flag"})
    sync_system(world.runtime, "sd_hall")
    civil = push(world.runtime, targets=["sd_civil"]).targets[0]
    assert civil.held == 0 and civil.dead == 1 and civil.pending == 0, civil


def test_holding_a_backed_off_row_keeps_its_back_off(make_world) -> None:
    """A row the department failed on, backed off two hours, is the drain's probe (nothing else due); its case is
    held (the department's record could not be read): the hold does not bring the row back within a minute — every
    push then read the department again and probed it, whatever its back-off said."""
    world = make_world(civil=5, estate=0)
    case_no = _unreadable_then_hall_agent(world)
    backed_off = ledger.utcnow() + timedelta(hours=2)
    with world.runtime.engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.case_no == case_no, outbox.c.target_system == "sd_civil",
                                           outbox.c.status == "pending")
                     .values(attempts=3, last_error="503 from sd_civil", next_attempt_at=backed_off))
    report = push(world.runtime, targets=["sd_civil"])
    civil = report.targets[0]
    assert civil.held == 1 and civil.delivered == 0, civil
    with world.runtime.engine.connect() as conn:
        row = conn.execute(select(outbox.c.attempts, outbox.c.next_attempt_at, outbox.c.last_error).where(
            outbox.c.case_no == case_no, outbox.c.target_system == "sd_civil", outbox.c.status == "pending")).one()
    assert row.attempts == 3 and abs((row.next_attempt_at - backed_off).total_seconds()) < 1, row
    assert row.last_error.startswith("held:"), row.last_error
