"""Two copies, one case: the second outside review of the value-by-value merge, its reproductions kept.

Each was a defect of the merge before its fix: a department's step dropped Tongban's 视为受理 step; a version
Tongban wrote made Tongban the setter of everything (the hall could no longer change its own deadline, and a
department's refusal was read as the hall's); a remap of the department restated a name the hall had corrected;
a rule the hall's mapping raises to reject made its copy merge whole (the original wipe). The first rounds are in
``tests/process/test_survivorship_e2e.py``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from handoff_testlib import (
    ELDERLY,
    OFFICE,
    accepted_by_civil,
    civil_id,
    civil_record,
    deliver,
    frontdesk,
    handoff,
    ledger_case,
    scan,
    set_intake,
    sync,
)

from gateway.store import process as store
from gateway.sync.engine import sync_system

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
REFUSED_ITEM = {"11370000004390448N4000105101001": "未满80周岁，不符合申领条件"}


def _case(world, case_no):
    _, origin, _, data = ledger_case(world, case_no)
    return origin, data


def _mutate(world, system, record_id, **edits):
    time.sleep(1.1)  # a change time later than the last one (civil's are whole seconds)
    world.admin(system, "POST", "/_sandbox/mutate", json={"ids": [record_id], "set": edits})


def _handed(world):
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)
    assert scan(world).handed == 1
    return made, made["case_no"], handoff(world, made["case_no"])


def test_a_department_step_after_the_deemed_acceptance_keeps_the_deemed_step(make_world) -> None:
    world = make_world(civil=20, estate=5)
    _, case_no, row = _handed(world)
    sync(world, "sd_civil")
    assert scan(world, row["due_at"] + timedelta(minutes=1)).deemed == 1
    _mutate(world, "sd_civil", civil_id(world, case_no))  # a clerk's step, before the deemed version reached civil
    sync(world, "sd_civil")
    _, data = _case(world, case_no)
    names = [e["name"] for e in data["events"]]
    assert "视为受理" in names and len(names) == 2, names
    assert [e["seq"] for e in data["events"]] == [1, 2]
    deliver(world)
    assert "视为受理" in [s.get("name") for s in civil_record(world, case_no).get("steps") or []]


def test_the_hall_changes_what_it_set_after_tongbans_routed_copy(make_world) -> None:
    """The hall named a unit the 目录 does not: the hand-off wrote the routed copy (Tongban's version). The hall's
    own deadline and window acceptance stay the hall's to change — Tongban is the setter of what it changed only."""
    world = make_world(civil=20, estate=5)
    set_intake(world, "sd_hall", "handoff")
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"]], "set": {"dept_code": "11130000MB00000017", "status": "submitted"}})
    sync(world, "sd_hall")
    scan(world)
    origin, _ = _case(world, made["case_no"])
    assert origin == "tongban.handoff"
    deliver(world)
    _mutate(world, "sd_hall", made["fd_id"], due_at="2027-03-01T17:00:00+08:00", status="accepted",
            accepted_at="2026-12-06T10:00:00+08:00")
    sync_system(world.runtime, "sd_hall")
    _, data = _case(world, made["case_no"])
    assert data["promised_at"] == "2027-03-01T17:00:00+08:00" and data["status"] == "accepted"


def test_a_tongban_write_after_a_refusal_keeps_it_the_departments(make_world) -> None:
    """civil refuses within its window; Tongban then writes a version that changes nothing of the refusal (the
    store call of a 容缺 material received: gateway/process/deferred.py). The refusal stays the department's."""
    world = make_world(civil=20, estate=5)
    world.admin("sd_civil", "POST", "/_sandbox/acceptance", json={"mode": "fast", "refuse": REFUSED_ITEM})
    _, case_no, row = _handed(world)
    sync(world, "sd_civil")  # the refusal, inside the window
    with world.runtime.engine.begin() as conn:
        case = store.read_case(conn, case_no)
        assert case["handled_by"] == "sd_civil"
        data = {**case["data"], "deferred_materials": [], "summary": "容缺材料已通过证照复用收取"}
        assert store.write_case_version(conn, case_no, case["version"], data, origin="tongban.deferred")
    with world.runtime.engine.connect() as conn:
        assert store.read_case(conn, case_no)["handled_by"] == "sd_civil"
    scan(world, row["due_at"] + timedelta(minutes=1))
    h = handoff(world, case_no)
    assert (h["state"], h["decided_by"]) == ("refused", "department")


def test_a_remap_of_the_department_does_not_revert_the_halls_correction(make_world, tmp_path) -> None:
    """The hall corrected the applicant's name (not yet pushed), civil's clerk then edited the phone; a mapping
    fix and ``tongban remap sd_civil``: the same bytes mapped again only restate what civil itself set."""
    from handoff_testlib import restart

    from gateway.sync.reprocess import remap_system

    original = (MAPPINGS / "sd_civil.yaml").read_text(encoding="utf-8")
    mapping = tmp_path / "sd_civil.yaml"
    mapping.write_text(original, encoding="utf-8")
    world = make_world(civil=5, estate=0, mappings={"sd_civil": mapping})
    made, case_no = accepted_by_civil(world)
    name = world.source_records("sd_hall")[made["fd_id"]]["applicant"]["name"] + "明"
    _mutate(world, "sd_hall", made["fd_id"], **{"applicant.name": name})
    sync(world, "sd_hall")
    _mutate(world, "sd_civil", civil_id(world, case_no), **{"applicant.mobile": "13912345678"})
    sync(world, "sd_civil")
    assert _case(world, case_no)[1]["applicant"]["name"] == name
    fixed = original.replace("  summary: summary\n", "  summary: {first: [{path: summary}, {path: itemName}]}\n")
    assert fixed != original
    mapping.write_text(fixed, encoding="utf-8")
    restart(world)
    remap_system(world.runtime, "sd_civil")
    _, data = _case(world, case_no)
    assert data["applicant"]["name"] == name and data["applicant"]["phone"] == "13912345678"


def test_a_rule_the_hall_raises_to_reject_does_not_wipe_the_departments_refusal(make_world, tmp_path) -> None:
    """The hall's mapping raises case.reason_required to reject; civil refuses without a reason (valid under its
    own mapping); the hall then adds an agent. The merged document is not the hall's copy: its rule does not turn
    it away (it made the copy merge whole, wiping the refusal in the ledger and in civil's system)."""
    original = (MAPPINGS / "sd_hall.yaml").read_text(encoding="utf-8")
    mapping = tmp_path / "sd_hall.yaml"
    mapping.write_text(original.replace("\nfields:\n", "\nrules:\n  case.reason_required: reject\n\nfields:\n", 1),
                       encoding="utf-8")
    world = make_world(civil=5, estate=0, mappings={"sd_hall": mapping})
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)
    case_no = made["case_no"]
    _mutate(world, "sd_civil", civil_id(world, case_no), result="6", resultReason=None,
            finishTime="2026-12-06 10:00:00")
    sync(world, "sd_civil")
    assert _case(world, case_no)[1]["result"] == "not_accepted"
    _mutate(world, "sd_hall", made["fd_id"], proxy={"name": "王芳", "kind": "代办", "letter_no": "WT-1"})
    sync_system(world.runtime, "sd_hall")
    _, data = _case(world, case_no)
    assert data["result"] == "not_accepted" and data["agent"]["name"] == "王芳"
    assert "case.reason_required" in [q["rule"] for q in data["quality"]]  # said, as a flag
    deliver(world)
    assert civil_record(world, case_no).get("result") == "6"
