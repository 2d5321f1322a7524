"""Every client × certificate type × purpose gets exactly what the policy says — over HTTP, on a live server.

Deny by default: a client sees a certificate type only for the items a policy rule names, only for a case in
the ledger that its own department handles, that is a case of the stated item and that names the holder.
Revoked and expired clients get nothing; a missing, expired, forged or mismatched consent token is refused.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests

from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest
from gateway.sharing.access.tokens import ConsentClaims
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway_testlib import (
    CEMETERY,
    CIVIL_DEPT,
    ELDERLY_CARE,
    ESTATE_DEPT,
    FOOD,
    LICENCE,
    SOLE_TRADER,
    ServerThread,
    bearer,
    make_gateway,
    plant_case,
    register_licence_issuer,
)
from sandbox.licences import start_licences

ESTATE_ITEM = "113701000042183922300011400100"
COMPANY = {"name": "济南泉城商贸有限公司", "idType": "001", "id": "91370100MA3C7B8X2M"}
PERSON = {"name": "王秀英", "idType": "111", "id": "370102198506011232"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    registry = start_licences(seed=11, records=0)
    import os

    os.environ["TONGBAN_SD_LICENCES_URL"] = registry.url
    os.environ["TONGBAN_SD_LICENCES_API_KEY"] = "licences-demo-key"
    for kind, holder in (("营业执照", COMPANY), ("食品经营许可证", COMPANY), ("个体工商户营业执照", PERSON)):
        requests.post(registry.admin_url + "/_sandbox/issue", json={"type": kind, "holder": holder}, timeout=10)
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'ledger.db'}")
    upgrade(engine)
    gw = make_gateway(engine, rate_limit=100_000)
    register_licence_issuer(engine, registry.url)
    assert harvest(gw, "sd_licences").inserted == 3
    cases = {  # case_no -> (dept, item, holder id)
        "C-ELDER-CO": (CIVIL_DEPT, ELDERLY_CARE, COMPANY["id"]),
        "C-ELDER-PERSON": (CIVIL_DEPT, ELDERLY_CARE, PERSON["id"]),
        "C-CEMETERY-CO": (CIVIL_DEPT, CEMETERY, COMPANY["id"]),
        "E-ESTATE-CO": (ESTATE_DEPT, ESTATE_ITEM, COMPANY["id"]),
    }
    for case_no, (dept, item, holder) in cases.items():
        plant_case(engine, case_no, dept_code=dept, item_code=item, applicant_id=holder, pii=gw.pii)
    plant_case(engine, "C-DELETED", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=COMPANY["id"],
               deleted=True, pii=gw.pii)
    clients = {
        "sd_civil": gw.clients.add("sd_civil", department_code=CIVIL_DEPT),
        "jn_estate": gw.clients.add("jn_estate", department_code=ESTATE_DEPT),
        "stranger": gw.clients.add("stranger", department_code=CIVIL_DEPT),
    }
    revoked = gw.clients.add("revoked", department_code=CIVIL_DEPT)
    gw.clients.revoke("revoked")
    expired = gw.clients.add("expired", department_code=CIVIL_DEPT, days=1e-9)
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    time.sleep(0.01)
    yield {"gw": gw, "url": server.url, "cases": cases, "clients": clients, "revoked": revoked, "expired": expired}
    server.stop()
    registry.stop()
    engine.dispose()


def _consent(gw: Any, client: Any, holder: str, types: list[str], item: str, case_no: str,
             seconds: int = 600) -> str:
    expires = int((datetime.now(timezone.utc) + timedelta(seconds=seconds)).timestamp())
    return gw.consents.issue(ConsentClaims("t", gw.pii.bidx(holder), client.client.client_id, tuple(types), item,
                                           case_no, expires))


def _expected(world: dict[str, Any], client: str, type_code: str, holder: str, item: str, case_no: str) -> str:
    dept = {"sd_civil": CIVIL_DEPT, "jn_estate": ESTATE_DEPT, "stranger": CIVIL_DEPT}[client]
    case = world["cases"].get(case_no)
    if case is None or case[1] != item or case[0] != dept or case[2] != holder:
        return "purpose"
    decision = world["gw"].policy.decide((client,), type_code, item)
    return "allowed" if decision.allowed else "policy"


PURPOSES = [(ELDERLY_CARE, "C-ELDER-CO"), (ELDERLY_CARE, "C-ELDER-PERSON"), (CEMETERY, "C-CEMETERY-CO"),
            (ESTATE_ITEM, "E-ESTATE-CO"), (ELDERLY_CARE, "C-CEMETERY-CO"), (ELDERLY_CARE, "C-DELETED"),
            (ELDERLY_CARE, "C-NOT-IN-LEDGER")]


def test_every_client_type_and_purpose_gets_exactly_what_the_policy_says(world: dict[str, Any]) -> None:
    gw, url = world["gw"], world["url"]
    seen = set()
    for client, type_code, (item, case_no), holder in itertools.product(
            world["clients"], (LICENCE, SOLE_TRADER, FOOD), PURPOSES, (COMPANY["id"], PERSON["id"])):
        issued = world["clients"][client]
        token = _consent(gw, issued, holder, [type_code], item, case_no)
        response = requests.post(url + "/v1/certificates/query", headers=bearer(issued.credential), timeout=10, json={
            "holder": {"id_number": holder}, "certificate_types": [type_code],
            "purpose": {"item_code": item, "case_no": case_no}, "consent_token": token})
        expected = _expected(world, client, type_code, holder, item, case_no)
        where = f"{client} × {type_code} × {item}/{case_no} × {holder[:3]}"
        seen.add(expected)
        if expected == "allowed":
            assert response.status_code == 200, f"{where}: {response.text}"
            found = response.json()["certificates"]
            assert all(c["type_code"] == type_code for c in found), where
            has = {(COMPANY["id"], LICENCE), (COMPANY["id"], FOOD), (PERSON["id"], SOLE_TRADER)}
            assert len(found) == (1 if (holder, type_code) in has else 0), where
        else:
            assert response.status_code == 403, f"{where}: {response.status_code} {response.text}"
            assert response.json()["type"].endswith("/" + expected), f"{where}: {response.text}"
    assert seen == {"allowed", "policy", "purpose"}


@pytest.mark.parametrize("who", ["revoked", "expired", "garbage", "missing"])
def test_revoked_expired_or_unknown_clients_get_nothing(world: dict[str, Any], who: str) -> None:
    headers = {"revoked": bearer(world["revoked"].credential), "expired": bearer(world["expired"].credential),
               "garbage": bearer("tbk_nobody_secret"), "missing": {}}[who]
    for method, path, body in (("POST", "/v1/certificates/query", {
            "holder": {"id_number": COMPANY["id"]}, "certificate_types": [LICENCE],
            "purpose": {"item_code": ELDERLY_CARE, "case_no": "C-ELDER-CO"}}),
            ("GET", "/v1/cases/C-ELDER-CO", None), ("GET", "/v1/subscriptions", None)):
        response = requests.request(method, world["url"] + path, json=body, headers=headers, timeout=10)
        assert response.status_code == 401, (who, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert "WWW-Authenticate" in response.headers


def test_a_missing_expired_forged_or_mismatched_consent_is_refused(world: dict[str, Any]) -> None:
    gw, url, civil = world["gw"], world["url"], world["clients"]["sd_civil"]
    ask = {"holder": {"id_number": COMPANY["id"]}, "certificate_types": [LICENCE],
           "purpose": {"item_code": ELDERLY_CARE, "case_no": "C-ELDER-CO"}}
    good = _consent(gw, civil, COMPANY["id"], [LICENCE], ELDERLY_CARE, "C-ELDER-CO")
    tokens = {
        "missing": None,
        "expired": _consent(gw, civil, COMPANY["id"], [LICENCE], ELDERLY_CARE, "C-ELDER-CO", seconds=-5),
        "forged": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "other case": _consent(gw, civil, COMPANY["id"], [LICENCE], ELDERLY_CARE, "C-CEMETERY-CO"),
        "other type": _consent(gw, civil, COMPANY["id"], [FOOD], ELDERLY_CARE, "C-ELDER-CO"),
        "other holder": _consent(gw, civil, PERSON["id"], [LICENCE], ELDERLY_CARE, "C-ELDER-CO"),
        "other client": _consent(gw, world["clients"]["stranger"], COMPANY["id"], [LICENCE], ELDERLY_CARE,
                                 "C-ELDER-CO"),
    }
    for name, token in tokens.items():
        response = requests.post(url + "/v1/certificates/query", headers=bearer(civil.credential), timeout=10,
                                 json={**ask, "consent_token": token})
        assert response.status_code == 403, (name, response.text)
        assert response.json()["type"].endswith("/consent"), (name, response.text)
    ok = requests.post(url + "/v1/certificates/query", headers=bearer(civil.credential), timeout=10,
                       json={**ask, "consent_token": good})
    assert ok.status_code == 200 and len(ok.json()["certificates"]) == 1
    # jn_estate's rule needs no consent: its own case, no token, released.
    estate = world["clients"]["jn_estate"]
    free = requests.post(url + "/v1/certificates/query", headers=bearer(estate.credential), timeout=10, json={
        **ask, "purpose": {"item_code": ESTATE_ITEM, "case_no": "E-ESTATE-CO"}})
    assert free.status_code == 200, free.text
