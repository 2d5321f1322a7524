"""DNS rebinding: a delivery connects to the address the target check just accepted, not to whatever the host
name resolves to a moment later. The check resolves ``rebind.example`` to 127.0.0.1 (allowed here: the test's
receiver); every later resolution answers 127.0.0.2, where nothing of the receiver listens. The POST still
reaches the checked address, with the name kept in the ``Host`` header; before, ``requests`` resolved the name
again and connected to the rebound address."""

from __future__ import annotations

import socket
from collections.abc import Iterator
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

from gateway.sharing.api import create_app
from gateway.sharing.certificates import deliver_webhooks, harvest

NAME = "rebind.example"


def _given(licensed: LicenceWorld, url: str) -> str:
    """The licence released to the subscribing department for its case: a department is told only of what it
    was given."""
    plant_case(licensed.engine, "LC-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"],
               pii=licensed.gw.pii)
    [given] = fetch_with_consent(url, licensed.gw, licensed.civil, holder_id=LICENSED["id"], types=[LICENCE],
                                 item_code=ELDERLY_CARE, case_no="LC-1")
    return given


def _revoke(licensed: LicenceWorld, identifier: str) -> None:
    requests.post(licensed.registry.admin_url + "/_sandbox/revoke", json={"ids": [identifier]},
                  timeout=10).raise_for_status()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def test_a_delivery_goes_to_the_checked_address_not_a_rebound_one(licensed: LicenceWorld, hook: WebhookReceiver,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    gw = licensed.gw
    port = int(hook.url.split(":")[2].split("/")[0])
    url = f"http://{NAME}:{port}/hook"
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == NAME:
            lookups.append(host)
            address = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"  # the first answer is the checked one
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, *args, **kwargs)

    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    try:
        given = _given(licensed, server.url)
        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        subscribed = requests.post(server.url + "/v1/subscriptions", headers=bearer(licensed.civil.credential),
                                   json={"url": url, "certificate_types": [LICENCE]}, timeout=10)
        assert subscribed.status_code == 201, subscribed.text
    finally:
        server.stop()
    _revoke(licensed, given)
    lookups.clear()  # the delivery's own check is the first lookup now
    harvest(gw, "sd_licences", notify=False)
    report = deliver_webhooks(gw)
    assert report.delivered == 1 and len(hook.received) == 1, (report.as_dict(), lookups)
    assert lookups == [NAME]  # resolved once, by the check; the connection used the checked address
    assert hook.received[0]["headers"]["Host"] == f"{NAME}:{port}"


def test_a_delivery_tries_each_checked_address_until_one_connects(licensed: LicenceWorld, hook: WebhookReceiver,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with two addresses, the first of which takes no connection (a node down, an IPv6 record nobody
    serves): the delivery reaches the second; pinned to the first alone, every delivery failed until dead."""
    gw = licensed.gw
    port = int(hook.url.split(":")[2].split("/")[0])
    with socket.socket() as probe:  # a port on 127.0.0.2 nothing listens on
        probe.bind(("127.0.0.2", 0))
        dead_port = probe.getsockname()[1]
    url = f"http://{NAME}:{port}/hook"
    real = socket.getaddrinfo

    def two_addresses(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == NAME:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", dead_port)),
                    (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    monkeypatch.setattr(gw, "settings", gw.settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1", NAME]}))
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    try:
        given = _given(licensed, server.url)
        subscribed = requests.post(server.url + "/v1/subscriptions", headers=bearer(licensed.civil.credential),
                                   json={"url": url, "certificate_types": [LICENCE]}, timeout=10)
        assert subscribed.status_code == 201, subscribed.text
    finally:
        server.stop()
    _revoke(licensed, given)
    harvest(gw, "sd_licences", notify=False)
    report = deliver_webhooks(gw)
    assert report.delivered == 1 and len(hook.received) == 1, report.as_dict()
