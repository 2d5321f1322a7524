"""A ledger for 一窗受理 hand-off tests written directly, as the sync writes it (no sandbox, no sync): the
hall's intake chosen, the hall's case versions, front-desk source records, a pending hand-off, and readers of what
the scan left (the hand-off row, the newest case, the outbox, the trail)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from gateway.kernel.config import load_systems
from gateway.ops.deadlines import WorkCalendar
from gateway.process import TongbanCatalogue
from gateway.store import process as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, outbox, process_handoffs, source_records

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = TongbanCatalogue.load()
CALENDAR = WorkCalendar.load()
ELDERLY = "11370000004390448N4000105101001"  # 高龄老人津贴发放, in the 全城通办 目录 (civil)
CIVIL = "11370000004390448N"
WINDOW = timedelta(minutes=10)


def systems_with_intake(tmp_path: Path, intake: str) -> Any:
    """The repository's systems file with the hall's intake set (``handoff``: routed by the 通办目录; ``direct``:
    by department code)."""
    data = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
    data["systems"]["sd_hall"]["intake"] = intake
    for entry in data["systems"].values():
        for key in ("connector_config", "mapping"):
            if key in entry:
                entry[key] = str((REPO / "config" / entry[key]).resolve())
    path = tmp_path / "systems.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_systems(path)


def ledger(url: str) -> Any:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def case_doc(case_no: str, *, applied_at: datetime, **fields: Any) -> dict[str, Any]:
    """A 高龄老人津贴 application taken at a street office, as the hall's mapping writes it."""
    return {"case_no": case_no, "item_code": ELDERLY, "item_name": "高龄老人津贴发放", "case_type": "promised",
            "dept_code": CIVIL, "dept_name": "山东省民政厅", "division_code": "370102",
            "applied_at": applied_at.isoformat(), "status": "submitted", "events": [],
            "office": {"code": "JN370102-QCL", "division": "370102"}, **fields}


def put_case(engine: Any, doc: dict[str, Any], *, version: int = 1, origin: str = "sd_hall",
             frontdesk: bool = False) -> None:
    """A version of the case in the ledger (and, ``frontdesk``, the hall's front-desk source record)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=doc["case_no"], version=version, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
            origin_system=origin, origin_source_id=doc["case_no"], source_updated_at=now,
            dept_code=doc["dept_code"], item_code=doc["item_code"], deleted=False, updated_at=now))
        if frontdesk:
            conn.execute(source_records.insert().values(
                system="sd_hall", source_id=doc["case_no"], stream="frontdesk", case_no=doc["case_no"],
                mapping_version="2", deleted=False, first_seen_at=now, updated_at=now))


def pending_handoff(engine: Any, case_no: str, *, handed: datetime, forwarded_version: int = 0,
                    dept_code: str = CIVIL) -> None:
    """A hand-off the civil system took at ``handed``: its window ends :data:`WINDOW` later."""
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert().values(
            case_no=case_no, hall_system="sd_hall", office_code="JN370102-QCL", item_code=ELDERLY,
            division="370102", target_system="sd_civil", dept_code=dept_code, state="pending",
            window_s=int(WINDOW.total_seconds()), registered_at=handed, handed_at=handed, due_at=handed + WINDOW,
            forwarded_version=forwarded_version, updated_at=handed))


def handoff_row(engine: Any, case_no: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = store.get_handoff(conn, case_no)
    assert row is not None, case_no
    return row


def newest_case(engine: Any, case_no: str) -> dict[str, Any]:
    with engine.connect() as conn:
        case = store.read_case(conn, case_no)
    assert case is not None
    return case


def outbox_rows(engine: Any, case_no: str) -> list[tuple[int, str]]:
    """``(version, target)`` of every push queued for the case."""
    o = outbox.c
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(o.version, o.target_system).where(o.case_no == case_no)
                                               .order_by(o.version, o.target_system))]


def trail(engine: Any, case_no: str) -> list[dict[str, Any]]:
    """The case's hand-off trail, oldest first."""
    with engine.connect() as conn:
        return list(store.events(conn, case_no))
