"""A legacy identifier (an issuer's own numbering, before GB/T 36904) is unique per issuer only: two issuers may
have given the same one. Asked for by it, the gateway takes the certificate the case's applicant holds — never
one of the two at random (which refused the right request and wrote the denial, with another company's case
number, into a stranger's access log) — and, when that does not decide, answers 409 naming the rule; verification
by the identifier alone tells nothing of either."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
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
    plant_case,
)
from sqlalchemy import insert, select

from gateway.sharing.access.tokens import ConsentClaims
from gateway.sharing.api import create_app
from gateway.sharing.certificates import harvest
from gateway.store.tables import certificate_holders, certificates
from sandbox.identifiers import make_uscc

OTHER = {"name": "济南乙方有限公司", "id": make_uscc("9", "1", "370100", "MA3B2C4D")}
"""Holds the other issuer's certificate under the same legacy identifier."""


@pytest.fixture
def twins(licensed: LicenceWorld) -> Iterator[dict[str, Any]]:
    app = licensed.registry.app
    rec = app._issue("营业执照", {"mc": LICENSED["name"], "zjlx": "001", "zjhm": LICENSED["id"]}, legacy=True)
    assert harvest(licensed.gw, "sd_licences").inserted == 1
    legacy = rec["zzbs"]
    with licensed.engine.begin() as conn:  # the other issuer's, as its harvest would have stored it
        row = dict(conn.execute(select(certificates).where(certificates.c.legacy_identifier == legacy))
                   .mappings().one())
        ours = row["identifier"]
        theirs = ours[:-1] + ("Z" if ours[-1] != "Z" else "Y")
        row.update(identifier=theirs, source_system="other_issuer", source_id="X-1", number=OTHER["id"],
                   document=orjson.dumps({**orjson.loads(row["document"]), "identifier": theirs}).decode())
        conn.execute(insert(certificates).values(**row))
        conn.execute(insert(certificate_holders).values(identifier=row["identifier"], type_code=LICENCE,
                                                        holder_bidx=licensed.gw.pii.bidx(OTHER["id"])))
    for case_no, holder in (("LG-A", LICENSED["id"]), ("LG-B", OTHER["id"]), ("LG-N", UNLICENSED)):
        plant_case(licensed.engine, case_no, dept_code=CIVIL_DEPT, item_code=ELDERLY_CARE, applicant_id=holder,
                   pii=licensed.gw.pii)
    hall = licensed.gw.clients.add("hall_reader", scopes=["holders:read"])
    server = ServerThread(create_app(licensed.gw, webhook_interval=0)).start()
    yield {"world": licensed, "url": server.url, "legacy": legacy, "ours": ours, "theirs": row["identifier"],
           "hall": bearer(hall.credential)}
    server.stop()


def _fetch(twins: dict[str, Any], case_no: str, holder: str) -> requests.Response:
    world = twins["world"]
    gw = world.gw
    token = gw.consents.issue(ConsentClaims("lg", gw.pii.bidx(holder), world.civil.client.client_id, (LICENCE,),
                                            ELDERLY_CARE, case_no, int(time.time()) + 600))
    return requests.get(f"{twins['url']}/v1/certificates/{twins['legacy']}", timeout=10,
                        params={"item_code": ELDERLY_CARE, "case_no": case_no},
                        headers={**bearer(world.civil.credential), "Tongban-Consent": token})


def _log(twins: dict[str, Any], holder: str) -> list[tuple[str, str, str | None]]:
    answer = requests.post(twins["url"] + "/v1/holders/access-log", json={"id_number": holder},
                           headers=twins["hall"], timeout=10)
    assert answer.status_code == 200, answer.text
    return [(e["action"], e["outcome"], e["case_no"]) for e in answer.json()["entries"]]


def test_each_case_gets_its_own_applicants_certificate(twins: dict[str, Any]) -> None:
    for case_no, holder, expected in (("LG-B", OTHER["id"], "theirs"), ("LG-A", LICENSED["id"], "ours")):
        answer = _fetch(twins, case_no, holder)
        assert answer.status_code == 200, answer.text
        assert answer.json()["certificate"]["identifier"] == twins[expected]
    assert _log(twins, OTHER["id"]) == [("release", "released", "LG-B")]
    assert _log(twins, LICENSED["id"]) == [("release", "released", "LG-A")]  # nothing of the other company's case


def test_a_case_whose_applicant_holds_neither_is_answered_as_an_unknown_identifier(twins: dict[str, Any]) -> None:
    """A 409 "ask by the national identifier" told any caller with a case that several issuers share this legacy
    identifier — an oracle; the applicant holds neither, so no identifier would get the caller anything."""
    answer = _fetch(twins, "LG-N", UNLICENSED)
    assert answer.status_code == 404, answer.text
    assert answer.json()["detail"] == "no such certificate"
    assert _log(twins, OTHER["id"]) == [] and _log(twins, LICENSED["id"]) == []  # neither holder's data was read


def test_verification_by_the_shared_legacy_identifier_alone_tells_nothing(twins: dict[str, Any]) -> None:
    answer = requests.post(twins["url"] + "/v1/certificates/verify", json={"identifier": twins["legacy"]},
                           headers=bearer(twins["world"].civil.credential), timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["genuine"] is False
