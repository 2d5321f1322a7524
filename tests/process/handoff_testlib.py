"""Helpers of the hand-off tests: a world whose hall hands off, front-desk cases, one scan with an injected clock."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.ops.deadlines import WorkCalendar
from gateway.process import HandoffReport, TongbanCatalogue, scan_handoffs
from gateway.process.officehours import OfficeHours
from gateway.store import process as store
from gateway.store.db import make_engine
from gateway.store.ledger import loads
from gateway.store.tables import cases, outbox
from gateway.sync.engine import sync_system
from gateway.sync.push import push

CIVIL_DEPT = "11370000004390448N"
ELDERLY = "000105101000"  # 高龄老人津贴发放 (basic code), in the 全城通办 目录
SOCIAL_ORG = "000117001000"  # 社会团体成立登记: civil's own item, not in any 通办目录
OFFICE = "JN370102-QCL"

CATALOGUE = replace(TongbanCatalogue.load(), office_hours=OfficeHours.parse("always", where="tests"))
"""The 通办目录 with windows on the wall clock: these worlds hand cases over at whatever hour the suite runs, and a
window counted in office hours would end days later at night (office hours: ``test_office_hours.py``)."""
CALENDAR = WorkCalendar.load()


def set_intake(world: Any, hall: str, intake: str) -> None:
    """Make ``hall`` hand off (``intake: handoff``) or route directly, and give the world a runtime that reads it."""
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data["systems"][hall]["intake"] = intake
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    restart(world)


def restart(world: Any) -> Runtime:
    """A new runtime on the same ledger and systems file: what a restarted scheduler or worker has."""
    world.runtime.close()
    world.runtime = Runtime(load_systems(world.systems_path), make_engine(world.database_url))
    return world.runtime


def frontdesk(world: Any, **body: Any) -> dict[str, Any]:
    """One case taken at the hall's front desk, pending the department's acceptance unless told otherwise."""
    created = world.admin("sd_hall", "POST", "/_sandbox/frontdesk",
                          json={"count": 1, "dept_code": CIVIL_DEPT, "pending": True, **body})["created"]
    return created[0]  # type: ignore[no-any-return]


def scan(world: Any, now: datetime | None = None) -> HandoffReport:
    rt = world.runtime
    return scan_handoffs(rt.engine, rt.systems, CATALOGUE, now=now, calendar=CALENDAR)


def sync(world: Any, *names: str) -> None:
    for name in names:
        sync_system(world.runtime, name)


def deliver(world: Any) -> None:
    assert push(world.runtime).ok


def handoff(world: Any, case_no: str) -> dict[str, Any]:
    with world.runtime.engine.connect() as conn:
        row = store.get_handoff(conn, case_no)
    assert row is not None, f"no hand-off for {case_no}"
    return row


def trail(world: Any, case_no: str) -> list[str]:
    with world.runtime.engine.connect() as conn:
        return [e["step"] for e in store.events(conn, case_no)]


def outbox_rows(world: Any, case_no: str) -> list[tuple[int, str, str]]:
    """``(version, target, status)`` of every outbox row of the case."""
    o = outbox.c
    with world.runtime.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(o.version, o.target_system, o.status)
                                               .where(o.case_no == case_no).order_by(o.version, o.target_system))]


def civil_record(world: Any, case_no: str) -> dict[str, Any]:
    found = [r for r in world.source_records("sd_civil").values() if r.get("projectNo") == case_no]
    assert len(found) == 1, f"{case_no}: {len(found)} records in the civil system"
    return found[0]


def delivered_frontdesk(world: Any) -> tuple[dict[str, Any], str]:
    """A case taken at the hall's front desk, read and delivered to the civil system, pending its acceptance:
    ``(the front desk's record, the case number)``."""
    made = frontdesk(world, item=ELDERLY, office=OFFICE)
    sync(world, "sd_hall")
    deliver(world)
    return made, made["case_no"]


def accepted_by_civil(world: Any) -> tuple[dict[str, Any], str]:
    """A case taken at the hall's front desk, handed to the civil system and accepted there (受理: its time and a
    step), both read and delivered: ``(the front desk's record, the case number)``."""
    made, case_no = delivered_frontdesk(world)
    world.admin("sd_civil", "POST", "/_sandbox/decide", json={"projectNo": case_no, "decision": "accept"})
    sync(world, "sd_civil")
    deliver(world)
    return made, case_no


def handed(world: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pending front-desk case the civil system holds, registered and handed by a scan: ``(the front desk's
    record, the hand-off row)``."""
    made, _ = delivered_frontdesk(world)
    assert scan(world).handed == 1
    return made, handoff(world, made["case_no"])


def unreadable_civil_change(world: Any, case_no: str) -> None:
    """The civil clerk changes the case (a second later) with a date its mapping refuses (2月30日): the next read
    of the civil system dead-letters the record."""
    time.sleep(1.1)
    world.admin("sd_civil", "POST", "/_sandbox/mutate",
                json={"ids": [civil_id(world, case_no)], "set": {"applyTime": "2026-02-30 09:00:00"}})


def civil_id(world: Any, case_no: str) -> str:
    """The civil system's record id of the case (what its ``/_sandbox/mutate`` takes)."""
    return next(rid for rid, r in world.source_records("sd_civil").items() if r.get("projectNo") == case_no)


def ledger_case(world: Any, case_no: str) -> tuple[int, str, bool, dict[str, Any]]:
    """``(version, origin_system, deleted, data)`` of the merged case the ledger holds."""
    c = cases.c
    with world.runtime.engine.connect() as conn:
        row = conn.execute(select(c.version, c.origin_system, c.deleted, c.data).where(c.case_no == case_no)).one()
    return row.version, row.origin_system, row.deleted, loads(row.data)


def hall_case(world: Any, case_no: str) -> dict[str, Any] | None:
    held = world.admin("sd_hall", "GET", "/_sandbox/cases", params={"case_no": case_no})
    return held[0] if held else None


XHALL = {
    "title": "河北政务服务网 跨省通办专窗", "role": "hall", "intake": "handoff", "receives": "own", "connector": "rest",
    "connector_config": str(Path(__file__).resolve().parents[2] / "config" / "connectors" / "hb_xhall.yaml"),
    "mapping": str(Path(__file__).resolve().parents[2] / "mappings" / "hb_xhall.yaml"), "stream": "intake",
    "endpoint": "${TONGBAN_HB_XHALL_URL:-http://127.0.0.1:8112}", "secrets": {"token": "TONGBAN_HB_XHALL_TOKEN"},
    "push": {"stream": "results"},
}


def add_cross_province_hall(world: Any, monkeypatch: Any) -> None:
    """Connect the sandbox's other-province hall (``xhall``) as ``hb_xhall``, handing off by the 通办目录."""
    monkeypatch.setenv("TONGBAN_HB_XHALL_URL", world.sandbox.urls["xhall"])
    monkeypatch.setenv("TONGBAN_HB_XHALL_TOKEN", world.sandbox.credentials["xhall"]["token"])
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data["systems"]["hb_xhall"] = XHALL
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    restart(world)
