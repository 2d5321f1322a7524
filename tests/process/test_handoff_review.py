"""Defects an outside review found in the 一窗受理 hand-off, each on a fresh ledger of each backend:

1. A hall routing by department code (``intake: direct``) with a case whose department has no writable system:
   a case the hall accepted or finished itself was overwritten with 不予受理 and pushed back; now it is registered
   accepted by the hall (no timer, no version), and a pending one has nothing to hand off (``not_handled``).
2. A department answer dated after the window but read before the deeming scan was lost (and a late refusal was
   merged into an "accepted" version with 不予受理 and a finish time); now it is recorded as a late answer with
   the deemed acceptance, which carries the acceptance fields only.
5. A department acceptance within the window, echoed by the hall's copy before the scan read it, was overruled
   by a deemed acceptance at the due time; now the acceptance stands at its own time.
3. A case the hall corrected so that another department is competent was still forwarded to the first one, its
   ``dept_code`` rewritten back; now it is not forwarded, and a routing alert names both departments.
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
from gateway.process import scan_handoffs
from gateway.store.tables import alerts, dead_letters, outbox, process_handoffs

MARKET = "11370100004301265T"
SOCIAL = "11370100004301273M"  # jn_social: a read-only system
NOBODY = "11370100MB0000000X"  # no system at all
HANDED = datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING)  # a Monday morning
DUE = HANDED + timedelta(minutes=10)


def _doc(case_no: str, **fields: Any) -> dict[str, Any]:
    return case_doc(case_no, applied_at=HANDED, **fields)


def _pending(engine: Any, case_no: str, *, forwarded_version: int = 0, dept_code: str = CIVIL) -> None:
    pending_handoff(engine, case_no, handed=HANDED, forwarded_version=forwarded_version, dept_code=dept_code)


def _trail(engine: Any, case_no: str) -> list[Any]:
    return [e["step"] for e in trail(engine, case_no)]


# -- 1. a department with no writable system, a hall routing by department code ---------------------------------

def test_a_direct_hall_keeps_its_own_accepted_and_finished_cases_when_the_department_has_no_system(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    accepted = _doc("C-ACC", dept_code=SOCIAL, status="accepted", accepted_at="2026-11-02T09:30:00+08:00",
                    promised_days=5)
    finished = _doc("C-FIN", dept_code=NOBODY, status="finished", accepted_at="2026-11-02T09:10:00+08:00",
                    finished_at="2026-11-02T09:30:00+08:00", result="issued", promised_days=0)
    pending = _doc("C-PEN", dept_code=NOBODY)
    for doc in (accepted, finished, pending):
        _put(engine, doc, frontdesk=True)

    report = scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(hours=1), calendar=CALENDAR)

    assert report.refused_routing == 0 and report.not_handled == 3
    for case_no, doc in (("C-ACC", accepted), ("C-FIN", finished), ("C-PEN", pending)):
        case = _case(engine, case_no)
        assert case["version"] == 1 and case["origin_system"] == "sd_hall", case_no  # nothing written over it
        assert {k: case["data"].get(k) for k in doc} == doc
        assert _outbox(engine, case_no) == []  # nothing pushed back to the hall
    row = _handoff(engine, "C-ACC")
    assert (row["state"], row["decided_by"], row["due_at"]) == ("accepted", "hall", None)  # no timer
    assert row["decided_at"] == datetime(2026, 11, 2, 9, 30, tzinfo=BEIJING)
    assert _handoff(engine, "C-FIN")["state"] == "accepted"
    assert _handoff(engine, "C-PEN")["state"] == "not_handled"
    assert "has no connected system" in (_handoff(engine, "C-PEN")["reason"] or "")
    assert _trail(engine, "C-PEN") == ["registered", "not_handled"]
    with engine.connect() as conn:
        assert conn.execute(select(dead_letters.c.case_no)).all() == []
    # registered once: a later scan leaves them alone
    again = scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(hours=2), calendar=CALENDAR)
    assert (again.not_handled, again.refused_routing, again.deemed) == (0, 0, 0)


def test_a_catalogue_hall_never_refuses_a_case_it_already_accepted(database_url: str, tmp_path: Path) -> None:
    """Routed by the 通办目录, a refused route (here: the office is unknown) still refuses a pending case, but
    never writes 不予受理 over a case the hall accepted itself."""
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    office = {"code": "NO-SUCH-OFFICE", "division": "370102"}
    _put(engine, _doc("C-A", office=office, status="accepted", accepted_at="2026-11-02T09:30:00+08:00"),
         frontdesk=True)
    _put(engine, _doc("C-P", office=office), frontdesk=True)

    report = scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(hours=1), calendar=CALENDAR)

    assert (report.refused_routing, report.not_handled) == (1, 1)
    case = _case(engine, "C-A")
    assert case["version"] == 1 and case["data"]["status"] == "accepted" and case["data"].get("result") is None
    assert _outbox(engine, "C-A") == []
    assert (_handoff(engine, "C-A")["state"], _handoff(engine, "C-A")["decided_by"]) == ("accepted", "hall")
    refused = _case(engine, "C-P")  # still pending: refused at routing, as before
    assert refused["version"] == 2 and refused["data"]["result"] == "not_accepted"
    assert _handoff(engine, "C-P")["state"] == "refused_routing"


def test_a_routing_refusal_keeps_the_case_sealed_in_its_dead_letter_and_keys_rotate_seals_older_ones(
        database_url: str, tmp_path: Path) -> None:
    """The routing dead letter keeps the whole case document (the applicant's name, phone, address): it was written
    in clear on a sealed ledger, and `keys rotate` left every dead letter as it was."""
    from gateway.crypto import GatewayKeys, PiiCodec
    from gateway.ops.dead_letters import dead_letter_detail
    from gateway.store.retention import seal_clear

    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    office = {"code": "NO-SUCH-OFFICE", "division": "370102"}
    pii = PiiCodec(GatewayKeys.generate())
    _put(engine, _doc("C-P", office=office, applicant={"type": "1", "name": "王秀英", "id_type": "111",
                                                      "id_number": "370102198506011232", "phone": "13912345678"}),
         frontdesk=True)
    assert scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(hours=1), calendar=CALENDAR,
                         pii=pii).refused_routing == 1
    with engine.connect() as conn:
        dead_id, raw = conn.execute(select(dead_letters.c.id, dead_letters.c.raw)
                                    .where(dead_letters.c.kind == "routing")).one()
    assert raw.startswith("encb:v1:") and "13912345678" not in raw and "王秀英" not in raw
    shown = dead_letter_detail(engine, dead_id, pii)["raw"]  # the operator's view opens it, masked
    assert "王**" in shown and "139****5678" in shown

    with engine.begin() as conn:  # one written in clear, as before this change
        conn.execute(dead_letters.update().where(dead_letters.c.id == dead_id)
                     .values(raw='{"applicant": {"name": "王秀英", "phone": "13912345678"}}'))
    assert seal_clear(engine, pii)["dead_letters.raw in clear"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(dead_letters.c.raw).where(dead_letters.c.id == dead_id)).scalar_one() \
            .startswith("encb:v1:")


# -- 2. a late answer read before the deeming scan -----------------------------------------------------------

def _late(engine: Any, decision: str) -> None:
    at = DUE + timedelta(seconds=30)  # the department answers 30 s after its window, before the next scan
    fields: dict[str, Any] = {"updated_at": at.isoformat()}
    if decision == "accept":
        fields |= {"status": "accepted", "accepted_at": at.isoformat(), "promised_days": 10}
    else:
        fields |= {"status": "returned", "result": "not_accepted", "result_reason": "不符合条件",
                   "finished_at": at.isoformat()}
    _put(engine, _doc("C-L", **fields), version=3, origin="sd_civil")
    _pending(engine, "C-L", forwarded_version=1)


def test_a_late_refusal_read_before_the_scan_is_recorded_and_not_merged_into_the_deemed_version(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    _late(engine, "refuse")

    report = scan_handoffs(engine, systems, CATALOGUE, now=DUE + timedelta(minutes=1), calendar=CALENDAR)
    assert (report.deemed, report.late_answers) == (1, 1)
    row = _handoff(engine, "C-L")
    assert (row["state"], row["decided_at"]) == ("deemed", DUE)
    assert (row["late_decision"], row["late_decided_at"], row["late_reason"]) == (
        "refused", DUE + timedelta(seconds=30), "不符合条件")
    assert _trail(engine, "C-L") == ["deemed", "late_answer"]
    data = _case(engine, "C-L")["data"]  # the deemed version: accepted, and nothing of the refusal
    assert data["status"] == "accepted" and data["accepted_at"] == DUE.isoformat()
    assert data.get("result") is None and data.get("finished_at") is None and data.get("result_reason") is None
    # later scans record nothing more
    later = scan_handoffs(engine, systems, CATALOGUE, now=DUE + timedelta(minutes=3), calendar=CALENDAR)
    assert later.late_answers == 0 and _trail(engine, "C-L") == ["deemed", "late_answer"]


def test_a_late_acceptance_read_before_the_scan_is_recorded(database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    _late(engine, "accept")

    report = scan_handoffs(engine, systems, CATALOGUE, now=DUE + timedelta(minutes=1), calendar=CALENDAR)
    assert (report.deemed, report.late_answers) == (1, 1)
    row = _handoff(engine, "C-L")
    assert (row["state"], row["decided_at"], row["late_decision"]) == ("deemed", DUE, "accepted")
    assert row["late_decided_at"] == DUE + timedelta(seconds=30)
    assert _case(engine, "C-L")["data"]["accepted_at"] == DUE.isoformat()


# -- 5. an acceptance within the window, echoed by the hall before the scan ------------------------------------

def test_an_acceptance_within_the_window_echoed_by_the_hall_is_not_overruled_by_a_deemed_one(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    answered = DUE - timedelta(minutes=5)
    _put(engine, _doc("C-E", status="accepted", accepted_at=answered.isoformat(),
                      updated_at=(answered + timedelta(minutes=1)).isoformat()), version=4, origin="sd_hall")
    _pending(engine, "C-E")

    report = scan_handoffs(engine, systems, CATALOGUE, now=DUE + timedelta(minutes=1), calendar=CALENDAR)
    assert (report.accepted, report.deemed) == (1, 0)
    row = _handoff(engine, "C-E")
    assert (row["state"], row["decided_by"], row["decided_at"]) == ("accepted", "department", answered)
    case = _case(engine, "C-E")
    assert case["version"] == 4 and case["data"]["accepted_at"] == answered.isoformat()
    assert scan_handoffs(engine, systems, CATALOGUE, now=DUE + timedelta(minutes=2), calendar=CALENDAR).deemed == 0


# -- 3. a corrected case whose competent department changed -------------------------------------------------------

def test_a_case_the_hall_corrected_to_another_department_is_not_sent_to_the_first_one(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    corrected = _doc("C-R", item_code="BIZ-SUBSIDY-001", item_name="企业扶持资金兑付", dept_code=MARKET)
    assert CATALOGUE.item("BIZ-SUBSIDY-001").department_for("370102") == MARKET  # type: ignore[union-attr]
    _put(engine, corrected, version=3)
    _pending(engine, "C-R", forwarded_version=2)
    with engine.begin() as conn:  # the window is still running
        conn.execute(process_handoffs.update().values(due_at=HANDED + timedelta(hours=2)))

    report = scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(minutes=4), calendar=CALENDAR)

    assert report.forwarded == 0
    assert _outbox(engine, "C-R") == []  # not sent to the civil department
    case = _case(engine, "C-R")  # the hall's correction stands: not rewritten back to the first department
    assert (case["version"], case["origin_system"], case["data"]["dept_code"]) == (3, "sd_hall", MARKET)
    with engine.connect() as conn:
        found = conn.execute(select(alerts.c.kind, alerts.c.case_no, alerts.c.message, alerts.c.status)).all()
    assert len(found) == 1
    kind, case_no, message, status = found[0]
    assert (kind, case_no, status) == ("routing", "C-R", "open")
    assert MARKET in message and CIVIL in message and "C-R" in message
    assert _trail(engine, "C-R") == ["reroute_needed"]
    scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(minutes=5), calendar=CALENDAR)
    assert _trail(engine, "C-R") == ["reroute_needed"]  # once per hall version
    # nor is it deemed accepted by the first department when that one's window ends
    late = scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(hours=3), calendar=CALENDAR)
    assert late.deemed == 0 and _handoff(engine, "C-R")["state"] == "pending"
    assert _case(engine, "C-R")["version"] == 3 and _outbox(engine, "C-R") == []


# -- 11. a hand-off stuck awaiting delivery ------------------------------------------------------------------------

def test_a_handoff_stuck_awaiting_delivery_is_alerted_until_the_department_has_the_case(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    _put(engine, _doc("C-U"), version=1)
    registered = HANDED - timedelta(hours=2)
    with engine.begin() as conn:
        conn.execute(process_handoffs.insert().values(
            case_no="C-U", hall_system="sd_hall", target_system="sd_civil", dept_code=CIVIL,
            state="awaiting_delivery", window_s=600, registered_at=registered, forwarded_version=0,
            updated_at=registered))
        conn.execute(outbox.insert().values(
            case_no="C-U", version=1, target_system="sd_civil", operation="upsert", status="dead", attempts=8,
            next_attempt_at=registered, created_at=registered, last_error="HTTP 500"))

    def open_alerts() -> list[tuple[str, str, str]]:
        a = alerts.c
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(a.kind, a.key, a.message).where(a.status == "open"))]

    # within the bound: nothing yet
    assert scan_handoffs(engine, systems, CATALOGUE, now=registered + timedelta(minutes=30),
                         calendar=CALENDAR).undelivered == 0
    assert open_alerts() == []
    report = scan_handoffs(engine, systems, CATALOGUE, now=HANDED, calendar=CALENDAR)
    assert report.undelivered == 1 and report.handed == 0
    ((kind, key, message),) = open_alerts()
    assert (kind, key) == ("handoff_undelivered", "undelivered:C-U")
    assert "sd_civil" in message and "v1 dead" in message
    # the push is repaired: the department has it, its window starts, the alert resolves
    with engine.begin() as conn:
        conn.execute(outbox.update().values(status="delivered", delivered_at=HANDED))
    report = scan_handoffs(engine, systems, CATALOGUE, now=HANDED + timedelta(minutes=1), calendar=CALENDAR)
    assert (report.handed, report.undelivered) == (1, 0)
    assert open_alerts() == []
