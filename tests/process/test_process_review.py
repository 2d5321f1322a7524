"""Review of the smaller processes (deferred materials, 办不成事 tickets, cases ended unaccepted): each test was seen
failing against the code before its fix.

- the deferred step wrote, pushed and audited a certificate's use for cases that had ended (withdrawn at the desk,
  不予受理, finished long ago) and sent a hall's front-desk case to the department past the 一窗受理 hand-off;
- one case whose applicant ID no configured key opens stopped the step for every case after it, every run;
- a certificate type code written full width, padded or in lower case never found the certificate;
- ``tickets: {simple: 3天}`` in the 目录 failed every command that loads it with a bare ValueError, and misspelt,
  fractional or negative limits were taken;
- ``T-101 `` and ``Ｔ－１０１`` opened second tickets beside ``T-101``;
- a 不予受理 case with an acceptance time was said to have "no accepted_at".
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_deferred import APPLICANT, POLICY, REPO, _case, _department_client, _household

from gateway.contract.errors import ConfigError
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import load_systems
from gateway.models.intake import DeferredMaterial
from gateway.process import open_ticket, reply_ticket, satisfy_deferred_materials
from gateway.process.catalogue import TongbanCatalogue
from gateway.process.tickets import TicketExists
from gateway.process.unaccepted import ended_unaccepted
from gateway.store import process as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import alerts, audit_log, cases, process_tickets, source_records


def _ledger(url: str) -> tuple[Any, PiiCodec, datetime]:
    engine = make_engine(url)
    upgrade(engine)
    pii = PiiCodec(GatewayKeys.generate())
    now = datetime.now(timezone.utc)
    _department_client(engine)
    _household(engine, pii, "1", now)
    return engine, pii, now


def _plant(engine: Any, case: dict[str, Any], now: datetime, *, origin: str = "sd_civil",
           frontdesk: bool = False) -> None:
    """The case at version 3, written by ``origin``; ``frontdesk``: the hall holds its front-desk record too."""
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case["case_no"], version=3, content_hash="x" * 32, data=json.dumps(case, ensure_ascii=False),
            origin_system=origin, origin_source_id=case["case_no"], source_updated_at=now,
            dept_code=case["dept_code"], item_code=case["item_code"], deleted=False, updated_at=now))
        if frontdesk:
            conn.execute(source_records.insert().values(
                system="sd_hall", source_id=f"FD-{case['case_no']}", stream="frontdesk", case_no=case["case_no"],
                mapping_version="1", deleted=False, first_seen_at=now, updated_at=now))


def _outcome(engine: Any, case_no: str) -> tuple[int, list[str], int]:
    with engine.connect() as conn:
        version = store.read_case(conn, case_no)["version"]
        queued = sorted(store.queued_targets(conn, case_no))
        used = len(conn.execute(select(audit_log.c.seq).where(audit_log.c.case_no == case_no)).all())
    return version, queued, used


ENDED = {
    "withdrawn at the desk": {"status": "returned", "result": "withdrawn", "accepted_at": None,
                              "result_reason": "申请人撤回"},
    "refused (不予受理)": {"status": "returned", "result": "not_accepted", "accepted_at": None,
                         "result_reason": "材料不齐"},
    "voided": {"status": "voided"},
}


@pytest.mark.parametrize("ending", sorted(ENDED))
def test_a_case_that_ended_is_not_looked_up_written_pushed_nor_audited(database_url: str, ending: str) -> None:
    engine, pii, now = _ledger(database_url)
    case = {**_case(pii), **ENDED[ending]}
    _plant(engine, case, now)
    report = satisfy_deferred_materials(engine, load_systems(REPO / "config" / "systems.yaml"), pii, policy=POLICY,
                                        now=now)
    assert (report.satisfied, report.ended) == (0, 1)
    assert _outcome(engine, case["case_no"]) == (3, [], 0)


def test_a_finished_case_is_still_owed_its_pledge_not_its_tolerated_material(database_url: str) -> None:
    """告知承诺: the licence is issued first and the pledge checked afterwards; a 容缺 material of a finished case
    is owed nothing any more."""
    engine, pii, now = _ledger(database_url)
    systems = load_systems(REPO / "config" / "systems.yaml")
    tolerated = {**_case(pii), "status": "finished", "finished_at": "2026-11-20T10:00:00+08:00"}
    _plant(engine, tolerated, now)
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now)
    assert report.satisfied == 0 and _outcome(engine, tolerated["case_no"]) == (3, [], 0)

    pledged = {**tolerated, "case_no": "370102202611020000010"}
    pledged["deferred_materials"] = [{**pledged["deferred_materials"][0], "kind": "pledged"}]
    _plant(engine, pledged, now)
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now)
    assert report.cases == [pledged["case_no"]]
    version, queued, used = _outcome(engine, pledged["case_no"])
    assert version == 4 and queued == ["sd_civil", "sd_hall"] and used == 1


def _handoff_systems(tmp_path: Path) -> Any:
    """The shipped systems with the hall handing its front-desk cases off (一窗受理)."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    path = config / "systems.yaml"
    text = path.read_text(encoding="utf-8").replace("    stream: frontdesk\n", "    stream: frontdesk\n    intake: handoff\n")
    text = text.replace("mapping: ../mappings/", f"mapping: {REPO}/mappings/")
    path.write_text(text, encoding="utf-8")
    systems = load_systems(path)
    assert systems.systems["sd_hall"].intake == "handoff"
    return systems


