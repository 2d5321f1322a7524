"""What a second pair of eyes found in ``tongban handoff reroute`` (each test failed before its fix):

1. moved back to a department that had the case (A → B → A), it was deemed accepted at once, from A's first delivery;
2. a scan that read the hand-off before a move started the new department's window from the old one's delivery
   (PostgreSQL: readers do not wait);
3. such a scan re-opened the routing alert the move had resolved;
4. the hall's echo of the first department's acceptance was taken for the new department's;
5. the first department's deletion — what Tongban asked of it — came back through the sync and voided the case
   everywhere, at the hall too;
6. a hall routing by department code: the sync had delivered the corrected version already, so the moved case was
   deemed at an instant before the move;
7. such a hall: an alert named a move the command refused (the 目录 said one department, routing by code another);
8. an acceptance a department gave that another Tongban process's version carried was lost (narrowed echo rule);
9. a given-up push to the first department survived the move: a replay sent it the case after it was moved.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from handoff_ledger_testlib import CATALOGUE, CIVIL, case_doc, pending_handoff, trail
from handoff_ledger_testlib import handoff_row as _handoff
from handoff_ledger_testlib import ledger as _ledger
from handoff_ledger_testlib import newest_case as _case
from handoff_ledger_testlib import put_case as _put
from handoff_ledger_testlib import systems_with_intake as _systems
from reroute_testlib import HANDED, MARKET, MOVED, SUBSIDY
from reroute_testlib import corrected as _corrected
from reroute_testlib import deliver as _deliver
from reroute_testlib import new_version as _new_version
from reroute_testlib import outbox_rows as _outbox
from reroute_testlib import pending_at_civil as _pending_at_civil
from reroute_testlib import push_row as _push
from reroute_testlib import scan as _scan
from sqlalchemy import select

from gateway.contract.errors import FieldIssue
from gateway.process.reroute import reroute_handoff
from gateway.store import process as process_store
from gateway.store.ledger import add_dead_letters
from gateway.store.tables import alerts, cases, dead_letters, process_handoffs

ON_POSTGRES = pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                      indirect=True)
"""The races need readers that do not wait for a writer, as in production: PostgreSQL."""


def _racing_move(engine: Any, systems: Any, monkeypatch: pytest.MonkeyPatch, case_no: str, when: Any) -> None:
    """The operator's move commits right after the scan read the working set ``when(states)`` picks."""
    fired: list[int] = []

    def racing(real: Any) -> Any:
        def read(conn: Any, states: Any, **kw: Any) -> Any:
            rows = real(conn, states, **kw)
            if when(list(states)) and not fired:
                fired.append(1)
                reroute_handoff(engine, systems, CATALOGUE, case_no, by="zhang", now=MOVED)
            return rows
        return read

    for name in ("live_handoffs", "forwardable_handoffs"):  # the forward reads its own working set
        monkeypatch.setattr(process_store, name, racing(getattr(process_store, name)))


