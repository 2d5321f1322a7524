from __future__ import annotations

import pytest
from models_sample_data import make_cases, valid_case

from gateway.contract.errors import RecordRejected
from gateway.models import (
    Case,
    case_to_row,
    cases_to_rows,
    content_hash,
    row_to_case,
    validate_case,
    validate_cases,
)


def test_mixed_batch_keeps_the_good_and_names_the_bad():
    good = valid_case()
    bad_checksum = valid_case()
    bad_checksum["applicant"]["id_number"] = "360426199101010072"
    bad_event = valid_case()
    bad_event["events"][2]["started_at"] = "not a time"
    bad_rule = valid_case(result="not_accepted", certificate_name=None, certificate_no=None)
    warned = valid_case(division_code="999999")
    records = [good, bad_checksum, good, bad_event, "not a dict", bad_rule, warned]
    refs = [f"sys:{i}" for i in range(len(records))]

    result = validate_cases(records, refs)

    # a refusal without a reason breaks a quality rule: kept, flagged
    assert [i for i, _ in result.valid] == [0, 2, 5, 6]
    assert all(isinstance(c, Case) for _, c in result.valid)
    assert [i for i, _ in result.rejected] == [1, 3, 4]
    by_index = {i: r for i, r in result.rejected}
    assert all(isinstance(r, RecordRejected) for r in by_index.values())
    assert by_index[1].record == "sys:1"
    assert [(x.record, x.field, x.rule) for x in by_index[1].issues] == [
        ("sys:1", "applicant.id_number", "resident_id.checksum")]
    assert [(x.field, x.rule) for x in by_index[3].issues] == [("events.2.started_at", "type.datetime")]
    assert [(x.field, x.rule) for x in by_index[4].issues] == [("(record)", "type.object")]
    assert all(x.message for r in by_index.values() for x in r.issues)
    assert "sys:1: applicant.id_number:" in str(by_index[1])
    assert [(i, f.record, f.field, f.rule) for i, f in result.flags] == [
        (5, "sys:5", "result_reason", "case.reason_required"),
        (6, "sys:6", "division_code", "division.unknown"),
    ]
    assert result.warnings is result.flags  # the former name
    kept = dict(result.valid)
    assert [(f.field, f.rule) for f in kept[5].quality] == [("result_reason", "case.reason_required")]
    assert kept[0].quality == [] and kept[6].quality[0].rule == "division.unknown"

    # the same batch under a mapping that raises the reason rule to reject (and ignores unknown divisions)
    strict = validate_cases(records, refs, rules={"case.reason_required": "reject", "division.unknown": "ignore"})
    assert [i for i, _ in strict.valid] == [0, 2, 6] and [i for i, _ in strict.rejected] == [1, 3, 4, 5]
    assert [(x.field, x.rule) for x in dict(strict.rejected)[5].issues] == [("result_reason", "case.reason_required")]
    assert strict.flags == [] and dict(strict.valid)[6].quality == []


def test_valid_cases_are_the_same_objects_as_single_validation():
    records = make_cases(50)
    result = validate_cases(records, [str(i) for i in range(50)])
    assert len(result.valid) == 50 and not result.rejected
    for i, case in result.valid:
        assert case == validate_case(records[i], str(i))[0]


def test_warnings_carry_their_record_index():
    records = [valid_case(), valid_case(), valid_case()]
    records[1]["applicant"]["id_number"] = "370181201801011235"
    records[2]["applicant"]["id_number"] = "360426910101007"
    result = validate_cases(records, ["a", "b", "c"])
    assert [(i, w.record, w.field, w.rule) for i, w in result.warnings] == [
        (1, "b", "applicant.id_number", "resident_id.place_code"),
        (2, "c", "applicant.id_number", "resident_id.converted_15"),
    ]
    assert dict(result.valid)[2].applicant.id_number == "360426199101010071"


def test_empty_batch_and_ref_mismatch():
    assert validate_cases([], []).valid == []
    with pytest.raises(ValueError):
        validate_cases([valid_case()], [])


def test_gc_state_is_restored():
    import gc

    assert gc.isenabled()
    validate_cases([valid_case(), {}], ["a", "b"])
    assert gc.isenabled()
    gc.disable()
    try:
        validate_cases([valid_case()], ["a"])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_validate_case_raises_record_rejected():
    with pytest.raises(RecordRejected) as info:
        validate_case({}, "x:1")
    assert info.value.record == "x:1"
    assert {"case_no", "applicant", "updated_at"} <= {i.field for i in info.value.issues}
    assert {i.rule for i in info.value.issues} == {"missing"}


# --- rows and hashes -------------------------------------------------------------------------------------

def test_case_to_row_is_json_ready_with_beijing_offsets():
    import json

    record = valid_case(applied_at="2024-03-01T01:00:00Z")
    case, _ = validate_case(record, "r")
    row = case_to_row(case)
    json.dumps(row)
    assert row["applied_at"] == "2024-03-01T09:00:00+08:00"
    assert row["events"][0]["started_at"] == "2024-03-01T09:30:00+08:00"
    assert row["case_type"] == "promised" and row["applicant"]["id_type"] == "111"
    assert cases_to_rows([case]) == [row]
    assert row_to_case(row) == case


def test_content_hash_is_stable_and_sensitive():
    case, _ = validate_case(valid_case(), "r")
    row = case_to_row(case)
    h = content_hash(case)
    assert len(h) == 32 and h == content_hash(row) == content_hash(dict(reversed(list(row.items()))))
    same_instant, _ = validate_case(valid_case(applied_at="2024-03-01T01:00:00Z"), "r")
    assert content_hash(same_instant) == h
    changed, _ = validate_case(valid_case(handler="王六"), "r")
    assert content_hash(changed) != h
    assert content_hash(case, exclude=["updated_at"]) == content_hash(
        validate_case(valid_case(updated_at="2024-03-06T00:00:00+08:00"), "r")[0], exclude=["updated_at"])


def test_content_hash_known_value():
    # A format: changing it makes every stored record look changed once.
    assert content_hash({"b": [1, "二"], "a": None}) == content_hash({"a": None, "b": [1, "二"]})
    import hashlib

    assert content_hash({"a": 1}) == hashlib.blake2b(b'{"a":1}', digest_size=16).hexdigest()
