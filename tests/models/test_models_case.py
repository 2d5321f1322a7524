from __future__ import annotations

import copy

import pytest
from models_sample_data import valid_case

from gateway.contract.errors import RecordRejected
from gateway.models import Case, CaseResult, CaseStatus, CaseType, IdType, validate_case


def check(record, ref="t:1", rules=None):
    return validate_case(record, ref, rules=rules)


def rejected(record, rules=None):
    with pytest.raises(RecordRejected) as info:
        validate_case(record, "t:1", rules=rules)
    return {(i.field, i.rule) for i in info.value.issues}


def flagged(record, rules=None):
    """The (field, rule) quality flags of a kept case: on the case itself and in the reported flags alike."""
    case, flags = validate_case(record, "t:1", rules=rules)
    on_case = {(f.field, f.rule) for f in case.quality}
    assert on_case == {(f.field, f.rule) for f in flags}
    return on_case


def strict(*rules):
    """A mapping's policy that raises these quality rules to reject."""
    return {rule: "reject" for rule in rules}


def test_valid_case_round_trip():
    case, warnings = check(valid_case())
    assert isinstance(case, Case)
    assert warnings == []
    assert case.case_type is CaseType.PROMISED and case.result is CaseResult.ISSUED
    assert case.status is CaseStatus.FINISHED and case.applicant.id_type is IdType.RESIDENT_ID
    assert case.applied_at.utcoffset().total_seconds() == 8 * 3600
    assert case.events[1].special_type.label == "补正"
    assert case.materials[1].source.label == "证照复用"


def test_model_config_forbids_extra_fields():
    assert ("bogus", "extra_field") in rejected(valid_case(bogus=1))
    bad = valid_case()
    bad["applicant"]["nick"] = "x"
    assert ("applicant.nick", "extra_field") in rejected(bad)


# --- result rules (quality: flagged by default, rejected when a mapping raises them) ----------------------

def test_issued_requires_certificate():
    record = valid_case(certificate_name=None, certificate_no="")
    expected = {("certificate_name", "case.certificate_required"), ("certificate_no", "case.certificate_required")}
    assert flagged(record) == expected
    assert rejected(record, strict("case.certificate_required")) == expected
    assert flagged(record, {"case.certificate_required": "ignore"}) == set()


@pytest.mark.parametrize("result", ["not_permitted", "returned", "not_accepted", "correction_timeout"])
def test_negative_results_require_a_reason(result):
    base = dict(result=result, certificate_name=None, certificate_no=None, status="returned")
    assert flagged(valid_case(**base)) == {("result_reason", "case.reason_required")}
    assert rejected(valid_case(**base), strict("case.reason_required")) == {("result_reason", "case.reason_required")}
    assert flagged(valid_case(**base, result_reason="材料不齐全"), strict("case.reason_required")) == set()


@pytest.mark.parametrize("result", ["finished", "forwarded", "withdrawn", "voided", "deleted"])
def test_other_results_need_neither(result):
    record = valid_case(result=result, certificate_name=None, certificate_no=None)
    assert flagged(record, strict("case.certificate_required", "case.reason_required")) == set()


@pytest.mark.parametrize("status", ["submitted", "accepted", "in_progress", "suspended"])
def test_a_finish_time_on_an_open_case_is_kept_flagged(status):
    """A case reopened with its old finish time, or a source that never moves the status: the finish time stops
    its clocks (a hidden overdue case), so it is kept and flagged for an operator to see."""
    record = valid_case(status=status, result=None, certificate_name=None, certificate_no=None)
    assert flagged(record) == {("finished_at", "case.finished_while_open")}
    assert rejected(record, strict("case.finished_while_open")) == {("finished_at", "case.finished_while_open")}
    assert flagged(valid_case(status="finished")) == set()
    assert flagged(valid_case(status=status, result=None, certificate_name=None, certificate_no=None,
                              finished_at=None)) == set()


@pytest.mark.parametrize("ended_at", [None, "9999-12-31T00:00:00+08:00", "2024-03-06T09:00:00+08:00"],
                         ids=["no end", "9999-12-31 for open", "ended after the finish"])
