"""An issuer's feed may not take over what the library holds, nor hide what it changed. Each case is a record a
hostile or broken issuing system could serve — signed with a key the gateway has registered — and each must go
to quarantine naming why, leave the library as it was, and never stop the harvest of the other records:

- another issuer's key signing a certificate under issuer A's identifier (an existing one, or a new one in A's
  namespace): before, it overwrote A's licence with another holder and stayed "valid";
- a legacy identifier converting onto an existing standard one;
- a 吊销 (withdrawn) certificate coming back as valid;
- a change time in year 9999 (it froze the watermark: later licences were never harvested);
- a record that keeps its key but claims a new identifier (it failed the whole harvest, every run);
- a record the connector cannot read (a bad change time): it vanished without a trace.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gateway_testlib import make_gateway, register_licence_issuer
from sqlalchemy import select

from gateway.sharing.certificates import harvest, register_issuer_key
from gateway.sharing.certificates.library import find_for_holder, get_certificate
from gateway.store import ledger
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import certificate_quarantine
from sandbox.identifiers import make_uscc
from sandbox.licences import ISSUER, TYPES, identifier, render_file, start_licences

LICENCE = TYPES["营业执照"]
ISSUER_B = make_uscc("1", "1", "370100", "MB285042")
INTRUDER = {"mc": "冒名公司", "zjlx": "001", "zjhm": make_uscc("9", "1", "370100", "MA3XXXXX")}


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    registry = start_licences(seed=3, records=3)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_URL", registry.url)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_API_KEY", "licences-demo-key")
    engine = make_engine(database_url)
    upgrade(engine)
    gw = make_gateway(engine)
    register_licence_issuer(engine, registry.url)
    assert harvest(gw, "sd_licences").inserted == 3
    yield registry, gw
    registry.stop()
    engine.dispose()


class IssuerB:
    """Another issuer, with its own key registered with the gateway."""

    def __init__(self, gw: Any) -> None:
        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        register_issuer_key(gw.engine, key_id="issuer-b-1", issuer_code=ISSUER_B, algorithm="Ed25519",
                            public_key=base64.b64encode(public).decode())

    def sign(self, rec: dict[str, Any]) -> dict[str, Any]:
        content = render_file(rec)
        rec["wj"] = {"lx": "ofd", "nr": base64.b64encode(content).decode(), "zy": hashlib.sha256(content).hexdigest()}
        rec["qm"] = {"sf": "Ed25519", "kid": "issuer-b-1", "z": base64.b64encode(self.key.sign(content)).decode(),
                     "qmr": "x", "qmsj": "2024-03-05 10:00:00"}
        return rec


def _record(app: Any, ident: str, holder: dict[str, str], issuer_code: str) -> dict[str, Any]:
    return {"id": app._next_id(), "zzbs": ident, "zzmc": "营业执照", "zzlxdm": LICENCE, "zzbh": holder["zjhm"],
            "bfjg": {"mc": "某局", "dm": issuer_code}, "bfrq": "2024-03-05", "czzt": [dict(holder)],
            "yxqq": "2024-03-05", "yxqz": None, "sdbm": "370100", "zzzt": "1", "xzzbs": None}


def _first_licence(gw: Any) -> Any:
    with gw.engine.connect() as conn:
        return next(c for c in (get_certificate(conn, identifier(LICENCE, ISSUER["code"], f"{n:08d}", 1))
                                for n in range(1, 4)) if c is not None)


def _reasons(gw: Any) -> list[str]:
    with gw.engine.connect() as conn:
        return [r.reason for r in conn.execute(select(certificate_quarantine.c.reason))]


def _holds(gw: Any, id_number: str) -> list[str]:
    with gw.engine.connect() as conn:
        return [c.identifier for c in find_for_holder(conn, gw.pii.bidx(id_number), [LICENCE])]


def test_another_issuer_cannot_take_over_or_mint_identifiers_of_issuer_a(world: tuple[Any, Any]) -> None:
    registry, gw = world
    app, b = registry.app, IssuerB(gw)
    victim = _first_licence(gw)
    app._put(b.sign(_record(app, victim.identifier, INTRUDER, ISSUER_B)))
    app._put(b.sign(_record(app, identifier(LICENCE, ISSUER["code"], "77777777", 1), INTRUDER, ISSUER_B)))
    report = harvest(gw, "sd_licences")
    assert (report.inserted, report.updated, report.quarantined) == (0, 0, 2)
    assert all(f"issuer {ISSUER['code']}'s, not {ISSUER_B}'s" in r for r in _reasons(gw))
    after = _first_licence(gw)
    assert (after.content_hash, after.status) == (victim.content_hash, "valid")
    assert _holds(gw, INTRUDER["zjhm"]) == []


def test_a_legacy_identifier_converting_onto_an_existing_one_is_quarantined(world: tuple[Any, Any]) -> None:
    registry, gw = world
    app = registry.app
    victim = _first_licence(gw)
    serial = victim.identifier.split(".")[-3]
    legacy = _record(app, f"0000-{serial[-4:]}", INTRUDER, ISSUER["code"])
    legacy["zzbs"] = "-".join([serial[:4], serial[4:]])  # converts to the victim's standard identifier
    app._put(app._sign(legacy))
    report = harvest(gw, "sd_licences")
    assert report.quarantined == 1 and report.updated == 0
    assert "cannot take it over" in _reasons(gw)[0]
    assert _first_licence(gw).content_hash == victim.content_hash and _holds(gw, INTRUDER["zjhm"]) == []


def test_a_withdrawn_certificate_does_not_come_back_to_life(world: tuple[Any, Any]) -> None:
    registry, gw = world
    victim = _first_licence(gw)
    requests.post(registry.admin_url + "/_sandbox/revoke", json={"ids": [victim.identifier], "status": "3"},
                  timeout=10).raise_for_status()
    assert harvest(gw, "sd_licences").updated == 1
    rec = registry.app._find(victim.identifier)
    registry.app._put({**rec, "zzzt": "1"})  # the feed says valid again
    report = harvest(gw, "sd_licences")
    assert report.quarantined == 1 and "cannot become valid again" in _reasons(gw)[0]
    assert _first_licence(gw).status == "withdrawn"


def test_a_change_time_in_the_future_neither_freezes_the_watermark_nor_shadows_later_changes(
        world: tuple[Any, Any]) -> None:
    registry, gw = world
    app = registry.app
    typo = app._sign(_record(app, identifier(LICENCE, ISSUER["code"], "55555555", 1),
                             {"mc": "时钟坏公司", "zjlx": "001", "zjhm": make_uscc("9", "1", "370100", "MA3C10CK")},
                             ISSUER["code"]))
    app._put(typo)
    with app.table.lock:  # the registry stamps its change time itself; this one says year 9999
        app.table.get(typo["id"]).record["gxsj"] = 253402214400000 - 1
    report = harvest(gw, "sd_licences")
    assert report.quarantined == 1 and "after this machine's clock" in _reasons(gw)[0]
    with gw.engine.connect() as conn:
        assert ledger.get_watermark(conn, "sd_licences", "licences").year < 9999
    issued = requests.post(registry.admin_url + "/_sandbox/issue", timeout=10, json={
        "holder": {"name": "新公司", "idType": "001", "id": make_uscc("9", "1", "370100", "MA3NEW00")}}).json()
    harvest(gw, "sd_licences")
    with gw.engine.connect() as conn:
        assert get_certificate(conn, issued["zzbs"]) is not None  # the next licence is harvested


def test_a_record_claiming_a_new_identifier_is_quarantined_and_the_harvest_goes_on(world: tuple[Any, Any]) -> None:
    registry, gw = world
    app = registry.app
    victim = _first_licence(gw)
    moved = dict(app._find(victim.identifier))
    moved["zzbs"] = identifier(LICENCE, ISSUER["code"], "99999999", 1)
    app._put(app._sign(moved))
    good = requests.post(registry.admin_url + "/_sandbox/issue", timeout=10, json={
        "holder": {"name": "好公司", "idType": "001", "id": make_uscc("9", "1", "370100", "MA3G0DD0")}}).json()
    for _ in range(2):  # and again: the same answer, not a failed harvest
        report = harvest(gw, "sd_licences")
        assert report.quarantined == 1 and "already holds another certificate" in _reasons(gw)[0]
    with gw.engine.connect() as conn:
        assert get_certificate(conn, good["zzbs"]) is not None


def test_a_record_the_connector_cannot_read_is_quarantined_not_lost(world: tuple[Any, Any]) -> None:
    registry, gw = world
    app = registry.app
    broken = app._sign(_record(app, identifier(LICENCE, ISSUER["code"], "44444444", 1), INTRUDER, ISSUER["code"]))
    app._put(broken)
    with app.table.lock:
        app.table.get(broken["id"]).record["gxsj"] = "abc"
    report = harvest(gw, "sd_licences")
    assert report.quarantined == 1 and "gxsj" in _reasons(gw)[0]


@pytest.mark.parametrize(("field", "value", "stated"), [
    ("zzmc", "食品经营许可证", "证照名称"), ("bfrq", "1900-01-01", "颁发日期"), ("bfjg", {"mc": "冒名机构", "dm": ISSUER["code"]}, "颁发机构")])
def test_what_the_feed_says_must_be_what_the_signed_file_says(world: tuple[Any, Any], field: str, value: Any,
                                                               stated: str) -> None:
    """The signature covers the file, not the feed: a feed naming a genuine licence's file 食品经营许可证, or
    dating it 1900, was served with the file's signature vouching for it."""
    registry, gw = world
    app = registry.app
    rec = app._sign(_record(app, identifier(LICENCE, ISSUER["code"], "33333333", 1),
                            {"mc": "真公司", "zjlx": "001", "zjhm": make_uscc("9", "1", "370100", "MA3REAL0")},
                            ISSUER["code"]))
    app._put({**rec, field: value})  # the file signed as issued; the feed's field changed after
    report = harvest(gw, "sd_licences")
    assert report.quarantined == 1 and f"{stated} differs from the signed file" in _reasons(gw)[0]


