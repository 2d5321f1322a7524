"""A jointly held certificate (co-owners: several 持证主体) is released on the applicant's consent — the applicant
presents it, as at a 一网通办 window — and every holder is told: each release by the query, the metadata read and
the file fetch, and each verification, is in every holder's access log, as every refusal already was. The query
reads the holders of the certificates it releases in its one statement."""

from __future__ import annotations

import time
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
    bearer,
    plant_case,
)
from sqlalchemy import event

from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest
from gateway.sharing.certificates.library import today_beijing
from gateway.store.sharing_queries import FastReader
from sandbox.identifiers import make_uscc
from sandbox.licences import ISSUER, identifier

CO_OWNER = {"name": "济南联合持证有限公司", "idType": "001", "id": make_uscc("9", "1", "370100", "MA3J0NT8")}
"""Holds the joint licence with ``LICENSED``; applies for nothing."""
JOINT = identifier(LICENCE, ISSUER["code"], "70000001", 1)


@pytest.fixture
def served(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    app = licensed.registry.app
    rec = {"id": app._next_id(), "zzbs": JOINT, "zzmc": "营业执照", "zzlxdm": LICENCE, "zzbh": LICENSED["id"],
           "bfjg": {"mc": ISSUER["name"], "dm": ISSUER["code"]}, "bfrq": today_beijing().isoformat(),
           "czzt": [{"mc": h["name"], "zjlx": "001", "zjhm": h["id"]} for h in (LICENSED, CO_OWNER)],
           "yxqq": today_beijing().isoformat(), "yxqz": None, "sdbm": ISSUER["division"], "zzzt": "1", "xzzbs": None}
    app._put(app._sign(rec))
    assert harvest(licensed.gw, "sd_licences").inserted == 1
    plant_case(licensed.engine, "J-1", dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=LICENSED["id"],
               pii=licensed.gw.pii)
    hall = licensed.gw.clients.add("hall_reader", scopes=["holders:read"])
    server = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    yield {"world": licensed, "url": server.url, "hall": bearer(hall.credential), "file": rec["wj"]["nr"]}
    server.stop()


def _consent(world: LicenceWorld) -> str:
    gw = world.gw
    return gw.consents.issue(ConsentClaims("joint", gw.pii.bidx(LICENSED["id"]), world.civil.client.client_id,
                                           (LICENCE,), ELDERLY_CARE, "J-1", int(time.time()) + 600))


def _query(served: dict[str, Any]) -> dict[str, Any]:
    world = served["world"]
    answer = requests.post(served["url"] + "/v1/certificates/query", headers=bearer(world.civil.credential),
                           timeout=10, json={"holder": {"id_number": LICENSED["id"]}, "certificate_types": [LICENCE],
                                             "purpose": {"item_code": ELDERLY_CARE, "case_no": "J-1"},
                                             "consent_token": _consent(world)})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _fetch(served: dict[str, Any], suffix: str = "") -> requests.Response:
    world = served["world"]
    answer = requests.get(f"{served['url']}/v1/certificates/{JOINT}{suffix}", timeout=10,
                          params={"item_code": ELDERLY_CARE, "case_no": "J-1"},
                          headers={**bearer(world.civil.credential), "Tongban-Consent": _consent(world)})
    assert answer.status_code == 200, answer.text
    return answer


def _log(served: dict[str, Any], holder: str) -> list[tuple[str, str, str | None, str | None, str | None]]:
    answer = requests.post(served["url"] + "/v1/holders/access-log", json={"id_number": holder},
                           headers=served["hall"], timeout=10)
    assert answer.status_code == 200, answer.text
    return [(e["action"], e["outcome"], e["client_name"], e["certificate"], e["case_no"])
            for e in answer.json()["entries"]]


def test_every_release_of_a_jointly_held_certificate_is_in_every_holders_access_log(
        served: dict[str, Any]) -> None:
    body = _query(served)
    sole = [c["identifier"] for c in body["certificates"] if c["identifier"] != JOINT]
    assert len(sole) == 1 and len(body["certificates"]) == 2
    assert len(body["audit_seq"]) == 3  # the sole licence's holder; the joint one's two holders
    _fetch(served)
    _fetch(served, "/file")
    released = [("release", "released", "sd_civil", JOINT, "J-1")] * 3
    assert [e for e in _log(served, CO_OWNER["id"]) if e[0] == "release"] == released
    assert [e for e in _log(served, LICENSED["id"]) if e[3] == JOINT] == released
    # the co-owner is told of the joint licence only, never of the applicant's own
    assert not [e for e in _log(served, CO_OWNER["id"]) if e[3] == sole[0]]


def test_a_verification_of_a_jointly_held_certificate_is_in_every_holders_access_log(
        served: dict[str, Any]) -> None:
    answer = requests.post(served["url"] + "/v1/certificates/verify", json={"file_base64": served["file"]},
                           headers=bearer(served["world"].civil.credential), timeout=10)
    assert answer.status_code == 200 and answer.json()["identifier"] == JOINT, answer.text
    for holder in (LICENSED["id"], CO_OWNER["id"]):
        assert _log(served, holder) == [("verify", "genuine", "sd_civil", JOINT, None)]


def test_the_query_reads_the_holders_of_what_it_releases_in_its_one_statement(
        served: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path stays one statement: the holders come with each certificate, not one lookup per certificate."""
    world = served["world"]
    statements: list[str] = []
    rows = FastReader.rows

    def counted(self: FastReader, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        statements.append(sql)
        return rows(self, sql, params)

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    _query(served)  # warm: the credential is cached after its first use
    monkeypatch.setattr(FastReader, "rows", counted)
    engines = {world.gw.read_engine, world.gw.engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        assert len(_query(served)["certificates"]) == 2
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)
    reads = [s for s in statements if "certificate_holders" in s]
    assert len(reads) == 1, reads


def test_a_refused_fetch_of_a_jointly_held_certificate_is_in_every_holders_access_log(
        served: dict[str, Any]) -> None:
    """No consent (the policy requires it for licences): the attempt was on both holders' data, so both see it."""
    world = served["world"]
    answer = requests.get(f"{served['url']}/v1/certificates/{JOINT}/file", timeout=10,
                          params={"item_code": ELDERLY_CARE, "case_no": "J-1"},
                          headers=bearer(world.civil.credential))
    # answered as an unknown identifier (a 403 would tell that the applicant holds it), audited as a consent denial
    assert answer.status_code == 404 and answer.json()["detail"] == "no such certificate", answer.text
    for holder in (LICENSED["id"], CO_OWNER["id"]):
        assert _log(served, holder) == [("release", "denied:consent", "sd_civil", JOINT, "J-1")]


def test_a_fetch_refused_on_its_purpose_is_in_every_holders_access_log(served: dict[str, Any]) -> None:
    """The department's own case, but another item: only the applicant's log showed the metadata and file fetches
    refused (the co-owner learnt only of the query's), though the data asked for is the co-owner's too."""
    world = served["world"]
    for suffix in ("", "/file"):
        answer = requests.get(f"{served['url']}/v1/certificates/{JOINT}{suffix}", timeout=10,
                              params={"item_code": LICENCE + "X", "case_no": "J-1"},
                              headers={**bearer(world.civil.credential), "Tongban-Consent": _consent(world)})
        assert answer.status_code == 404, answer.text
    for holder in (LICENSED["id"], CO_OWNER["id"]):
        assert _log(served, holder) == [("release", "denied:purpose", "sd_civil", JOINT, "J-1")] * 2


def test_a_fetch_refused_its_scope_audits_only_a_purpose_the_route_would_take(served: dict[str, Any]) -> None:
    """The scope refusal runs before the route checks its parameters: an item code of 3,000 characters was
    written into each holder's "who used my data" view (on PostgreSQL: a 500, and the refusal not recorded)."""
    unscoped = bearer(served["world"].gw.clients.add("case_reader", scopes=["cases:read"]).credential)
    url = f"{served['url']}/v1/certificates/{JOINT}"
    long = requests.get(url, params={"item_code": "您的证照已被冻结，请致电" * 250, "case_no": "J-1"}, headers=unscoped,
                        timeout=10)
    fair = requests.get(url, params={"item_code": ELDERLY_CARE, "case_no": "J-1"}, headers=unscoped, timeout=10)
    assert long.status_code == fair.status_code == 403, (long.text, fair.text)
    for holder in (LICENSED["id"], CO_OWNER["id"]):
        assert [(e[0], e[1], e[2]) for e in _log(served, holder)] == [("release", "denied:scope", "case_reader")]
