"""The API's contracts on a live server: problem details, 429 with Retry-After, case status and timeline,
materials a certificate replaces, verification, subscriptions and signed webhooks with retries, health, metrics,
and the ``tongban clients`` commands."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    LICENCE,
    ServerThread,
    WebhookReceiver,
    bearer,
    fetch_with_consent,
    make_gateway,
    plant_case,
    register_licence_issuer,
)

from gateway.crypto import JwsVerifier
from gateway.sharing.api import create_app
from gateway.sharing.certificates import deliver_webhooks, harvest
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from sandbox.licences import start_licences

COMPANY = {"name": "济南大明科技有限公司", "idType": "001", "id": "91370100MA3C7B8X2M"}


@pytest.fixture
def live(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    registry = start_licences(seed=5, records=0)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_URL", registry.url)
    monkeypatch.setenv("TONGBAN_SD_LICENCES_API_KEY", "licences-demo-key")
    issued = requests.post(registry.admin_url + "/_sandbox/issue", json={"holder": COMPANY}, timeout=10).json()
    engine = make_engine(sqlite_url)
    upgrade(engine)
    gw = make_gateway(engine)
    register_licence_issuer(engine, registry.url)
    harvest(gw, "sd_licences")
    plant_case(engine, "CASE-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=COMPANY["id"], pii=gw.pii)
    civil = gw.clients.add("sd_civil", department_code=CIVIL_DEPT)
    slow = gw.clients.add("slow", department_code=CIVIL_DEPT, rate_limit=2)
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    yield {"gw": gw, "url": server.url, "civil": civil, "slow": slow, "issued": issued, "registry": registry}
    server.stop()
    registry.stop()
    engine.dispose()


def test_errors_are_problem_details(live: dict[str, Any]) -> None:
    url, civil = live["url"], live["civil"]
    missing = requests.get(url + "/v1/nowhere", timeout=10)
    invalid = requests.post(url + "/v1/certificates/query", json={"holder": {}}, headers=bearer(civil.credential),
                            timeout=10)
    unknown = requests.get(url + "/v1/cases/NOPE", headers=bearer(civil.credential), timeout=10)
    for response, status in ((missing, 404), (invalid, 422), (unknown, 404)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        body = response.json()
        assert body["status"] == status and body["type"].startswith("https://") and body["title"]


def test_a_client_over_its_rate_limit_gets_429_with_retry_after(live: dict[str, Any]) -> None:
    statuses = [requests.get(live["url"] + "/v1/subscriptions", headers=bearer(live["slow"].credential),
                             timeout=10) for _ in range(6)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1
    assert limited[0].json()["type"].endswith("/rate-limited")


def test_case_status_timeline_and_materials_saved(live: dict[str, Any]) -> None:
    url, civil = live["url"], live["civil"]
    case = requests.get(url + "/v1/cases/CASE-1", headers=bearer(civil.credential), timeout=10)
    assert case.status_code == 200
    body = case.json()
    assert body["case_no"] == "CASE-1" and body["applicant_id_number"] == "913***********8X2M"
    assert body["timeline"][0]["name"] == "applied"
    # sd_civil's rule requires the holder's consent: the hall issues it when the company agrees
    hall = live["gw"].clients.add("sd_hall", scopes=["consents:issue"])
    consent = requests.post(url + "/v1/consents", headers=bearer(hall.credential), timeout=10, json={
        "holder": {"id_number": COMPANY["id"]}, "client_id": civil.client.client_id, "certificate_types": [LICENCE],
        "purpose": {"item_code": ELDERLY_CARE, "case_no": "CASE-1"}}).json()["token"]
    materials = requests.get(url + "/v1/cases/CASE-1/materials", timeout=10,
                             headers={**bearer(civil.credential), "Tongban-Consent": consent}).json()
    assert materials["submissions_saved"] == 1
    replaced = [m for m in materials["materials"] if m["replaced"]]
    assert [m["name"] for m in replaced] == ["营业执照或登记证书"] and replaced[0]["certificate_type"] == LICENCE
    metrics = requests.get(url + "/metrics", timeout=10).text
    assert "tongban_submissions_saved_total 1.0" in metrics and "tongban_api_requests_total" in metrics


def test_verify_a_file_or_its_hash(live: dict[str, Any]) -> None:
    url, civil, issued = live["url"], live["civil"], live["issued"]
    genuine = requests.post(url + "/v1/certificates/verify", json={"file_base64": issued["wj"]["nr"]},
                            headers=bearer(civil.credential), timeout=10).json()
    assert genuine["genuine"] and genuine["identifier"] == issued["zzbs"] and genuine["status"] == "valid"
    altered = base64.b64encode(base64.b64decode(issued["wj"]["nr"]) + b" ").decode()
    fake = requests.post(url + "/v1/certificates/verify", json={"file_base64": altered},
                         headers=bearer(civil.credential), timeout=10).json()
    assert not fake["genuine"] and "identifier" not in fake or fake["identifier"] is None
    by_hash = requests.post(url + "/v1/certificates/verify", headers=bearer(civil.credential), timeout=10,
                            json={"sha256": hashlib.sha256(base64.b64decode(issued["wj"]["nr"])).hexdigest(),
                                  "identifier": issued["zzbs"]}).json()
    assert by_hash["genuine"]


def test_webhooks_are_signed_retried_and_dead_lettered(live: dict[str, Any]) -> None:
    url, civil, gw = live["url"], live["civil"], live["gw"]
    hook = WebhookReceiver(status=503).start()
    try:
        fetch_with_consent(url, gw, civil, holder_id=COMPANY["id"], types=[LICENCE], item_code=ELDERLY_CARE,
                           case_no="CASE-1")
        sub = requests.post(url + "/v1/subscriptions", json={"url": hook.url, "certificate_types": [LICENCE]},
                            headers=bearer(civil.credential), timeout=10)
        assert sub.status_code == 201
        refused = requests.post(url + "/v1/subscriptions", headers=bearer(civil.credential), timeout=10,
                                json={"url": hook.url, "certificate_types": ["11100000MB0143028R003"]})
        assert refused.status_code == 403
        requests.post(live["registry"].admin_url + "/_sandbox/revoke", json={"ids": [live["issued"]["zzbs"]]},
                      timeout=10)
        harvest(gw, "sd_licences", notify=False)
        from datetime import datetime, timedelta, timezone

        later = datetime.now(timezone.utc)
        first = deliver_webhooks(gw, now=later)
        assert first.retried == 1 and len(hook.received) == 1
        hook.status = 200
        assert deliver_webhooks(gw, now=later).delivered == 0  # backing off
        second = deliver_webhooks(gw, now=later + timedelta(hours=2))
        assert second.delivered == 1 and len(hook.received) == 2
        jwk = requests.get(url + "/v1/keys", timeout=10).json()["keys"][0]
        payload = JwsVerifier(jwk).verify(hook.received[-1]["headers"]["Tongban-Signature"], hook.received[-1]["body"])
        assert json.loads(payload)["status"] == "withdrawn"
        assert hook.received[0]["headers"]["Tongban-Event-Id"] == hook.received[1]["headers"]["Tongban-Event-Id"]
        listed = requests.get(url + "/v1/subscriptions", headers=bearer(civil.credential), timeout=10).json()
        [only] = listed["subscriptions"]
        assert requests.delete(f"{url}/v1/subscriptions/{only['subscription_id']}", headers=bearer(civil.credential),
                               timeout=10).status_code == 204
    finally:
        hook.stop()


def test_health_readiness_and_keys(live: dict[str, Any]) -> None:
    url = live["url"]
    assert requests.get(url + "/healthz", timeout=10).json() == {"status": "ok"}
    ready = requests.get(url + "/readyz", timeout=10).json()
    assert ready["status"] == "ready" and ready["checks"]["schema"] == "ok"
    assert requests.get(url + "/v1/keys", timeout=10).json()["keys"][0]["alg"] == "EdDSA"
    assert requests.get(url + "/openapi.json", timeout=10).json()["paths"]["/v1/certificates/query"]


def test_clients_commands(sqlite_url: str) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args, "--database-url", sqlite_url],
                              capture_output=True, text=True, timeout=120, env=os.environ)

    added = run("clients", "add", "sd_civil", "--department", CIVIL_DEPT, "--json")
    assert added.returncode == 0, added.stderr
    created = json.loads(added.stdout)
    assert created["credential"].startswith("tbk_") and created["active"]
    listed = json.loads(run("clients", "list", "--json").stdout)
    assert [c["name"] for c in listed] == ["sd_civil"] and "credential" not in listed[0]
    assert created["credential"].split("_", 2)[2] not in run("clients", "list").stdout
    assert run("clients", "revoke", "sd_civil").returncode == 0
    assert json.loads(run("clients", "list", "--json").stdout)[0]["active"] is False
    assert run("clients", "revoke", "nobody").returncode == 1


def test_api_docs_are_served_offline(live: dict[str, Any]) -> None:
    """/docs and /redoc load their scripts from this server: no CDN is reachable on a government intranet."""
    url = live["url"]
    for page, script in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        html = requests.get(url + page, timeout=10).text
        assert f"/docs-assets/{script}" in html and "cdn" not in html.lower() and "googleapis" not in html
        asset = requests.get(f"{url}/docs-assets/{script}", timeout=10)
        assert asset.status_code == 200 and len(asset.content) > 100_000
