"""Refusals, as the caller sees them and as the holders see them.

A fetch by identifier refused for any reason (another department's case, a case naming none of its holders, a
type the policy does not give the caller, no consent of the holder) is answered
exactly as an unknown identifier — the same 404 and detail, no type code — so identifiers (sequential serials)
cannot be probed; the refusal is still in the holders' access log. A refused query, and a refused materials
check, is in the log of every holder of the certificates it would have released (a jointly held one's co-holder
too). A read of a holder's data refused before its route ran — another department's case, a client without the
scope, a client over its rate limit — is in that holder's log as well: one entry per holder per request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    ESTATE_DEPT,
    FOOD,
    LICENCE,
    LICENSED,
    UNLICENSED,
    LicenceWorld,
    ServerThread,
    bearer,
    plant_case,
)
from sqlalchemy import func, select

from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest
from gateway.sharing.certificates.library import today_beijing
from gateway.store.tables import audit_log
from sandbox.identifiers import make_uscc
from sandbox.licences import ISSUER, identifier

CO_OWNER = {"name": "济南联合持证有限公司", "idType": "001", "id": make_uscc("9", "1", "370100", "MA3J0NT8")}
JOINT = identifier(LICENCE, ISSUER["code"], "70000001", 1)
FOOD_ID = identifier(FOOD, ISSUER["code"], "70000002", 1)
NEVER_ISSUED = identifier(LICENCE, ISSUER["code"], "79999999", 1)


def _record(app: Any, ident: str, type_code: str, holders: list[dict[str, str]]) -> dict[str, Any]:
    return {"id": app._next_id(), "zzbs": ident, "zzmc": "证照", "zzlxdm": type_code, "zzbh": ident[-12:],
            "bfjg": {"mc": ISSUER["name"], "dm": ISSUER["code"]}, "bfrq": today_beijing().isoformat(),
            "czzt": [{"mc": h["name"], "zjlx": "001", "zjhm": h["id"]} for h in holders],
            "yxqq": today_beijing().isoformat(), "yxqz": None, "sdbm": ISSUER["division"], "zzzt": "1", "xzzbs": None}


@pytest.fixture
def served(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    app = licensed.registry.app
    app._put(app._sign(_record(app, JOINT, LICENCE, [LICENSED, CO_OWNER])))
    app._put(app._sign(_record(app, FOOD_ID, FOOD, [LICENSED])))
    assert harvest(licensed.gw, "sd_licences").inserted == 2
    pii = licensed.gw.pii
    plant_case(licensed.engine, "J-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"],
               pii=pii)
    plant_case(licensed.engine, "J-2", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=UNLICENSED,
               pii=pii)
    gw = licensed.gw
    clients = {"hall": gw.clients.add("hall_reader", scopes=["holders:read"]),
               "estate": gw.clients.add("jn_estate", department_code=ESTATE_DEPT),
               "slow": gw.clients.add("slow_civil", department_code=CIVIL_DEPT, rate_limit=0.01)}
    server = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    yield {"world": licensed, "url": server.url, "clients": clients}
    server.stop()


def _consent(world: LicenceWorld, case_no: str = "J-1") -> str:
    gw = world.gw
    return gw.consents.issue(ConsentClaims("c-" + case_no, gw.pii.bidx(LICENSED["id"]), world.civil.client.client_id,
                                           (LICENCE,), ELDERLY_CARE, case_no, int(time.time()) + 600))


def _log(served: dict[str, Any], holder: str) -> list[tuple[str, str, str | None, str | None, str | None]]:
    answer = requests.post(served["url"] + "/v1/holders/access-log", json={"id_number": holder},
                           headers=bearer(served["clients"]["hall"].credential), timeout=10)
    assert answer.status_code == 200, answer.text
    return [(e["action"], e["outcome"], e["client_name"], e["certificate"], e["case_no"])
            for e in answer.json()["entries"] if e["action"] != "access-log"]


def _fetch(served: dict[str, Any], ident: str, case_no: str, credential: str, suffix: str = "") -> requests.Response:
    return requests.get(f"{served['url']}/v1/certificates/{ident}{suffix}", timeout=10,
                        params={"item_code": ELDERLY_CARE, "case_no": case_no}, headers=bearer(credential))


def _as_seen(answer: requests.Response) -> tuple[int, str, str, str]:
    body = answer.json()
    return answer.status_code, body["type"], body["title"], body["detail"]


def test_every_refused_fetch_is_answered_as_an_unknown_identifier(served: dict[str, Any]) -> None:
    civil = served["world"].civil.credential
    for suffix in ("", "/file"):
        unknown = _as_seen(_fetch(served, NEVER_ISSUED, "J-1", civil, suffix))
        assert unknown[0] == 404 and unknown[3] == "no such certificate", unknown
        refusals = {
            "another department's case": _fetch(served, JOINT, "J-1", served["clients"]["estate"].credential, suffix),
            "a case naming none of its holders": _fetch(served, JOINT, "J-2", civil, suffix),
            "a type the policy does not give the caller": _fetch(served, FOOD_ID, "J-1", civil, suffix),
            "no such case": _fetch(served, JOINT, "J-NONE", civil, suffix),
            "no consent": _fetch(served, JOINT, "J-1", civil, suffix),
        }
        for why, answer in refusals.items():
            assert _as_seen(answer) == unknown, (why, suffix, answer.text)
    # still audited for the holders, as before
    co_owner = [e[:2] for e in _log(served, CO_OWNER["id"])]
    # another department's case, J-2 and J-NONE: a purpose refusal reaches every holder, the applicant's co-owner
    # too when the case names the applicant (it reached the applicant alone: outside review)
    assert sorted(co_owner) == [("release", "denied:consent")] * 2 + [("release", "denied:purpose")] * 6
    licensed = _log(served, LICENSED["id"])
    assert ("release", "denied:policy", "sd_civil", FOOD_ID, "J-1") in licensed
    assert sum(1 for e in licensed if e[3] == FOOD_ID) == 2
    assert [e for e in _log(served, CO_OWNER["id"]) if e[1] == "denied:consent"] == [
        ("release", "denied:consent", "sd_civil", JOINT, "J-1")] * 2  # without consent: both holders told


def test_a_refused_query_is_in_the_access_log_of_every_holder_it_would_have_released(
        served: dict[str, Any]) -> None:
    world = served["world"]
    ask = {"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE],
           "purpose": {"item_code": ELDERLY_CARE, "case_no": "J-1"}}
    refused = requests.post(served["url"] + "/v1/certificates/query", json=ask, timeout=10,
                            headers=bearer(world.civil.credential))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/consent"), refused.text
    assert _log(served, CO_OWNER["id"]) == [("query", "denied:consent", "sd_civil", None, "J-1")]
    assert _log(served, LICENSED["id"]) == [("query", "denied:consent", "sd_civil", None, "J-1")]

    # the materials check with a token for another case: a consent denial, for the co-holder too
    materials = requests.get(served["url"] + "/v1/cases/J-1/materials", timeout=10,
                             headers={**bearer(world.civil.credential), "Tongban-Consent": _consent(world, "J-9")})
    assert materials.status_code == 200 and materials.json()["consent_problem"], materials.text
    for holder in (LICENSED["id"], CO_OWNER["id"]):
        assert [e for e in _log(served, holder) if e[0] == "materials"] == [  # what it spared, and the denial
            ("materials", "saved:0", "sd_civil", None, "J-1"),
            ("materials", "denied:consent", "sd_civil", None, "J-1")]


def _audit_count(served: dict[str, Any]) -> int:
    with served["world"].engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def test_reads_refused_before_the_route_ran_are_in_the_holders_access_log(served: dict[str, Any]) -> None:
    url, clients = served["url"], served["clients"]
    estate = bearer(clients["estate"].credential)
    before = _audit_count(served)
    case = requests.get(url + "/v1/cases/J-1", headers=estate, timeout=10)
    materials = requests.get(url + "/v1/cases/J-1/materials", headers=estate, timeout=10)
    missing = requests.get(url + "/v1/cases/J-NONE", headers=estate, timeout=10)
    assert case.status_code == materials.status_code == missing.status_code == 404
    assert case.json()["detail"] == missing.json()["detail"]
    assert _audit_count(served) == before + 2  # one per holder per request (and none for a case that is not there)

    ask = {"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE],
           "purpose": {"item_code": ELDERLY_CARE, "case_no": "J-1"}}
    unscoped = requests.post(url + "/v1/certificates/query", json=ask, timeout=10,
                             headers=bearer(clients["hall"].credential))
    assert unscoped.status_code == 403 and unscoped.json()["type"].endswith("/scope"), unscoped.text
    # a body with one field too many names its holder all the same: the attempt is theirs to see (walkthrough:
    # only a body that matched the schema was audited)
    odd = requests.post(url + "/v1/certificates/query", json={**ask, "client_id": "x"}, timeout=10,
                        headers=bearer(clients["hall"].credential))
    assert odd.status_code == 403, odd.text

    slow = bearer(clients["slow"].credential)
    answers = [requests.post(url + "/v1/certificates/query", json=ask, headers=slow, timeout=10).status_code
               for _ in range(2)]
    assert answers == [403, 429]  # the first refused by the policy (no rule names it), the second over the limit
    limited = requests.get(url + "/v1/cases/J-1", headers=slow, timeout=10)
    assert limited.status_code == 429

    log = _log(served, LICENSED["id"])
    assert log == [("case", "denied:visibility", "jn_estate", None, "J-1"),
                   ("materials", "denied:visibility", "jn_estate", None, "J-1"),
                   ("query", "denied:scope", "hall_reader", None, "J-1"),
                   ("query", "denied:scope", "hall_reader", None, "J-1"),
                   ("query", "denied:policy", "slow_civil", None, "J-1")]
    # a 429 is not audited: it sheds load, and an entry per 429 let a client over its limit grow every holder's
    # log without bound (review of the change); it is counted in the metrics
