"""The certificate gateway's acceptance, end to end over real HTTP against the sandbox, on SQLite and PostgreSQL.

A department (civil affairs) asks for a business licence that another department (market supervision, through
its licence registry) issued, for a named case, with the holder's consent — and the holder's access log shows
exactly that use. A revocation at the issuing system reaches the gateway in one harvest cycle, is reflected in
query answers, and notifies subscribers. No full ID number appears in any log line or in answers to clients
without the scope.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests

from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest
from gateway.crypto import JwsVerifier, PiiCodec
from gateway.sharing.access.audit import verify_chain
from gateway.crypto.batchsign import verify_answer
from gateway.crypto.jws import JwsError
from gateway.sync.engine import sync_system
from sandbox.licences import start_licences

from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    LICENCE,
    CEMETERY,
    ServerThread,
    WebhookReceiver,
    bearer,
    make_gateway,
    register_licence_issuer,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def licences(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    registry = start_licences(seed=7, records=9)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_URL", registry.url)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_API_KEY", "licences-demo-key")
    yield registry
    registry.stop()


def _company_case(world: Any) -> dict[str, Any]:
    for record in world.source_records("sd_civil").values():
        applicant = record.get("applicant") or {}
        if (record.get("taskCode") in (ELDERLY_CARE, CEMETERY) and applicant.get("certType") == "001"
                and not record.get("isDeleted") and record.get("result") not in ("2", "3")
                and not record.get("finishTime")  # open: a case finished long ago is no purpose any more
                and applicant.get("certNo", "").strip().isascii()):
            return record
    raise AssertionError("the sandbox has no open company case of an item the policy covers")


def _person_numbers(world: Any) -> set[str]:
    out = set()
    for record in world.source_records("sd_civil").values():
        applicant = record.get("applicant") or {}
        if applicant.get("certType") == "111":
            number = "".join(applicant.get("certNo", "").split()).translate(
                {0xFF10 + d: 0x30 + d for d in range(10)}).replace("Ｘ", "X")
            out.add(number)
    return out


def test_a_department_fetches_another_departments_licence_with_consent_and_the_holder_sees_it(
        make_world: Any, licences: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    world = make_world(civil=400, estate=10)
    gw = make_gateway(world.runtime.engine)
    world.runtime.pii = PiiCodec(gw.keys)  # the sync seals raw payloads and ID numbers with the gateway's keys
    assert sync_system(world.runtime, "sd_civil").counts.rejected == 0

    case = _company_case(world)
    company = {"name": case["applicant"]["name"].replace(" ", "").replace("\u3000", ""), "idType": "001",
               "id": case["applicant"]["certNo"].strip()}
    issued = requests.post(licences.admin_url + "/_sandbox/issue", json={"type": "营业执照", "holder": company},
                           timeout=10).json()
    requests.post(licences.admin_url + "/_sandbox/bad-signature", timeout=10,
                  json={"type": "营业执照", "holder": company})  # a forged copy for the same company
    register_licence_issuer(world.runtime.engine, licences.url)
    first = harvest(gw, "sd_licences")
    assert first.quarantined == 1 and first.inserted == 10, first.as_dict()

    civil = gw.clients.add("sd_civil", department_code=CIVIL_DEPT)
    hall = gw.clients.add("sd_hall", scopes=["consents:issue", "holders:read"])
    hook = WebhookReceiver().start()
    server = ServerThread(create_app(gw, webhook_interval=0.2)).start()
    try:
        url = server.url
        purpose = {"item_code": case["taskCode"], "case_no": case["projectNo"]}
        ask = {"holder": {"id_number": company["id"]}, "certificate_types": [LICENCE], "purpose": purpose}

        refused = requests.post(url + "/v1/certificates/query", json=ask, headers=bearer(civil.credential), timeout=10)
        assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/consent")

        consent = requests.post(url + "/v1/consents", headers=bearer(hall.credential), timeout=10, json={
            "holder": {"id_number": company["id"]}, "client_id": civil.client.client_id,
            "certificate_types": [LICENCE], "purpose": purpose, "ttl_seconds": 600})
        assert consent.status_code == 201, consent.text
        token = consent.json()["token"]

        body = orjson.dumps({**ask, "consent_token": token})
        answer = requests.post(url + "/v1/certificates/query", data=body, timeout=10,
                               headers={**bearer(civil.credential), "Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
        jwk = requests.get(url + "/v1/keys", timeout=10).json()["keys"][0]
        # signed by the gateway: a batch signature whose Merkle proof leads from these exact bytes to its root
        verify_answer(JwsVerifier(jwk), answer.content, answer.headers["Tongban-Signature"],
                      answer.headers["Tongban-Signature-Proof"])
        with pytest.raises(JwsError):
            verify_answer(JwsVerifier(jwk), answer.content + b" ", answer.headers["Tongban-Signature"],
                          answer.headers["Tongban-Signature-Proof"])
        data = answer.json()
        expected_hash = hashlib.sha256(
            f"POST\n/v1/certificates/query\n{civil.client.client_id}\n{hashlib.sha256(body).hexdigest()}".encode()
        ).hexdigest()
        assert data["request_sha256"] == expected_hash  # bound to what was asked
        [licence] = data["certificates"]
        assert licence["identifier"] == issued["zzbs"] and licence["status"] == "valid"
        assert licence["type_code"] == LICENCE and licence["issuer_code"] == "11370100004301265T"
        assert licence["holders"][0]["id_number"] != company["id"]  # masked: no pii:full scope
        assert data["holder_id_number"].startswith(company["id"][:3]) and "*" in data["holder_id_number"]

        file = requests.get(f"{url}/v1/certificates/{licence['identifier']}/file", params=purpose, timeout=10,
                            headers={**bearer(civil.credential), "Tongban-Consent": token})
        assert file.status_code == 200
        assert hashlib.sha256(file.content).hexdigest() == licence["content_hash"]
        manifest = json.loads(JwsVerifier(jwk).verify(file.headers["Tongban-Release"]))
        assert manifest["content_sha256"] == licence["content_hash"]

        log = requests.post(url + "/v1/holders/access-log", json={"id_number": company["id"]}, timeout=10,
                            headers=bearer(hall.credential)).json()
        releases = [e for e in log["entries"] if e["outcome"] == "released"]
        assert [(e["client_name"], e["certificate"], e["item_code"], e["case_no"]) for e in releases] == \
            [("sd_civil", issued["zzbs"], purpose["item_code"], purpose["case_no"])] * 2
        assert [e["outcome"] for e in log["entries"]] == ["denied:consent", "released", "released"]

        # Revocation at the issuer: one harvest cycle later the answer says so and the subscriber is told.
        sub = requests.post(url + "/v1/subscriptions", json={"url": hook.url, "certificate_types": [LICENCE]},
                            headers=bearer(civil.credential), timeout=10)
        assert sub.status_code == 201, sub.text
        requests.post(licences.admin_url + "/_sandbox/revoke", json={"ids": [issued["zzbs"]], "status": "3"},
                      timeout=10)
        cycle = harvest(gw, "sd_licences")
        # the subscriber is told once: by this cycle's delivery, or by the API server's own delivery loop when it
        # claimed the row first (then this cycle notified none) — on a loaded machine either may win
        assert cycle.events == 1 and cycle.notified <= 1, cycle.as_dict()
        deadline = time.monotonic() + 60
        while not hook.received and time.monotonic() < deadline:
            time.sleep(0.1)
        again = requests.post(url + "/v1/certificates/query", json={**ask, "consent_token": token}, timeout=10,
                              headers=bearer(civil.credential)).json()
        assert again["certificates"][0]["status"] == "withdrawn"
        # deliveries are claimed before they are sent; should a claim lapse, the same event arrives again as the
        # same signed body
        [note] = {n["body"]: n for n in hook.received}.values()
        assert note["json"]["identifier"] == issued["zzbs"] and note["json"]["status"] == "withdrawn"
        JwsVerifier(jwk).verify(note["headers"]["Tongban-Signature"], note["body"])

        # A holder the case does not name is refused, whatever the consent says.
        other = next(iter(_person_numbers(world)))
        stranger = requests.post(url + "/v1/certificates/query", timeout=10, headers=bearer(civil.credential),
                                 json={**ask, "holder": {"id_number": other}, "consent_token": token})
        assert stranger.status_code == 403 and stranger.json()["type"].endswith("/purpose")
        assert other not in stranger.text
    finally:
        server.stop()
        hook.stop()

    report = verify_chain(world.runtime.engine, verifier=gw.verifier)
    assert report.ok and report.entries >= 7, report.as_dict()
    cli = subprocess.run([sys.executable, "-m", "gateway", "audit", "verify", "--json", "--database-url",
                          world.database_url], env=world.env, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    # No full ID number in any log line (the holders of this run: the company and every person in the sandbox).
    holders = _person_numbers(world) | {company["id"]}
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged, "the flow logged nothing: the check would prove nothing"
    leaked = sorted(n for n in holders if n in logged)
    assert not leaked, f"full ID numbers in the logs: {[n[:3] + '…' for n in leaked]}"
