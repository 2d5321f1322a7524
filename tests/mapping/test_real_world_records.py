"""The three ways real systems lost legitimate records to the canonical model, replayed through the shipped
mappings: each now maps and validates without a rejection and carries the right quality flags; a mapping
that raises a rule to ``reject`` still keeps those records out; a batch's flags tally to one line per rule.

- a REST system writes the string "null" as the finish time of pending cases (4% of its records);
- a SOAP system finishes cases with a certificate but names none, and refuses without a reason (81%);
- a third system sets a result code on cases that are not finished (63%).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from gateway.mapping.mapper import Mapper
from gateway.models import QualityTally, aggregate_flags
from sandbox import civil, estate, market

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
PLACE = "resident_id.place_code"
"""The sandbox's people carry legitimate IDs (some issued under a code newer than their birth year, some under
an old code still valid for them): no place-code finding is expected in these samples."""


NAME_GBK = "text.outside_gbk"
"""The sandbox's people include rare-character (生僻字) names, which GBK cannot hold: flagged on any record, a rule
of its own, beside what each test here looks at."""


def findings(case) -> set[tuple[str, str]]:
    return {(f.rule, f.field) for f in case.quality if f.rule not in (PLACE, NAME_GBK)}


def load(name: str, extra: str = "", drop: str = "") -> Mapper:
    text = (MAPPINGS / f"{name}.yaml").read_text(encoding="utf-8")
    if drop:
        assert drop in text
        text = text.replace(drop, "")
    return Mapper.from_text(text + extra, where=f"{name}.yaml")


def run(mapper: Mapper, records: list[dict], key: str) -> tuple[list, list, list]:
    """Map and validate as the sync does: (kept cases, rejected refs, flags)."""
    mapped, refs, rejected = [], [], []
    for record in records:
        canonical, issues = mapper.map(record)
        ref = f"{mapper.system}:{record[key]}"
        if issues:
            rejected.append((ref, issues))
        else:
            mapped.append(canonical)
            refs.append(ref)
    result = mapper.validate(mapped, refs)
    rejected += [(r.record, [(i.field, i.rule, i.message) for i in r.issues]) for _, r in result.rejected]
    return result.valid, rejected, result


def pick(generate, predicate, count: int, seed: int = 7) -> list[dict]:
    found = []
    i = 0
    while len(found) < count:
        record = generate(seed, i)
        if predicate(record):
            found.append(copy.deepcopy(record))
        i += 1
    return found


# --- 1. "null" finish times on pending cases ------------------------------------------------------------------

def pending_with_null_strings() -> list[dict]:
    records = pick(civil.generate, lambda r: r["result"] is None and r["isDeleted"] == 0, 25)
    for r in records:
        r.update(finishTime="null", result=None, resultReason="null", certName="NULL", certNo="-")
    return records


def test_pending_cases_whose_finish_time_is_the_string_null_are_kept() -> None:
    records = pending_with_null_strings()
    valid, rejected, result = run(load("sd_civil"), records, "id")
    assert rejected == []
    assert len(valid) == len(records)
    for _, case in valid:
        assert case.finished_at is None and case.result is None and case.certificate_name is None
        assert case.status.value in ("accepted", "in_progress")  # "null" is not a finish time
        assert findings(case) == set()
    assert {f.rule for _, f in result.flags} <= {PLACE}


def test_the_same_records_were_lost_without_null_tokens() -> None:
    records = pending_with_null_strings()
    mapper = load("sd_civil", drop='null_tokens: ["null", "NULL", "-", "无", "0000-00-00 00:00:00"]\n')
    valid, rejected, _ = run(mapper, records, "id")
    assert valid == [] and len(rejected) == len(records)
    assert all(("finished_at", "mapping.date_format") in {(f, r) for f, r, _ in issues} for _, issues in rejected)


# --- 2. the SOAP system: no certificate named, refusals without a reason ---------------------------------------

def soap_batch() -> tuple[list[dict], set[str], set[str]]:
    """100 market records, 81 of them breaking a rule the way the SOAP system's data did."""
    issued = pick(market.generate, lambda r: r["BJJG"] == "0", 60)
    refused = pick(market.generate, lambda r: r["BJJG"] in ("1", "5", "6"), 30)
    pending = pick(market.generate, lambda r: r["BJJG"] is None, 10)
    no_certificate, no_reason = set(), set()
    for r in issued[:55]:
        r["ZZMC"] = None if len(no_certificate) % 2 else ""  # absent, or an empty XML element
        r["ZZBH"] = None
        no_certificate.add(r["YWLSH"])
    for r in refused[:26]:
        r["BJYY"] = None if len(no_reason) % 3 else "无"
        no_reason.add(r["YWLSH"])
    return issued + refused + pending, no_certificate, no_reason


