"""A deferred material (容缺/承诺) is received when the applicant's certificate of its type reaches the library;
until then, past its due date, it raises an alert."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import load_systems
from gateway.models.datetimes import BEIJING
from gateway.ops.deadlines import WorkCalendar, scan_deadlines
from gateway.ops.deadlines.scan import material_alert_key
from gateway.process import satisfy_deferred_materials
from gateway.sharing.access.audit import count_entries, verify_chain
from gateway.sharing.access.clients import Client, ClientStore
from gateway.sharing.access.policy import Policy, PolicyRule
from gateway.store import access as access_store
from gateway.store import process as store
from gateway.store import sharing_queries
from gateway.store.certificates import insert_certificate, insert_certificate_holders
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import alerts, audit_log, cases

REPO = Path(__file__).resolve().parents[2]
HOUSEHOLD = "11100000000013338W011"  # a certificate type code (户口簿, for the test)
APPLICANT = "370102193801011232"
DEPARTMENT = "11370000004390448N"  # 山东省民政厅, the case's department
ITEM = "11370000004390448N4000105101001"
POLICY = Policy([PolicyRule(client="mz_elderly", certificate_types=[HOUSEHOLD], items=[ITEM], consent=False)])


def _department_client(engine: Any, name: str = "mz_elderly") -> Client:
    """The department's client at the certificate gateway (the policy names it)."""
    return ClientStore(engine).add(name, department_code=DEPARTMENT).client


def _ledger(url: str) -> tuple[Any, Any, PiiCodec, dict, datetime]:
    """A migrated ledger holding the case (its 户口簿 deferred): ``engine, systems, pii, case, now``."""
    engine = make_engine(url)
    upgrade(engine)
    pii = PiiCodec(GatewayKeys.generate())
    case = _case(pii)
    now = datetime.now(timezone.utc)
    _plant(engine, case, now)
    return engine, load_systems(REPO / "config" / "systems.yaml"), pii, case, now


def _household(engine: Any, pii: PiiCodec, n: str, now: datetime) -> None:
    """The public-security system's valid 户口簿 ``HK370102-000n`` of the applicant, in the library."""
    identifier = f"1.2.156.3005.2.HOUSEHOLD.{n}"
    with engine.begin() as conn:
        insert_certificate(conn, identifier, version=1, created_at=now, values={
            "legacy_identifier": None, "source_system": "gongan", "source_id": f"HH{n}", "type_code": HOUSEHOLD,
            "name": "户口簿", "number": f"HK370102-000{n}", "issuer_code": "11370102MB0000000X", "status": "valid",
            "valid_until": None, "content_hash": n * 32, "document": "{}", "file": "", "renewed_as": None,
            "warnings": None, "source_changed_at": now, "updated_at": now})
        insert_certificate_holders(conn, [{"identifier": identifier, "holder_bidx": pii.bidx(APPLICANT),
                                           "type_code": HOUSEHOLD}])


def _plant(engine: Any, case: dict, now: datetime) -> None:
    """The case in the ledger at version 3, as the sync would leave it."""
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case["case_no"], version=3, content_hash="x" * 32, data=json.dumps(case, ensure_ascii=False),
            origin_system="sd_civil", origin_source_id="MZ1", source_updated_at=now, dept_code=case["dept_code"],
            item_code=case["item_code"], deleted=False, updated_at=now))


def _case(pii: PiiCodec) -> dict:
    return {"case_no": "370102202611020000009", "item_code": ITEM,
            "item_name": "高龄老人津贴发放", "dept_code": DEPARTMENT, "dept_name": "山东省民政厅",
            "status": "accepted", "accepted_at": "2026-11-02T10:00:00+08:00", "promised_days": 10,
            "applicant": {"name": "李秀英", "id_type": "111", "id_number": pii.seal(APPLICANT)},
            "materials": [], "deferred_materials": [
                {"name": "户口簿", "kind": "tolerated", "due_at": "2026-11-06T17:00:00+08:00", "received_at": None,
                 "certificate_type": HOUSEHOLD},
                {"name": "银行卡", "kind": "pledged", "due_at": "2026-11-20T17:00:00+08:00", "received_at": None,
                 "certificate_type": None}]}


