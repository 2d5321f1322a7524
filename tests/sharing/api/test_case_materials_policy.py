"""``GET /v1/cases/{case_no}/materials`` says a material is spared only by what the caller could have been released:
a certificate type the sharing policy lets this client read for the case's item, with the holder's consent where
the rule requires it. For any other type the holder's certificates are not looked up, so the answer is the same
whether the applicant holds one or not — a client the policy names nowhere learns nothing it could not query.
The hall (``holders:read``) sees every department's cases, and still only what the policy grants it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from gateway_testlib import (
    CEMETERY,
    CIVIL_DEPT,
    ELDERLY_CARE,
    ESTATE_DEPT,
    LICENCE,
    LICENSED,
    SOLE_TRADER,
    UNLICENSED,
    LicenceWorld,
    ServerThread,
    bearer,
    make_gateway,
    plant_case,
)
from sqlalchemy import select

from gateway.sharing.access.policy import PolicyRule
from gateway.sharing.api import create_app
from gateway.store.tables import audit_log

LICENCE_MATERIAL = "营业执照或登记证书"  # ELDERLY_CARE's material a LICENCE or a SOLE_TRADER licence replaces
OPEN_RULE = PolicyRule(client="civil_open", certificate_types=[LICENCE], items=[ELDERLY_CARE], consent=False)
"""One rule more than config/gateway.yaml: a civil system that may read the licence without the holder's consent."""


@pytest.fixture
def served(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    engine, pii = licensed.engine, licensed.gw.pii
    plant_case(engine, "M-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"], pii=pii)
    plant_case(engine, "M-NONE", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=UNLICENSED, pii=pii)
    plant_case(engine, "M-ESTATE", dept_code=ESTATE_DEPT, item_code=CEMETERY, applicant_id=LICENSED["id"], pii=pii)
    settings = licensed.gw.settings
    gw = make_gateway(engine, keys=licensed.gw.keys,
                      settings=settings.model_copy(update={"policy": [*settings.policy, OPEN_RULE]}))
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    clients = {"civil": licensed.civil,
               "unnamed": gw.clients.add("civil_other_system", department_code=CIVIL_DEPT),
               "open": gw.clients.add("civil_open", department_code=CIVIL_DEPT),
               "estate": gw.clients.add("jn_estate_cases", department_code=ESTATE_DEPT),
               "hall": gw.clients.add("sd_hall", scopes=["consents:issue", "holders:read", "cases:read"])}
    yield {"url": server.url, "gw": gw, "clients": clients, "engine": engine}
    server.stop()


def _materials(served: dict[str, Any], who: str, case_no: str, consent: str | None = None) -> dict[str, Any]:
    headers = bearer(served["clients"][who].credential)
    if consent is not None:
        headers["Tongban-Consent"] = consent
    answer = requests.get(f"{served['url']}/v1/cases/{case_no}/materials", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _licence_material(answer: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in answer["materials"] if m["name"] == LICENCE_MATERIAL)


def _consent(served: dict[str, Any], holder: str, case_no: str, types: list[str]) -> dict[str, Any]:
    """The hall reports that the holder agreed: ``POST /v1/consents`` for sd_civil, this case, these types."""
    answer = requests.post(served["url"] + "/v1/consents", headers=bearer(served["clients"]["hall"].credential),
                           timeout=10, json={"holder": {"id_number": holder},
                                             "client_id": served["clients"]["civil"].client.client_id,
                                             "certificate_types": types,
                                             "purpose": {"item_code": ELDERLY_CARE, "case_no": case_no}})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _last_materials_detail(served: dict[str, Any]) -> str:
    with served["engine"].connect() as conn:
        return str(conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "materials")
                                .order_by(audit_log.c.seq.desc()).limit(1)).scalar_one())


def _denials(served: dict[str, Any]) -> list[Any]:
    with served["engine"].connect() as conn:
        return list(conn.execute(select(audit_log.c.holder_ref, audit_log.c.detail)
                                 .where(audit_log.c.action == "materials", audit_log.c.outcome == "denied:consent")
                                 .order_by(audit_log.c.seq)))


