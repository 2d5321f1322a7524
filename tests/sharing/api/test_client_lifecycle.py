"""What a client can do ends when it is revoked, and no setting or encoding opens a way around the gateway's
limits: a revoked (or expired) client's webhooks stop — the ones queued before as well — and its subscriptions
are cancelled with it; a subscription keeps only the types the sharing policy still gives its client; a rate
limit of 0 or less is refused, never read as "no limit"; a body in UTF-16 or behind a byte-order mark is refused
(415), not parsed past the NUL check; a page cursor beyond BIGINT is a 422, not a 500."""

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
    LICENCE,
    LICENSED,
    LicenceWorld,
    ServerThread,
    WebhookReceiver,
    bearer,
    fetch_with_consent,
    plant_case,
)
from sqlalchemy import select

from gateway.contract.errors import ConfigError
from gateway.sharing.access.policy import Policy
from gateway.sharing.access.ratelimit import RateLimiter
from gateway.sharing.api import create_app
from gateway.sharing.certificates import deliver_webhooks, harvest
from gateway.store.tables import webhook_deliveries, webhook_subscriptions

COMPANY = LICENSED


@pytest.fixture
def live(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    registry, gw = licensed.registry, licensed.gw
    issued = [requests.post(registry.admin_url + "/_sandbox/issue", json={"holder": COMPANY}, timeout=10).json()
              for _ in range(3)]
    harvest(gw, "sd_licences")
    plant_case(licensed.engine, "LC-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=COMPANY["id"],
               pii=gw.pii)
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    hook = WebhookReceiver().start()
    yield {"gw": gw, "url": server.url, "civil": licensed.civil, "issued": issued, "registry": registry,
           "hook": hook, "engine": licensed.engine}
    hook.stop()
    server.stop()


def _subscribe(live: dict[str, Any]) -> str:
    """A subscription to licences, by a department that was given the company's licences for its case (a
    department is told only of certificates it was given)."""
    fetch_with_consent(live["url"], live["gw"], live["civil"], holder_id=COMPANY["id"], types=[LICENCE],
                       item_code=ELDERLY_CARE, case_no="LC-1")
    answer = requests.post(live["url"] + "/v1/subscriptions", json={"url": live["hook"].url,
                                                                   "certificate_types": [LICENCE]},
                           headers=bearer(live["civil"].credential), timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["subscription_id"])


def _revoke_at_the_registry(live: dict[str, Any], which: int) -> None:
    requests.post(live["registry"].admin_url + "/_sandbox/revoke", json={"ids": [live["issued"][which]["zzbs"]]},
                  timeout=10).raise_for_status()
    harvest(live["gw"], "sd_licences", notify=False)


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


def test_a_revoked_client_is_told_nothing_more(live: dict[str, Any]) -> None:
    gw, hook = live["gw"], live["hook"]
    sub = _subscribe(live)
    _revoke_at_the_registry(live, 0)  # queued while the client is live …
    gw.clients.revoke("sd_civil")  # … then the client is revoked before the delivery goes out
    _revoke_at_the_registry(live, 1)  # and an event after the revocation
    report = deliver_webhooks(gw, now=_later())
    assert hook.received == [] and report.delivered == 0
    with live["engine"].connect() as conn:
        statuses = [r[0] for r in conn.execute(select(webhook_deliveries.c.status))]
        active = conn.execute(select(webhook_subscriptions.c.active)
                              .where(webhook_subscriptions.c.subscription_id == sub)).scalar_one()
    assert statuses == ["dead"]  # the one queued before: dead, said why; none queued after
    assert active is False  # cancelled with the client: it can no longer cancel it itself (401)
    assert requests.get(live["url"] + "/v1/subscriptions", headers=bearer(live["civil"].credential),
                        timeout=10).status_code == 401


def test_an_expired_client_is_told_nothing_more(live: dict[str, Any]) -> None:
    gw, engine = live["gw"], live["engine"]
    _subscribe(live)
    from gateway.store.tables import api_clients

    with engine.begin() as conn:
        conn.execute(api_clients.update().where(api_clients.c.client_id == live["civil"].client.client_id)
                     .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    _revoke_at_the_registry(live, 0)
    assert deliver_webhooks(gw, now=_later()).delivered == 0 and live["hook"].received == []


def test_a_subscription_keeps_only_the_types_the_policy_still_gives(live: dict[str, Any]) -> None:
    gw = live["gw"]
    _subscribe(live)
    gw.policy = Policy([r for r in gw.policy.rules if r.client != "sd_civil"])  # the rule withdrawn since
    _revoke_at_the_registry(live, 0)
    assert deliver_webhooks(gw, now=_later()).delivered == 0 and live["hook"].received == []


def test_the_live_client_is_still_told(live: dict[str, Any]) -> None:
    _subscribe(live)
    _revoke_at_the_registry(live, 2)
    assert deliver_webhooks(live["gw"], now=_later()).delivered == 1
    assert [r["json"]["status"] for r in live["hook"].received] == ["withdrawn"]


@pytest.mark.parametrize("rate", [0, -5, float("nan"), float("inf")])
def test_a_rate_limit_that_is_no_limit_is_refused(live: dict[str, Any], rate: float) -> None:
    with pytest.raises(ConfigError, match="positive number"):
        live["gw"].clients.add(f"odd-{rate}", department_code=CIVIL_DEPT, rate_limit=rate)


def test_a_stored_rate_of_zero_falls_back_to_the_default_not_to_no_limit() -> None:
    limiter = RateLimiter(default_rate=2, burst_seconds=1)
    answers = [limiter.allow("old-row", 0) for _ in range(10)]
    assert answers[:2] == [0.0, 0.0] and all(wait > 0 for wait in answers[2:])


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
def test_a_body_not_in_utf8_is_refused_before_any_route_reads_it(live: dict[str, Any], encoding: str) -> None:
    body = json.dumps({"holder": {"id_number": COMPANY["id"]}, "client_id": "c", "certificate_types": [LICENCE],
                       "purpose": {"item_code": ELDERLY_CARE, "case_no": "LC-1\x00x"}})  # the NUL as \\u0000
    for path in ("/v1/consents", "/v1/bundles", "/v1/certificates/query"):
        answer = requests.post(live["url"] + path, data=body.encode(encoding), timeout=10,
                               headers={**bearer(live["civil"].credential), "Content-Type": "application/json"})
        assert answer.status_code == 415, (path, answer.status_code, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert "UTF-8" in answer.json()["detail"]
    # the same body in UTF-8 meets the NUL check, by name
    answer = requests.post(live["url"] + "/v1/consents", data=body.encode(), timeout=10,
                           headers={**bearer(live["civil"].credential), "Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["loc"] == ["body", "purpose", "case_no"]


@pytest.mark.parametrize("after", [2**63, 10**30])
def test_an_access_log_cursor_beyond_bigint_is_a_422(live: dict[str, Any], after: int) -> None:
    hall = live["gw"].clients.add("hall-reader", scopes=["holders:read"])
    answer = requests.post(live["url"] + "/v1/holders/access-log", json={"id_number": COMPANY["id"], "after": after},
                           headers=bearer(hall.credential), timeout=10)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["body", "after"]
