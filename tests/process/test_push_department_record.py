"""A push replaces a department's whole record (its PUT takes the body as the record): what the department holds
and the case holds too must go back with it, or the push erases it from the department's own system — the civil
clerk's materials list, the estate registry's 办理环节 (over the sandbox's HTTP systems, real PUTs)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from handoff_testlib import OFFICE, civil_record, deliver, frontdesk, ledger_case, sync

from gateway.store import process as store
from gateway.store.ledger import utcnow

ESTATE_DEPT = "113701000042183922"


def _tongban_writes(world: Any, case_no: str, target: str, **changes: Any) -> None:
    """A version Tongban writes itself (as its processes do: a deemed acceptance, a 容缺 step), queued to ``target``."""
    version, _, _, data = ledger_case(world, case_no)
    with world.runtime.engine.begin() as conn:
        written = store.write_case_version(conn, case_no, version, {**data, **changes}, origin="tongban.test")
        assert written is not None
        store.queue(conn, case_no, written, [target], utcnow())


def test_a_push_to_the_civil_system_keeps_the_materials_its_clerk_recorded(make_world) -> None:
    world = make_world(civil=30, estate=0)
    sync(world, "sd_civil")
    record = next(r for r in world.source_records("sd_civil").values()
                  if len(r.get("materials") or []) >= 2 and str(r.get("isDeleted")) != "1" and not r.get("result"))
    case_no = record["projectNo"]
    _tongban_writes(world, case_no, "sd_civil", summary="窗口补充说明")
    deliver(world)
    after = civil_record(world, case_no)
    assert after.get("summary") == "窗口补充说明"  # the write was applied …
    assert [(m["name"], str(m["mode"]), m.get("count")) for m in after.get("materials") or []] == [
        (m["name"], str(m["mode"]), m.get("count")) for m in record["materials"]]  # … and kept the materials


def _estate_record(world: Any, case_no: str) -> dict[str, Any]:
    found = [r for r in world.source_records("jn_estate").values() if r.get("bjbh") == case_no]
    assert len(found) == 1, found
    return found[0]


def test_a_push_to_the_estate_registry_keeps_the_steps_its_clerks_recorded(make_world) -> None:
    """A front-desk case handed to the estate registry; its clerk records a step (read); the hall adds an agent: the
    push of that version carried no 办理环节 (hj), and the registry's PUT replaced the record without them."""
    world = make_world(civil=0, estate=20)
    made = frontdesk(world, dept_code=ESTATE_DEPT, pending=False, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)
    case_no = made["case_no"]
    ywh = _estate_record(world, case_no)["ywh"]
    time.sleep(1.1)
    answer = world.admin("jn_estate", "POST", "/_sandbox/mutate", json={"ids": [ywh]})  # the clerk's next step
    assert answer["mutated"] == [ywh], answer
    steps = _estate_record(world, case_no).get("hj") or []
    assert steps, "the registry's clerk recorded no step"
    sync(world, "jn_estate")
    time.sleep(1.1)
    world.admin("sd_hall", "POST", "/_sandbox/mutate",
                json={"ids": [made["fd_id"]], "set": {"proxy": {"name": "王芳", "kind": "代办", "letter_no": "WT-1"}}})
    sync(world, "sd_hall")
    deliver(world)
    after = _estate_record(world, case_no)
    assert (after.get("dlr") or {}).get("xm") == "王芳"  # the hall's change reached the registry …
    assert [(h["hjmc"], h["dz"]) for h in after.get("hj") or []] == [(h["hjmc"], h["dz"]) for h in steps]  # … kept


def test_a_push_to_the_estate_registry_keeps_its_second_holder(make_world) -> None:
    """A registry record with two 权利人 (joint owners): the canonical case holds one applicant, and the push of a
    version Tongban wrote sent a ``qlr`` of one — the registry's PUT dropped the second owner. The body is written
    over the registry's own record as last read (``push.read_first``): what the mapping does not write stays."""
    world = make_world(civil=0, estate=60)
    sync(world, "jn_estate")
    record = next(r for r in world.source_records("jn_estate").values()
                  if len(r.get("qlr") or []) == 2 and r.get("czlx") != "D" and not r.get("bjjg"))
    case_no = record["bjbh"]
    _tongban_writes(world, case_no, "jn_estate", handler="窗口张敏")
    deliver(world)
    after = _estate_record(world, case_no)
    assert after.get("slry") == "窗口张敏"  # the write was applied …
    assert len(after.get("qlr") or []) == 2, after.get("qlr")
    assert after["qlr"][1] == record["qlr"][1]  # … and the second owner is there as the registry held it
    assert after["qlr"][0]["zjhm"] == record["qlr"][0]["zjhm"]


def test_a_case_the_target_never_held_is_sent_as_mapped(make_world) -> None:
    """No copy of the target's to write over (a front-desk case handed to the registry): the body as mapped."""
    world = make_world(civil=0, estate=0)
    made = frontdesk(world, dept_code=ESTATE_DEPT, pending=False, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)
    after = _estate_record(world, made["case_no"])
    assert len(after.get("qlr") or []) == 1


pytestmark = pytest.mark.timeout(600)
