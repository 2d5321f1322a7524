"""A certificate whose validity starts later (有效期自 next month 起) is not valid today: the harvest stores its start
as a column, and every answer about "is it valid now" — the query, one certificate, verification, the materials a
certificate spares — says ``not_yet_valid`` until the day comes, derived from the clock on each read (the stored
status stays the issuer's). A validity that ends before it starts is quarantined, naming why."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import requests
from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    LICENCE,
    LICENSED,
    LicenceWorld,
    ServerThread,
    bearer,
    licence_world,
    plant_case,
)
from sqlalchemy import select

from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest, library
from gateway.sharing.certificates.library import get_certificate, today_beijing
from gateway.store.tables import certificate_quarantine, certificates
from sandbox.identifiers import make_uscc
from sandbox.licences import ISSUER, identifier

LATER = {"name": "济南明日科技有限公司", "idType": "001", "id": make_uscc("9", "1", "370100", "MA3TMRW0")}
"""A company whose licence the bureau issued today, valid from next month."""


def _future_licence(world: LicenceWorld, start: date, until: date | None = None,
                    serial: str = "60000001") -> dict[str, Any]:
    app = world.registry.app
    holder = {"mc": LATER["name"], "zjlx": "001", "zjhm": LATER["id"]}
    rec = {"id": app._next_id(), "zzbs": identifier(LICENCE, ISSUER["code"], serial, 1), "zzmc": "营业执照",
           "zzlxdm": LICENCE, "zzbh": LATER["id"], "bfjg": {"mc": ISSUER["name"], "dm": ISSUER["code"]},
           "bfrq": today_beijing().isoformat(), "czzt": [holder], "yxqq": start.isoformat(),
           "yxqz": until.isoformat() if until else None, "sdbm": ISSUER["division"], "zzzt": "1", "xzzbs": None}
    app._put(app._sign(rec))  # the file states the same validity: signed as the issuer published it
    return rec


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LicenceWorld]:
    licensed = licence_world(database_url, monkeypatch)
    yield licensed
    licensed.stop()


@pytest.fixture
def served(world: LicenceWorld) -> Iterator[dict[str, Any]]:
    start = today_beijing() + timedelta(days=28)
    rec = _future_licence(world, start)
    assert harvest(world.gw, "sd_licences").inserted == 1
    for case_no, holder in (("NYV-1", LATER["id"]), ("NYV-NOW", LICENSED["id"])):
        plant_case(world.engine, case_no, dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=holder,
                   pii=world.gw.pii)
    server = ServerThread(create_app(world.gw, webhook_interval=0)).start()
    yield {"url": server.url, "rec": rec, "start": start, "world": world}
    server.stop()


def _consent(world: LicenceWorld, holder: str, case_no: str) -> str:
    gw, civil = world.gw, world.civil
    return gw.consents.issue(ConsentClaims("nyv", gw.pii.bidx(holder), civil.client.client_id, (LICENCE,),
                                           ELDERLY_CARE, case_no, int(time.time()) + 600))


def _query(served: dict[str, Any], holder: str, case_no: str) -> dict[str, Any]:
    world = served["world"]
    answer = requests.post(served["url"] + "/v1/certificates/query", headers=bearer(world.civil.credential),
                           timeout=10, json={"holder": {"id_number": holder}, "certificate_types": [LICENCE],
                                             "purpose": {"item_code": ELDERLY_CARE, "case_no": case_no},
                                             "consent_token": _consent(world, holder, case_no)})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _get(served: dict[str, Any], path: str, **params: str) -> dict[str, Any]:
    world = served["world"]
    headers = bearer(world.civil.credential)
    if "case_no" in params:
        headers["Tongban-Consent"] = _consent(world, LATER["id"], params["case_no"])
    answer = requests.get(served["url"] + path, params=params, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _materials(served: dict[str, Any], holder: str, case_no: str) -> dict[str, Any]:
    """The materials answer with the holder's consent (sd_civil's rule requires it: without, nothing is looked up)."""
    world = served["world"]
    answer = requests.get(f"{served['url']}/v1/cases/{case_no}/materials", timeout=10, headers={
        **bearer(world.civil.credential), "Tongban-Consent": _consent(world, holder, case_no)})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _verify(served: dict[str, Any], **body: str) -> dict[str, Any]:
    answer = requests.post(served["url"] + "/v1/certificates/verify", json=body, timeout=10,
                           headers=bearer(served["world"].civil.credential))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_harvest_keeps_the_validity_start_as_a_column(served: dict[str, Any]) -> None:
    world, rec = served["world"], served["rec"]
    with world.engine.connect() as conn:
        row = conn.execute(select(certificates.c.status, certificates.c.valid_from)
                           .where(certificates.c.identifier == rec["zzbs"])).one()
        cert = get_certificate(conn, rec["zzbs"])
    assert tuple(row) == ("valid", served["start"].isoformat())  # the issuer's status: nothing stored goes stale
    assert cert is not None and cert.valid_from == served["start"].isoformat()
    assert cert.effective_status() == "not_yet_valid"
    assert cert.effective_status(served["start"]) == "valid"
    assert cert.effective_status(served["start"] - timedelta(days=1)) == "not_yet_valid"


def test_every_answer_says_not_yet_valid_until_the_day_comes(served: dict[str, Any],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rec, start = served["rec"], served["start"]
    content = base64.b64decode(rec["wj"]["nr"])
    released = _query(served, LATER["id"], "NYV-1")["certificates"]
    assert [(c["identifier"], c["status"], c["valid_from"]) for c in released] == [
        (rec["zzbs"], "not_yet_valid", start.isoformat())]
    one = _get(served, f"/v1/certificates/{rec['zzbs']}", item_code=ELDERLY_CARE, case_no="NYV-1")
    assert one["certificate"]["status"] == "not_yet_valid"
    for body in ({"file_base64": rec["wj"]["nr"]}, {"sha256": hashlib.sha256(content).hexdigest()},
                 {"identifier": rec["zzbs"]}):
        checked = _verify(served, **body)
        assert checked["genuine"] and (checked["status"], checked["valid_from"]) == ("not_yet_valid", start.isoformat())
    materials = _materials(served, LATER["id"], "NYV-1")
    assert materials["submissions_saved"] == 0 and not any(m["replaced"] for m in materials["materials"])
    # a licence valid today is untouched by all this
    assert _query(served, LICENSED["id"], "NYV-NOW")["certificates"][0]["status"] == "valid"
    assert _materials(served, LICENSED["id"], "NYV-NOW")["submissions_saved"] == 1

    # the day comes: the same stored row answers valid (nothing was re-harvested, nothing rewritten)
    monkeypatch.setattr(library, "today_beijing", lambda: start)
    assert _query(served, LATER["id"], "NYV-1")["certificates"][0]["status"] == "valid"
    assert _verify(served, identifier=rec["zzbs"])["status"] == "valid"
    materials = _materials(served, LATER["id"], "NYV-1")
    assert materials["submissions_saved"] == 1
    assert [m["certificate_type"] for m in materials["materials"] if m["replaced"]] == [LICENCE]


def test_a_validity_that_ends_before_it_starts_is_quarantined_naming_why(world: LicenceWorld) -> None:
    start = today_beijing() + timedelta(days=30)
    rec = _future_licence(world, start, until=start - timedelta(days=1), serial="60000002")
    report = harvest(world.gw, "sd_licences")
    assert (report.inserted, report.quarantined) == (0, 1)
    with world.engine.connect() as conn:
        reasons = [r.reason for r in conn.execute(select(certificate_quarantine.c.reason))]
        assert get_certificate(conn, rec["zzbs"]) is None
    assert len(reasons) == 1
    assert "valid_until is before valid_from" in reasons[0] and "certificate.validity_order" in reasons[0]


def test_subscribers_are_told_not_yet_valid_at_issue_and_effective_on_the_day(served: dict[str, Any],
                                                                                monkeypatch: pytest.MonkeyPatch
                                                                                ) -> None:
    """A relying department subscribed to licence events must not read "issued, valid" for a licence it cannot
    rely on until next month: the issue event says not_yet_valid, and an ``effective`` event comes on the day."""
    from gateway.store.tables import certificate_events

    world, rec, start = served["world"], served["rec"], served["start"]

    def events() -> list[tuple[str, str, str | None]]:
        e = certificate_events.c
        with world.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(e.event, e.status, e.previous_status)
                                                   .where(e.identifier == rec["zzbs"]).order_by(e.id))]

    assert events() == [("issued", "not_yet_valid", None)]
    assert harvest(world.gw, "sd_licences").events == 0  # before the day: nothing more to say
    monkeypatch.setattr(library, "today_beijing", lambda: start)
    assert harvest(world.gw, "sd_licences").events == 1
    assert events() == [("issued", "not_yet_valid", None), ("effective", "valid", "not_yet_valid")]
    assert harvest(world.gw, "sd_licences").events == 0  # said once


def test_effective_is_announced_whatever_was_issued_after_the_announcement(served: dict[str, Any],
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The announcement is found per certificate: licences issued after it (another holder's, another future one)
    must not hide it. (The search once compared each event with the newest event of the whole table, so a
    licence announced not_yet_valid was only ever called effective if nothing at all had happened since.)"""
    from gateway.store.tables import certificate_events

    world, rec, start = served["world"], served["rec"], served["start"]
    second = _future_licence(world, start - timedelta(days=3), serial="60000003")
    assert harvest(world.gw, "sd_licences").inserted == 1

    def latest(identifier: str) -> tuple[str, str]:
        e = certificate_events.c
        with world.engine.connect() as conn:
            return tuple(conn.execute(select(e.event, e.status).where(e.identifier == identifier)
                                      .order_by(e.id.desc()).limit(1)).one())

    assert latest(rec["zzbs"]) == latest(second["zzbs"]) == ("issued", "not_yet_valid")
    monkeypatch.setattr(library, "today_beijing", lambda: start - timedelta(days=3))
    assert harvest(world.gw, "sd_licences").events == 1  # the second starts first, though it was issued later
    assert latest(second["zzbs"]) == ("effective", "valid") and latest(rec["zzbs"]) == ("issued", "not_yet_valid")
    monkeypatch.setattr(library, "today_beijing", lambda: start)
    assert harvest(world.gw, "sd_licences").events == 1  # the first, though the second's event came after it
    assert latest(rec["zzbs"]) == ("effective", "valid")
    assert harvest(world.gw, "sd_licences").events == 0