def test_a_front_desk_case_waits_for_the_handoff_before_its_department_uses_the_holders_data(
        tmp_path: Path) -> None:
    engine, pii, now = _ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    systems = _handoff_systems(tmp_path)
    case = _case(pii)
    # the hall's front-desk record, the newest version written by the department's echo (it may come first)
    _plant(engine, case, now, origin="sd_civil", frontdesk=True)
    # not registered by the hand-off scan yet, then pending at the department: no look-up, nothing sent
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now)
    assert (report.satisfied, report.awaiting_handoff) == (0, 1)
    handoff = {"case_no": case["case_no"], "hall_system": "sd_hall", "target_system": "sd_civil",
               "dept_code": case["dept_code"], "state": "pending", "window_s": 600, "registered_at": now,
               "updated_at": now}
    with engine.begin() as conn:
        store.insert_handoff(conn, handoff)
    assert satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now).awaiting_handoff == 1
    assert _outcome(engine, case["case_no"]) == (3, [], 0)
    # the department accepted it: the material is received, and the department is told with the hall
    with engine.begin() as conn:
        assert store.move(conn, case["case_no"], "pending", state="accepted", updated_at=now)
    assert satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now).satisfied == 1
    assert _outcome(engine, case["case_no"]) == (4, ["sd_civil", "sd_hall"], 1)


def test_one_case_whose_seal_no_key_opens_is_its_own_error_and_the_others_are_looked_at(database_url: str) -> None:
    engine, pii, now = _ledger(database_url)
    systems = load_systems(REPO / "config" / "systems.yaml")
    retired = PiiCodec(GatewayKeys.generate())  # the key an old case was sealed under, no longer configured
    bad = {**_case(pii), "case_no": "370102202611020000001"}
    bad["applicant"] = {**bad["applicant"], "id_number": retired.seal(APPLICANT)}
    good = _case(pii)
    _plant(engine, bad, now)
    _plant(engine, good, now)
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now)
    assert report.cases == [good["case_no"]]
    assert list(report.errors) == [bad["case_no"]]
    assert f"case {bad['case_no']}: applicant.id_number: pii.open:" in report.errors[bad["case_no"]]
    with engine.connect() as conn:
        open_alerts = conn.execute(select(alerts.c.kind, alerts.c.key, alerts.c.level).where(
            alerts.c.status == "open", alerts.c.kind == "deferred_scan")).all()
    assert [tuple(a) for a in open_alerts] == [("deferred_scan", bad["case_no"], "error")]
    # the case mended (sealed again under a configured key): the next pass resolves its alert
    bad["applicant"]["id_number"] = pii.seal(APPLICANT)
    with engine.begin() as conn:
        conn.execute(cases.update().where(cases.c.case_no == bad["case_no"]).values(
            data=json.dumps(bad, ensure_ascii=False)))
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now + timedelta(minutes=5))
    assert report.errors == {} and report.cases == [bad["case_no"]]
    with engine.connect() as conn:
        assert not conn.execute(select(alerts.c.key).where(alerts.c.status == "open",
                                                           alerts.c.kind == "deferred_scan")).all()


