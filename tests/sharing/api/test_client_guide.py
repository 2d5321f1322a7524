"""The client guide's code is honest: the Python blocks of docs/gateway-clients.md marked ``<!-- tested: NAME -->``
are run against a real gateway on 127.0.0.1 (each backend). A real signed answer, a released file and a webhook
delivery verify with them; the same with one byte more (or re-addressed to another recipient) do not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
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
    plant_case,
)

from gateway.crypto import GatewayKeys
from gateway.crypto.batchsign import sign_batch
from gateway.crypto.jws import JwsSigner
from gateway.sharing.api import create_app
from gateway.sharing.certificates import deliver_webhooks, harvest

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "gateway-clients.md"
_BLOCK = re.compile(r"^<!-- tested: (?P<name>[\w-]+) -->\n```python\n(?P<code>.*?)^```$", re.M | re.S)
PURPOSE = {"item_code": ELDERLY_CARE, "case_no": "LC-1"}
QUERY = {"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE], "purpose": PURPOSE}


def _blocks(*names: str) -> list[re.Match[str]]:
    return [m for m in _BLOCK.finditer(GUIDE.read_text(encoding="utf-8")) if m["name"] in names]


def guide_code(*names: str) -> dict[str, Any]:
    """The guide's blocks of ``names``, run in order in one namespace (a traceback names the guide's own line)."""
    namespace: dict[str, Any] = {"__name__": "gateway_clients_guide"}
    text = GUIDE.read_text(encoding="utf-8")
    for block in _blocks(*names):
        line = text.count("\n", 0, block.start("code"))
        exec(compile("\n" * line + block["code"], str(GUIDE), "exec"), namespace)  # noqa: S102 - the guide's code
    return namespace


def test_the_guide_marks_its_code_for_this_test() -> None:
    """A marker lost in an edit must not turn this file into a test of nothing."""
    assert len(_blocks("verify")) == 2 and len(_blocks("webhook")) == 1
    code = guide_code("verify", "webhook")
    for name in ("NotGenuine", "jws_payload", "verify_answer", "request_sha256", "verify_release",
                 "verify_with_tongban", "release_with_tongban", "verify_webhook", "receive"):
        assert callable(code[name]), name


def test_the_guides_merkle_fold_matches_the_gateways_trees() -> None:
    """A live answer is usually a batch of one (an empty proof): the fold is checked here on every tree shape the
    gateway signs, with each body's own proof, and against every other body's."""
    code = guide_code("verify")
    signer = JwsSigner.from_keys(GatewayKeys.generate())
    keys = [signer.jwk()]
    for size in range(1, 10):
        bodies = [orjson.dumps({"answer": i, "of": size}) for i in range(size)]
        signed = sign_batch(signer, bodies)
        for i, (body, headers) in enumerate(zip(bodies, signed, strict=True)):
            signature, proof = headers["Tongban-Signature"], headers["Tongban-Signature-Proof"]
            assert code["verify_answer"](body, signature, proof, keys)["size"] == size
            for other in bodies[:i] + bodies[i + 1:] + [body + b" "]:
                with pytest.raises(code["NotGenuine"]):
                    code["verify_answer"](other, signature, proof, keys)


@pytest.fixture
def served(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    """The licence world's gateway over HTTP, a case of the licensed company at civil affairs, the hall, a
    webhook receiver."""
    gw = licensed.gw
    plant_case(licensed.engine, "LC-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"],
               pii=gw.pii)
    hall = gw.clients.add("sd_hall", scopes=["consents:issue", "holders:read"])
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    hook = WebhookReceiver().start()
    yield {"gw": gw, "url": server.url, "civil": licensed.civil, "hall": hall, "hook": hook,
           "registry": licensed.registry}
    hook.stop()
    server.stop()


def _consented(served: dict[str, Any]) -> dict[str, str]:
    """The civil department's headers with a consent the hall issued as the guide says (the client's *id*)."""
    answer = requests.post(served["url"] + "/v1/consents", headers=bearer(served["hall"].credential), timeout=30,
                           json={"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE],
                                 "client_id": served["civil"].client.client_id, "purpose": PURPOSE})
    assert answer.status_code == 201, answer.text
    return {**bearer(served["civil"].credential), "Tongban-Consent": answer.json()["token"]}


def test_a_signed_answer_and_a_released_file_verify_and_tampered_ones_do_not(served: dict[str, Any]) -> None:
    code = guide_code("verify")
    url, client_id = served["url"], served["civil"].client.client_id
    keys = requests.get(url + "/v1/keys", timeout=10).json()["keys"]
    headers = _consented(served)
    answer = requests.post(url + "/v1/certificates/query", json=QUERY, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    body, signature, proof = (answer.content, answer.headers["Tongban-Signature"],
                              answer.headers["Tongban-Signature-Proof"])
    assert code["verify_answer"](body, signature, proof, keys)["typ"] == "tongban-batch"
    assert code["verify_with_tongban"](body, signature, proof, keys)["typ"] == "tongban-batch"
    with pytest.raises(code["NotGenuine"]):
        code["verify_answer"](body + b" ", signature, proof, keys)
    with pytest.raises(code["JwsError"]):
        code["verify_with_tongban"](body + b" ", signature, proof, keys)
    stranger = [JwsSigner.from_keys(GatewayKeys.generate()).jwk()]  # another gateway's key set
    with pytest.raises(code["NotGenuine"]):
        code["verify_answer"](body, signature, proof, stranger)
    released = answer.json()
    assert released["client_id"] == client_id
    assert released["request_sha256"] == code["request_sha256"]("POST", "/v1/certificates/query", client_id,
                                                                answer.request.body)
    [identifier] = [c["identifier"] for c in released["certificates"]]

    metadata = requests.get(f"{url}/v1/certificates/{identifier}", params=PURPOSE, headers=headers, timeout=30)
    assert metadata.status_code == 200, metadata.text
    code["verify_answer"](metadata.content, metadata.headers["Tongban-Signature"],
                          metadata.headers["Tongban-Signature-Proof"], keys)
    assert metadata.json()["request_sha256"] == code["request_sha256"]("GET", metadata.request.path_url, client_id)

    file = requests.get(f"{url}/v1/certificates/{identifier}/file", params=PURPOSE, headers=headers, timeout=30)
    assert file.status_code == 200, file.text
    release = file.headers["Tongban-Release"]
    for check in (code["verify_release"], code["release_with_tongban"]):
        manifest = check(file.content, release, keys)
        assert manifest["request_sha256"] == code["request_sha256"]("GET", file.request.path_url, client_id)
        assert (manifest["identifier"], manifest["status"], manifest["quality"]) == (identifier, "valid", [])
    with pytest.raises(code["NotGenuine"]):
        code["verify_release"](file.content + b" ", release, keys)
    with pytest.raises(code["JwsError"]):
        code["release_with_tongban"](file.content + b" ", release, keys)


def test_a_webhook_delivery_verifies_once_and_a_tampered_or_misaddressed_one_does_not(
        served: dict[str, Any]) -> None:
    code = guide_code("verify", "webhook")
    gw, url, client_id = served["gw"], served["url"], served["civil"].client.client_id
    headers = _consented(served)
    answer = requests.post(url + "/v1/certificates/query", json=QUERY, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text  # released to civil affairs: its status changes are its business
    [identifier] = [c["identifier"] for c in answer.json()["certificates"]]
    subscribed = requests.post(url + "/v1/subscriptions", headers=bearer(served["civil"].credential), timeout=30,
                               json={"url": served["hook"].url, "certificate_types": [LICENCE]})
    assert subscribed.status_code == 201, subscribed.text
    mine = {subscribed.json()["subscription_id"]}
    requests.post(served["registry"].admin_url + "/_sandbox/revoke", json={"ids": [identifier]},
                  timeout=10).raise_for_status()
    harvest(gw, "sd_licences", notify=False)
    assert deliver_webhooks(gw, now=datetime.now(UTC) + timedelta(seconds=1)).delivered == 1
    [note] = served["hook"].received
    body, delivered = note["body"], note["headers"]
    keys = requests.get(url + "/v1/keys", timeout=10).json()["keys"]

    event = code["verify_webhook"](body, delivered, keys, client_id, mine)
    assert event == note["json"] and event["identifier"] == identifier and event["status"] != "valid"
    with pytest.raises(code["NotGenuine"]):
        code["verify_webhook"](body + b" ", delivered, keys, client_id, mine)
    with pytest.raises(code["NotGenuine"]):  # ours, but for a subscription this receiver does not hold
        code["verify_webhook"](body, delivered, keys, client_id, {"0123456789abcdef"})
    # signed by the gateway, but for another department: a receiver must refuse it
    elsewhere = orjson.dumps({**event, "client_id": "0123456789ab"})
    other = {**delivered, "Tongban-Signature": gw.signer.sign_detached(elsewhere)}
    assert code["verify_webhook"](elsewhere, other, keys, "0123456789ab", mine)["client_id"] == "0123456789ab"
    with pytest.raises(code["NotGenuine"]):
        code["verify_webhook"](elsewhere, other, keys, client_id, mine)

    seen: set[tuple[str, int]] = set()
    assert code["receive"](body, delivered, keys, client_id, mine, seen) == 200
    assert code["receive"](body, delivered, keys, client_id, mine, seen) == 200  # at least once: a repeat
    assert seen == {(event["subscription_id"], event["event_id"])}
    assert code["receive"](body + b" ", delivered, keys, client_id, mine, set()) == 400
    assert code["receive"](elsewhere, other, keys, client_id, mine, set()) == 400
    assert code["receive"](body, {}, keys, client_id, mine, set()) == 400  # no signature at all