def test_a_special_procedure_still_open_at_the_finish_is_kept_flagged(ended_at):
    """A 补正 nobody closed stopped the clock up to the finish (a late case read as on time): kept, flagged."""
    record = valid_case()
    record["events"][1]["ended_at"] = ended_at
    assert flagged(record) == {("events.1.ended_at", "case.special_open_at_finish")}
    assert rejected(record, strict("case.special_open_at_finish")) == {
        ("events.1.ended_at", "case.special_open_at_finish")}
    open_step = valid_case()
    open_step["events"][2]["ended_at"] = None  # a step is no special procedure: it stops no clock
    assert flagged(open_step) == set()


def test_result_requires_finish():
    assert flagged(valid_case(finished_at=None)) == {("finished_at", "case.result_requires_finish")}
    assert rejected(valid_case(finished_at=None), strict("case.result_requires_finish")) == {
        ("finished_at", "case.result_requires_finish")}
    case, flags = check(valid_case(finished_at=None, result=None, certificate_name=None, certificate_no=None,
                                   status="in_progress"), rules=strict("case.result_requires_finish"))
    assert case.result is None and flags == [] and case.quality == []


# --- instant promise -------------------------------------------------------------------------------------

def test_instant_case_promises_zero_days():
    assert flagged(valid_case(case_type="instant", promised_days=3)) == {("promised_days", "case.instant_promise")}
    assert rejected(valid_case(case_type="instant", promised_days=3), strict("case.instant_promise")) == {
        ("promised_days", "case.instant_promise")}
    policy = strict("case.instant_promise")
    assert flagged(valid_case(case_type="instant", promised_days=0), policy) == set()
    assert flagged(valid_case(case_type="instant", promised_days=None), policy) == set()
    assert flagged(valid_case(case_type="promised", promised_days=3), policy) == set()


# --- date order ------------------------------------------------------------------------------------------

ORDER = strict("case.date_order")


def test_accepted_before_applied():
    record = valid_case(accepted_at="2024-03-01T08:59:59+08:00")
    assert ("accepted_at", "case.date_order") in flagged(record)
    assert ("accepted_at", "case.date_order") in rejected(record, ORDER)


def test_event_before_acceptance():
    bad = valid_case()
    bad["events"][0]["started_at"] = "2024-03-01T09:29:00+08:00"
    assert flagged(bad) == {("events.0.started_at", "case.date_order")}
    assert rejected(bad, ORDER) == {("events.0.started_at", "case.date_order")}


def test_event_after_finish():
    bad = valid_case()
    bad["events"][2]["started_at"] = "2024-03-05T16:00:01+08:00"
    bad["events"][2]["ended_at"] = None
    assert flagged(bad) == {("events.2.started_at", "case.date_order")}
    assert rejected(bad, ORDER) == {("events.2.started_at", "case.date_order")}


def test_event_ends_before_it_starts():
    bad = valid_case()
    bad["events"][1]["ended_at"] = "2024-03-02T08:59:00+08:00"
    assert flagged(bad) == {("events.1.ended_at", "case.date_order")}
    assert rejected(bad, ORDER) == {("events.1.ended_at", "case.date_order")}


def test_finished_before_accepted():
    bad = valid_case(finished_at="2024-03-01T09:10:00+08:00", events=[])
    assert flagged(bad) == {("finished_at", "case.date_order")}
    assert rejected(bad, ORDER) == {("finished_at", "case.date_order")}


def test_without_acceptance_events_are_compared_with_the_application():
    case = valid_case(accepted_at=None)
    assert flagged(case, ORDER) == set()
    case["events"][0]["started_at"] = "2024-03-01T08:00:00+08:00"
    assert ("events.0.started_at", "case.date_order") in flagged(case)
    assert ("events.0.started_at", "case.date_order") in rejected(case, ORDER)


def test_equal_times_are_in_order():
    t = "2024-03-01T09:00:00+08:00"
    assert flagged(valid_case(applied_at=t, accepted_at=t, finished_at=t, updated_at=t, events=[
        {"seq": 1, "kind": "step", "name": "受理", "action": "accept", "started_at": t, "ended_at": t}]), ORDER) == set()


