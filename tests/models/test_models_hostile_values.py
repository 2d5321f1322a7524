"""Values real sources send that the model must name, bound or repair — never let through to fail a page later.

Each test pins one defect a reviewer reproduced: an integer beyond 64 bits validated (then failed the ledger's
JSON), year 1 validated (then failed the ledger's UTC conversion), nested numbers rejected where top-level
ones were read as text, stage times kept at the offset given, and optional details (an over-long opinion, a
step without a start, a catalogue code of the wrong length, lone surrogates in free text) rejecting the case.
"""

from __future__ import annotations

import copy

import pytest
from models_sample_data import valid_case

from gateway.contract.errors import RecordRejected
from gateway.models import case_document, validate_case, validate_cases


def rejected(record):
    with pytest.raises(RecordRejected) as info:
        validate_case(record, "t:1")
    return {(i.field, i.rule) for i in info.value.issues}


def kept(record):
    case, flags = validate_case(record, "t:1")
    assert {(f.field, f.rule) for f in case.quality} == {(f.field, f.rule) for f in flags}
    return case, {(f.field, f.rule) for f in flags}


# --- 1. integers have real bounds (an integer beyond 64 bits cannot even be written) -------------------------

# An optional number above its bound (promised_days 3651 or 10**20, a count of 2**70, a stage limit of 10**20) is
# left out and flagged instead (range.implausible): tests/models/test_models_implausible_numbers.py.
@pytest.mark.parametrize(("path", "value", "rule"), [
    ("promised_days", -1, "range.ge"),
    ("materials.0.count", -1, "range.ge"),
    ("events.0.seq", 2**64, "range.le"),
    ("events.0.seq", -1, "range.ge"),
    ("stages.0.limit_days", -1, "range.ge"),
])
def test_an_integer_beyond_its_bound_is_rejected_naming_the_field_and_a_range_rule(path, value, rule) -> None:
    record = valid_case(stages=[{"name": "审核", "limit_days": 3}])
    target = record
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    assert rejected(record) == {(path, rule)}


def test_the_bounds_keep_real_values() -> None:
    record = valid_case(promised_days=3650, stages=[{"name": "审核", "limit_days": 3650}])
    record["events"][0]["seq"] = 2**31 - 1
    record["materials"][0]["count"] = 0
    case, _ = kept(record)
    case_document(case)  # writable


# --- 2. a time before 1900 is no real time ----------------------------------------------------------------

@pytest.mark.parametrize("field", ["updated_at", "applied_at"])
def test_year_one_in_the_records_own_times_rejects_it_naming_the_field(field) -> None:
    assert (field, "datetime.implausible") in rejected(valid_case(**{field: "0001-01-01T00:00:00+08:00"}))


def test_year_one_in_an_optional_time_is_left_out_and_flagged() -> None:
    record = valid_case(promised_at="0001-01-01T00:00:00+08:00", finished_at="0001-01-01T00:00:00+08:00",
                        stages=[{"name": "审核", "started_at": "0001-01-01T00:00:00Z",
                                 "ended_at": "2024-03-02T09:00:00+08:00"}],
                        deferred_materials=[{"name": "章程", "kind": "pledged", "due_at": "2024-03-09T00:00:00+08:00",
                                             "received_at": "0001-01-01T00:00:00+08:00"}])
    record["events"][2]["ended_at"] = "0001-01-01T00:00:00+08:00"
    case, flags = kept(record)
    assert {("promised_at", "case.implausible_time"), ("finished_at", "case.implausible_time"),
            ("events.2.ended_at", "case.implausible_time"), ("stages.0.started_at", "case.implausible_time"),
            ("deferred_materials.0.received_at", "case.implausible_time")} <= flags
    assert case.promised_at is None and case.finished_at is None and case.events[2].ended_at is None
    assert case.stages[0].started_at is None and case.deferred_materials[0].received_at is None


