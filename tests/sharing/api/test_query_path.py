"""The certificate query's one-statement read (case + the holder's certificates) on each backend: what it
releases, and the purpose checks it feeds — an unknown or deleted case, a case naming someone else, a holder
with nothing of the type."""

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
    LICENCE,
    LICENSED,
    UNLICENSED,
    LicenceWorld,
    ServerThread,
    bearer,
    plant_case,
)

from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app

HOLDER, NO_LICENCE = LICENSED, UNLICENSED


@pytest.fixture
def server(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    engine, gw, civil = licensed.engine, licensed.gw, licensed.civil
    plant_case(engine, "Q-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=HOLDER["id"], pii=gw.pii)
    plant_case(engine, "Q-NONE", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=NO_LICENCE, pii=gw.pii)
    plant_case(engine, "Q-GONE", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=HOLDER["id"],
               pii=gw.pii, deleted=True)
    plant_case(engine, "Q-ESTATE", dept_code=ESTATE_DEPT, item_code="OTHER-ITEM", applicant_id=HOLDER["id"], pii=gw.pii)
    running = ServerThread(create_app(gw, webhook_interval=0)).start()
    yield {"gw": gw, "url": running.url, "civil": civil}
    running.stop()


def _ask(server: dict[str, Any], holder: str, case_no: str) -> requests.Response:
    gw, civil = server["gw"], server["civil"]
    token = gw.consents.issue(ConsentClaims("q", gw.pii.bidx(holder), civil.client.client_id, (LICENCE,),
                                            ELDERLY_CARE, case_no, int(time.time()) + 600))
    return requests.post(server["url"] + "/v1/certificates/query", headers=bearer(civil.credential), timeout=10,
                         json={"holder": {"id_number": holder}, "certificate_types": [LICENCE],
                               "purpose": {"item_code": ELDERLY_CARE, "case_no": case_no},
                               "consent_token": token})


def test_the_named_holder_gets_the_certificate(server: dict[str, Any]) -> None:
    # written with a space and in lower case: the comparison is on the normalised number, as the index is
    answer = _ask(server, HOLDER["id"][:6] + " " + HOLDER["id"][6:].lower(), "Q-1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [c["type_code"] for c in body["certificates"]] == [LICENCE]
    assert body["certificates"][0]["holders"][0]["id_number"] == "913***********8X2M"
    assert len(body["audit_seq"]) == 1


def test_a_holder_without_the_certificate_gets_an_empty_answer(server: dict[str, Any]) -> None:
    answer = _ask(server, NO_LICENCE, "Q-NONE")
    assert answer.status_code == 200, answer.text
    assert answer.json()["certificates"] == []


@pytest.mark.parametrize(("holder", "case_no", "reason"), [
    (HOLDER["id"], "Q-MISSING", "is not a live case of the client's department"),
    (HOLDER["id"], "Q-GONE", "is not a live case of the client's department"),
    (HOLDER["id"], "Q-ESTATE", "is not a live case of the client's department"),  # exists: not told
    (HOLDER["id"], "Q-NONE", "does not name this holder"),
    (NO_LICENCE, "Q-1", "does not name this holder"),
])
def test_a_purpose_that_does_not_hold_is_refused(server: dict[str, Any], holder: str, case_no: str,
                                                 reason: str) -> None:
    answer = _ask(server, holder, case_no)
    assert answer.status_code == 403
    assert answer.json()["type"].endswith("/purpose") and reason in answer.json()["detail"]


def test_a_fetch_through_someone_elses_case_is_logged_for_the_certificates_holder_only(
        server: dict[str, Any]) -> None:
    """Q-NONE's applicant holds no licence: fetching HOLDER's licence for it is refused, and the attempt is on
    HOLDER's data — it shows in HOLDER's access log, and NO_LICENCE's log never learns the identifier."""
    url, gw = server["url"], server["gw"]
    hall = bearer(gw.clients.add("hall_reader", scopes=["holders:read"]).credential)
    mine = _ask(server, HOLDER["id"], "Q-1").json()["certificates"][0]["identifier"]
    refused = requests.get(f"{url}/v1/certificates/{mine}", params={"item_code": ELDERLY_CARE, "case_no": "Q-NONE"},
                           headers=bearer(server["civil"].credential), timeout=10)
    # answered as an unknown identifier (a 403 would tell the identifier exists), audited as a purpose denial
    assert refused.status_code == 404 and refused.json()["detail"] == "no such certificate"

    def log_of(holder: str) -> list[dict[str, Any]]:
        answer = requests.post(url + "/v1/holders/access-log", json={"id_number": holder}, headers=hall, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["entries"]

    assert [(e["outcome"], e["case_no"]) for e in log_of(HOLDER["id"]) if e["certificate"] == mine
            and e["outcome"].startswith("denied")] == [("denied:purpose", "Q-NONE")]
    assert not [e for e in log_of(NO_LICENCE) if e["certificate"] == mine]


def test_the_access_log_is_read_a_page_at_a_time(server: dict[str, Any]) -> None:
    url, gw = server["url"], server["gw"]
    hall = bearer(gw.clients.add("hall_pager", scopes=["holders:read"]).credential)
    for _ in range(5):
        assert _ask(server, HOLDER["id"], "Q-1").status_code == 200
    seen, after, pages = [], 0, 0
    while True:
        page = requests.post(url + "/v1/holders/access-log", headers=hall, timeout=10,
                             json={"id_number": HOLDER["id"], "after": after, "limit": 2})
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [e["seq"] for e in body["entries"]]
        pages += 1
        if body["next_after"] is None:
            break
        assert len(body["entries"]) == 2 and body["next_after"] == body["entries"][-1]["seq"]
        after = body["next_after"]
    whole = requests.post(url + "/v1/holders/access-log", headers=hall, timeout=10,
                          json={"id_number": HOLDER["id"]}).json()
    assert seen == [e["seq"] for e in whole["entries"]] and len(seen) >= 5 and pages >= 3
    assert seen == sorted(seen) and whole["next_after"] is None
    too_many = requests.post(url + "/v1/holders/access-log", headers=hall, timeout=10,
                             json={"id_number": HOLDER["id"], "limit": 100_000})
    assert too_many.status_code == 422


def test_reading_a_case_shows_in_its_applicants_access_log(server: dict[str, Any]) -> None:
    url, gw = server["url"], server["gw"]
    hall = bearer(gw.clients.add("hall_case_log", scopes=["holders:read"]).credential)
    civil = bearer(server["civil"].credential)
    assert requests.get(url + "/v1/cases/Q-1", headers=civil, timeout=10).status_code == 200
    assert requests.get(url + "/v1/cases/Q-1/materials", headers=civil, timeout=10).status_code == 200
    log = requests.post(url + "/v1/holders/access-log", headers=hall, timeout=10,
                        json={"id_number": HOLDER["id"]}).json()["entries"]
    assert [(e["action"], e["case_no"], e["client_name"]) for e in log if e["action"] in ("case", "materials")] == \
        [("case", "Q-1", "sd_civil"), ("materials", "Q-1", "sd_civil")]
    other = requests.post(url + "/v1/holders/access-log", headers=hall, timeout=10,
                          json={"id_number": NO_LICENCE}).json()["entries"]
    assert not [e for e in other if e["case_no"] == "Q-1"]
