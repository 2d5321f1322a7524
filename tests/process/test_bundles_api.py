"""一件事 through the hall's intake window: the hall posts one application to the gateway API (``POST /v1/bundles``)
and follows it (``GET /v1/bundles/{bundle_no}``) — over real HTTP, on both backends, with the market bureau, seal
and tax back offices as sandbox servers.

The same rules as ``tongban bundles apply``: every broken rule named (application, field, rule) and nothing
stored; a retried submission under the same reference is the same bundle; a material given as a file path is
refused (the gateway reads no file a caller names); the first part reaches its system with the next push.
"""

from __future__ import annotations

import requests
from bundles_testlib import CompanyWorld, application
from gateway_testlib import bearer
from sqlalchemy import func, select

from gateway.store.tables import audit_log, bundle_applications


def _bundles(world: CompanyWorld) -> int:
    with world.runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(bundle_applications)).scalar_one())


def test_the_hall_applies_over_the_api_and_follows_the_bundle(world: CompanyWorld) -> None:
    url = world.server.url + "/v1/bundles"
    hall = bearer(world.hall_credential)

    answer = requests.post(url, json={"bundle": "KBQY", **application("HALL-API-0001")}, headers=hall, timeout=60)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Tongban-Signature"]
    body = answer.json()
    bundle_no = body["bundle_no"]
    assert body["created"] is True and body["reference"] == "HALL-API-0001" and body["status"] == "submitted"
    assert {p["part"]: p["state"] for p in body["parts"]} == {"licence": "released", "seal": "waiting",
                                                               "tax": "waiting"}
    assert len(body["materials"]) == 4 and all(len(m["sha256"]) == 64 for m in body["materials"])

    # the hall retries (a timeout on its side): the same bundle, not a second company
    again = requests.post(url, json=application("HALL-API-0001"), headers=hall, timeout=60)
    assert again.status_code == 200 and again.json()["bundle_no"] == bundle_no and again.json()["created"] is False
    assert _bundles(world) == 1

    # the licence part goes to the market bureau with the next push, once
    world.push()
    received = world.admin("sd_market", "GET", "/_sandbox/received")
    assert [len(r["received"]) for r in received] == [1]
    status = requests.get(f"{url}/{bundle_no}", headers=hall, timeout=60)
    assert status.status_code == 200 and status.json()["bundle_no"] == bundle_no
    by_reference = requests.get(f"{url}/HALL-API-0001", headers=hall, timeout=60)
    assert by_reference.status_code == 200 and by_reference.json()["bundle_no"] == bundle_no
    assert requests.get(f"{url}/KBQY-NOPE", headers=hall, timeout=60).status_code == 404

    with world.runtime.engine.connect() as conn:
        outcomes = [r.outcome for r in conn.execute(select(audit_log.c.outcome).where(audit_log.c.action == "bundle")
                                                    .order_by(audit_log.c.seq))]
    assert outcomes == ["applied", "again", "read", "read", "not_found"]


def test_references_are_each_clients_own_and_a_reused_reference_with_new_content_conflicts(
        world: CompanyWorld) -> None:
    url = world.server.url + "/v1/bundles"
    hall = bearer(world.hall_credential)
    other = bearer(world.gw.clients.add("county_hall", scopes=["bundles:apply"]).credential)
    mine = requests.post(url, json=application("REF-1"), headers=hall, timeout=60)
    assert mine.status_code == 201, mine.text
    bundle_no = mine.json()["bundle_no"]

    # another client neither reads the hall's bundle (by number or by reference) nor gets it back by applying
    for ref in (bundle_no, "REF-1"):
        hidden = requests.get(f"{url}/{ref}", headers=other, timeout=60)
        assert hidden.status_code == 404 and "parts" not in hidden.json()
    theirs = requests.post(url, json=application("REF-1", company_name="济南另一家科技有限公司"), headers=other,
                           timeout=60)
    assert theirs.status_code == 201 and theirs.json()["bundle_no"] != bundle_no
    assert requests.get(f"{url}/REF-1", headers=other, timeout=60).json()["bundle_no"] == theirs.json()["bundle_no"]
    assert requests.get(f"{url}/REF-1", headers=hall, timeout=60).json()["bundle_no"] == bundle_no

    # the hall reusing its reference for a different application: 409, nothing stored
    changed = requests.post(url, json=application("REF-1", registered_capital=200), headers=hall, timeout=60)
    assert changed.status_code == 409, changed.text
    assert changed.json()["rule"] == "bundle.reference_reused" and bundle_no in changed.json()["detail"]
    assert _bundles(world) == 2


def test_a_broken_application_names_every_rule_and_stores_nothing(world: CompanyWorld) -> None:
    url = world.server.url + "/v1/bundles"
    hall = bearer(world.hall_credential)
    broken = application("HALL-API-0002", legal_rep_id="370102198506011233", division="9999")
    broken["materials"] = [m for m in broken["materials"] if m["code"] != "articles"]
    answer = requests.post(url, json=broken, headers=hall, timeout=60)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["type"].endswith("/rejected") and problem["record"]
    named = {(i["field"], i["rule"]) for i in problem["issues"]}
    assert ("materials.articles", "bundle.material_missing") in named
    assert any(field == "form.legal_rep_id" and rule.startswith("resident_id") for field, rule in named)
    assert any(field == "form.division" for field, _ in named)
    assert _bundles(world) == 0

    # a material named by a path on the gateway's disk is refused, not read
    sneaky = application("HALL-API-0003")
    sneaky["materials"][0] = {"code": sneaky["materials"][0]["code"], "file": "/etc/passwd"}
    answer = requests.post(url, json=sneaky, headers=hall, timeout=60)
    assert answer.status_code == 422 and "content_base64" in answer.text
    assert "root:" not in answer.text and _bundles(world) == 0

    # unknown fields of the envelope, a client without the scope
    assert requests.post(url, json={**application("HALL-API-0004"), "priority": "high"}, headers=hall,
                         timeout=60).status_code == 422
    seal_client = world.gw.clients.add("someone", department_code="11370100004300853E").credential
    assert requests.post(url, json=application("HALL-API-0005"), headers=bearer(seal_client),
                         timeout=60).status_code == 403
    assert _bundles(world) == 0
