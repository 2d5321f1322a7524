"""A certificate's file says nothing of its standing: served bare, a revoked licence reads as good as a valid one.
So ``GET /v1/certificates/{identifier}/file`` says the status today — in the signed ``Tongban-Release`` manifest
(with the quality flags) and the ``Tongban-Certificate-Status`` header — and refuses the file of a certificate
that is not valid today (revoked, withdrawn, not yet valid …) with a 409 problem naming the status, unless the
caller asks ``include_invalid=true``. Either way the holder's access log shows what happened."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import timedelta
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
from sqlalchemy import select, update

from gateway.crypto import GatewayKeys, JwsVerifier, PiiCodec
from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest, library
from gateway.store.retention import seal_clear
from gateway.store.tables import certificates

STATUS = "Tongban-Certificate-Status"


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    licensed: LicenceWorld = licence_world(database_url, monkeypatch)
    plant_case(licensed.engine, "FS-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"],
               pii=licensed.gw.pii)
    with licensed.engine.connect() as conn:
        ident = conn.execute(select(certificates.c.identifier)).scalar_one()
    hall = licensed.gw.clients.add("hall_reader", scopes=["holders:read"])
    server = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    yield {"world": licensed, "url": server.url, "ident": ident, "hall": bearer(hall.credential),
           "issued": licensed.registry.app._find(ident)}
    server.stop()
    licensed.stop()


def _file(w: dict[str, Any], **params: str) -> requests.Response:
    gw, civil = w["world"].gw, w["world"].civil
    consent = gw.consents.issue(ConsentClaims("fs", gw.pii.bidx(LICENSED["id"]), civil.client.client_id, (LICENCE,),
                                              ELDERLY_CARE, "FS-1", int(time.time()) + 600))
    return requests.get(f"{w['url']}/v1/certificates/{w['ident']}/file", timeout=10,
                        params={"item_code": ELDERLY_CARE, "case_no": "FS-1", **params},
                        headers={**bearer(civil.credential), "Tongban-Consent": consent})


def _manifest(w: dict[str, Any], answer: requests.Response) -> dict[str, Any]:
    manifest = json.loads(JwsVerifier(w["world"].gw.signer.jwk()).verify(answer.headers["Tongban-Release"]))
    assert manifest["content_sha256"] == hashlib.sha256(answer.content).hexdigest()
    return dict(manifest)


def _file_log(w: dict[str, Any]) -> list[tuple[str, str]]:
    answer = requests.post(w["url"] + "/v1/holders/access-log", json={"id_number": LICENSED["id"]},
                           headers=w["hall"], timeout=10)
    assert answer.status_code == 200, answer.text
    return [(e["action"], e["outcome"]) for e in answer.json()["entries"] if e["certificate"] == w["ident"]]


def _revoke(w: dict[str, Any], zzzt: str) -> None:
    registry = w["world"].registry
    requests.post(registry.admin_url + "/_sandbox/revoke", json={"ids": [w["ident"]], "status": zzzt},
                  timeout=10).raise_for_status()
    assert harvest(w["world"].gw, "sd_licences").updated == 1


def test_a_valid_certificates_file_says_its_status(world: dict[str, Any]) -> None:
    answer = _file(world)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/ofd" and answer.headers[STATUS] == "valid"
    assert answer.content == base64.b64decode(world["issued"]["wj"]["nr"])
    manifest = _manifest(world, answer)
    assert (manifest["identifier"], manifest["status"], manifest["quality"]) == (world["ident"], "valid", [])
    # asking for invalid ones too changes nothing for a valid certificate
    assert _file(world, include_invalid="true").headers[STATUS] == "valid"
    assert _file_log(world) == [("release", "released")] * 2


@pytest.mark.parametrize(("zzzt", "status"), [("4", "revoked"), ("3", "withdrawn"), (None, "not_yet_valid")])
def test_the_file_of_a_certificate_not_valid_today_is_refused_unless_asked_for(
        world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, zzzt: str | None, status: str) -> None:
    if zzzt is not None:
        _revoke(world, zzzt)  # 撤销 / 吊销 at the issuer, harvested
    else:  # the day before its validity starts (有效期起 is its issue day)
        start = library.today_beijing()
        monkeypatch.setattr(library, "today_beijing", lambda: start - timedelta(days=1))

    refused = _file(world)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json" and refused.headers[STATUS] == status
    problem = refused.json()
    assert problem["type"] == "https://tongban.example/problems/certificate-not-valid"
    assert (problem["status"], problem["title"], problem["certificate_status"]) == (409, "Conflict", status)
    assert f"is {status} today" in problem["detail"] and "include_invalid=true" in problem["detail"]

    served = _file(world, include_invalid="true")
    assert served.status_code == 200, served.text
    assert served.headers[STATUS] == status
    assert served.content == base64.b64decode(world["issued"]["wj"]["nr"])
    assert _manifest(world, served)["status"] == status
    # the refusal was an access attempt on the holder's data, like any other refusal
    assert _file_log(world) == [("release", "denied:status"), ("release", "released")]


def test_the_manifest_carries_the_quality_flags(world: dict[str, Any]) -> None:
    """A revocation whose signature does not verify is refused by the harvest: the licence stays valid as last
    verified, but in doubt — the signed manifest says so, as every other answer about it does."""
    app = world["world"].registry.app
    rec = app._find(world["ident"])
    rec["zzzt"] = "4"
    app._put(app._sign(rec, corrupt=True))
    assert harvest(world["world"].gw, "sd_licences").quarantined == 1
    answer = _file(world)
    assert answer.status_code == 200 and answer.headers[STATUS] == "valid", answer.text
    [flag] = _manifest(world, answer)["quality"]
    assert flag["rule"] == library.REFUSED_NEWER_VERSION and "bad signature" in flag["message"]


def _stored_file(w: dict[str, Any]) -> str:
    with w["world"].engine.connect() as conn:
        return str(conn.execute(select(certificates.c.file).where(certificates.c.identifier == w["ident"]))
                   .scalar_one())


def test_the_issuers_file_is_sealed_at_rest_and_served_as_issued(world: dict[str, Any]) -> None:
    """The file holds the holders' names and numbers (the OFD's custom data): the library kept it as clear base64,
    so anyone reading the table read every holder's ID number — on a ledger whose documents seal them."""
    issued = base64.b64decode(world["issued"]["wj"]["nr"])
    assert LICENSED["id"].encode() in issued  # what makes the file personal data
    stored = _stored_file(world)
    assert stored.startswith("encf:v1:" + world["world"].gw.pii.current + ":")
    assert world["issued"]["wj"]["nr"][:40] not in stored and LICENSED["id"] not in stored
    assert len(stored) < len(world["issued"]["wj"]["nr"]) + 100  # the bytes sealed, not the base64 of the base64
    answer = _file(world)
    assert answer.status_code == 200, answer.text
    assert answer.content == issued