@pytest.mark.parametrize("written", ["１１１０００００００００１３３３８Ｗ０１１", "11100000000013338w011",
                                     " 11100000000013338W011\u3000"])
def test_a_certificate_type_code_is_kept_as_codes_are_compared(written: str) -> None:
    material = DeferredMaterial(name="户口簿", kind="tolerated", certificate_type=written)
    assert material.certificate_type == "11100000000013338W011"
    assert DeferredMaterial(name="户口簿", kind="tolerated", certificate_type=" \u3000").certificate_type is None


def _catalogue(tmp_path: Path, tickets: str) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(f"items: {{}}\noffices: {{}}\ncatalogues: {{}}\ntickets: {tickets}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("tickets", "said"), [
    ("{simple: 3天}", "tickets.simple must be a whole number of working days above 0, not '3天'"),
    ("{simpel: 5}", "tickets.simpel: not a kind of ticket"),
    ("{coordination: -10}", "tickets.coordination must be a whole number of working days above 0, not -10"),
    ("{simple: 2.9}", "tickets.simple must be a whole number of working days above 0, not 2.9"),
    ("{simple: true}", "not True"),
    ("[3, 10]", "tickets: expected a mapping"),
])
def test_a_ticket_limit_that_does_not_read_is_a_config_error_naming_file_and_key(tmp_path: Path, tickets: str,
                                                                                said: str) -> None:
    path = _catalogue(tmp_path, tickets)
    with pytest.raises(ConfigError) as caught:
        TongbanCatalogue.load(path)
    assert said in str(caught.value) and str(path.name) in str(caught.value)


def test_ticket_limits_read_over_the_defaults(tmp_path: Path) -> None:
    assert TongbanCatalogue.load(_catalogue(tmp_path, "{simple: 5}")).tickets == {"simple": 5, "coordination": 10}