def test_other_offsets_and_formats_are_ordered_and_normalised_to_beijing():
    record = valid_case(
        applied_at="2024-03-01T01:00:00Z",  # 09:00 Beijing
        accepted_at="2024-03-01 09:30:00.250+08:00",
        updated_at="2024-03-05T08:05:00+00:00",
    )
    record["events"][0]["started_at"] = "2024-03-01T09:30:00.500+08:00"
    case, flags = check(record, rules=ORDER)
    assert flags == []
    assert case.applied_at.isoformat() == "2024-03-01T09:00:00+08:00"
    assert case.updated_at.isoformat() == "2024-03-05T16:05:00+08:00"
    # 09:30:00.500 is after 09:30:00.250, 09:30:00 (no fraction) would be before it:
    record["events"][0]["started_at"] = "2024-03-01T09:30:00+08:00"
    assert ("events.0.started_at", "case.date_order") in flagged(record)
    assert ("events.0.started_at", "case.date_order") in rejected(record, ORDER)
    # and an event in UTC before the acceptance is caught too
    record["events"][0]["started_at"] = "2024-03-01T01:29:00Z"
    assert ("events.0.started_at", "case.date_order") in flagged(record)
    assert ("events.0.started_at", "case.date_order") in rejected(record, ORDER)


def test_naive_datetime_is_rejected():
    assert rejected(valid_case(applied_at="2024-03-01 09:00:00")) == {
        ("applied_at", "datetime.timezone_required")}


def test_bad_datetime_is_rejected():
    assert rejected(valid_case(applied_at="2024-02-30T09:00:00+08:00")) == {("applied_at", "type.datetime")}
    bad = valid_case()
    bad["events"][2]["started_at"] = "yesterday"
    assert rejected(bad) == {("events.2.started_at", "type.datetime")}


# --- identifiers inside the case ----------------------------------------------------------------------

def test_applicant_id_checked_per_type():
    bad = valid_case()
    bad["applicant"]["id_number"] = "360426199101010072"
    assert rejected(bad) == {("applicant.id_number", "resident_id.checksum")}
    bad["applicant"]["id_number"] = "360426199102300071"
    assert ("applicant.id_number", "resident_id.checksum") in rejected(bad) or (
        "applicant.id_number", "resident_id.birth_date") in rejected(bad)


def test_applicant_birth_date_rejected_in_case():
    from gateway.models import resident_id_check_char
    body = "11010119900230123"
    bad = valid_case()
    bad["applicant"]["id_number"] = body + resident_id_check_char(body)
    assert rejected(bad) == {("applicant.id_number", "resident_id.birth_date")}


def test_applicant_domain_example_warns_but_passes():
    record = valid_case()
    record["applicant"]["id_number"] = "370181201801011235"
    case, warnings = check(record)
    assert [(w.record, w.field, w.rule) for w in warnings] == [
        ("t:1", "applicant.id_number", "resident_id.place_code")]


def test_applicant_fifteen_digit_id_is_stored_converted():
    record = valid_case()
    record["applicant"]["id_number"] = "360426910101007"
    case, warnings = check(record)
    assert case.applicant.id_number == "360426199101010071"
    assert [w.rule for w in warnings] == ["resident_id.converted_15"]


def test_organisation_applicant_and_other_id_types():
    record = valid_case()
    record["applicant"] = {"type": "2", "name": "上海某某餐饮管理有限公司", "id_type": "001",
                           "id_number": "91110000600037341l"}
    case, _ = check(record)
    assert case.applicant.id_number == "91110000600037341L"
    record["applicant"]["id_number"] = "91110000600037341M"
    assert rejected(record) == {("applicant.id_number", "uscc.checksum")}
    record["applicant"] = {"type": "1", "name": "John Smith", "id_type": "414", "id_number": "E12345678"}
    check(record)
    record["applicant"]["id_number"] = "\u3000"
    assert rejected(record) == {("applicant.id_number", "id_number.empty")}


def test_dept_code_is_a_uscc():
    assert rejected(valid_case(dept_code="91110000600037341M")) == {("dept_code", "uscc.checksum")}
    assert rejected(valid_case(dept_code="123")) == {("dept_code", "uscc.length")}
    case, _ = check(valid_case(dept_code="91110000600037341l"))
    assert case.dept_code == "91110000600037341L"


def test_division_code():
    assert rejected(valid_case(division_code="31011")) == {("division_code", "division.format")}
    case, warnings = check(valid_case(division_code="999999"))
    assert [(w.field, w.rule) for w in warnings] == [("division_code", "division.unknown")]
    check(valid_case(division_code="310115001000"))


