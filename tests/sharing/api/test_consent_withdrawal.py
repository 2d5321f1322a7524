"""A holder withdraws a consent before it expires: the token is refused from then on — at once by the gateway
process that recorded it, within one poll by every other — the withdrawal is audited, and the holder's list of
consents shows it. Only the holder's own consent can be withdrawn; withdrawing twice is harmless."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    LICENCE,
    LICENSED,
    UNLICENSED,
    LicenceWorld,
    ServerThread,
    bearer,
    make_gateway,
    plant_case,
)

from gateway.sharing.access.audit import verify_chain
from gateway.sharing.api import create_app
from gateway.store import access as access_store
from gateway.store.db import make_engine

HOLDER, OTHER = LICENSED, UNLICENSED


@pytest.fixture
def world(licensed: LicenceWorld, database_url: str) -> Iterator[dict[str, Any]]:
    engine, gw, civil = licensed.engine, licensed.gw, licensed.civil
    plant_case(engine, "W-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=HOLDER["id"], pii=gw.pii)
    hall = gw.clients.add("sd_hall", scopes=["consents:issue", "holders:read"])
    # a second gateway process on the same ledger and keys, polling for withdrawals every 0.1 s
    other_gw = make_gateway(make_engine(database_url), keys=gw.keys,
                            settings=gw.settings.model_copy(update={"consent_revocation_poll": 0.1}))
    first, second = ServerThread(create_app(gw, webhook_interval=0)).start(), \
        ServerThread(create_app(other_gw, webhook_interval=0)).start()
    yield {"gw": gw, "engine": engine, "first": first.url, "second": second.url, "civil": civil, "hall": hall}
    first.stop()
    second.stop()
    other_gw.engine.dispose()


def _consent(world: dict[str, Any]) -> dict[str, Any]:
    answer = requests.post(world["first"] + "/v1/consents", headers=bearer(world["hall"].credential), timeout=10,
                           json={"holder": {"id_number": HOLDER["id"]}, "client_id": world["civil"].client.client_id,
                                 "certificate_types": [LICENCE],
                                 "purpose": {"item_code": ELDERLY_CARE, "case_no": "W-1"}})
    assert answer.status_code == 201, answer.text
    return answer.json()


def _query(world: dict[str, Any], url: str, token: str) -> requests.Response:
    return requests.post(url + "/v1/certificates/query", headers=bearer(world["civil"].credential), timeout=10,
                         json={"holder": {"id_number": HOLDER["id"]}, "certificate_types": [LICENCE],
                               "purpose": {"item_code": ELDERLY_CARE, "case_no": "W-1"}, "consent_token": token})


def _withdraw(world: dict[str, Any], consent_id: str, holder: str = HOLDER["id"]) -> requests.Response:
    return requests.post(f"{world['first']}/v1/consents/{consent_id}/withdraw", timeout=10,
                         headers=bearer(world["hall"].credential), json={"holder": {"id_number": holder}})


def test_a_withdrawn_consent_is_refused_everywhere_and_shown_to_the_holder(world: dict[str, Any]) -> None:
    consent = _consent(world)
    for url in (world["first"], world["second"]):
        assert _query(world, url, consent["token"]).status_code == 200
    assert _withdraw(world, consent["consent_id"], holder=OTHER).status_code == 404  # not this holder's
    withdrawn = _withdraw(world, consent["consent_id"])
    assert withdrawn.status_code == 200 and withdrawn.json()["already_withdrawn"] is False
    refused = _query(world, world["first"], consent["token"])  # the recording process: at once
    assert refused.status_code == 403 and "withdrawn" in refused.json()["detail"]
    deadline = time.monotonic() + 10  # the other process: within its poll interval
    while _query(world, world["second"], consent["token"]).status_code == 200:
        assert time.monotonic() < deadline, "the second gateway still honours a withdrawn consent"
        time.sleep(0.05)
    assert _withdraw(world, consent["consent_id"]).json()["already_withdrawn"] is True
    listed = requests.post(world["first"] + "/v1/holders/consents", headers=bearer(world["hall"].credential),
                           json={"id_number": HOLDER["id"]}, timeout=10).json()
    (entry,) = listed["consents"]
    assert entry["consent_id"] == consent["consent_id"] and entry["status"] == "withdrawn"
    assert entry["client_name"] == "sd_civil" and entry["certificate_types"] == [LICENCE]
    assert listed["holder_id_number"] == "913***********8X2M"
    fresh = _consent(world)  # a new consent for the same purpose is honoured again
    assert _query(world, world["first"], fresh["token"]).status_code == 200
    report = verify_chain(world["engine"])
    assert report.ok


def test_a_withdrawal_stamped_by_a_host_whose_clock_runs_behind_still_reaches_every_process(
        world: dict[str, Any]) -> None:
    """The polls read "withdrawn since my last poll, less a minute": a withdrawal recorded by a gateway host whose
    clock ran two minutes behind fell before every window, and the running processes honoured the withdrawn
    token until it expired (up to a day)."""
    consent = _consent(world)
    assert _query(world, world["second"], consent["token"]).status_code == 200
    time.sleep(0.5)  # the second process has polled since
    with world["engine"].begin() as conn:  # what the lagging host wrote
        assert access_store.mark_consent_withdrawn(conn, consent["consent_id"],
                                                   datetime.now(timezone.utc) - timedelta(minutes=2))
    deadline = time.monotonic() + 30
    while _query(world, world["second"], consent["token"]).status_code == 200:
        assert time.monotonic() < deadline, "a withdrawal stamped in the past never reached the running gateway"
        time.sleep(0.05)


def test_a_restarted_gateway_remembers_withdrawals(world: dict[str, Any]) -> None:
    consent = _consent(world)
    assert _withdraw(world, consent["consent_id"]).status_code == 200
    gw = world["gw"]
    restarted = make_gateway(world["engine"], keys=gw.keys, settings=gw.settings)
    server = ServerThread(create_app(restarted, webhook_interval=0)).start()
    try:
        assert _query(world, server.url, consent["token"]).status_code == 403
    finally:
        server.stop()


def test_no_consent_is_issued_for_a_revoked_client(world: dict[str, Any]) -> None:
    gw = world["gw"]
    gone = gw.clients.add("old_civil", department_code=CIVIL_DEPT)
    gw.clients.revoke(gone.client.client_id)
    answer = requests.post(world["first"] + "/v1/consents", headers=bearer(world["hall"].credential), timeout=10,
                           json={"holder": {"id_number": HOLDER["id"]}, "client_id": gone.client.client_id,
                                 "certificate_types": [LICENCE],
                                 "purpose": {"item_code": ELDERLY_CARE, "case_no": "W-1"}})
    assert answer.status_code == 404 and "no active client" in answer.json()["detail"]
    listed = requests.post(world["first"] + "/v1/holders/consents", headers=bearer(world["hall"].credential),
                           timeout=10, json={"id_number": HOLDER["id"]}).json()["consents"]
    assert not [c for c in listed if c["client_id"] == gone.client.client_id]
