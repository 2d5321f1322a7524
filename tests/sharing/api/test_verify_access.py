"""``POST /v1/certificates/verify``: a file (or its SHA-256) is proof the caller holds it, so any client with the
query scope may check it; an identifier is not (identifiers are sequential serials), so by identifier alone the
gateway answers only for the certificate types the sharing policy lets the client read — any other certificate is
an unknown identifier, to the byte — and an identifier named with a file must be the file's own, whether or not
another certificate has it. Every verification that shows a certificate genuine is in its holders' access log."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from gateway_testlib import LICENCE, LICENSED, LicenceWorld, ServerThread, bearer
from sqlalchemy import select

from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest
from gateway.store.tables import certificates
from sandbox.identifiers import make_uscc
from sandbox.licences import ISSUER, identifier

OTHER = {"name": "济南另一科技有限公司", "idType": "001", "id": make_uscc("9", "1", "370100", "MA3CHK01")}
UNKNOWN = identifier(LICENCE, ISSUER["code"], "99999999", 1)
"""Well-formed, with a valid check character, and issued to nobody."""


@pytest.fixture
def served(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    registry = licensed.registry
    requests.post(registry.admin_url + "/_sandbox/issue", json={"holder": OTHER}, timeout=10).raise_for_status()
    assert harvest(licensed.gw, "sd_licences").inserted == 1
    with licensed.engine.connect() as conn:
        idents = sorted(conn.execute(select(certificates.c.identifier)).scalars())
    mine = next(i for i in idents if registry.app._find(i)["czzt"][0]["zjhm"] == LICENSED["id"])
    gw = licensed.gw
    stranger = gw.clients.add("stranger")  # the query scope, no department, no policy rule names it
    hall = gw.clients.add("hall_reader", scopes=["holders:read"])
    server = ServerThread(create_app(gw, webhook_interval=0)).start()
    yield {"url": server.url, "mine": mine, "other": next(i for i in idents if i != mine),
           "file": registry.app._find(mine)["wj"]["nr"], "civil": bearer(licensed.civil.credential),
           "stranger": bearer(stranger.credential), "hall": bearer(hall.credential)}
    server.stop()


def _verify(served: dict[str, Any], who: str, **body: str) -> requests.Response:
    answer = requests.post(served["url"] + "/v1/certificates/verify", json=body, headers=served[who], timeout=10)
    assert answer.status_code == 200, answer.text
    return answer


def _unbound(answer: dict[str, Any]) -> dict[str, Any]:
    """A verify answer without what binds it to its question (the request's hash and the client): what it says."""
    assert len(answer["request_sha256"]) == 64 and answer["client_id"]
    return {k: v for k, v in answer.items() if k not in ("request_sha256", "client_id")}


def _log(served: dict[str, Any]) -> list[tuple[str, str, str | None, str | None]]:
    answer = requests.post(served["url"] + "/v1/holders/access-log", json={"id_number": LICENSED["id"]},
                           headers=served["hall"], timeout=10)
    assert answer.status_code == 200, answer.text
    return [(e["action"], e["outcome"], e["client_name"], e["certificate"]) for e in answer.json()["entries"]]


def test_by_identifier_alone_only_a_client_the_policy_lets_read_the_type_is_told(served: dict[str, Any]) -> None:
    unknown = _verify(served, "stranger", identifier=UNKNOWN)
    said = _unbound(unknown.json())
    assert said == {"genuine": False, "detail": "unknown identifier"}
    for ident in (served["mine"], served["mine"].lower(), served["other"]):  # the library cannot be enumerated
        hidden = _verify(served, "stranger", identifier=ident)
        assert _unbound(hidden.json()) == said  # but for the question it answers (its own request's hash)
        assert hidden.json()["request_sha256"] != unknown.json()["request_sha256"]
    entitled = _verify(served, "civil", identifier=served["mine"]).json()  # sd_civil may read licences
    assert entitled["genuine"] and (entitled["identifier"], entitled["type_code"], entitled["status"]) == (
        served["mine"], LICENCE, "valid")


def test_a_file_or_its_hash_is_verified_for_any_query_client(served: dict[str, Any]) -> None:
    content = base64.b64decode(served["file"])
    for body in ({"file_base64": served["file"]}, {"sha256": hashlib.sha256(content).hexdigest()},
                 {"file_base64": served["file"], "identifier": served["mine"]}):
        checked = _verify(served, "stranger", **body).json()
        assert checked["genuine"] and (checked["identifier"], checked["status"]) == (served["mine"], "valid")


def test_an_identifier_named_with_a_file_must_be_the_files_own(served: dict[str, Any]) -> None:
    """Another certificate's identifier and one issued to nobody get the same answer: a file in hand is no way
    to learn which identifiers exist."""
    answers = [_verify(served, "stranger", file_base64=served["file"], identifier=ident)
               for ident in (served["other"], UNKNOWN)]
    assert _unbound(answers[0].json()) == _unbound(answers[1].json())
    assert not answers[0].json()["genuine"] and answers[0].json()["detail"] == "the file belongs to another certificate"


def test_each_verification_about_a_certificate_is_in_its_holders_access_log(served: dict[str, Any]) -> None:
    _verify(served, "civil", identifier=served["mine"])
    _verify(served, "stranger", file_base64=served["file"])
    _verify(served, "stranger", identifier=served["mine"])  # refused (answered as unknown): an attempt, shown
    _verify(served, "stranger", identifier=UNKNOWN)  # about nobody's certificate: in nobody's log
    _verify(served, "stranger", identifier=served["other"])  # another holder's: not in this one's log
    mine = served["mine"]
    assert _log(served) == [("verify", "genuine", "sd_civil", mine), ("verify", "genuine", "stranger", mine),
                            ("verify", "denied:policy", "stranger", mine)]
