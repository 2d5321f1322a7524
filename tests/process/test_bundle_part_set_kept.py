"""A bundle keeps the part set it was applied with, whatever the definition says later (docs/processes.md,
一件事): a part added to the definition is not a part of the bundles applied before it (never released for them,
never waited for, never a crash); a part removed still counts by its stored row — released, it is followed to its
end and the bundle finishes with it; still waiting, it cannot be sent, and the bundle is held saying so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from bundles_testlib import CompanyWorld, application
from gateway_testlib import REPO

from gateway.process.bundle_spec import BundleCatalogue
from gateway.process.bundles import BundleConsents, BundleReport, scan_bundles


def _catalogue(change: Callable[[dict[str, Any]], None]) -> BundleCatalogue:
    data = yaml.safe_load((REPO / "config" / "bundles.yaml").read_text(encoding="utf-8"))
    change(data["bundles"]["KBQY"])
    return BundleCatalogue.from_text(yaml.safe_dump(data, allow_unicode=True))


def _added(bundle: dict[str, Any]) -> None:
    bundle["parts"]["seal_extra"] = {**bundle["parts"]["seal"], "name": "公章刻制备案（补充）"}
    for field in bundle["form"].values():  # the fields its summary quotes are its fields too
        if "seal" in field.get("parts", ()):
            field["parts"] = [*field["parts"], "seal_extra"]


def _without_tax(bundle: dict[str, Any]) -> None:
    del bundle["parts"]["tax"]
    for entry in [*bundle["form"].values(), *bundle["materials"].values()]:
        if "parts" in entry:
            entry["parts"] = [p for p in entry["parts"] if p != "tax"]


def _scan(world: CompanyWorld, catalogue: BundleCatalogue) -> BundleReport:
    report = scan_bundles(world.runtime.engine, catalogue, systems=world.runtime.systems, pii=world.runtime.pii,
                          consents=BundleConsents.from_gateway(world.gw))
    assert report.as_dict().get("errors", {}) == {}  # no bundle the scan could not move
    return report


def _licence_in_library(world: CompanyWorld, bundle_no: str) -> None:
    world.push()
    case_no = world.part(bundle_no, "licence")["case_no"]
    world.admin("sd_market", "POST", "/_sandbox/decide", json={"case_no": case_no, "decision": "issue"})
    world.sync("sd_market")
    assert world.harvest() == 1


def test_a_part_added_to_the_definition_is_not_a_part_of_bundles_applied_before(world: CompanyWorld) -> None:
    bundle_no = world.apply(application("ADDED-1")).bundle_no
    grown = _catalogue(_added)
    assert _scan(world, grown).released == 0
    _licence_in_library(world, bundle_no)
    assert _scan(world, grown).released == 2  # seal and tax: the parts it was applied with, not seal_extra
    assert {p["part"]: p["state"] for p in world.detail(bundle_no)["parts"]} == {
        "licence": "finished", "seal": "released", "tax": "released"}
    assert world.detail(bundle_no)["status"] == "in_progress"


def test_a_removed_part_still_waiting_holds_the_bundle_saying_so(world: CompanyWorld) -> None:
    bundle_no = world.apply(application("REMOVED-1")).bundle_no
    smaller = _catalogue(_without_tax)
    _licence_in_library(world, bundle_no)
    _scan(world, smaller)
    _scan(world, smaller)
    detail = world.detail(bundle_no)
    assert {p["part"]: p["state"] for p in detail["parts"]} == {"licence": "finished", "seal": "released",
                                                                 "tax": "waiting"}
    assert detail["status"] == "held"
    assert "tax" in detail["reason"] and "no longer in the KBQY definition" in detail["reason"]


def test_a_removed_part_already_released_is_followed_to_its_end(world: CompanyWorld) -> None:
    bundle_no = world.apply(application("REMOVED-2")).bundle_no
    _licence_in_library(world, bundle_no)
    assert world.scan().released == 2
    world.push()
    seal_case, tax_case = world.part(bundle_no, "seal")["case_no"], world.part(bundle_no, "tax")["case_no"]
    world.checked("jn_seal", seal_case)
    world.checked("jn_tax", tax_case)
    smaller = _catalogue(_without_tax)  # tax leaves the definition while its part is with the tax office
    for system, case_no in (("jn_seal", seal_case), ("jn_tax", tax_case)):
        world.admin(system, "POST", "/_sandbox/decide", json={"case_no": case_no, "decision": "finish"})
    world.sync()
    report = _scan(world, smaller)
    assert report.finished == [bundle_no]
    detail = world.detail(bundle_no)
    assert detail["status"] == "finished" and world.part(bundle_no, "tax")["state"] == "finished"