# --- text and field constraints --------------------------------------------------------------------------

def test_names_must_encode_in_gb18030():
    bad = valid_case()
    bad["applicant"]["name"] = "张\udc80三"
    assert rejected(bad) == {("applicant.name", "text.gb18030")}
    assert rejected(valid_case(item_name="食品\ud800")) == {("item_name", "text.gb18030")}
    check(valid_case(item_name="𠀀𪚥龘 — rare CJK and emoji 😀 are fine"))


def test_applicant_name_must_not_be_blank():
    bad = valid_case()
    bad["applicant"]["name"] = "   "
    assert rejected(bad) == {("applicant.name", "string_too_short")}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"case_no": "3101/15"}, ("case_no", "string_pattern")),
        ({"case_no": "1" * 51}, ("case_no", "string_too_long")),
        ({"case_no": ""}, ("case_no", "string_too_short")),
        ({"item_code": "x" * 37}, ("item_code", "string_too_long")),
        ({"case_type": "1"}, ("case_type", "enum")),
        ({"status": "done"}, ("status", "enum")),
        ({"result": "0"}, ("result", "enum")),
        ({"promised_days": -1}, ("promised_days", "range.ge")),
        ({"promised_days": "twenty"}, ("promised_days", "type.int")),
        ({"deleted": "maybe"}, ("deleted", "type.bool")),
        ({"events": "none"}, ("events", "type.list")),
        ({"applicant": "张三"}, ("applicant", "type.object")),
    ],
)
def test_field_rules(overrides, expected):
    assert expected in rejected(valid_case(**overrides))


def test_missing_fields_are_named():
    record = valid_case()
    del record["updated_at"]
    del record["applicant"]["id_type"]
    assert rejected(record) == {("updated_at", "missing"), ("applicant.id_type", "missing")}


def test_event_fields():
    bad = valid_case()
    bad["events"][0]["opinion"] = "意" * 2001  # kept truncated and flagged (text.truncated), not a rejection
    bad["events"][1]["kind"] = "procedure"
    bad["events"][2]["action"] = "sign"
    assert rejected(bad) == {("events.1.kind", "enum"), ("events.2.action", "enum")}
    ok = valid_case()
    ok["events"][0]["opinion"] = "意" * 2000
    check(ok)


def test_material_fields():
    bad = valid_case()
    bad["materials"][0]["count"] = -1
    bad["materials"][1]["source"] = "fax"
    assert rejected(bad) == {("materials.0.count", "range.ge"), ("materials.1.source", "enum")}


def test_tombstones_are_full_records():
    tomb = valid_case(
        deleted=True, status="deleted", result="deleted", certificate_name=None, certificate_no=None)
    case, _ = check(tomb)
    assert case.deleted is True
    assert ("dept_code", "uscc.checksum") in rejected(dict(tomb, dept_code="91110000600037341M"))
    assert ("applied_at", "missing") in rejected({k: v for k, v in tomb.items() if k != "applied_at"})


def test_several_issues_are_reported_together():
    bad = valid_case(case_type="instant", promised_days=5, certificate_no=None, division_code="x")
    bad["applicant"]["id_number"] = "360426199101010072"
    structural = {("division_code", "division.format"), ("applicant.id_number", "resident_id.checksum")}
    assert rejected(bad) == structural  # the quality findings do not reject by default
    assert rejected(bad, strict("case.instant_promise", "case.certificate_required")) == structural | {
        ("promised_days", "case.instant_promise"),
        ("certificate_no", "case.certificate_required"),
    }


def test_model_validate_without_context_still_enforces_rules():
    from pydantic import ValidationError

    assert Case.model_validate(valid_case()).quality == []
    case = Case.model_validate(valid_case(finished_at=None))  # quality rules flag without any context
    assert [(f.field, f.rule) for f in case.quality] == [("finished_at", "case.result_requires_finish")]
    bad = valid_case()
    bad["applicant"]["id_number"] = "360426199101010072"
    with pytest.raises(ValidationError):  # structural rules reject
        Case.model_validate(bad)


def test_input_is_not_mutated():
    record = valid_case()
    record["applicant"]["id_number"] = "360426910101007"
    before = copy.deepcopy(record)
    check(record)
    assert record == before
