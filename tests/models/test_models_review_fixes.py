"""The canonical model against the review's findings.

- An incomplete optional intake part (an agent without a name or a known role, an office without its code)
  rejected the whole case; it is now left out and flagged (``case.agent_incomplete`` /
  ``case.office_incomplete``), and the case flows on.
- Quality flags travel unsealed (the case JSON, the hall, run reports): no flag or issue message quotes an ID
  number, its place code with the birth year, its birth date or a person's name.
"""

from __future__ import annotations

import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models_sample_data import resident_id, valid_case

from gateway.contract.errors import RecordRejected
from gateway.models import validate_case

blank = st.sampled_from([None, "", "  ", "\u3000"])
names = st.one_of(blank, st.sampled_from(["李四", " 王五 ", "JOHN SMITH"]))
roles = st.one_of(blank, st.sampled_from(["proxy", "assistant", "陪办", "helper"]))


@settings(max_examples=60, deadline=None)
@given(name=names, role=roles, authorisation=st.one_of(st.none(), st.just("WT-1")),
       organisation=st.one_of(st.none(), st.just("帮办代办窗口")))
def test_an_incomplete_agent_is_left_out_and_flagged_never_a_rejection(name, role, authorisation,
                                                                      organisation) -> None:
    agent = {"name": name, "role": role, "authorisation": authorisation, "organisation": organisation}
    case, _ = validate_case(valid_case(agent=agent), "t:1")  # raised RecordRejected (agent.name, agent.role)
    flags = [(f.field, f.rule) for f in case.quality if f.rule == "case.agent_incomplete"]
    if all(v is None for v in agent.values()):
        assert case.agent is None and flags == []
    elif name is None or not name.strip():
        assert case.agent is None and flags == [("agent.name", "case.agent_incomplete")]
    elif role not in ("proxy", "assistant"):
        assert case.agent is None and flags == [("agent.role", "case.agent_incomplete")]
    else:
        assert case.agent is not None and case.agent.role.value == role and flags == []


@settings(max_examples=40, deadline=None)
@given(code=st.one_of(blank, st.just("JN-LX-01")), name=st.one_of(st.none(), st.just("泉城路街道便民服务中心")),
       division=st.one_of(st.none(), st.just("370102")))
def test_an_office_without_its_code_is_left_out_and_flagged(code, name, division) -> None:
    office = {"code": code, "name": name, "division": division}
    case, _ = validate_case(valid_case(office=office), "t:1")  # raised RecordRejected (office.code)
    flags = [(f.field, f.rule) for f in case.quality if f.rule == "case.office_incomplete"]
    if all(v is None for v in office.values()):
        assert case.office is None and flags == []
    elif code is None or not code.strip():
        assert case.office is None and flags == [("office.code", "case.office_incomplete")]
    else:
        assert case.office is not None and case.office.code == code and flags == []


def test_a_mapping_may_still_reject_an_incomplete_part() -> None:
    with pytest.raises(RecordRejected) as err:
        validate_case(valid_case(agent={"name": "李四"}), "t:1", rules={"case.agent_incomplete": "reject"})
    assert [(i.field, i.rule) for i in err.value.issues] == [("agent.role", "case.agent_incomplete")]


def _messages(record: dict) -> list[str]:
    try:
        case, _ = validate_case(record, "t:1")
    except RecordRejected as exc:
        return [issue.message for issue in exc.issues]
    return [flag.message for flag in case.quality]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**6),
       birth=st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)).map(lambda d: d.strftime("%Y%m%d")),
       place=st.sampled_from(["110105", "370181", "370102", "999999", "320102"]))
def test_no_flag_or_issue_message_quotes_the_id_number_or_its_parts(seed: int, birth: str, place: str) -> None:
    number = resident_id(random.Random(seed), place=place, birth=birth)
    old = number[:6] + number[8:17]  # the same person's 15-digit ID
    for given_number in (number, old, number[:-1] + ("0" if number[-1] != "0" else "1")):
        record = valid_case()
        record["applicant"].update(id_type="111", id_number=given_number)
        for message in _messages(record):
            assert number not in message and old not in message and given_number not in message
            assert place not in message and birth[:4] not in message and birth not in message, message


def test_the_review_s_converted_id_and_retired_place_code_flags_name_no_identifier() -> None:
    record = valid_case()
    record["applicant"].update(id_type="111", id_number="110105491231002")
    case, _ = validate_case(record, "t:1")
    converted = [f.message for f in case.quality if f.rule == "resident_id.converted_15"]
    assert converted and "110105491231002" not in converted[0] and "11010519491231002X" not in converted[0]
    record["applicant"]["id_number"] = "370181201801011235"  # 章丘市 (1992-2016), born 2018
    case, _ = validate_case(record, "t:1")
    retired = [f.message for f in case.quality if f.rule == "resident_id.place_code"]
    assert retired and "370181" not in retired[0] and "2018" not in retired[0]


def test_a_proxy_flag_names_no_person() -> None:
    record = valid_case(agent={"name": "李四", "role": "proxy"})
    case, _ = validate_case(record, "t:1")
    messages = [f.message for f in case.quality if f.rule == "case.agent_authorisation"]
    assert messages and "李四" not in messages[0]


@settings(max_examples=30, deadline=None)
@given(case_no=st.integers(min_value=10**9, max_value=10**21), division=st.sampled_from([370102, 370000, 110105]),
       phone=st.integers(min_value=13000000000, max_value=13999999999))
def test_a_code_or_number_sent_as_a_json_integer_is_carried_as_its_text(case_no: int, division: int,
                                                                        phone: int) -> None:
    record = valid_case(case_no=case_no, division_code=division)  # was type.str: the case rejected
    record["applicant"]["phone"] = phone
    case, _ = validate_case(record, "t:1")
    assert (case.case_no, case.division_code, case.applicant.phone) == (str(case_no), str(division), str(phone))
    for wrong in (370102.0, True):
        with pytest.raises(RecordRejected) as err:
            validate_case(valid_case(division_code=wrong), "t:1")
        assert [(i.field, i.rule) for i in err.value.issues] == [("division_code", "type.str")]