def test_a_certificate_arriving_in_the_library_satisfies_the_deferred_material(tmp_path: Path) -> None:
    engine, systems, pii, case, now = _ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    _department_client(engine)
    # overdue and nothing in the library: the alert fires, nothing is satisfied
    late = datetime(2026, 11, 9, 9, tzinfo=BEIJING)
    assert satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=late).satisfied == 0
    scan_deadlines(engine, WorkCalendar.load(), now=late)
    with engine.connect() as conn:
        open_kinds = {r.key for r in conn.execute(select(alerts.c.key).where(alerts.c.status == "open",
                                                                            alerts.c.kind == "deferred_material"))}
    assert open_kinds == {material_alert_key(case["case_no"], "户口簿", {})}
    # the public-security system's 户口簿 certificate arrives for this applicant
    _household(engine, pii, "1", now)
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=late + timedelta(hours=1))
    assert report.satisfied == 1 and report.cases == [case["case_no"]]
    with engine.connect() as conn:
        stored = store.read_case(conn, case["case_no"])
        queued = sorted(t for t in store.queued_targets(conn, case["case_no"]))
        steps = [e["step"] for e in store.events(conn, case["case_no"])]
    assert stored is not None and stored["version"] == 4
    received, promised = stored["data"]["deferred_materials"]
    assert received["received_at"] == "2026-11-09T10:00:00+08:00" and promised["received_at"] is None
    assert stored["data"]["materials"] == [{"name": "户口簿", "source": "certificate_reuse", "count": 1,
                                            "attachment": None, "certificate_no": "HK370102-0001"}]
    assert queued == ["sd_civil", "sd_hall"] and steps == ["deferred_satisfied"]
    scan_deadlines(engine, WorkCalendar.load(), now=late + timedelta(hours=2))
    with engine.connect() as conn:
        assert not conn.execute(select(alerts.c.key).where(alerts.c.status == "open",
                                                           alerts.c.kind == "deferred_material")).all()
    assert satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=late + timedelta(hours=3)).satisfied == 0
    assert satisfy_deferred_materials(engine, systems, None, policy=POLICY).satisfied == 0  # no keys, no lookup


def test_only_a_certificate_in_force_on_the_day_and_not_in_doubt_satisfies_it(database_url: str) -> None:
    """A 户口簿 valid from a later day satisfies nothing until that day; one whose newer version the harvest refused
    (a revocation that did not verify, perhaps) satisfies nothing while the refusal stands — no one is there to
    check with the issuer."""
    engine, systems, pii, case, now = _ledger(database_url)
    _department_client(engine)
    with engine.begin() as conn:
        for ident, source_id, valid_from, refused in (("1.2.156.3005.2.HOUSEHOLD.2", "HH2", "2026-11-10", None),
                                                      ("1.2.156.3005.2.HOUSEHOLD.3", "HH3", None, "bad signature")):
            insert_certificate(conn, ident, version=1, created_at=now, values={
                "legacy_identifier": None, "source_system": "gongan", "source_id": source_id, "type_code": HOUSEHOLD,
                "name": "户口簿", "number": f"HK-{source_id}", "issuer_code": "11370102MB0000000X", "status": "valid",
                "valid_from": valid_from, "valid_until": None, "content_hash": source_id.ljust(32, "y"),
                "document": "{}", "file": "", "renewed_as": None, "warnings": None, "source_changed_at": now,
                "updated_at": now, "refused_entry": 1 if refused else None, "refused_reason": refused,
                "refused_at": now if refused else None})
            insert_certificate_holders(conn, [{"identifier": ident, "holder_bidx": pii.bidx(APPLICANT),
                                               "type_code": HOUSEHOLD}])
    day_before = datetime(2026, 11, 9, 23, 30, tzinfo=BEIJING)
    assert satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=day_before).satisfied == 0
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=day_before + timedelta(hours=1))  # 11-10, 00:30
    assert report.satisfied == 1
    with engine.connect() as conn:
        stored = store.read_case(conn, case["case_no"])
    assert stored is not None
    assert [m["certificate_no"] for m in stored["data"]["materials"]] == ["HK-HH2"]
    engine.dispose()


