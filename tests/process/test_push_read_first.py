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
from pathlib import Path

import pytest
import yaml
from handoff_testlib import ELDERLY, OFFICE, civil_record, deliver, frontdesk, sync
from sqlalchemy import select

from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.store import ledger
from gateway.store.tables import cases, runs
from gateway.sync.engine import sync_system
from gateway.sync.push import push


def _case(world, case_no):
    with world.runtime.engine.connect() as conn:
        row = conn.execute(select(cases.c.version, cases.c.data).where(cases.c.case_no == case_no)).one()
    return row.version, ledger.loads(row.data)


def _civil_id(world, case_no):
    return next(rid for rid, r in world.source_records("sd_civil").items() if r.get("projectNo") == case_no)


def _accepted(world):
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)
    case_no = made["case_no"]
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "accept"})
    sync(world, "sd_civil")
    deliver(world)
    assert len(civil_record(world, case_no)["steps"]) == 1
    return made, case_no


def _clerk_step_then_hall_agent(world, made, case_no) -> None:
    """The department's clerk records 初审 (not read by Tongban yet), then the hall adds an agent (read)."""
    time.sleep(1.1)  # change times in whole seconds: each change later than the one before
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"ids": [_civil_id(world, case_no)]})
    assert len(civil_record(world, case_no)["steps"]) == 2
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"]], "set": {"proxy": {"name": "王芳", "kind": "代办", "letter_no": "WT-1"}}})
    sync_system(world.runtime, "sd_hall")


def _runtime_with(world, tmp_path: Path, **push: object) -> Runtime:
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data["systems"]["sd_civil"]["push"].update(push)
    path = tmp_path / "systems-read-first.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return Runtime(load_systems(path), world.runtime.engine)


def test_the_shipped_civil_system_reads_first() -> None:
    systems = load_systems(Path(__file__).resolve().parents[2] / "config" / "systems.yaml")
    assert systems.get("sd_civil").push.read_first  # its PUT replaces the whole record


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


def test_a_running_sync_of_the_target_defers_its_push(make_world) -> None:
    from gateway.store.lease import Lease

    world = make_world(civil=5, estate=0)
    made, case_no = _accepted(world)
    _clerk_step_then_hall_agent(world, made, case_no)
    with Lease(world.runtime.engine, "sync:sd_civil"):  # the civil sync DAG, mid-run
        report = push(world.runtime, targets=["sd_civil"])
    civil = report.targets[0]
    assert report.ok and civil.delivered == 0 and civil.pending >= 1, civil
    assert civil.read_first and "sync of sd_civil is running" in civil.read_first
    assert len(civil_record(world, case_no)["steps"]) == 2  # nothing sent over the step
    assert push(world.runtime, targets=["sd_civil"]).ok  # the next push reads first, then sends
    assert len(civil_record(world, case_no)["steps"]) == 2


def test_a_read_that_fails_sends_nothing_and_keeps_the_rows(make_world) -> None:
    world = make_world(civil=5, estate=0)
    made, case_no = _accepted(world)
    _clerk_step_then_hall_agent(world, made, case_no)
    world.admin("sd_civil", "POST", "/_sandbox/faults", json={"outage": True})  # 503 on every call
    report = push(world.runtime, targets=["sd_civil"])
    civil = report.targets[0]
    assert not report.ok and "read before it is written" in (civil.error or ""), civil
    assert civil.delivered == 0 and civil.pending >= 1
    world.admin("sd_civil", "POST", "/_sandbox/faults", json={})
    assert len(civil_record(world, case_no)["steps"]) == 2
    with world.runtime.engine.connect() as conn:
        failed = conn.execute(select(runs.c.status).where(runs.c.system == "sd_civil", runs.c.kind == "sync")
                              .order_by(runs.c.id.desc())).first()
    assert failed is not None and failed.status == "failed"


def test_nothing_is_read_when_nothing_is_due(make_world) -> None:
    world = make_world(civil=5, estate=0)
    _accepted(world)
    report = push(world.runtime, targets=["sd_civil"])
    assert report.ok and report.targets[0].read_first is None


pytestmark = pytest.mark.timeout(600)
