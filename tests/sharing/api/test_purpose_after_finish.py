"""A finished case stays a purpose for ``purpose_after_finish`` (30 days) and no longer: a department kept access to
every holder of every case it ever handled, however long ago it finished (walkthrough: a case finished in 2021
released a licence in 2026). Refused, the attempt is in the holder's access log, naming why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
    fetch_with_consent,
    plant_case,
)

from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app

COMPANY = LICENSED


@pytest.fixture
def live(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    gw, now = licensed.gw, datetime.now(UTC)
    for case_no, finished in (("C-OPEN", None), ("C-LAST-WEEK", now - timedelta(days=7)),
                              ("C-LONG-AGO", now - timedelta(days=400))):
        plant_case(licensed.engine, case_no, dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE,
                   applicant_id=COMPANY["id"], pii=gw.pii, finished_at=finished)
    hall = gw.clients.add("sd_hall", scopes=["holders:read"])
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    yield {"gw": gw, "url": server.url, "civil": licensed.civil, "hall": hall}
    server.stop()


def _consent(live: dict[str, Any], case_no: str) -> str:
    expires = int((datetime.now(UTC) + timedelta(minutes=10)).timestamp())
    gw = live["gw"]
    return gw.consents.issue(ConsentClaims("t", gw.pii.bidx(COMPANY["id"]), live["civil"].client.client_id,
                                           (LICENCE,), ELDERLY_CARE, case_no, expires))


def test_an_open_case_and_one_finished_last_week_are_purposes(live: dict[str, Any]) -> None:
    for case_no in ("C-OPEN", "C-LAST-WEEK"):
        assert fetch_with_consent(live["url"], live["gw"], live["civil"], holder_id=COMPANY["id"], types=[LICENCE],
                                  item_code=ELDERLY_CARE, case_no=case_no)


def test_a_case_finished_long_ago_releases_nothing_and_the_holder_sees_why(live: dict[str, Any]) -> None:
    url, civil = live["url"], live["civil"]
    purpose = {"item_code": ELDERLY_CARE, "case_no": "C-LONG-AGO"}
    answer = requests.post(url + "/v1/certificates/query", headers=bearer(civil.credential), timeout=10, json={
        "holder": {"id_number": COMPANY["id"]}, "certificate_types": [LICENCE], "purpose": purpose,
        "consent_token": _consent(live, "C-LONG-AGO")})
    assert answer.status_code == 403 and answer.json()["type"].endswith("/purpose"), answer.text
    assert "no longer a purpose (purpose_after_finish)" in answer.json()["detail"]
    materials = requests.get(url + "/v1/cases/C-LONG-AGO/materials", headers=bearer(civil.credential), timeout=10)
    assert materials.status_code == 403 and materials.json()["type"].endswith("/purpose"), materials.text
    log = requests.post(url + "/v1/holders/access-log", json={"id_number": COMPANY["id"]}, timeout=10,
                        headers=bearer(live["hall"].credential)).json()
    refused = [(e["action"], e["outcome"], e["case_no"]) for e in log["entries"] if e["outcome"] == "denied:purpose"]
    assert refused == [("query", "denied:purpose", "C-LONG-AGO"), ("materials", "denied:purpose", "C-LONG-AGO")]
