"""A part case's ``tongban:<bundle_no>/<code>#sha256=…`` material reference can be dereferenced: ``GET
/v1/bundles/{bundle_no}/materials/{code}`` serves the one stored copy to the client of a system handling a released
part that lists it, checked against its SHA-256, every read in the holders' access log."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests
from bundles_testlib import MATERIALS, CompanyWorld, application, company_world
from gateway_testlib import bearer
from sqlalchemy import select, update

from gateway.crypto.jws import JwsVerifier
from gateway.store.tables import audit_log, bundle_materials


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CompanyWorld]:
    made = company_world(sqlite_url, tmp_path, monkeypatch)
    yield made
    made.stop()


def _audit(world: CompanyWorld) -> list[tuple[str, str | None]]:
    with world.runtime.engine.connect() as conn:
        return [(r.outcome, r.holder_ref) for r in conn.execute(
            select(audit_log.c.outcome, audit_log.c.holder_ref).where(audit_log.c.action == "bundle_material")
            .order_by(audit_log.c.seq))]


def test_a_part_system_reads_the_materials_of_its_released_part_and_no_one_else(world: CompanyWorld) -> None:
    """Review r12: bundle materials were stored, referenced in every part case, and readable by nobody."""
    url = world.server.url + "/v1/bundles"
    answer = requests.post(url, json=application("HALL-MAT-0001"), headers=bearer(world.hall_credential),
                           timeout=60)
    assert answer.status_code == 201, answer.text
    bundle_no = answer.json()["bundle_no"]  # the licence part is released to sd_market; seal and tax wait
    market = bearer(world.gw.clients.add("sd_market", department_code="11370100004301265T").credential)
    world.gw.clients.revoke("jn_seal")  # (its credential is the sandbox's; this test speaks for the seal system)
    seal = bearer(world.gw.clients.add("jn_seal", department_code="11370100004300853E").credential)

    got = requests.get(f"{url}/{bundle_no}/materials/articles", headers=market, timeout=60)
    assert got.status_code == 200, got.text
    assert got.content == MATERIALS["articles"].encode() and got.headers["content-type"] == "application/pdf"
    digest = hashlib.sha256(got.content).hexdigest()
    assert got.headers["Tongban-Content-SHA256"] == digest
    release = orjson.loads(JwsVerifier(world.gw.signer.jwk()).verify(got.headers["Tongban-Release"]))
    assert release["content_sha256"] == digest and release["bundle_no"] == bundle_no
    assert release["material"] == "articles" and release["client_id"]
    released = _audit(world)
    assert released and {o for o, _ in released} == {"released"} and all(h for _, h in released)
    holders = {h for _, h in released}

    # the seal part lists `appointment` but is not released yet; `articles` is the licence part's alone;
    # an unknown material or bundle; the hall (no cases:read) — none of them is served
    assert requests.get(f"{url}/{bundle_no}/materials/appointment", headers=seal, timeout=60).status_code == 404
    assert requests.get(f"{url}/{bundle_no}/materials/articles", headers=seal, timeout=60).status_code == 404
    assert requests.get(f"{url}/{bundle_no}/materials/nope", headers=market, timeout=60).status_code == 404
    assert requests.get(f"{url}/KBQY-NOPE/materials/articles", headers=market, timeout=60).status_code == 404
    assert requests.get(f"{url}/{bundle_no}/materials/articles", headers=bearer(world.hall_credential),
                        timeout=60).status_code == 403
    outcomes = _audit(world)[len(released):]
    assert [o for o, _ in outcomes] == ["denied"] * (2 * len(holders)) + ["not_found", "not_found"]
    assert {h for o, h in outcomes if o == "denied"} == holders  # the holders see the refused attempts too

    # a stored copy that no longer matches its SHA-256 is not served
    with world.runtime.engine.begin() as conn:
        conn.execute(update(bundle_materials).where(bundle_materials.c.bundle_no == bundle_no,
                                                    bundle_materials.c.code == "articles")
                     .values(content=world.runtime.pii.seal_blob(base64.b64encode(b"forged").decode())))
    corrupt = requests.get(f"{url}/{bundle_no}/materials/articles", headers=market, timeout=60)
    assert corrupt.status_code == 500 and corrupt.json()["type"].endswith("/integrity")
    assert b"forged" not in corrupt.content


def test_a_lone_surrogate_in_the_form_is_a_422_not_a_500(world: CompanyWorld) -> None:
    body = orjson.dumps(application("HALL-MAT-0002")).replace("济南泉城".encode(), b"\\ud800")
    answer = requests.post(world.server.url + "/v1/bundles", data=body, timeout=60,
                           headers={**bearer(world.hall_credential), "Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert ("form.company_name", "bundle.text") in {(i["field"], i["rule"]) for i in answer.json()["issues"]}