def test_soap_cases_without_certificate_or_reason_are_kept_with_quality_flags() -> None:
    records, no_certificate, no_reason = soap_batch()
    valid, rejected, result = run(load("sd_market"), records, "YWLSH")
    assert rejected == []
    assert len(valid) == 100
    by_ref = {}
    for i, case in valid:
        by_ref[f"sd_market:{records[i]['YWLSH']}"] = findings(case)
    for ywlsh in no_certificate:
        assert by_ref[f"sd_market:{ywlsh}"] == {("case.certificate_required", "certificate_name"),
                                                ("case.certificate_required", "certificate_no")}
    for ywlsh in no_reason:
        assert by_ref[f"sd_market:{ywlsh}"] == {("case.reason_required", "result_reason")}
    clean = set(by_ref) - {f"sd_market:{y}" for y in no_certificate | no_reason}
    assert len(clean) == 19 and all(by_ref[ref] == set() for ref in clean)

    # one entry per rule for the whole batch, counted per record, with three examples each
    summary = {c.rule: c for c in aggregate_flags(result.flags)}
    assert set(summary) == {"case.certificate_required", "case.reason_required"}
    assert summary["case.certificate_required"].records == 55
    assert summary["case.certificate_required"].fields == ["certificate_name", "certificate_no"]
    assert summary["case.reason_required"].records == 26
    assert all(len(c.examples) == 3 for c in summary.values())
    assert set(summary["case.reason_required"].examples) <= {f"sd_market:{y}" for y in no_reason}


def test_a_mapping_that_raises_a_rule_to_reject_keeps_those_records_out() -> None:
    records, _, no_reason = soap_batch()
    strict = load("sd_market", "\nrules:\n  case.reason_required: reject\n")
    valid, rejected, result = run(strict, records, "YWLSH")
    assert {ref for ref, _ in rejected} == {f"sd_market:{y}" for y in no_reason}
    assert all(issues == [("result_reason", "case.reason_required", issues[0][2])] for _, issues in rejected)
    assert len(valid) == 100 - len(no_reason)
    assert {f.rule for _, f in result.flags} == {"case.certificate_required"}  # still only flagged

    ignoring = load("sd_market", "\nrules:\n  case.certificate_required: ignore\n")
    valid, rejected, result = run(ignoring, records, "YWLSH")
    assert rejected == [] and {f.rule for _, f in result.flags} == {"case.reason_required"}
    assert all(f.rule != "case.certificate_required" for _, case in valid for f in case.quality)


# --- 3. a result code on unfinished cases -------------------------------------------------------------------

def test_a_result_on_an_unfinished_case_is_kept_with_a_flag() -> None:
    records = pick(estate.generate, lambda r: r["bjjg"] in ("6", "1") and r["czlx"] != "D", 30)
    for r in records[:19]:
        r["bjsj"] = None  # the result code is set, the case has no finish time
    valid, rejected, result = run(load("jn_estate"), records, "ywh")
    assert rejected == []
    assert len(valid) == 30
    flagged = {records[i]["ywh"] for i, case in valid if findings(case)}
    assert flagged == {r["ywh"] for r in records[:19]}
    for i, case in valid:
        if findings(case):
            assert findings(case) == {("case.result_requires_finish", "finished_at")}
            assert case.finished_at is None and case.result is not None
    counts = {c.rule: c.records for c in aggregate_flags(result.flags)}
    assert counts.pop("case.result_requires_finish") == 19 and set(counts) <= {PLACE, NAME_GBK}


# --- the batch tally, as the sync logs it ------------------------------------------------------------------

def test_a_run_logs_one_line_per_rule_with_counts_and_examples() -> None:
    records, _, _ = soap_batch()
    estate_records = pick(estate.generate, lambda r: r["bjjg"] == "6" and r["czlx"] != "D", 10)
    for r in estate_records:
        r["bjsj"] = None
    broken = copy.deepcopy(records[0])
    broken["ZJLX"], broken["ZJHM"] = "111", "370102198506011235"  # a failed checksum still rejects
    tally = QualityTally()
    for mapper, page, key in ((load("sd_market"), records[:50], "YWLSH"), (load("sd_market"), records[50:], "YWLSH"),
                              (load("jn_estate"), estate_records, "ywh"), (load("sd_market"), [broken], "YWLSH")):
        _, _, result = run(mapper, page, key)
        tally.add(result)
    lines = [line for line in tally.lines() if PLACE not in line and NAME_GBK not in line]
    assert len(lines) == 4  # one per rule, however many records and pages
    assert lines[0].startswith("reject resident_id.checksum: 1 record (applicant.id_number), e.g. sd_market:")
    assert lines[1].startswith("flag case.certificate_required: 55 records (certificate_name, certificate_no), e.g. ")
    assert lines[2].startswith("flag case.reason_required: 26 records (result_reason), e.g. ")
    assert lines[3].startswith("flag case.result_requires_finish: 10 records (finished_at), e.g. jn_estate:")
    counts = tally.flag_counts()
    assert counts.pop(PLACE, 0) == 0  # legitimate IDs: no place-code finding
    counts.pop(NAME_GBK, None)
    assert counts == {"case.certificate_required": 55, "case.reason_required": 26, "case.result_requires_finish": 10}
    as_dict = tally.as_dict()
    assert as_dict["reject"]["resident_id.checksum"]["records"] == 1
    assert len(as_dict["flag"]["case.reason_required"]["examples"]) == 3


@pytest.mark.parametrize("name", ["sd_civil", "sd_market", "jn_estate", "sd_hall"])
def test_shipped_mappings_load_with_null_tokens(name: str) -> None:
    mapper = load(name)
    assert mapper.rules == {}
    assert "_nt" in mapper.source  # null tokens compiled in