def test_1_a_case_moved_back_waits_for_the_version_the_move_sent(database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _pending_at_civil(engine, "C-ABA")
    reroute_handoff(engine, systems, CATALOGUE, "C-ABA", by="zhang", now=MOVED)  # civil → market
    back = HANDED + timedelta(minutes=30)
    _new_version(engine, "C-ABA", case_doc("C-ABA", applied_at=HANDED), "sd_hall")  # corrected back: civil's item
    _scan(engine, systems, back)
    again = back + timedelta(minutes=1)
    assert reroute_handoff(engine, systems, CATALOGUE, "C-ABA", by="zhang", now=again).to_system == "sd_civil"
    report = _scan(engine, systems, again + timedelta(minutes=1))  # civil has not taken version 4 yet
    assert (report.handed, report.deemed) == (0, 0) and _handoff(engine, "C-ABA")["state"] == "awaiting_delivery"
    taken = again + timedelta(minutes=3)
    _deliver(engine, "C-ABA", "sd_civil", taken)
    assert _scan(engine, systems, taken + timedelta(minutes=1)).handed == 1
    row = _handoff(engine, "C-ABA")
    assert (row["state"], row["handed_at"], row["due_at"]) == ("pending", taken, taken + timedelta(minutes=10))


@ON_POSTGRES
def test_2_a_scan_that_read_the_hand_off_before_a_move_does_not_hand_it_over(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _pending_at_civil(engine, "C-RACE")
    with engine.begin() as conn:  # the civil system took version 2 at 10:00; no scan has seen it yet
        conn.execute(process_handoffs.update().values(state="awaiting_delivery", handed_at=None, due_at=None))
    _racing_move(engine, systems, monkeypatch, "C-RACE", lambda states: states == ["awaiting_delivery"])
    _scan(engine, systems, MOVED)
    row = _handoff(engine, "C-RACE")
    assert (row["state"], row["target_system"], row["handed_at"]) == ("awaiting_delivery", "sd_market", None)


@ON_POSTGRES
def test_3_a_scan_that_read_the_hand_off_before_a_move_does_not_reopen_its_alert(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _pending_at_civil(engine, "C-AL")
    _scan(engine, systems, MOVED - timedelta(minutes=1))  # the alert
    _racing_move(engine, systems, monkeypatch, "C-AL", lambda states: "accepted" in states)  # _forward's set
    _scan(engine, systems, MOVED)
    with engine.connect() as conn:
        found = conn.execute(select(alerts.c.key, alerts.c.status).where(alerts.c.kind == "routing")).all()
    assert [tuple(r) for r in found] == [("reroute:C-AL", "resolved")]
    assert _handoff(engine, "C-AL")["target_system"] == "sd_market"


def test_4_the_hall_echoing_the_first_departments_acceptance_is_no_answer(database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _pending_at_civil(engine, "C-EC")
    reroute_handoff(engine, systems, CATALOGUE, "C-EC", by="zhang", now=MOVED)
    delivered = MOVED + timedelta(minutes=1)
    _deliver(engine, "C-EC", "sd_market", delivered)
    _scan(engine, systems, delivered + timedelta(seconds=30))
    accepted_at = (delivered + timedelta(minutes=2)).isoformat()
    echo = {**case_doc("C-EC", applied_at=HANDED), "status": "accepted", "accepted_at": accepted_at}
    _new_version(engine, "C-EC", echo, "sd_hall")  # the hall's copy of civil's acceptance
    report = _scan(engine, systems, delivered + timedelta(minutes=3))
    assert report.accepted == 0 and _handoff(engine, "C-EC")["state"] == "pending"


def test_5_the_first_departments_deletion_is_not_the_end_of_the_case(database_url: str, tmp_path: Path) -> None:
    from gateway.sync.ingest import _merge_cases

    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _put(engine, case_doc("C-V", applied_at=HANDED), version=3)  # the hall's correction: civil's item now
    pending_handoff(engine, "C-V", handed=HANDED, forwarded_version=2, dept_code=MARKET)
    with engine.begin() as conn:
        conn.execute(process_handoffs.update().values(target_system="sd_market", due_at=HANDED + timedelta(hours=2)))
    _push(engine, "C-V", 2, "sd_market", "delivered", at=HANDED)
    assert reroute_handoff(engine, systems, CATALOGUE, "C-V", by="zhang", now=MOVED).withdrawn_from == ["sd_market"]

    # the market system cancels the case as asked (作废) and the sync reads that back: a tombstone, newer than the
    # hall's correction
    flags: list[FieldIssue] = []
    ctx = SimpleNamespace(system=SimpleNamespace(name="sd_market"), quality=SimpleNamespace(add_flags=flags.extend),
                          targets_for=lambda dept: systems.targets_for(dept, origin="sd_market"))
    void = SimpleNamespace(case_no="C-V", updated_at=MOVED + timedelta(minutes=6), dept_code=MARKET,
                           item_code=SUBSIDY, deleted=True)
    data = json.dumps({**_corrected("C-V"), "status": "voided"}, ensure_ascii=False)
    with engine.begin() as conn:
        conn.execute(cases.update().where(cases.c.case_no == "C-V").values(source_updated_at=MOVED))
        _merge_cases(conn, ctx, [(SimpleNamespace(source_id="R1"), void, "h" * 32, data)], MOVED)  # type: ignore[list-item]

    newest = _case(engine, "C-V")
    assert (newest["version"], newest["origin_system"], newest["deleted"]) == (3, "sd_hall", False)
    assert not [r for r in _outbox(engine, "C-V") if r[1] == "sd_hall"]  # the hall is told nothing
    assert [(f.field, f.rule) for f in flags] == [("deleted", "merge.withdrawn_deletion")]
    _deliver(engine, "C-V", "sd_civil", MOVED + timedelta(minutes=7))
    _scan(engine, systems, MOVED + timedelta(minutes=8))
    assert _scan(engine, systems, MOVED + timedelta(minutes=20)).deemed == 1  # civil's window ran out: deemed
    assert _handoff(engine, "C-V")["target_system"] == "sd_civil"


def test_6_a_direct_halls_moved_case_gets_its_window_from_the_move(database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    _put(engine, _corrected("C-DIR"), version=3)
    pending_handoff(engine, "C-DIR", handed=HANDED)
    _push(engine, "C-DIR", 2, "sd_civil", "delivered", at=HANDED)
    _push(engine, "C-DIR", 3, "sd_market", "delivered", at=HANDED + timedelta(minutes=2))  # the sync's own row
    _scan(engine, systems, HANDED + timedelta(minutes=11))  # due: a routing alert instead of deemed
    moved = HANDED + timedelta(hours=1)
    reroute_handoff(engine, systems, CATALOGUE, "C-DIR", by="zhang", now=moved)
    report = _scan(engine, systems, moved + timedelta(minutes=1))
    row = _handoff(engine, "C-DIR")
    assert report.deemed == 0
    assert (row["state"], row["handed_at"], row["due_at"]) == ("pending", moved, moved + timedelta(minutes=10))


def test_7_a_direct_hall_routes_by_department_code_so_an_item_correction_alone_moves_nothing(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    _put(engine, {**_corrected("C-DC"), "dept_code": CIVIL}, version=3)  # item corrected, department kept
    pending_handoff(engine, "C-DC", handed=HANDED)
    report = _scan(engine, systems, HANDED + timedelta(minutes=11))
    with engine.connect() as conn:
        assert conn.execute(select(alerts.c.key).where(alerts.c.kind == "routing")).all() == []
    assert report.deemed == 1 and _handoff(engine, "C-DC")["state"] == "deemed"


def test_8_an_acceptance_another_tongban_version_carries_still_counts(database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "direct")
    answered = HANDED + timedelta(minutes=5)
    doc = case_doc("C-DEF", applied_at=HANDED, status="accepted", accepted_at=answered.isoformat())
    _put(engine, doc, version=4, origin="tongban.deferred")  # written over civil's acceptance before a scan read it
    pending_handoff(engine, "C-DEF", handed=HANDED)
    report = _scan(engine, systems, HANDED + timedelta(minutes=11))
    row = _handoff(engine, "C-DEF")
    assert (report.accepted, report.deemed) == (1, 0) and row["decided_at"] == answered


def test_9_a_given_up_push_to_the_first_department_is_cancelled_with_its_dead_letter(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _put(engine, _corrected("C-DEAD"), version=3)
    pending_handoff(engine, "C-DEAD", handed=HANDED, forwarded_version=2)
    with engine.begin() as conn:
        conn.execute(process_handoffs.update().values(state="awaiting_delivery", handed_at=None, due_at=None))
        add_dead_letters(conn, [{"kind": "push", "system": "sd_civil", "stream": "cases", "source_id": "C-DEAD:2",
                                 "case_no": "C-DEAD", "reason": "gave up", "created_at": HANDED,
                                 "updated_at": HANDED}])
    _push(engine, "C-DEAD", 2, "sd_civil", "dead")  # why the hand-off never reached the civil system
    done = reroute_handoff(engine, systems, CATALOGUE, "C-DEAD", by="li", now=MOVED)
    assert (done.withdrawn_from, done.cancelled) == ([], 1)
    assert _outbox(engine, "C-DEAD") == [(2, "sd_civil", "upsert", "superseded"), (3, "sd_market", "upsert", "pending")]
    with engine.connect() as conn:
        assert conn.execute(select(dead_letters.c.status).where(dead_letters.c.kind == "push")).scalar_one() == \
            "resolved"  # a replay no longer sends the case to the department it was moved away from
    assert [e["step"] for e in trail(engine, "C-DEAD")] == ["rerouted"]
