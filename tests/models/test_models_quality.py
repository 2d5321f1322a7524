"""Quality flags on the case, the rule catalogue, the per-run tally, and what the ledger stores and hashes."""

from __future__ import annotations

import hashlib
import json

import orjson
import pytest
from models_sample_data import valid_case

from gateway.contract.errors import ConfigError, FieldIssue, RecordRejected
from gateway.models import (
    QUALITY_RULES,
    RULES,
    Case,
    IdType,
    QualityFlag,
    QualityTally,
    aggregate_flags,
    case_document,
    case_to_row,
    resident_id_check_char,
    row_to_case,
    rule_policy,
    validate_case,
    validate_cases,
)
from gateway.models.hashing import _model_fields


def refusal(**overrides: object) -> dict:
    return valid_case(result="not_accepted", certificate_name=None, certificate_no=None, status="returned",
                      **overrides)


# --- the flags on the case -------------------------------------------------------------------------------

def test_flags_are_derived_on_every_validation_whatever_the_input_held() -> None:
    forged = valid_case(quality=[{"rule": "case.date_order", "field": "x", "message": "made up"}])
    case, flags = validate_case(forged, "t:1")
    assert case.quality == [] and flags == []
    case, _ = validate_case(refusal(), "t:1")
    assert case.quality == [QualityFlag(rule="case.reason_required", field="result_reason",
                                        message="not_accepted needs a reason")]
    assert row_to_case(case_to_row(case)).quality == case.quality  # read back from the ledger: derived again
    fixed = case_to_row(case) | {"result_reason": "材料不全"}
    assert row_to_case(fixed).quality == []


def test_flags_are_in_the_ledger_document_and_its_hash() -> None:
    clean, _ = validate_case(valid_case(), "t:1")
    flagged, _ = validate_case(refusal(), "t:1")
    data, digest = case_document(flagged)
    assert json.loads(data)["quality"] == [{"rule": "case.reason_required", "field": "result_reason",
                                             "message": "not_accepted needs a reason"}]
    assert json.loads(data) == json.loads(flagged.model_dump_json())
    assert digest != case_document(flagged.model_copy(update={"quality": []}))[1]
    assert json.loads(case_document(clean)[0])["quality"] == []


def test_the_hash_of_a_case_without_flags_is_what_it_was_before_cases_carried_them() -> None:
    case, _ = validate_case(valid_case(), "t:1")
    later = {"quality", "channel", "office", "agent", "stages", "deferred_materials"}  # fields added since
    before = orjson.dumps({k: v for k, v in case.__dict__.items() if k not in later}, default=_model_fields)
    old_digest = hashlib.blake2b(before[: before.rfind(b',"updated_at":')], digest_size=16).hexdigest()
    assert case_document(case)[1] == old_digest


def test_policy_from_the_validation_context_and_without_one() -> None:
    assert [f.rule for f in Case.model_validate(refusal()).quality] == ["case.reason_required"]
    flags: list = []
    case = Case.model_validate(refusal(), context={"flags": flags, "rules": {"case.reason_required": "ignore"}})
    assert case.quality == [] and flags == []
    with pytest.raises(RecordRejected) as info:
        validate_case(refusal(), "t:9", rules={"case.reason_required": "reject"})
    assert [(i.record, i.field, i.rule) for i in info.value.issues] == [("t:9", "result_reason", "case.reason_required")]


def test_identifier_findings_are_flags_and_obey_the_policy() -> None:
    record = valid_case()
    record["applicant"]["id_number"] = "370181201801011235"
    case, flags = validate_case(record, "t:1")
    assert [(f.field, f.rule) for f in case.quality] == [("applicant.id_number", "resident_id.place_code")]
    assert [(f.record, f.rule) for f in flags] == [("t:1", "resident_id.place_code")]
    case, _ = validate_case(record, "t:1", rules={"resident_id.place_code": "ignore"})
    assert case.quality == []
    with pytest.raises(RecordRejected):
        validate_case(record, "t:1", rules={"resident_id.place_code": "reject"})
    old = valid_case(division_code="999999")
    assert [f.rule for f in validate_case(old, "t:1")[0].quality] == ["division.unknown"]


# --- 港澳台居民居住证 ----------------------------------------------------------------------------------------

def permit(prefix: str, birth: str = "19900101", seq: str = "123") -> str:
    body = prefix + birth + seq
    return body + resident_id_check_char(body)


@pytest.mark.parametrize(("id_type", "prefix"), [("hk_macao_residence_permit", "810000"),
                                                  ("hk_macao_residence_permit", "820000"),
                                                  ("taiwan_residence_permit", "830000")])
def test_residence_permit_numbers_are_gb11643_numbers_with_their_address_code(id_type: str, prefix: str) -> None:
    record = valid_case()
    record["applicant"].update(id_type=id_type, id_number=permit(prefix, "19850601").lower())
    case, flags = validate_case(record, "t:1")
    assert case.applicant.id_type is IdType(id_type) and flags == []  # no place-code check for 810000 born 1985
    assert case.applicant.id_number == permit(prefix, "19850601")


def test_residence_permit_checksum_birth_date_and_address_code() -> None:
    record = valid_case()
    good = permit("810000")
    record["applicant"].update(id_type="hk_macao_residence_permit", id_number=good[:-1] + ("0" if good[-1] != "0" else "1"))
    with pytest.raises(RecordRejected) as info:
        validate_case(record, "t:1")
    assert [i.rule for i in info.value.issues] == ["resident_id.checksum"]
    record["applicant"]["id_number"] = permit("810000", "19900230")
    with pytest.raises(RecordRejected) as info:
        validate_case(record, "t:1")
    assert [i.rule for i in info.value.issues] == ["resident_id.birth_date"]
    record["applicant"].update(id_type="taiwan_residence_permit", id_number=permit("810000"))
    case, _ = validate_case(record, "t:1")
    assert [(f.field, f.rule) for f in case.quality] == [("applicant.id_number", "residence_permit.address_code")]


