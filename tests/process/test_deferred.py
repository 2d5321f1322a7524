"""A deferred material (容缺/承诺) is received when the applicant's certificate of its type reaches the library;
until then, past its due date, it raises an alert."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import load_systems
from gateway.models.datetimes import BEIJING
from gateway.ops.deadlines import WorkCalendar, scan_deadlines
from gateway.process import satisfy_deferred_materials
from gateway.store import process as store
from gateway.store.certificates import insert_certificate, insert_certificate_holders
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import alerts, cases

REPO = Path(__file__).resolve().parents[2]
HOUSEHOLD = "11100000000013338W011"  # a certificate type code (户口簿, for the test)
APPLICANT = "370102193801011232"


def _case(pii: PiiCodec) -> dict:
    return {"case_no": "370102202611020000009", "item_code": "11370000004390448N4000105101001",
            "item_name": "高龄老人津贴发放", "dept_code": "11370000004390448N", "dept_name": "山东省民政厅",
            "status": "accepted", "accepted_at": "2026-11-02T10:00:00+08:00", "promised_days": 10,
            "applicant": {"name": "李秀英", "id_type": "111", "id_number": pii.seal(APPLICANT)},
            "materials": [], "deferred_materials": [
                {"name": "户口簿", "kind": "tolerated", "due_at": "2026-11-06T17:00:00+08:00", "received_at": None,
                 "certificate_type": HOUSEHOLD},
                {"name": "银行卡", "kind": "pledged", "due_at": "2026-11-20T17:00:00+08:00", "received_at": None,
                 "certificate_type": None}]}


def test_a_certificate_arriving_in_the_library_satisfies_the_deferred_material(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    pii = PiiCodec(GatewayKeys.generate())
    systems = load_systems(REPO / "config" / "systems.yaml")
    case = _case(pii)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case["case_no"], version=3, content_hash="x" * 32, data=json.dumps(case, ensure_ascii=False),
            origin_system="sd_civil", origin_source_id="MZ1", source_updated_at=now, dept_code=case["dept_code"],
            item_code=case["item_code"], deleted=False, updated_at=now))
    # overdue and nothing in the library: the alert fires, nothing is satisfied
    late = datetime(2026, 11, 9, 9, tzinfo=BEIJING)
    assert satisfy_deferred_materials(engine, systems, pii, now=late).satisfied == 0
    scan_deadlines(engine, WorkCalendar.load(), now=late)
    with engine.connect() as conn:
        open_kinds = {r.key for r in conn.execute(select(alerts.c.key).where(alerts.c.status == "open",
                                                                            alerts.c.kind == "deferred_material"))}
    assert open_kinds == {f"{case['case_no']}/户口簿"}
    # the public-security system's 户口簿 certificate arrives for this applicant
    with engine.begin() as conn:
        insert_certificate(conn, "1.2.156.3005.2.HOUSEHOLD.1", version=1, created_at=now, values={
            "legacy_identifier": None, "source_system": "gongan", "source_id": "HH1", "type_code": HOUSEHOLD,
            "name": "户口簿", "number": "HK370102-0001", "issuer_code": "11370102MB0000000X", "status": "valid",
            "valid_until": None, "content_hash": "y" * 32, "document": "{}", "file": "", "renewed_as": None,
            "warnings": None, "source_changed_at": now, "updated_at": now})
        insert_certificate_holders(conn, [{"identifier": "1.2.156.3005.2.HOUSEHOLD.1", "holder_bidx": pii.bidx(APPLICANT),
                                           "type_code": HOUSEHOLD}])
    report = satisfy_deferred_materials(engine, systems, pii, now=late + timedelta(hours=1))
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
    assert satisfy_deferred_materials(engine, systems, pii, now=late + timedelta(hours=3)).satisfied == 0
    assert satisfy_deferred_materials(engine, systems, None).satisfied == 0  # no keys, no lookup


def test_only_a_certificate_in_force_on_the_day_and_not_in_doubt_satisfies_it(database_url: str) -> None:
    """A 户口簿 valid from a later day satisfies nothing until that day; one whose newer version the harvest refused
    (a revocation that did not verify, perhaps) satisfies nothing while the refusal stands — no one is there to
    check with the issuer."""
    engine = make_engine(database_url)
    upgrade(engine)
    pii = PiiCodec(GatewayKeys.generate())
    systems = load_systems(REPO / "config" / "systems.yaml")
    case = _case(pii)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case["case_no"], version=3, content_hash="x" * 32, data=json.dumps(case, ensure_ascii=False),
            origin_system="sd_civil", origin_source_id="MZ1", source_updated_at=now, dept_code=case["dept_code"],
            item_code=case["item_code"], deleted=False, updated_at=now))
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
    assert satisfy_deferred_materials(engine, systems, pii, now=day_before).satisfied == 0
    report = satisfy_deferred_materials(engine, systems, pii, now=day_before + timedelta(hours=1))  # 11-10, 00:30
    assert report.satisfied == 1
    with engine.connect() as conn:
        stored = store.read_case(conn, case["case_no"])
    assert stored is not None
    assert [m["certificate_no"] for m in stored["data"]["materials"]] == ["HK-HH2"]
    engine.dispose()
