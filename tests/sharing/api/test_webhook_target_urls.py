"""A subscription's URL the gateway cannot call is refused with a 422 naming ``body.url`` — never a 500, never
taken: a malformed bracketed host (``http://[zz]/``, which ``urlsplit`` itself refuses) and a port outside 1–65535
(port 0 is no port a receiver listens on; it was read as "the default port")."""

from __future__ import annotations

import pytest
import requests
from gateway_testlib import LICENCE, LicenceWorld, ServerThread, bearer

from gateway.sharing.api import create_app
from gateway.sharing.certificates.webhook_targets import target_problem

REFUSED = ["http://[zz]/hook", "http://[::1/hook", "http://10.20.30.40:0/hook", "https://10.20.30.40:0/",
           "http://10.20.30.40:65536/hook"]


@pytest.mark.parametrize("url", REFUSED)
def test_target_problem_names_what_is_wrong_and_never_raises(url: str) -> None:
    assert target_problem(url)


def test_a_malformed_host_or_port_zero_is_a_422_naming_the_url(licensed: LicenceWorld) -> None:
    running = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    try:
        auth = bearer(licensed.civil.credential)
        for url in REFUSED:
            refused = requests.post(running.url + "/v1/subscriptions", headers=auth, timeout=30,
                                    json={"url": url, "certificate_types": [LICENCE]})
            assert refused.status_code == 422, (url, refused.status_code, refused.text)
            assert refused.json()["errors"][0]["loc"] == ["body", "url"], (url, refused.text)
        listed = requests.get(running.url + "/v1/subscriptions", headers=auth, timeout=30)
        assert listed.status_code == 200 and listed.json()["subscriptions"] == [], listed.text
    finally:
        running.stop()