# --- the rule catalogue ---------------------------------------------------------------------------------

def test_every_rule_the_case_raises_is_in_the_catalogue_with_its_kind() -> None:
    expected_quality = {"case.certificate_required", "case.reason_required", "case.result_requires_finish",
                        "case.finished_while_open", "case.special_open_at_finish",
                        "case.date_order", "case.instant_promise", "resident_id.place_code",
                        "resident_id.converted_15", "residence_permit.address_code", "division.unknown",
                        "case.office_division", "case.agent_authorisation", "case.deferred_due",
                        "case.office_incomplete", "case.agent_incomplete", "case.implausible_time",
                        "case.step_start_missing", "case.catalog_code", "text.truncated", "text.replaced",
                        "range.implausible", "mapping.code_unknown", "mapping.lookup_unknown", "mapping.regex_no_match", "text.outside_gbk"}
    assert QUALITY_RULES == expected_quality
    assert all(RULES[name].default == "flag" and RULES[name].configurable for name in QUALITY_RULES)
    structural = {r for r in RULES if r not in QUALITY_RULES}
    assert {"resident_id.checksum", "resident_id.birth_date", "uscc.checksum", "division.format", "text.gb18030",
            "type.datetime", "missing", "mapping.date_format", "mapping.required"} <= structural
    assert all(RULES[name].default == "reject" for name in structural)
    # the pydantic errors map to catalogued names
    from gateway.models import PYDANTIC_RULES
    assert set(PYDANTIC_RULES.values()) <= set(RULES)


def test_rule_policy_keeps_only_changes_and_refuses_structural_rules() -> None:
    assert rule_policy(None) == {}
    assert rule_policy({"case.date_order": "flag", "case.instant_promise": "ignore"}) == {
        "case.instant_promise": "ignore"}
    with pytest.raises(ConfigError, match="m.yaml: rules: uscc.checksum is a structural rule"):
        rule_policy({"uscc.checksum": "ignore"}, where="m.yaml")


# --- the tally ------------------------------------------------------------------------------------------

def test_tally_counts_records_per_rule_across_batches_with_three_examples() -> None:
    tally = QualityTally()
    for start in (0, 100):
        records = [refusal() if i % 2 else valid_case(certificate_no=None) for i in range(10)]
        records.append(valid_case(dept_code="91110000600037341M"))  # rejected: a failed USCC checksum
        result = validate_cases(records, [f"s:{start + i}" for i in range(len(records))])
        tally.add(result)
    summary = tally.summary()
    assert [(c.severity, c.rule, c.records) for c in summary] == [
        ("reject", "uscc.checksum", 2),
        ("flag", "case.certificate_required", 10),
        ("flag", "case.reason_required", 10),
    ]
    assert summary[1].examples == ["s:0", "s:2", "s:4"] and summary[1].fields == ["certificate_no"]
    assert summary[0].line() == "reject uscc.checksum: 2 records (dept_code), e.g. s:10, s:110"
    assert tally.flag_counts() == {"case.certificate_required": 10, "case.reason_required": 10}
    assert json.loads(json.dumps(tally.as_dict()))["flag"]["case.reason_required"]["records"] == 10


def test_aggregate_flags_counts_a_record_once_per_rule_and_groups_list_fields() -> None:
    flags = [
        (0, FieldIssue("a:1", "certificate_name", "case.certificate_required", "m")),
        (0, FieldIssue("a:1", "certificate_no", "case.certificate_required", "m")),
        (0, FieldIssue("a:1", "events.0.started_at", "case.date_order", "m")),
        (0, FieldIssue("a:1", "events.3.started_at", "case.date_order", "m")),
        (1, FieldIssue("a:2", "events.1.ended_at", "case.date_order", "m")),
    ]
    summary = {c.rule: c for c in aggregate_flags(flags, examples=1)}
    assert summary["case.certificate_required"].records == 1
    assert summary["case.date_order"].records == 2
    assert summary["case.date_order"].fields == ["events[].started_at", "events[].ended_at"]
    assert summary["case.date_order"].examples == ["a:1"]
    assert aggregate_flags([]) == [] and not QualityTally()


def test_a_name_outside_gbk_is_flagged_and_the_case_kept() -> None:
    """Outside review: an emoji in an applicant's name passed unflagged (GB18030 holds every character) and reached
    a hall that stores GBK. A 生僻字 of CJK Extension B is a real name — flagged the same (the push to a GBK system
    would fail), never refused; a name GBK holds is not flagged."""
    base = valid_case()
    for name in ("李四😀", "张𠮷"):
        case, flags = validate_case({**base, "applicant": {**base["applicant"], "name": name}}, "t:1")
        [flag] = [f for f in case.quality if f.rule == "text.outside_gbk"]
        assert flag.field == "applicant.name" and f"U+{ord(name[-1]):04X}" in flag.message
    case, _ = validate_case({**base, "applicant": {**base["applicant"], "name": "欧阳娜娜"}}, "t:1")
    assert not [f for f in case.quality if f.rule == "text.outside_gbk"]
    assert "text.outside_gbk" in QUALITY_RULES