# -- the look-up is the department's use of the holder's data: policy, consent, audit -------------------------

def _world(database_url: str) -> tuple[Any, Any, PiiCodec, dict]:
    """A ledger with the case (its 户口簿 deferred) and the applicant's valid 户口簿 in the library."""
    engine, systems, pii, case, now = _ledger(database_url)
    _household(engine, pii, "9", now)
    return engine, systems, pii, case


def _access_log(engine: Any, pii: PiiCodec) -> list[tuple[str, str, str | None, str | None]]:
    with engine.connect() as conn:
        rows = sharing_queries.holder_access_log(conn, pii.bidx(APPLICANT), ("materials",))
    return [(r.action, r.outcome, r.client_id, r.certificate) for r in rows]


def test_a_type_no_client_of_the_department_may_use_is_not_looked_up(database_url: str) -> None:
    """Any case could name any certificate type in a deferred material: looked up regardless of the sharing policy,
    the department learnt whether the applicant holds one, and its number, with nothing in the holder's log."""
    engine, systems, pii, case = _world(database_url)
    now = datetime.now(timezone.utc)
    # no client of the department at the gateway, then one the policy does not name, then one for another item
    assert satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now).denied == 1
    _department_client(engine, "mz_other")
    other_item = Policy([PolicyRule(client="mz_other", certificate_types=[HOUSEHOLD], items=["113700000043904"],
                                    consent=False)])
    for policy in (POLICY, other_item, Policy([])):
        report = satisfy_deferred_materials(engine, systems, pii, policy=policy, now=now)
        assert (report.satisfied, report.denied) == (0, 1)
    with engine.connect() as conn:
        stored = store.read_case(conn, case["case_no"])
    assert stored is not None and stored["version"] == 3 and stored["data"]["materials"] == []
    assert _access_log(engine, pii) == [] and count_entries(engine) == 0


def test_a_type_whose_rule_needs_consent_waits_for_the_holders_consent_to_this_case(database_url: str) -> None:
    engine, systems, pii, case = _world(database_url)
    client = _department_client(engine)
    needs_consent = Policy([PolicyRule(client="mz_elderly", certificate_types=[HOUSEHOLD], items=[ITEM])])
    now = datetime.now(timezone.utc)
    consent = {"holder_bidx": pii.bidx(APPLICANT), "client_id": client.client_id,
               "certificate_types": json.dumps([HOUSEHOLD]), "item_code": ITEM, "case_no": case["case_no"],
               "issued_by": "hall", "issued_at": now, "expires_at": now + timedelta(minutes=30)}
    with engine.begin() as conn:  # consents that do not count: another case's, withdrawn, expired
        access_store.insert_consent(conn, {**consent, "consent_id": "other-case", "case_no": "3701020000"})
        access_store.insert_consent(conn, {**consent, "consent_id": "withdrawn", "revoked_at": now})
        access_store.insert_consent(conn, {**consent, "consent_id": "expired", "expires_at": now - timedelta(1)})
    report = satisfy_deferred_materials(engine, systems, pii, policy=needs_consent, now=now)
    assert (report.satisfied, report.awaiting_consent, report.denied) == (0, 1, 0)
    assert _access_log(engine, pii) == []
    with engine.begin() as conn:
        access_store.insert_consent(conn, {**consent, "consent_id": "given"})
    report = satisfy_deferred_materials(engine, systems, pii, policy=needs_consent, now=now)
    assert report.satisfied == 1
    # the use is the holder's to see, for the department's client, and the chain still verifies
    assert _access_log(engine, pii) == [("materials", "released", client.client_id, "1.2.156.3005.2.HOUSEHOLD.9")]
    assert verify_chain(engine).ok


