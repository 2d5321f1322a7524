"""一件事: a company opening (licence → seal, tax) end to end over real HTTP (issue 15, acceptance line 4).

One application; the market bureau (SOAP), the seal back office and the tax back office as sandbox servers; the real
gateway API under uvicorn, which the seal and tax systems call for the licence; the real outbox push and syncs. The
same steps the ``tongban_handoff`` DAG's ``scan_bundles`` task and the sync/push/certificate DAGs run (driven by
Airflow in tests/dags/test_bundles_dag.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from bundles_testlib import MATERIALS, CompanyWorld, application
from gateway_testlib import bearer

from gateway.contract.errors import RecordRejected
from gateway.store.outbox import pending_count


def _licence_issued(world: CompanyWorld, bundle_no: str) -> str:
    """Push the licence part, the market bureau approves it, Tongban reads it back; the licence number."""
    world.push()
    licence_case = world.part(bundle_no, "licence")["case_no"]
    issued = world.admin("sd_market", "POST", "/_sandbox/decide", json={"case_no": licence_case, "decision": "issue"})
    world.sync("sd_market")
    return str(issued["ZZBH"])


def _parts_released(world: CompanyWorld, bundle_no: str) -> tuple[str, str, str]:
    licence_no = _licence_issued(world, bundle_no)
    world.scan()
    assert world.part(bundle_no, "seal")["state"] == "waiting"  # issued, but not in the certificate library yet
    assert "not in the certificate library yet" in (world.detail(bundle_no)["reason"] or "")
    assert world.harvest() == 1
    assert world.scan().released == 2
    world.push()
    return licence_no, world.part(bundle_no, "seal")["case_no"], world.part(bundle_no, "tax")["case_no"]


def test_one_application_reaches_three_systems_each_material_once_and_finishes_with_the_last_part(
        world: CompanyWorld) -> None:
    result = world.apply(application())
    bundle_no = result.bundle_no
    assert result.created and result.released == ["licence"]
    assert world.apply(application()).bundle_no == bundle_no  # the hall retrying its submission: the same bundle
    assert world.scan().released == 0  # seal and tax wait for the licence

    licence_no, seal_case, tax_case = _parts_released(world, bundle_no)
    # restart mid-way: the parts are out; a new runtime scanning and pushing twice sends nothing again
    world.restart()
    for _ in range(2):
        assert world.scan().released == 0
        world.push()

    seal, tax = world.checked("jn_seal", seal_case), world.checked("jn_tax", tax_case)
    for part in (seal, tax):  # the licence came through the gateway, with consent, never from the applicant
        (check,) = part["checks"]
        assert check["ok"] and check["licence"] == licence_no and check["file_sha256"] and check["audit"]
    assert seal["record"]["zt"] == "1" and tax["record"]["blzt"] == "02"

    world.admin("jn_seal", "POST", "/_sandbox/decide", json={"case_no": seal_case, "decision": "finish"})
    world.sync()
    world.scan()
    detail = world.detail(bundle_no)
    assert detail["status"] == "in_progress"  # two of three parts finished is not finished
    assert {p["part"]: p["state"] for p in detail["parts"]} == {"licence": "finished", "seal": "finished",
                                                                 "tax": "in_progress"}
    world.admin("jn_tax", "POST", "/_sandbox/decide", json={"case_no": tax_case, "decision": "finish"})
    world.sync()
    report = world.scan()
    assert report.finished == [bundle_no]
    detail = world.detail(bundle_no)
    assert detail["status"] == "finished"
    assert detail["finished_at"] == max(p["finished_at"] for p in detail["parts"])  # the last part's instant
    assert [e["step"] for e in detail["events"]].count("bundle_finished") == 1
    assert world.scan().finished == []  # finished once

    # each system got its part once, and each material once, by reference to the one stored copy
    market = world.admin("sd_market", "GET", "/_sandbox/received")
    assert [len(r["received"]) for r in market] == [1]
    market_materials = _names(market[0]["received"][0]["CLLIST"]["CL"], "CLMC")
    seal_materials = _names(seal["received"][0]["cllist"], "clmc")
    tax_materials = _names(tax["received"][0]["zlqd"], "zlmc")
    assert seal["applied_writes"] == tax["applied_writes"] == 1
    names = {code: name for code, name in ((m.code, m.name) for m in world_spec().materials.values())}
    assert market_materials == sorted(names[c] for c in ("id_proof", "address_proof", "articles", "appointment"))
    assert seal_materials == sorted([names["id_proof"], names["appointment"], "营业执照"])
    assert tax_materials == sorted([names["id_proof"], names["address_proof"], "营业执照"])
    refs = {m["CLMC"]: m["CLBH"] for m in market[0]["received"][0]["CLLIST"]["CL"]}
    assert {m["clmc"]: m["clbh"] for m in seal["received"][0]["cllist"] if m["lyfs"] == "02"} == \
        {k: refs[k] for k in (names["id_proof"], names["appointment"])}
    assert {m["zlmc"]: m["zlbh"] for m in tax["received"][0]["zlqd"] if m["tjfs"] == "1"} == \
        {k: refs[k] for k in (names["id_proof"], names["address_proof"])}
    assert len(detail["materials"]) == len(MATERIALS)  # stored once
    licence_material = next(m for m in seal["received"][0]["cllist"] if m["clmc"] == "营业执照")
    assert licence_material["lyfs"] == "03" and licence_material["zzbh"] == licence_no and licence_material["sqpz"]

    # the company sees who used its licence: the seal and tax departments, for their parts, with its consent
    log = requests.post(world.server.url + "/v1/holders/access-log", json={"id_number": licence_no},
                        headers=bearer(world.hall_credential), timeout=30).json()["entries"]
    released = {(e["client_name"], e["case_no"]) for e in log if e["outcome"] == "released"}
    assert released == {("jn_seal", seal_case), ("jn_tax", tax_case)}
    consents = requests.post(world.server.url + "/v1/holders/consents", json={"id_number": licence_no},
                             headers=bearer(world.hall_credential), timeout=30).json()["consents"]
    assert {(c["client_name"], c["case_no"], c["status"]) for c in consents} == {
        ("jn_seal", seal_case, "active"), ("jn_tax", tax_case, "active")}
    with world.runtime.engine.connect() as conn:
        assert pending_count(conn) == 0


def test_a_refused_part_fails_the_bundle_with_which_part_and_why(world: CompanyWorld) -> None:
    bundle_no = world.apply(application("HALL-2026-000002")).bundle_no
    _licence, _seal_case, tax_case = _parts_released(world, bundle_no)
    world.checked("jn_tax", tax_case)
    world.admin("jn_tax", "POST", "/_sandbox/decide",
                json={"case_no": tax_case, "decision": "refuse", "reason": "生产经营地址与登记住所不一致"})
    world.sync()
    report = world.scan()
    assert report.failed == [bundle_no]
    detail = world.detail(bundle_no)
    assert detail["status"] == "failed" and detail["failed_part"] == "tax"
    assert "生产经营地址与登记住所不一致" in detail["reason"] and "jn_tax" in detail["reason"]


def test_a_licence_refused_at_the_market_bureau_fails_the_bundle_and_releases_nothing_more(world: CompanyWorld) -> None:
    bundle_no = world.apply(application("HALL-2026-000003")).bundle_no
    world.push()
    licence_case = world.part(bundle_no, "licence")["case_no"]
    world.admin("sd_market", "POST", "/_sandbox/decide",
                json={"case_no": licence_case, "decision": "refuse", "reason": "企业名称与已登记企业重名"})
    world.sync("sd_market")
    assert world.scan().failed == [bundle_no]
    detail = world.detail(bundle_no)
    assert detail["failed_part"] == "licence" and "企业名称与已登记企业重名" in detail["reason"]
    assert {p["part"]: p["state"] for p in detail["parts"]} == {"licence": "refused", "seal": "waiting",
                                                                 "tax": "waiting"}
    assert world.admin("jn_seal", "GET", "/_sandbox/cases") == []


def test_without_the_applicants_consent_seal_and_tax_hold_their_parts_and_say_why(world: CompanyWorld) -> None:
    bundle_no = world.apply(application("HALL-2026-000004", consent=False)).bundle_no
    licence_no, seal_case, tax_case = _parts_released(world, bundle_no)
    for system, case_no in (("jn_seal", seal_case), ("jn_tax", tax_case)):
        (check,) = world.checked(system, case_no)["checks"]
        assert not check["ok"] and "未授权" in check["reason"]
    world.sync()
    world.scan()
    detail = world.detail(bundle_no)
    assert detail["status"] == "held"
    assert "seal" in detail["reason"] and "tax" in detail["reason"] and "未授权" in detail["reason"]
    log = requests.post(world.server.url + "/v1/holders/access-log", json={"id_number": licence_no},
                        headers=bearer(world.hall_credential), timeout=30).json()["entries"]
    assert not [e for e in log if e["outcome"] == "released"]


def test_the_merged_form_names_every_broken_rule(world: CompanyWorld) -> None:
    app = application("HALL-2026-000005", legal_rep_id="370102198506011235", seal_kinds=["公章", "钢印"])
    app["form"].pop("business_scope")
    app["materials"].append(dict(app["materials"][0]))
    with pytest.raises(RecordRejected) as caught:
        world.apply(app)
    found = {(i.field, i.rule) for i in caught.value.issues}
    assert ("form.business_scope", "bundle.required") in found
    assert ("form.seal_kinds", "bundle.choice") in found
    assert ("materials.id_proof", "bundle.material_duplicate") in found
    assert any(f == "form.legal_rep_id" and r.startswith("resident_id") for f, r in found)
    assert all(i.record == "HALL-2026-000005" for i in caught.value.issues)


def world_spec() -> Any:
    from bundles_testlib import SPEC

    return SPEC


def _names(items: Any, key: str) -> list[str]:
    items = items if isinstance(items, list) else [items]
    return sorted(str(i[key]) for i in items)
