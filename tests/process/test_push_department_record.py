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


pytestmark = pytest.mark.timeout(600)