def test_a_client_without_the_materials_scope_uses_nothing(database_url: str) -> None:
    """The look-up is GET /v1/cases/{case_no}/materials's release: a client that could not call that route (no
    ``cases:read``) is no client it is made for, nor the one the holder's log names."""
    engine, systems, pii, _ = _world(database_url)
    ClientStore(engine).add("mz_elderly", department_code=DEPARTMENT, scopes=["certificates:query"])
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=datetime.now(timezone.utc))
    assert (report.satisfied, report.denied) == (0, 1)


def test_a_revoked_client_uses_nothing(database_url: str) -> None:
    engine, systems, pii, _ = _world(database_url)
    client = _department_client(engine)
    ClientStore(engine).revoke(client.client_id)
    report = satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=datetime.now(timezone.utc))
    assert (report.satisfied, report.denied) == (0, 1)


def test_a_jointly_held_certificate_used_for_a_deferred_material_is_in_every_holders_access_log(
        database_url: str) -> None:
    """A 户口簿 held with a co-holder: its use for the case was in the applicant's log only (the API's releases reach
    every holder); the co-holder never learnt that a department used it (outside review)."""
    engine, systems, pii, case, now = _ledger(database_url)
    _department_client(engine)
    co_holder = "370102194002021225"
    _household(engine, pii, "7", now)
    with engine.begin() as conn:
        insert_certificate_holders(conn, [{"identifier": "1.2.156.3005.2.HOUSEHOLD.7",
                                           "holder_bidx": pii.bidx(co_holder), "type_code": HOUSEHOLD}])
    assert satisfy_deferred_materials(engine, systems, pii, policy=POLICY, now=now).satisfied == 1
    with engine.connect() as conn:
        logs = {who: [(r.action, r.outcome, r.certificate, r.case_no)
                      for r in sharing_queries.holder_access_log(conn, pii.bidx(who), ("materials",))]
                for who in (APPLICANT, co_holder)}
        details = dict(conn.execute(select(audit_log.c.holder_ref, audit_log.c.detail)
                                    .where(audit_log.c.action == "materials")).tuples().all())
    assert logs[APPLICANT] == logs[co_holder] == [
        ("materials", "released", "1.2.156.3005.2.HOUSEHOLD.7", case["case_no"])]
    assert "co-holder" in details[pii.bidx(co_holder)] and "co-holder" not in details[pii.bidx(APPLICANT)]
    assert verify_chain(engine).ok
    engine.dispose()


def test_the_step_reads_the_cases_naming_a_certificate_type_through_their_index(database_url: str) -> None:
    """The step's look-up is answered from the partial index of cases naming a certificate type (migration 0027),
    not by reading every live case's document each run: a million-case ledger holds a few thousand such cases.
    The plan is asked with sequential scans discouraged, so a small table's cheap scan does not hide an index the
    query cannot use (a bound parameter in place of the index's predicate, say)."""
    from sqlalchemy import event

    engine, _, _, case, now = _ledger(database_url)
    plain = {**case, "case_no": "370102202611020000010", "deferred_materials": []}
    _plant(engine, plain, now)
    sent: list[tuple[str, Any]] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, parameters, context, many: sent.append((statement, parameters)))
    with engine.connect() as conn:
        found = store.cases_with_certificate_deferrals(conn)
        statement, parameters = next(s for s in sent if "certificate_type" in s[0])
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
        else:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
    assert [r["case_no"] for r in found] == [case["case_no"]]
    assert "ix_cases_certificate_deferrals" in plan, plan