def test_a_ticket_number_is_one_ticket_however_it_is_typed(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    open_ticket(engine, "T-101", "simple", "无法办理户籍迁移")
    for typed in ("T-101 ", "T-101\u3000", "t-101", "Ｔ－１０１"):
        with pytest.raises(TicketExists):
            open_ticket(engine, typed, "simple", "again")
    open_ticket(engine, "B-7 ", "simple", "窗口无人")
    assert reply_ticket(engine, "B-7", "已协调")  # the reply finds the ticket opened with a pasted blank
    with engine.connect() as conn:
        assert sorted(conn.execute(select(process_tickets.c.ticket_no)).scalars()) == ["B-7", "T-101"]


def test_a_ticket_opened_before_numbers_were_kept_normalised_is_replied_as_it_was_typed(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        store.add_ticket(conn, {"ticket_no": "old-1 ", "kind": "simple", "office_code": None, "case_no": None,
                                "subject": "s", "opened_at": datetime.now(timezone.utc), "replied_at": None,
                                "reply": None})
    assert reply_ticket(engine, "old-1 ", "已答复")


def test_a_refusal_with_an_acceptance_time_does_not_say_there_is_none() -> None:
    ended = ended_unaccepted({"version": 5, "origin_system": "sd_civil", "data": {
        "result": "not_accepted", "status": "returned", "accepted_at": "2026-11-02T10:00:00+08:00"}}, "C1", "sd_civil")
    assert ended is not None and ended.state == "refused" and "no accepted_at" not in ended.reason
    bare = ended_unaccepted({"version": 5, "data": {"result": "not_accepted", "status": "returned"}}, "C1", None)
    assert bare is not None and "no accepted_at" in bare.reason


def test_a_front_desk_case_refused_at_the_handoff_is_owed_nothing_one_left_with_the_hall_is_looked_up(tmp_path: Path) -> None:
    engine, pii, now = _ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    systems = _handoff_systems(tmp_path)
    refused, kept = _case(pii), {**_case(pii), "case_no": "370102202611020000011"}
    for case, state in ((refused, "refused"), (kept, "not_handled")):
        _plant(engine, case, now, origin="sd_hall", frontdesk=True)
        with engine.begin() as conn:
            store.insert_handoff(conn, {"case_no": case["case_no"], "hall_system": "sd_hall", "target_system":
                                        "sd_civil", "dept_code": case["dept_code"], "state": state, "window_s": 600,
                                        "registered_at": now, "updated_at": now})
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now)
    # refused: owed nothing; not handled by the department: the hall keeps and handles it, its material is received
    assert (report.cases, report.awaiting_handoff, report.ended) == ([kept["case_no"]], 0, 1)
    assert _outcome(engine, refused["case_no"]) == (3, [], 0)


@pytest.mark.parametrize("result", ["not_permitted", "withdrawn", "correction_timeout"])
def test_a_case_finished_without_the_licence_is_owed_no_pledge(database_url: str, result: str) -> None:
    engine, pii, now = _ledger(database_url)
    case = {**_case(pii), "status": "finished", "result": result, "finished_at": "2026-11-20T10:00:00+08:00",
            "accepted_at": "2026-11-02T10:00:00+08:00"}
    case["deferred_materials"] = [{**case["deferred_materials"][0], "kind": "pledged"}]
    _plant(engine, case, now)
    report = satisfy_deferred_materials(engine, load_systems(REPO / "config" / "systems.yaml"), pii, policy=POLICY,
                                        now=now)
    assert (report.satisfied, report.ended) == (0, 1) and _outcome(engine, case["case_no"]) == (3, [], 0)


def test_a_type_code_stored_before_codes_were_normalised_finds_its_certificate(database_url: str) -> None:
    engine, pii, now = _ledger(database_url)
    case = _case(pii)
    case["deferred_materials"][0]["certificate_type"] = "１１１０００００００００１３３３８ｗ０１１"
    _plant(engine, case, now)
    report = satisfy_deferred_materials(engine, load_systems(REPO / "config" / "systems.yaml"), pii, policy=POLICY,
                                        now=now)
    assert report.cases == [case["case_no"]] and report.denied == 0


def test_tickets_stored_before_numbers_were_normalised_are_found_however_typed(database_url: str) -> None:
    from gateway.store.migrate import upgrade as to_head

    engine = make_engine(database_url)
    to_head(engine, revision="0024_handoff_answers_seen")
    opened = datetime.now(timezone.utc)
    long = "㈠" * 40  # NFKC makes it (一)(一)…: 120 characters, past the column — kept as typed
    with engine.begin() as conn:
        for number in ("t-101", "t-102 ", "B-1", "b-1", long):  # B-1, b-1: one number typed twice, kept as typed
            store.add_ticket(conn, {"ticket_no": number, "kind": "simple", "office_code": None, "case_no": None,
                                    "subject": "s", "opened_at": opened, "replied_at": None, "reply": None})
    to_head(engine)
    with pytest.raises(TicketExists):
        open_ticket(engine, "t-101", "simple", "again")
    assert reply_ticket(engine, "Ｔ－１０２", "已答复")
    with engine.connect() as conn:
        assert sorted(conn.execute(select(process_tickets.c.ticket_no)).scalars()) == sorted(
            ["B-1", "T-101", "T-102", "b-1", long])