def test_a_step_starting_in_year_one_starts_when_the_step_before_ended() -> None:
    record = valid_case()
    record["events"][2]["started_at"] = "0001-01-01T00:00:00+08:00"
    case, flags = kept(record)
    assert ("events.2.started_at", "case.step_start_missing") in flags
    assert case.events[2].started_at.isoformat() == "2024-03-03T09:00:00+08:00"


# --- 3. a number is no time (pydantic would read it as Unix time) ----------------------------------------

# A mapping that forgot a field's `date:` format hands the model the source's digits: "20261105123900"
# (yyyyMMddHHmmss) read as Unix milliseconds is the year 2612 — a case changed "in 2612" then won every merge
# against the systems' real changes — and "20261103" a day of 1970. Epoch times are read by the mapping
# (date: epoch_ms / epoch_s), never by the model.
NUMBERS = ["20261105123900", "20261103", 1709605860000, 1709605860.5, "1.70960586E+12", "-5"]


@pytest.mark.parametrize("value", NUMBERS)
@pytest.mark.parametrize("field", ["updated_at", "applied_at"])
def test_a_number_in_the_records_own_times_rejects_it_saying_to_give_a_date_format(field, value) -> None:
    with pytest.raises(RecordRejected) as info:
        validate_case(valid_case(**{field: value}), "t:1")
    issue = next(i for i in info.value.issues if i.field == field)
    assert issue.rule == "datetime.implausible"
    assert "is a number, not a time" in issue.message and "date: yyyyMMddHHmmss" in issue.message


@pytest.mark.parametrize("value", NUMBERS)
def test_a_number_in_an_optional_time_is_left_out_and_flagged(value) -> None:
    record = valid_case(finished_at=value, stages=[{"name": "审核", "started_at": value}],
                        deferred_materials=[{"name": "章程", "kind": "pledged", "due_at": "2024-03-09T00:00:00+08:00",
                                             "received_at": value}])
    record["events"][1]["started_at"] = value
    record["events"][2]["ended_at"] = value
    case, flags = kept(record)
    assert {("finished_at", "case.implausible_time"), ("events.2.ended_at", "case.implausible_time"),
            ("stages.0.started_at", "case.implausible_time"),
            ("deferred_materials.0.received_at", "case.implausible_time"),
            ("events.1.started_at", "case.step_start_missing")} <= flags
    assert case.finished_at is None and case.events[2].ended_at is None
    assert case.stages[0].started_at is None and case.deferred_materials[0].received_at is None
    assert case.events[1].started_at == case.events[0].ended_at
    assert "is a number, not a time" in next(f.message for f in case.quality if f.field == "finished_at")


def test_times_written_as_times_are_not_numbers() -> None:
    case, flags = kept(valid_case(finished_at="2024-03-05T10:00:00Z", promised_at="2024-03-21T09:30:00.500+08:00"))
    assert not {f for f in flags if f[1] in ("case.implausible_time", "datetime.implausible")}
    assert case.finished_at.isoformat() == "2024-03-05T18:00:00+08:00"


# --- 4. lone surrogates in free text --------------------------------------------------------------------

def test_lone_surrogates_in_optional_text_are_replaced_and_flagged() -> None:
    record = valid_case(summary="a\ud800b")
    record["applicant"]["address"] = "\udfff"
    record["events"][0]["opinion"] = "同意\ud800"
    case, flags = kept(record)
    assert flags >= {("summary", "text.replaced"), ("applicant.address", "text.replaced"),
                     ("events.0.opinion", "text.replaced")}
    assert (case.summary, case.applicant.address, case.events[0].opinion) == ("a\ufffdb", "\ufffd", "同意\ufffd")
    case_document(case)  # writable


def test_lone_surrogates_in_a_name_still_reject() -> None:
    record = valid_case()
    record["applicant"]["name"] = "张\ud800"
    assert ("applicant.name", "text.gb18030") in rejected(record)


# --- 5. an integer where nested text is expected is read as its text -----------------------------------

