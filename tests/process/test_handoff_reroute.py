"""``tongban handoff reroute``: an operator moves an undecided hand-off to the department the hall's correction makes
competent, on a fresh ledger of each backend.

Before it, the routing alert asked an operator to "move the case to the competent department" and nothing could:
the case sat pending at a department that would never be deemed to accept it, and the competent one never got it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from handoff_ledger_testlib import CATALOGUE, CIVIL, case_doc, pending_handoff, trail
from handoff_ledger_testlib import handoff_row as _handoff
from handoff_ledger_testlib import ledger as _ledger
from handoff_ledger_testlib import newest_case as _case
from handoff_ledger_testlib import put_case as _put
from handoff_ledger_testlib import systems_with_intake as _systems
from reroute_testlib import HANDED, MARKET, MOVED
from reroute_testlib import corrected as _corrected
from reroute_testlib import outbox_rows as _outbox
from reroute_testlib import pending_at_civil as _pending_at_civil
from reroute_testlib import push_row as _push
from reroute_testlib import scan as _scan
from sqlalchemy import select

from gateway.process.reroute import RerouteRefused, reroute_handoff
from gateway.store.tables import alerts, cases, outbox, process_handoffs


def _routing_alerts(engine: Any) -> list[tuple[str, str, str]]:
    a = alerts.c
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(a.key, a.status, a.message).where(a.kind == "routing"))]


def test_a_pending_case_moves_to_the_competent_department_and_the_first_one_is_told_to_let_it_go(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _pending_at_civil(engine, "C-R")
    _scan(engine, systems, MOVED - timedelta(minutes=1))
    [(key, status, message)] = _routing_alerts(engine)
    assert status == "open" and "tongban handoff reroute C-R" in message  # the alert names the command

    done = reroute_handoff(engine, systems, CATALOGUE, "C-R", by="zhang", now=MOVED)

    assert (done.from_system, done.from_dept_code, done.to_system, done.to_dept_code) == (
        "sd_civil", CIVIL, "sd_market", MARKET)
    assert (done.version, done.withdrawn_from, done.cancelled) == (3, ["sd_civil"], 0)
    row = _handoff(engine, "C-R")
    assert (row["state"], row["target_system"], row["dept_code"], row["handed_at"], row["due_at"]) == (
        "awaiting_delivery", "sd_market", MARKET, None, None)
    assert row["forwarded_version"] == 3 and row["window_s"] == 600
    # the hall's version (it names the market department already: nothing rewritten) goes to the market system; the
    # civil system, which has the case, is sent a delete of it
    assert _case(engine, "C-R")["version"] == 3
    assert _outbox(engine, "C-R") == [(2, "sd_civil", "upsert", "delivered"), (3, "sd_civil", "delete", "pending"),
                                      (3, "sd_market", "upsert", "pending")]
    assert [(k, s) for k, s, _ in _routing_alerts(engine)] == [("reroute:C-R", "resolved")]
    moved = trail(engine, "C-R")[-1]
    assert (moved["step"], moved["actor"]) == ("rerouted", "zhang")
    assert moved["detail"]["from_system"] == "sd_civil" and moved["detail"]["to_system"] == "sd_market"
    assert moved["detail"]["was"] == "pending" and moved["detail"]["withdrawn_from"] == ["sd_civil"]

    # the next scans: no new alert, nothing forwarded again, and not deemed at the civil department's old due time
    report = _scan(engine, systems, MOVED + timedelta(minutes=50))
    assert (report.deemed, report.forwarded, report.undelivered) == (0, 0, 0)
    report = _scan(engine, systems, HANDED + timedelta(hours=3))
    assert (report.deemed, report.forwarded, report.undelivered) == (0, 0, 1)  # the market system lags: said
    assert [(k, s) for k, s, _ in _routing_alerts(engine)] == [("reroute:C-R", "resolved")]
    assert _handoff(engine, "C-R")["state"] == "awaiting_delivery"

    # the market system takes the case: its own window starts then
    delivered = HANDED + timedelta(hours=3, minutes=5)
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.target_system == "sd_market")
                     .values(status="delivered", delivered_at=delivered))
    assert _scan(engine, systems, delivered + timedelta(minutes=1)).handed == 1
    row = _handoff(engine, "C-R")
    assert (row["state"], row["handed_at"], row["due_at"]) == (
        "pending", delivered, delivered + timedelta(minutes=10))

    # the civil department accepted the case before the delete reached it: that is not the market department's answer
    accepted_at = (delivered + timedelta(minutes=2)).isoformat()
    civil_copy = {**_corrected("C-R"), "dept_code": CIVIL, "status": "accepted", "accepted_at": accepted_at}
    with engine.begin() as conn:  # what the sync merges when it reads the civil system's newer version
        conn.execute(cases.update().where(cases.c.case_no == "C-R").values(
            version=4, data=json.dumps(civil_copy, ensure_ascii=False), origin_system="sd_civil"))
    report = _scan(engine, systems, delivered + timedelta(minutes=11))
    assert (report.accepted, report.deemed) == (0, 1)
    assert _handoff(engine, "C-R")["decided_by"] == "deemed"


def test_a_case_the_first_department_never_got_has_its_push_cancelled_not_a_delete(
        database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _put(engine, _corrected("C-A"), version=3)
    pending_handoff(engine, "C-A", handed=HANDED, forwarded_version=2)
    with engine.begin() as conn:
        conn.execute(process_handoffs.update().values(state="awaiting_delivery", handed_at=None, due_at=None,
                                                      registered_at=HANDED - timedelta(hours=5)))
    _push(engine, "C-A", 2, "sd_civil", "pending")

    done = reroute_handoff(engine, systems, CATALOGUE, "C-A", by="li", now=MOVED)

    assert (done.withdrawn_from, done.cancelled) == ([], 1)
    assert _outbox(engine, "C-A") == [(2, "sd_civil", "upsert", "superseded"), (3, "sd_market", "upsert", "pending")]
    # registered five hours ago, moved just now: not "undelivered" until an hour after the move
    assert _scan(engine, systems, MOVED + timedelta(minutes=30)).undelivered == 0
    later = _scan(engine, systems, MOVED + timedelta(hours=1, minutes=1))
    assert later.undelivered == 1
    a = alerts.c
    with engine.connect() as conn:
        message = conn.execute(select(a.message).where(a.kind == "handoff_undelivered")).scalar_one()
    assert "sd_market" in message and "2026-11-02T10:04:00+08:00" in message


def test_what_cannot_be_moved_is_refused_by_name_and_nothing_is_written(database_url: str, tmp_path: Path) -> None:
    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    with pytest.raises(RerouteRefused, match="case C-NONE: no hand-off"):
        reroute_handoff(engine, systems, CATALOGUE, "C-NONE", by="zhang", now=MOVED)

    _pending_at_civil(engine, "C-D")
    with engine.begin() as conn:
        conn.execute(process_handoffs.update().values(state="accepted", decided_by="department", decided_at=HANDED))
    with pytest.raises(RerouteRefused, match=r"accepted by department at 2026-11-02T10:00:00\+08:00.*转办"):
        reroute_handoff(engine, systems, CATALOGUE, "C-D", by="zhang", now=MOVED)

    # still where it belongs: the civil item, routed to the civil department
    _put(engine, case_doc("C-S", applied_at=HANDED), version=2)
    pending_handoff(engine, "C-S", handed=HANDED, forwarded_version=2)
    with pytest.raises(RerouteRefused, match="still routes to 11370000004390448N .sd_civil.*nothing to move"):
        reroute_handoff(engine, systems, CATALOGUE, "C-S", by="zhang", now=MOVED)

    # corrected to an item the accepting office may not take: it routes nowhere, the hall corrects it first
    _put(engine, {**_corrected("C-N"), "office": {"code": "JN370102-QCL", "division": "370102"}}, version=3)
    pending_handoff(engine, "C-N", handed=HANDED, forwarded_version=2)
    with pytest.raises(RerouteRefused, match="routes nowhere: .*not in the 通办目录 .*correct the case at the hall"):
        reroute_handoff(engine, systems, CATALOGUE, "C-N", by="zhang", now=MOVED)

    for case_no in ("C-D", "C-S", "C-N"):
        assert _handoff(engine, case_no)["target_system"] == "sd_civil"
        assert [e["step"] for e in trail(engine, case_no)] == []
    assert [r[1] for r in _outbox(engine, "C-D")] == ["sd_civil"]


def test_the_command_moves_it_and_says_what_it_did(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = _ledger(url)
    systems = _systems(tmp_path, "handoff")
    _pending_at_civil(engine, "C-R")
    engine.dispose()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", "handoff", "reroute", *args, "--database-url", url,
                               "--systems", str(systems.path)], capture_output=True, text=True, timeout=300)

    moved = run("C-R", "--by", "王芳")
    assert moved.returncode == 0, moved.stderr
    assert "C-R: moved from 11370000004390448N (sd_civil) to 11370100004301265T (sd_market)" in moved.stdout
    assert "sd_civil sent a delete of the case" in moved.stdout
    again = run("C-R", "--json")
    assert again.returncode == 1 and "where the hand-off already is: nothing to move" in again.stderr
    shown = subprocess.run([sys.executable, "-m", "gateway", "handoff", "show", "C-R", "--json", "--database-url",
                            url], capture_output=True, text=True, timeout=300)
    events = json.loads(shown.stdout)["events"]
    assert (events[-1]["step"], events[-1]["actor"]) == ("rerouted", "王芳")


def test_a_move_during_a_push_to_the_first_department_is_refused_until_it_ends(database_url: str,
                                                                               tmp_path: Path) -> None:
    from gateway.store.lease import Lease

    engine = _ledger(database_url)
    systems = _systems(tmp_path, "handoff")
    _pending_at_civil(engine, "C-L")
    with Lease(engine, "push:sd_civil"):  # a drain sending to the civil system right now
        with pytest.raises(RerouteRefused, match="a push to sd_civil is running .*run the command again"):
            reroute_handoff(engine, systems, CATALOGUE, "C-L", by="zhang", now=MOVED)
    assert _handoff(engine, "C-L")["target_system"] == "sd_civil"
    assert reroute_handoff(engine, systems, CATALOGUE, "C-L", by="zhang", now=MOVED).to_system == "sd_market"