def test_a_file_an_older_tongban_kept_in_clear_is_served_and_sealed_by_keys_rotate(world: dict[str, Any]) -> None:
    engine, pii = world["world"].engine, world["world"].gw.pii
    issued = base64.b64decode(world["issued"]["wj"]["nr"])
    with engine.begin() as conn:  # a row as the library wrote it before files were sealed
        conn.execute(update(certificates).where(certificates.c.identifier == world["ident"])
                     .values(file=world["issued"]["wj"]["nr"]))
    assert _file(world).content == issued
    assert seal_clear(engine, pii, dry_run=True)["certificates.file in clear"] == 1
    assert _stored_file(world) == world["issued"]["wj"]["nr"]  # a dry run changes nothing
    assert seal_clear(engine, pii)["certificates.file in clear"] == 1
    assert _stored_file(world).startswith("encf:v1:")
    assert seal_clear(engine, pii)["certificates.file in clear"] == 0
    served = _file(world)
    assert served.status_code == 200 and served.content == issued
    assert _manifest(world, served)["content_sha256"] == hashlib.sha256(issued).hexdigest()


def test_a_clear_file_that_is_not_base64_is_left_and_counted_not_a_failed_rotation(world: dict[str, Any]) -> None:
    engine, pii = world["world"].engine, world["world"].gw.pii
    with engine.begin() as conn:
        conn.execute(update(certificates).where(certificates.c.identifier == world["ident"]).values(file="UEsDB"))
    counts = seal_clear(engine, pii)
    assert counts["certificates.file in clear"] == 0
    assert counts["certificates.file left in clear (not base64)"] == 1
    assert _stored_file(world) == "UEsDB"