def test_a_client_no_policy_rule_names_learns_nothing_of_the_holders_certificates(served: dict[str, Any]) -> None:
    holder_has_one = _materials(served, "unnamed", "M-1")
    holder_has_none = _materials(served, "unnamed", "M-NONE")
    assert holder_has_one["submissions_saved"] == 0
    assert _licence_material(holder_has_one) == {"name": LICENCE_MATERIAL, "required": True, "replaced": False,
                                                 "certificate_type": None, "quality": [], "needs_consent": []}
    assert holder_has_one["materials"] == holder_has_none["materials"]
    assert _last_materials_detail(served) == "looked up none"
    # what its certificate query is told, for the same case and type
    query = requests.post(served["url"] + "/v1/certificates/query", timeout=10,
                          headers=bearer(served["clients"]["unnamed"].credential),
                          json={"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE],
                                "purpose": {"item_code": ELDERLY_CARE, "case_no": "M-1"}})
    assert query.status_code == 403 and query.json()["type"].endswith("/policy")


def test_without_the_consent_its_rule_requires_nothing_is_looked_up(served: dict[str, Any]) -> None:
    no_token = _materials(served, "civil", "M-1")
    assert no_token["submissions_saved"] == 0
    assert _licence_material(no_token)["replaced"] is False
    assert _licence_material(no_token)["needs_consent"] == [LICENCE, SOLE_TRADER]
    assert no_token["materials"] == _materials(served, "civil", "M-NONE")["materials"]
    assert _last_materials_detail(served) == f"looked up none; awaiting consent {LICENCE},{SOLE_TRADER}"

    given = _consent(served, LICENSED["id"], "M-1", [LICENCE])
    spared = _materials(served, "civil", "M-1", given["token"])
    assert spared["submissions_saved"] == 1
    assert {k: _licence_material(spared)[k] for k in ("replaced", "certificate_type", "needs_consent")} == \
        {"replaced": True, "certificate_type": LICENCE, "needs_consent": []}
    assert _last_materials_detail(served) == f"looked up {LICENCE}; awaiting consent {SOLE_TRADER}"

    # the consented type looked up and not held: still not spared, the other type still awaits consent
    other = _consent(served, UNLICENSED, "M-NONE", [LICENCE])
    assert _licence_material(_materials(served, "civil", "M-NONE", other["token"]))["needs_consent"] == [SOLE_TRADER]

    assert no_token["consent_problem"] is None and spared["consent_problem"] is None  # none given; one that covers

    # a token that does not cover this holder and case, a forged one, a withdrawn one: nothing looked up, as if
    # none was given — and, unlike none, a consent denial the caller is told of and the holder's log shows
    forged = given["token"][:-4] + ("AAAA" if not given["token"].endswith("AAAA") else "BBBB")
    withdrawn = requests.post(f"{served['url']}/v1/consents/{given['consent_id']}/withdraw", timeout=10,
                              headers=bearer(served["clients"]["hall"].credential),
                              json={"holder": {"id_number": LICENSED["id"]}})
    assert withdrawn.status_code == 200, withdrawn.text
    for token in (other["token"], forged, given["token"]):
        answer = _materials(served, "civil", "M-1", token)
        assert answer["materials"] == no_token["materials"]
        assert answer["consent_problem"], token
    denials = _denials(served)
    assert len(denials) == 3 and all(d.holder_ref == served["gw"].pii.bidx(LICENSED["id"]) for d in denials)
    assert "does not cover" in denials[0].detail and "withdrawn" in denials[2].detail


def test_a_rule_without_consent_spares_the_material_at_once(served: dict[str, Any]) -> None:
    spared = _materials(served, "open", "M-1")
    assert spared["submissions_saved"] == 1 and _licence_material(spared)["certificate_type"] == LICENCE
    # the sole trader's licence is not civil_open's to read: not looked up, no consent would change that
    assert _licence_material(_materials(served, "open", "M-NONE")) == {
        "name": LICENCE_MATERIAL, "required": True, "replaced": False, "certificate_type": None, "quality": [],
        "needs_consent": []}


def test_the_hall_sees_every_departments_case_but_only_the_certificates_the_policy_grants_it(
        served: dict[str, Any]) -> None:
    url, clients = served["url"], served["clients"]
    for who, status in (("hall", 200), ("estate", 200), ("civil", 404)):
        answer = requests.get(url + "/v1/cases/M-ESTATE", headers=bearer(clients[who].credential), timeout=10)
        assert answer.status_code == status, (who, answer.text)
    # no rule names the hall: the applicant's licence spares nothing in what the hall is told
    for case_no in ("M-ESTATE", "M-1"):
        answer = _materials(served, "hall", case_no)
        assert answer["submissions_saved"] == 0
        assert not any(m["replaced"] or m["needs_consent"] for m in answer["materials"])
