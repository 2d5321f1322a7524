"""Who a certificate's status change is told to: only a department that was given the certificate, never one that
is merely entitled to its type; each delivery names its recipient, and the holder's access log shows it.

A subscription by type alone told every entitled department each identifier of the type as it was issued or
changed — identifiers the fetch routes answer as unknown without the holder's consent and a case naming them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from gateway_testlib import (
    CIVIL_DEPT,
    ELDERLY_CARE,
    ESTATE_DEPT,
    LICENCE,
    LICENSED,
    LicenceWorld,
    ServerThread,
    WebhookReceiver,
    bearer,
    fetch_with_consent,
    plant_case,
)

from gateway.crypto.jws import JwsVerifier
from gateway.sharing.access.audit import verify_chain
from gateway.sharing.api import create_app
from gateway.sharing.certificates import deliver_webhooks, harvest

COMPANY = LICENSED


@pytest.fixture
def live(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    gw = licensed.gw
    plant_case(licensed.engine, "LC-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=COMPANY["id"],
               pii=gw.pii)
    estate = gw.clients.add("jn_estate", department_code=ESTATE_DEPT)  # given licences without consent, by policy
    hall = gw.clients.add("sd_hall", scopes=["holders:read"])
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    hooks = {"civil": WebhookReceiver().start(), "estate": WebhookReceiver().start()}
    yield {"gw": gw, "url": server.url, "civil": licensed.civil, "estate": estate, "hall": hall, "hooks": hooks,
           "registry": licensed.registry, "engine": licensed.engine}
    for hook in hooks.values():
        hook.stop()
    server.stop()


def _subscribe(live: dict[str, Any], who: str) -> str:
    answer = requests.post(live["url"] + "/v1/subscriptions", headers=bearer(live[who].credential), timeout=10,
                           json={"url": live["hooks"][who].url, "certificate_types": [LICENCE]})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["subscription_id"])


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


def test_only_the_department_given_a_certificate_is_told_it_changed(live: dict[str, Any]) -> None:
    gw, hooks, registry = live["gw"], live["hooks"], live["registry"]
    [given] = fetch_with_consent(live["url"], gw, live["civil"], holder_id=COMPANY["id"], types=[LICENCE],
                                 item_code=ELDERLY_CARE, case_no="LC-1")
    civil_sub, _ = _subscribe(live, "civil"), _subscribe(live, "estate")
    # a licence issued after the fetch: nobody was given it, so nobody is told it exists
    fresh = requests.post(registry.admin_url + "/_sandbox/issue", json={"holder": COMPANY}, timeout=10).json()
    requests.post(registry.admin_url + "/_sandbox/revoke", json={"ids": [given]}, timeout=10).raise_for_status()
    cycle = harvest(gw, "sd_licences", notify=False)
    assert cycle.events == 2, cycle.as_dict()  # the issue and the revocation both happened
    report = deliver_webhooks(gw, now=_later())
    assert report.delivered == 1, report.as_dict()
    assert hooks["estate"].received == []  # entitled to the type, never given one: told nothing
    [note] = hooks["civil"].received
    told = note["json"]
    assert told["identifier"] == given != fresh["zzbs"] and told["status"] == "withdrawn"
    # the payload names who it is for, under the signature: a receiver refuses one signed for another subscriber
    assert (told["subscription_id"], told["client_id"]) == (civil_sub, live["civil"].client.client_id)
    jwk = requests.get(live["url"] + "/v1/keys", timeout=10).json()["keys"][0]
    assert json.loads(JwsVerifier(jwk).verify(note["headers"]["Tongban-Signature"], note["body"])) == told


def test_a_delivery_is_in_the_holders_access_log(live: dict[str, Any]) -> None:
    gw, registry = live["gw"], live["registry"]
    [given] = fetch_with_consent(live["url"], gw, live["civil"], holder_id=COMPANY["id"], types=[LICENCE],
                                 item_code=ELDERLY_CARE, case_no="LC-1")
    _subscribe(live, "civil")
    requests.post(registry.admin_url + "/_sandbox/revoke", json={"ids": [given]}, timeout=10).raise_for_status()
    harvest(gw, "sd_licences", notify=False)
    assert deliver_webhooks(gw, now=_later()).delivered == 1
    log = requests.post(live["url"] + "/v1/holders/access-log", json={"id_number": COMPANY["id"]}, timeout=10,
                        headers=bearer(live["hall"].credential))
    assert log.status_code == 200, log.text
    told = [e for e in log.json()["entries"] if e["action"] == "notify"]
    assert [(e["client_name"], e["certificate"], e["outcome"]) for e in told] == [("sd_civil", given, "delivered")]
    assert verify_chain(live["engine"], verifier=gw.verifier).ok


def test_a_failed_delivery_is_not_in_the_holders_access_log(live: dict[str, Any]) -> None:
    gw, registry = live["gw"], live["registry"]
    [given] = fetch_with_consent(live["url"], gw, live["civil"], holder_id=COMPANY["id"], types=[LICENCE],
                                 item_code=ELDERLY_CARE, case_no="LC-1")
    _subscribe(live, "civil")
    live["hooks"]["civil"].status = 503
    requests.post(registry.admin_url + "/_sandbox/revoke", json={"ids": [given]}, timeout=10).raise_for_status()
    harvest(gw, "sd_licences", notify=False)
    assert deliver_webhooks(gw, now=_later()).retried == 1
    log = requests.post(live["url"] + "/v1/holders/access-log", json={"id_number": COMPANY["id"]}, timeout=10,
                        headers=bearer(live["hall"].credential)).json()
    assert [e for e in log["entries"] if e["action"] == "notify"] == []  # nobody was told yet