def _put_file(w: dict[str, Any], stored: str) -> None:
    with w["world"].engine.begin() as conn:
        conn.execute(update(certificates).where(certificates.c.identifier == w["ident"]).values(file=stored))


def test_a_file_that_is_not_the_verified_one_or_cannot_be_opened_is_refused_and_logged(world: dict[str, Any]) -> None:
    """Review: the file served is whatever the row holds, signed as the certificate's: a sealed file moved into
    another certificate's row was served under that certificate's name; a file sealed under a key the gateway no
    longer holds was a bare 500. The served bytes are checked against the hash the harvest verified."""
    issued = base64.b64decode(world["issued"]["wj"]["nr"])
    _put_file(world, world["world"].gw.pii.seal_file(issued + b" "))  # another file, sealed with the right key
    refused = _file(world)
    assert refused.status_code == 500 and refused.json()["type"].endswith("/integrity"), refused.text
    assert "does not match its SHA-256" in refused.json()["detail"]
    stranger = PiiCodec(GatewayKeys.generate())
    _put_file(world, stranger.seal_file(issued))  # a key not in this key file
    unopened = _file(world)
    assert unopened.status_code == 503 and "key this gateway's key file does not hold" in unopened.json()["detail"]
    assert stranger.current not in unopened.text  # the key's id is the operator's business, not the client's
    sealed = world["world"].gw.pii.seal_file(issued)
    _put_file(world, sealed[:-12] + ("A" if sealed[-12] != "A" else "B") + sealed[-11:])  # one byte altered
    altered = _file(world)
    assert altered.status_code == 500 and altered.json()["type"].endswith("/integrity"), altered.text
    assert _file_log(world) == [("release", "denied:integrity"), ("release", "denied:unavailable"),
                                ("release", "denied:integrity")]
    _put_file(world, world["world"].gw.pii.seal_file(issued))
    assert _file(world).content == issued


def test_a_stored_file_that_cannot_be_read_or_changed_meanwhile_is_refused_and_logged(
        world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: a stored file that is not base64 was a bare 500 with no log entry; and a harvest committing a new
    version between the metadata's read and the file's made the right file look tampered with."""
    issued = base64.b64decode(world["issued"]["wj"]["nr"])
    _put_file(world, "UEsDB")
    unreadable = _file(world)
    assert unreadable.status_code == 500 and unreadable.json()["type"].endswith("/integrity"), unreadable.text
    _put_file(world, world["world"].gw.pii.seal_file(issued))
    real = library.certificate_file

    def harvested_meanwhile(conn: Any, identifier: str, pii: Any) -> Any:
        with world["world"].engine.begin() as other:  # version 2 lands between the two reads
            other.execute(update(certificates).where(certificates.c.identifier == identifier)
                          .values(content_hash="f" * 64))
        return real(conn, identifier, pii)

    monkeypatch.setattr(library, "certificate_file", harvested_meanwhile)
    changed = _file(world)
    assert changed.status_code == 503 and changed.json()["type"].endswith("/changed"), changed.text
    assert changed.headers["Retry-After"] == "1"
    assert _file_log(world) == [("release", "denied:integrity"), ("release", "denied:changed")]
