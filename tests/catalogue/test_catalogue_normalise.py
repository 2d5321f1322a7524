"""What the audit calls the same: typing noise is not a difference, a changed word, number or unit is."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.catalogue import CatalogueEntry, TimeLimit, find, text_key
from gateway.catalogue.normalise import set_key


@pytest.mark.parametrize(("a", "b"), [
    ("社会团体登记（新办）", "社会团体登记(新办)"),
    ("《社会团体登记管理条例》第１２条。", "《社会团体登记管理条例》第12条"),
    ("婚姻\u3000登记", "婚姻 登记"),
    ("申请人符合条件，材料齐全、符合法定形式", "申请人符合条件, 材料齐全,符合法定形式"),
    ("ICP备案", "ｉｃｐ备案"),
])
def test_noise_is_not_a_difference(a: str, b: str) -> None:
    assert text_key(a) == text_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("申请书原件", "申请书复印件"),
    ("《条例》第12条", "《条例》第112条"),
    ("收费", "不收费"),
    ("社会团体登记（新办）", "社会团体登记（新办）（告知承诺制）"),
])
def test_meaning_is(a: str, b: str) -> None:
    assert text_key(a) != text_key(b)


def test_lists_compare_as_sets() -> None:
    assert set_key(["章程", "申 请表"]) == set_key(["申请表", "章程", "章程"])
    assert set_key(["章程"]) != set_key(["章程", "验资报告"])


@pytest.mark.parametrize(("text", "days", "unit"), [
    ("20个工作日", 20, "working_day"), ("２０ 工作日", 20, "working_day"), ("30日", 30, "calendar_day"),
    ("3个月", 3, "month"), ("即办", 0, "working_day"), ("15 天", 15, "calendar_day"),
])
def test_time_limits_are_read_with_their_unit(text: str, days: int, unit: str) -> None:
    assert TimeLimit.parse(text) == TimeLimit(days, unit)  # type: ignore[arg-type]


def _entry(**overrides: object) -> CatalogueEntry:
    base = {"catalog_code": "000120001000", "item_code": "X1", "level": "1", "division": "100000",
            "name": "社会团体登记", "item_type": "01", "departments": [{"name": "民政部", "code": "A"}],
            "legal_limit": "20个工作日", "promised_limit": "20个工作日", "service_objects": "自然人、企业法人"}
    return CatalogueEntry.model_validate({**base, **overrides})


def test_an_unreadable_limit_is_rejected_naming_the_field_and_text() -> None:
    with pytest.raises(ValidationError) as info:
        _entry(legal_limit="二十个工作日")
    assert "legal_limit" in str(info.value) and "二十个工作日" in str(info.value)


def test_units_differ_is_a_conflict_but_promised_shorter_in_another_unit_is_not() -> None:
    national = _entry()
    months = _entry(item_code="X2", level="4", division="370102", legal_limit="1个月", promised_limit="10个工作日")
    found = find([national, months])
    assert [(f.kind, f.rule) for f in found] == [("time_limit_conflict", "legal_differs_from_national")]
    late = _entry(item_code="X3", level="4", division="370103", promised_limit="2个月")
    assert [(f.rule, f.item_code) for f in find([national, late])] == [("promised_exceeds_legal", "X3")]


def test_service_objects_in_another_order_and_separator_are_the_same() -> None:
    other = _entry(item_code="X2", level="2", division="370000", service_objects="企业法人；自然人")
    assert find([_entry(), other]) == []
