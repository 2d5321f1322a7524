"""A front-desk case that ended before anyone accepted it — withdrawn (撤回) by the applicant, refused at the desk
(不予受理), voided — is never deemed accepted and never handed over (一窗受理).

The hall's withdrawal is not always a tombstone: a hall may keep the case and write ``result: withdrawn`` with
``status: returned``. Only tombstones used to count, so such a case was deemed accepted when its window ended
(status rewritten to ``accepted``, a promise set, the department and the hall told), and a case first read
already withdrawn or refused was registered "accepted by the hall" and, routed by the 通办目录, pushed to the
department with the applicant's data. On a ledger of each backend, with the hall's versions written as the sync
writes them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from handoff_ledger_testlib import (
    CALENDAR,
    CATALOGUE,
    CIVIL,
    case_doc,
    pending_handoff,
    trail,
)
from handoff_ledger_testlib import handoff_row as _handoff
from handoff_ledger_testlib import ledger as _ledger
from handoff_ledger_testlib import newest_case as _case
from handoff_ledger_testlib import outbox_rows as _outbox
from handoff_ledger_testlib import put_case as _put
from handoff_ledger_testlib import systems_with_intake as _systems
from sqlalchemy import select

from gateway.models.datetimes import BEIJING
from gateway.process import handoff_overview, preview_deemed, scan_handoffs
from gateway.store.tables import dead_letters

HANDED = datetime(2026, 11, 2, 9, 0, tzinfo=BEIJING)  # a Monday morning
DUE = HANDED + timedelta(minutes=10)


def _doc(case_no: str, **fields: Any) -> dict[str, Any]:
    return case_doc(case_no, applied_at=HANDED, **fields)


def _pending(engine: Any, case_no: str, *, forwarded_version: int = 0, dept_code: str = CIVIL) -> None:
    pending_handoff(engine, case_no, handed=HANDED, forwarded_version=forwarded_version, dept_code=dept_code)


def _trail(engine: Any, case_no: str) -> list[Any]:
    return [(e["step"], e["actor"]) for e in trail(engine, case_no)]


WITHDRAWN = {"status": "returned", "result": "withdrawn", "result_reason": "申请人撤回申请",
             "finished_at": (HANDED + timedelta(minutes=5)).isoformat()}


def test_a_pending_case_the_hall_withdraws_is_not_deemed_accepted_when_its_window_ends(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    _put(engine, _doc("C-W1", **WITHDRAWN), version=2)  # the hall's newest version: withdrawn 5 minutes in
    _pending(engine, "C-W1")
    assert preview_deemed(engine, DUE + timedelta(minutes=1)) == []  # a drill does not list it either

    report = scan_handoffs(engine, systems, CATALOGUE, now=DUE + timedelta(minutes=1), calendar=CALENDAR)
    assert (report.deemed, report.closed_at_hall, report.deemed_cases) == (0, 1, [])
    row = _handoff(engine, "C-W1")
    assert (row["state"], row["decided_by"]) == ("withdrawn", "hall")
    assert row["decided_at"] == HANDED + timedelta(minutes=5)  # when the hall says the case ended
    assert "version 2 from sd_hall has result withdrawn (撤回)" in row["reason"]
    assert row["reason"].startswith("case C-W1: ") and row["reason"].endswith("申请人撤回申请")
    case = _case(engine, "C-W1")  # the case is as the hall wrote it: not accepted, no promise, nobody told
    assert case["version"] == 2 and case["data"]["status"] == "returned"
    assert case["data"]["accepted_at"] is None and case["data"]["promised_at"] is None
    assert _outbox(engine, "C-W1") == []
    assert _trail(engine, "C-W1")[-1] == ("withdrawn", "sd_hall")
    assert scan_handoffs(engine, systems, CATALOGUE, now=DUE + timedelta(minutes=2), calendar=CALENDAR).deemed == 0
    assert handoff_overview(engine)["counts"] == {"withdrawn": 1}


def test_a_routed_department_holding_the_pending_case_gets_the_halls_withdrawal_not_a_deemed_acceptance(
        database_url: str, tmp_path: Path) -> None:
    """Routed by the 通办目录, the department has only what the hand-off sends it: the hall's closing version read
    in the scan that ends the window goes to it (as a scan a minute earlier would have forwarded it); the hall,
    which wrote it, is told nothing."""
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _put(engine, _doc("C-W2", status="returned", result="not_accepted", result_reason="材料不齐，窗口不予受理",
                      finished_at=(HANDED + timedelta(minutes=3)).isoformat()), version=2)
    _pending(engine, "C-W2", forwarded_version=1)  # version 1 (pending) went to the department

    report = scan_handoffs(engine, systems, CATALOGUE, now=DUE + timedelta(minutes=1), calendar=CALENDAR)
    assert (report.deemed, report.closed_at_hall) == (0, 1)
    row = _handoff(engine, "C-W2")
    assert (row["state"], row["decided_by"], row["forwarded_version"]) == ("refused", "hall", 2)
    assert "has result not_accepted (不予受理)" in row["reason"] and "材料不齐" in row["reason"]
    assert _outbox(engine, "C-W2") == [(2, "sd_civil")]  # the withdrawal, to the department only
    assert _case(engine, "C-W2")["data"]["status"] == "returned"
    assert [s for s, _ in _trail(engine, "C-W2")][-2:] == ["forwarded", "refused"]


def test_a_front_desk_case_read_already_withdrawn_or_refused_is_neither_accepted_nor_handed_over(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    at = HANDED.isoformat()
    _put(engine, _doc("C-R1", **WITHDRAWN), frontdesk=True)
    _put(engine, _doc("C-R2", status="returned", result="not_accepted", result_reason="不属于本事项受理范围",
                      finished_at=at), frontdesk=True)
    _put(engine, _doc("C-R3", status="returned", finished_at=at), frontdesk=True)  # 退件 at the desk, no result
    _put(engine, _doc("C-R4"), frontdesk=True)  # pending: handed over as before

    report = scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(minutes=10), calendar=CALENDAR)
    assert (report.registered, report.closed_at_hall, report.refused_routing) == (1, 3, 0)
    states = {n: (_handoff(engine, n)["state"], _handoff(engine, n)["decided_by"]) for n in ("C-R1", "C-R2", "C-R3")}
    assert states == {"C-R1": ("withdrawn", "hall"), "C-R2": ("refused", "hall"), "C-R3": ("refused", "hall")}
    assert "has status returned (退件/退回) and no accepted_at" in _handoff(engine, "C-R3")["reason"]
    for case_no in ("C-R1", "C-R2", "C-R3"):
        assert _handoff(engine, case_no)["target_system"] is None  # handed to nobody …
        assert _outbox(engine, case_no) == []  # … so the applicant's data went nowhere
        assert [s for s, _ in _trail(engine, case_no)] == ["registered", _handoff(engine, case_no)["state"]]
    with engine.connect() as conn:  # not a routing refusal: nothing is written back to the hall, no dead letter
        assert conn.execute(select(dead_letters.c.id)).first() is None
    assert (_handoff(engine, "C-R4")["state"], _outbox(engine, "C-R4")) == ("awaiting_delivery", [(1, "sd_civil")])
    assert handoff_overview(engine)["counts"] == {"withdrawn": 1, "refused": 2, "awaiting_delivery": 1}
