"""Harvest from the licence registry: verified on ingest, bad signatures quarantined and never served,
identifiers checked after GB/T 36904 (legacy ones warned about), status changes propagated with events."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from gateway_testlib import LICENCE, make_gateway, register_licence_issuer
from sqlalchemy import func, select

from gateway.sharing.access.audit import AuditEntry, append_entries
from gateway.sharing.certificates import harvest, register_issuer_key, verify_signature
from gateway.sharing.certificates.library import find_for_holder, get_certificate
from gateway.sharing.certificates.ofd import cross_check, file_metadata
from gateway.sharing.certificates.signatures import IssuerKey
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import (
    certificate_events,
    certificate_quarantine,
    certificates,
    webhook_deliveries,
    webhook_subscriptions,
)
from sandbox.licences import render_file, start_licences

COMPANY = {"name": "济南大明科技有限公司", "idType": "001", "id": "91370100MA3C7B8X2M"}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    handle = start_licences(seed=3, records=12)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_URL", handle.url)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_API_KEY", "licences-demo-key")
    yield handle
    handle.stop()


@pytest.fixture
def gw(database_url: str) -> Iterator[Any]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield make_gateway(engine)
    engine.dispose()


def count(gw: Any, table: Any) -> int:
    with gw.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_without_the_issuers_key_nothing_is_served(registry: Any, gw: Any) -> None:
    report = harvest(gw, "sd_licences")
    assert report.inserted == 0 and report.quarantined == 12
    assert all("no registered key" in r for r in report.quarantine_reasons)
    register_licence_issuer(gw.engine, registry.url)
    again = harvest(gw, "sd_licences", full_refresh=True)
    assert again.inserted == 12 and again.quarantined == 0 and count(gw, certificate_quarantine) == 0


def test_verified_certificates_are_stored_and_legacy_identifiers_warned(registry: Any, gw: Any) -> None:
    register_licence_issuer(gw.engine, registry.url)
    report = harvest(gw, "sd_licences")
    assert report.inserted == 12 and report.quarantined == 0
    assert report.warnings["certificate_id.legacy"] == 1  # one base licence in twelve is pre-standard
    records = requests.get(registry.admin_url + "/_sandbox/records", timeout=10).text.splitlines()
    legacy = [r for r in map(__import__("json").loads, records) if not r["zzbs"].startswith("1.2.156")]
    with gw.engine.connect() as conn:
        stored = get_certificate(conn, legacy[0]["zzbs"])  # found by its legacy identifier too
    assert stored is not None and stored.legacy_identifier == legacy[0]["zzbs"]
    assert stored.identifier.startswith("1.2.156.3005.2.")
    # the issuer's signing time (qm.qmsj, Beijing time) is the metadata's signed_at (GB/T 36903: signer and time)
    signed = __import__("json").loads(stored.document)["signed_at"]
    assert signed is not None and signed.startswith(legacy[0]["qm"]["qmsj"].replace(" ", "T")) \
        and signed.endswith("+08:00")
    with gw.engine.connect() as conn:
        document = conn.execute(select(certificates.c.document)).scalars().all()
    people = [r["czzt"][0]["zjhm"] for r in map(__import__("json").loads, records) if r["czzt"][0]["zjlx"] == "111"]
    assert people and not any(number in "".join(document) for number in people)  # personal IDs sealed at rest
    assert harvest(gw, "sd_licences").inserted == 0  # the overlap re-read changes nothing


def test_a_bad_signature_is_quarantined_and_never_served(registry: Any, gw: Any) -> None:
    register_licence_issuer(gw.engine, registry.url)
    forged = requests.post(registry.admin_url + "/_sandbox/bad-signature", json={"holder": COMPANY},
                           timeout=10).json()
    report = harvest(gw, "sd_licences")
    assert report.quarantined == 1 and "bad signature" in report.quarantine_reasons[0]
    with gw.engine.connect() as conn:
        assert get_certificate(conn, forged["zzbs"]) is None
        assert find_for_holder(conn, gw.pii.bidx(COMPANY["id"]), [LICENCE]) == []
        raw = conn.execute(select(certificate_quarantine.c.raw)).scalar_one()
    assert raw.startswith("encb:v1:") and COMPANY["id"] not in raw  # the quarantined payload is sealed


def test_a_wrong_check_character_is_an_error_not_a_warning(registry: Any, gw: Any) -> None:
    register_licence_issuer(gw.engine, registry.url)
    app = registry.app
    issued = app._issue("营业执照", {"mc": COMPANY["name"], "zjlx": "001", "zjhm": COMPANY["id"]})
    broken = dict(issued, zzbs=issued["zzbs"][:-1] + ("0" if issued["zzbs"][-1] != "0" else "1"))
    app._sign(broken)
    app._put(broken)
    report = harvest(gw, "sd_licences")
    assert report.quarantined == 1 and "certificate_id.checksum" in report.quarantine_reasons[0]


def test_revocation_and_renewal_propagate_with_events_and_deliveries(registry: Any, gw: Any) -> None:
    register_licence_issuer(gw.engine, registry.url)
    issued = requests.post(registry.admin_url + "/_sandbox/issue", json={"holder": COMPANY}, timeout=10).json()
    harvest(gw, "sd_licences")
    from datetime import datetime, timezone

    subscriber = gw.clients.add("sd_civil").client  # a live client the policy gives licences
    assert LICENCE in gw.policy.types_for((subscriber.name, subscriber.client_id))
    with gw.engine.begin() as conn:
        conn.execute(webhook_subscriptions.insert().values(subscription_id="s1", client_id=subscriber.client_id,
                                                           url="http://127.0.0.1:9/x",
                                                           certificate_types=f'["{LICENCE}"]', active=True,
                                                           created_at=datetime.now(timezone.utc)))
        # the licence was released to it (as a fetch records it): a department is told only of what it was given
        append_entries(conn, [AuditEntry(action="release", outcome="released", client_id=subscriber.client_id,
                                         holder_ref=gw.pii.bidx(COMPANY["id"]), certificate=issued["zzbs"])])
    requests.post(registry.admin_url + "/_sandbox/revoke", json={"ids": [issued["zzbs"]], "status": "2"}, timeout=10)
    report = harvest(gw, "sd_licences", notify=False)
    assert report.updated == 1 and report.events == 1
    with gw.engine.connect() as conn:
        assert get_certificate(conn, issued["zzbs"]).status == "cancelled"
        event = conn.execute(select(certificate_events).order_by(certificate_events.c.id.desc())).first()
        assert (event.event, event.previous_status, event.status) == ("status", "valid", "cancelled")
        assert conn.execute(select(func.count()).select_from(webhook_deliveries)).scalar_one() == 1
    renewed = requests.post(registry.admin_url + "/_sandbox/renew", json={"id": issued["zzbs"]}, timeout=10).json()
    report = harvest(gw, "sd_licences", notify=False)
    assert report.inserted == 1 and report.updated == 1
    with gw.engine.connect() as conn:
        old = get_certificate(conn, issued["zzbs"])
        assert old.renewed_as == renewed["zzbs"] and renewed["zzbs"].split(".")[-2] == "002"
        assert get_certificate(conn, renewed["zzbs"]).status == "valid"


def test_sm2_signatures_verify_with_the_registered_key() -> None:
    from gmssl import sm2

    private = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
    public = sm2.CryptSM2(private_key=private, public_key="")._kg(int(private, 16), sm2.default_ecc_table["g"])
    signer = sm2.CryptSM2(private_key=private, public_key=public)
    content = b"<ofd>licence</ofd>"
    signature = base64.b64encode(bytes.fromhex(signer.sign_with_sm3(content, "12" * 32))).decode()
    key = IssuerKey("sm2-1", "11370100004301265T", "SM2", public)
    assert verify_signature(key, content, signature)
    assert not verify_signature(key, content + b"x", signature)
    # the JWS verifier's strictness for issuers' signatures too: gmssl ignored the bytes after the first 64 (a
    # genuine signature with anything appended verified), and r ‖ s must be 64 bytes with both in [1, n-1]
    raw = base64.b64decode(signature)
    assert not verify_signature(key, content, base64.b64encode(raw + b"\x00").decode())
    assert not verify_signature(key, content, base64.b64encode(bytes(32) + raw[32:]).decode())  # r = 0


def test_register_refuses_a_bad_key(gw: Any) -> None:
    from gateway.contract.errors import ConfigError

    with pytest.raises(ConfigError):
        register_issuer_key(gw.engine, key_id="k", issuer_code="11370100004301265T", algorithm="Ed25519",
                            public_key=base64.b64encode(b"short").decode())


def test_the_feed_must_agree_with_the_signed_file() -> None:
    record = {"id": "ZZ1", "zzbs": "ID1", "zzmc": "营业执照", "zzlxdm": LICENCE, "zzbh": "N1",
              "bfjg": {"mc": "x", "dm": "y"}, "bfrq": "2024-01-01", "czzt": [{"mc": "a", "zjlx": "001", "zjhm": "H1"}],
              "yxqq": "2024-01-01", "yxqz": None}
    meta = file_metadata(render_file(record))
    ok = dict(identifier="ID1", number="N1", holders=[{"id_type": "001", "id_number": "H1"}], valid_from="2024-01-01",
              valid_until=None)
    assert cross_check(meta, **ok) == []
    assert cross_check(meta, **{**ok, "holders": [{"id_type": "001", "id_number": "H2"}]}) == \
        ["holders differ from the signed file"]
    assert cross_check({}, **ok) == ["the file carries no readable metadata"]