def test_a_real_ofd_package_is_read_and_a_zip_bomb_is_not() -> None:
    import io
    import zipfile

    from gateway.sharing.certificates.ofd import MAX_OFD_XML, file_metadata

    rec = {"id": "ZZ1", "zzbs": "X", "zzmc": "营业执照", "zzlxdm": LICENCE, "zzbh": "N1",
           "bfjg": {"mc": "局", "dm": ISSUER["code"]}, "bfrq": "2024-03-05", "czzt": [INTRUDER],
           "yxqq": "2024-03-05", "yxqz": None}

    def package(entries: dict[str, bytes]) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in entries.items():
                z.writestr(name, data)
        return out.getvalue()

    real = package({"OFD.xml": render_file(rec), "Doc_0/Document.xml": b"<ofd:Document/>"})
    assert file_metadata(real)["证照名称"] == "营业执照"
    bomb = package({"OFD.xml": b"<a>" + b" " * (MAX_OFD_XML * 50) + b"</a>"})
    assert len(bomb) < MAX_OFD_XML and file_metadata(bomb) == {}  # refused unread, not inflated
    assert file_metadata(package({"../../etc/OFD.xml": render_file(rec)})) == {}
    assert file_metadata(b"PK\x03\x04 not a zip") == {}


@pytest.mark.parametrize("successor", ["not-an-identifier", "self", "other-issuer"])
def test_a_renewal_must_point_at_a_real_certificate_of_the_same_issuer(world: tuple[Any, Any], successor: str) -> None:
    registry, gw = world
    app = registry.app
    own = identifier(LICENCE, ISSUER["code"], "22222222", 1)
    target = {"not-an-identifier": "not-an-identifier", "self": own,
              "other-issuer": identifier(LICENCE, ISSUER_B, "22222222", 2)}[successor]
    rec = app._sign({**_record(app, own, {"mc": "续期公司", "zjlx": "001",
                                          "zjhm": make_uscc("9", "1", "370100", "MA3RENEW")}, ISSUER["code"]),
                     "xzzbs": target})
    app._put(rec)
    report = harvest(gw, "sd_licences")
    assert report.quarantined == 1 and "renewed_as" in _reasons(gw)[0]
    with gw.engine.connect() as conn:
        assert get_certificate(conn, own) is None