def test_integers_in_nested_text_fields_are_read_as_text() -> None:
    record = valid_case(handler=10086, office={"code": 1001, "name": "窗口", "division": 370102},
                        agent={"name": "李四", "role": "proxy", "authorisation": 20240001})
    record["applicant"]["address"] = 101
    record["events"][0]["handler"] = 7
    case, flags = kept(record)
    assert (case.handler, case.office.code, case.office.division, case.agent.authorisation) == (
        "10086", "1001", "370102", "20240001")
    assert (case.applicant.address, case.events[0].handler) == ("101", "7")
    assert not {f for f in flags if f[0].startswith(("office", "agent", "handler", "applicant"))}


def test_a_bool_or_float_for_text_is_still_a_type_error() -> None:
    record = valid_case(office={"code": "W01", "division": 370102.0})
    assert ("office.division", "type.str") in rejected(record)


# --- 6. every time at +08:00: the same instant hashes the same ---------------------------------------------

def test_stage_and_deferred_times_are_stored_at_beijing_time() -> None:
    def with_times(start: str, due: str):
        record = valid_case(stages=[{"name": "审核", "started_at": start}],
                            deferred_materials=[{"name": "章程", "kind": "pledged", "due_at": due}])
        return validate_cases([record], ["t:1"]).valid[0][1]

    a = with_times("2024-03-01T02:00:00Z", "2024-03-10T00:00:00-05:00")
    b = with_times("2024-03-01T10:00:00+08:00", "2024-03-10T13:00:00+08:00")
    dumped = a.model_dump(mode="json")
    assert dumped["stages"][0]["started_at"] == "2024-03-01T10:00:00+08:00"
    assert dumped["deferred_materials"][0]["due_at"] == "2024-03-10T13:00:00+08:00"
    assert case_document(a)[1] == case_document(b)[1]


# --- 10. optional details: flagged, not a dead letter ------------------------------------------------------

def test_an_over_long_opinion_is_kept_truncated_and_flagged() -> None:
    record = valid_case()
    record["events"][1]["opinion"] = "经审查" * 667 + "。。"  # 2,003 characters
    case, flags = kept(record)
    assert ("events.1.opinion", "text.truncated") in flags
    opinion = case.events[1].opinion
    assert len(opinion) == 2000 and opinion.endswith("…") and opinion.startswith("经审查经审查")


@pytest.mark.parametrize("start", [None, "", "missing"])
def test_a_step_without_a_start_is_kept_started_when_the_step_before_ended(start) -> None:
    record = valid_case()
    if start == "missing":
        del record["events"][2]["started_at"]
    else:
        record["events"][2]["started_at"] = start
    case, flags = kept(record)
    assert ("events.2.started_at", "case.step_start_missing") in flags
    assert case.events[2].started_at.isoformat() == "2024-03-03T09:00:00+08:00"


def test_a_first_step_without_a_start_starts_at_acceptance() -> None:
    record = valid_case()
    record["events"][0]["started_at"] = None
    case, flags = kept(record)
    assert ("events.0.started_at", "case.step_start_missing") in flags
    assert case.events[0].started_at == case.accepted_at


@pytest.mark.parametrize("code", ["0001170060001", "31010000100"])
def test_a_catalogue_code_of_the_wrong_length_is_left_out_and_flagged(code) -> None:
    case, flags = kept(valid_case(catalog_code=code))
    assert ("catalog_code", "case.catalog_code") in flags
    assert case.catalog_code is None


def test_repairs_do_not_change_the_input_and_other_errors_still_reject() -> None:
    record = valid_case(catalog_code="0001170060001", case_type="1")
    record["events"][0]["opinion"] = "意" * 2001
    before = copy.deepcopy(record)
    assert rejected(record) == {("case_type", "enum")}
    assert record == before


def test_a_mapping_may_raise_a_repair_flag_to_a_rejection() -> None:
    with pytest.raises(RecordRejected) as info:
        validate_case(valid_case(catalog_code="0001170060001"), "t:1", rules={"case.catalog_code": "reject"})
    assert {(i.field, i.rule) for i in info.value.issues} == {("catalog_code", "case.catalog_code")}
