"""The 八统一 audit over a generated provincial catalogue, harvested over HTTP through the REST connector and the
catalogue mapping: it finds every difference the sandbox planted — each kind — and nothing else, and it tracks
findings across runs (new, still open, fixed)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest
from catalogue_testlib import CatalogueWorld, records_in_use

from gateway.catalogue import (
    FINDING_KINDS,
    harvest_catalogue,
    latest_findings_summary,
    load_catalogues,
    run_audit,
)
from gateway.store import catalogue as store
from sandbox.server import start_all

NOW = datetime.now(timezone.utc)


def _subject(d: dict) -> tuple:
    return (d["kind"], d["rule"], d["element"], d["catalog_code"], d["item_code"], d["level"], d["division"])


def test_the_audit_finds_each_planted_difference_and_nothing_else(catalogue_world: CatalogueWorld) -> None:
    harvested = catalogue_world.harvest()
    assert (harvested.read, harvested.inserted, harvested.rejected) == (3000, 3000, 0)
    catalogue_world.plant_cases(records_in_use(catalogue_world, NOW))

    report = run_audit(catalogue_world.engine, dormant_months=12, now=NOW)

    planted = {_subject(p) for p in catalogue_world.planted()}
    found = {_subject(f.as_dict()) for f in report.findings}
    assert found - planted == set(), "findings the sandbox did not plant (noise taken for a difference)"
    assert planted - found == set(), "planted differences the audit missed"
    kinds = Counter(k for k, *_ in found)
    # copy_differs needs a second catalogue system listing the same entries: tests/catalogue/test_catalogue_review.py
    assert set(kinds) == set(FINDING_KINDS) - {"copy_differs"} and min(kinds.values()) >= 3, kinds
    elements = {e for k, _, e, *_ in found if k == "element_differs"}
    assert elements == {"name", "item_type", "legal_basis", "conditions", "service_object", "materials", "fee"}
    rules = {r for k, r, *_ in found if k == "time_limit_conflict"}
    assert rules == {"legal_differs_from_national", "promised_exceeds_legal"}
    assert report.counts() == {"entries": 3000, "findings": len(planted), "new": len(planted), "still_open": 0,
                               "fixed": 0}
    one = next(f for f in report.findings if f.kind == "time_limit_conflict" and f.rule == "legal_differs_from_national")
    assert one.item_code in one.message and "法定时限" in one.message and one.expected != one.found


def test_findings_are_tracked_new_still_open_fixed(catalogue_world: CatalogueWorld) -> None:
    catalogue_world.harvest()
    first = run_audit(catalogue_world.engine, now=NOW)
    assert first.counts()["new"] == len(first.findings) > 0
    entry_plants = [p for p in catalogue_world.planted() if p["id"] and p["kind"] != "dormant"]
    fix = [p for p in entry_plants if p["kind"] in ("unclaimed", "element_differs")][:3]
    assert catalogue_world.admin("/_sandbox/fix", {"ids": [p["id"] for p in fix]})["fixed"] == [p["id"] for p in fix]

    again = catalogue_world.harvest()
    assert again.updated == 3 and again.inserted == 0  # incremental: only the fixed entries changed
    second = run_audit(catalogue_world.engine, now=NOW)

    fixed_subjects = {_subject(p) for p in fix}
    assert {tuple(k.split("|")) for k in second.fixed} == {
        (k, r, e, c, i or "", lv or "", d or "") for k, r, e, c, i, lv, d in fixed_subjects}
    counts = second.counts()
    assert counts["new"] == 0 and counts["fixed"] == 3
    assert counts["still_open"] == len(first.findings) - 3 == counts["findings"]
    with catalogue_world.engine.connect() as conn:
        versions = store.entry_versions(conn, fix[0]["item_code"])
    assert [v["version"] for v in versions] == [1, 2]  # the planted text is kept as version 1

    summary = latest_findings_summary(catalogue_world.engine)
    assert summary["run"]["id"] == second.run_id and summary["run"]["fixed"] == 3
    assert summary["open_total"] == counts["findings"] and summary["fixed_total"] == 3
    assert summary["entries"] == 3000 and len(summary["top"]) == 10
    assert set(summary["open_by_kind"]) == set(FINDING_KINDS)


def test_without_cases_in_the_ledger_nothing_is_called_dormant(catalogue_world: CatalogueWorld) -> None:
    catalogue_world.harvest()
    report = run_audit(catalogue_world.engine, now=NOW)
    assert report.by_kind()["dormant"] == 0 and report.by_kind()["element_differs"] > 0


def test_only_a_connected_departments_items_can_be_dormant(catalogue_world: CatalogueWorld) -> None:
    """The ledger holds civil affairs' cases (its system is connected) for every one of its items but one: that one
    is dormant, and no item of a department whose cases never reach the ledger is called dormant for it."""
    from datetime import timedelta

    from sandbox import civil
    from sandbox.vocab import CIVIL_ITEMS

    catalogue_world.harvest()
    codes = [civil.task_code(item) for item in CIVIL_ITEMS]
    catalogue_world.plant_cases({code: NOW - timedelta(days=10) for code in codes[1:]})
    report = run_audit(catalogue_world.engine, dormant_months=12, now=NOW)
    dormant = [f.as_dict()["item_code"] for f in report.findings if f.kind == "dormant"]
    assert dormant == [codes[0]]


def test_an_item_nobody_applies_for_is_dormant_however_recently_its_old_cases_changed(
        catalogue_world: CatalogueWorld) -> None:
    """长期无办件 is about applications: a case applied for two years ago and corrected last week (or written by
    Tongban itself) does not make its item in use; the KPI facts date each case by its 申请时间."""
    from datetime import timedelta

    from sqlalchemy import insert

    from gateway.store.tables import kpi_case_facts
    from sandbox import civil
    from sandbox.vocab import CIVIL_ITEMS

    catalogue_world.harvest()
    codes = [civil.task_code(item) for item in CIVIL_ITEMS]
    catalogue_world.plant_cases({code: NOW - timedelta(days=10) for code in codes})  # every one touched lately
    applied = {codes[0]: (NOW - timedelta(days=800)).strftime("%Y-%m")}  # … but codes[0] applied for long ago
    applied.update({code: (NOW - timedelta(days=40)).strftime("%Y-%m") for code in codes[1:]})
    with catalogue_world.engine.begin() as conn:
        conn.execute(insert(kpi_case_facts), [
            {"case_no": f"K{n:08d}", "case_version": 1, "month": month, "item_code": code, "dept_code": None,
             "office_code": None, "office_division": None, "channel": None, "live": True, "instant": False,
             "finished": False, "with_deadline": False, "on_time": False, "online": None, "cross_province": None,
             "promised_days": None, "materials": 0, "materials_reused": 0, "submissions_saved": 0,
             "refreshed_at": NOW} for n, (code, month) in enumerate(sorted(applied.items()))])
    report = run_audit(catalogue_world.engine, dormant_months=12, now=NOW)
    assert [f.as_dict()["item_code"] for f in report.findings if f.kind == "dormant"] == [codes[0]]
    dormant = next(f for f in report.findings if f.kind == "dormant")  # the month it was applied for, as known
    assert dormant.found == applied[codes[0]] and f"last application in {applied[codes[0]]}" in dormant.message


def test_a_record_that_does_not_map_is_named_and_the_harvest_goes_on(catalogue_world: CatalogueWorld) -> None:
    catalogue_world.sandbox.set_faults("catalogue", malformed_rate=0.05)
    report = catalogue_world.harvest()
    assert 0 < report.rejected < 300 and report.inserted == report.read - report.rejected
    assert all(r.startswith("sd_catalogue:QD") for r in report.rejections)
    assert any("[mapping.code_table]" in r and "level" in r for r in report.rejections)
    assert any("[mapping.required]" in r and "catalog_code" in r for r in report.rejections)
    catalogue_world.sandbox.set_faults("catalogue")
    again = catalogue_world.harvest(full_refresh=True)
    assert again.rejected == 0 and again.inserted == report.rejected and again.unchanged == report.inserted


def test_a_full_refresh_retires_what_the_source_no_longer_lists(catalogue_world: CatalogueWorld,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    catalogue_world.harvest()
    smaller = start_all(seed=42, records={"catalogue": 2900}, systems=["catalogue"])  # the same first 2,900
    try:
        monkeypatch.setenv("TONGBAN_SD_CATALOGUE_URL", smaller.urls["catalogue"])
        report = harvest_catalogue(catalogue_world.engine, load_catalogues()["sd_catalogue"], full_refresh=True)
    finally:
        smaller.stop()
    assert (report.read, report.unchanged, report.retired, report.inserted) == (2900, 2900, 100, 0)
    assert run_audit(catalogue_world.engine, now=NOW).entries == 2900
