"""What the audit calls the same: typing noise is not a difference, a changed word, number, sign or unit is; and a
field no one can read is a finding on its entry, not a lost entry. (Properties of the key: next file.)"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.catalogue import CatalogueEntry, TimeLimit, find, text_key
from gateway.catalogue.normalise import set_key
from sandbox.catalogue import chinese_number


@pytest.mark.parametrize(("a", "b"), [
    ("社会团体登记（新办）", "社会团体登记(新办)"),
    ("《社会团体登记管理条例》第１２条。", "《社会团体登记管理条例》第12条"),
    ("婚姻\u3000登记", "婚姻 登记"),
    ("申请人符合条件，材料齐全、符合法定形式", "申请人符合条件, 材料齐全,符合法定形式"),
    ("ICP备案", "ｉｃｐ备案"),
    ("面积＞100平方米", "面积 > 100平方米"),
    ("申请人≥18周岁", "申请人>=18周岁"),
    ("申请人≤18周岁", "申请人≦１８周岁。"),
    ("3～5个工作日", "3-5个工作日"),
    ("3至5个工作日", "3 — 5个工作日"),
    ("《条例》第2、3条", "‹条例›第2，3条"),
    ("不超过50%", "不超过５０％"),
    ("每件收费1.5元", "每件收费１．５元"),
    ("年满18周岁", "年满1 8周岁"),  # a stray space, not two numbers
])
def test_noise_is_not_a_difference(a: str, b: str) -> None:
    assert text_key(a) == text_key(b)


@pytest.mark.parametrize(("a", "b"), [
    ("申请书原件", "申请书复印件"),
    ("《条例》第12条", "《条例》第112条"),
    ("收费", "不收费"),
    ("社会团体登记（新办）", "社会团体登记（新办）（告知承诺制）"),
    ("面积>100平方米", "面积‹100平方米"),
    ("面积>100平方米", "面积100平方米"),
    ("每件收费1.5元", "每件收费15元"),
    ("《条例》第2-3条", "《条例》第23条"),
    ("《条例》第2、3条", "《条例》第23条"),
    ("《条例》第十、二条", "《条例》第十二条"),
    ("3～5个工作日", "35个工作日"),
    ("申请人≥18周岁", "申请人18周岁"),
    ("申请人≥18周岁", "申请人>18周岁"),
    ("不超过50%", "不超过50"),
])
def test_meaning_is(a: str, b: str) -> None:
    assert text_key(a) != text_key(b)


def test_lists_compare_as_sets() -> None:
    assert set_key(["章程", "申 请表"]) == set_key(["申请表", "章程", "章程"])
    assert set_key(["章程"]) != set_key(["章程", "验资报告"])


def test_service_objects_split_alike_whatever_separates_them() -> None:
    written = ["自然人、法人", "自然人／法人", "自然人 / 法人", "自然人 法人", "自然人\u3000法人", "法人;自然人", "自然人｜法人",
               "自然人，法人", " 自然人 , 法人 "]
    assert {tuple(sorted(_entry(service_objects=w).service_objects)) for w in written} == {("法人", "自然人")}
    assert _entry(service_objects="自然人、企业 法人").service_objects == ["自然人", "企业 法人"]  # a stray space


@pytest.mark.parametrize(("text", "days", "unit"), [
    ("20个工作日", 20, "working_day"), ("２０ 工作日", 20, "working_day"), ("30日", 30, "calendar_day"),
    ("3个月", 3, "month"), ("即办", 0, "working_day"), ("15 天", 15, "calendar_day"),
    ("20个工作日内", 20, "working_day"), ("二十个工作日", 20, "working_day"), ("60日内", 60, "calendar_day"),
    ("当场", 0, "working_day"), ("当场办结", 0, "working_day"), ("即时办结", 0, "working_day"),
    ("十五个工作日以内", 15, "working_day"), ("一百二十日", 120, "calendar_day"), ("两个月", 2, "month"),
    ("30个自然日", 30, "calendar_day"), ("20个工作日内办结", 20, "working_day"), ("０个工作日", 0, "working_day"),
])
def test_time_limits_are_read_with_their_unit(text: str, days: int, unit: str) -> None:
    assert TimeLimit.parse(text) == TimeLimit(days, unit)  # type: ignore[arg-type]


def test_a_limit_in_chinese_numerals_reads_as_its_number() -> None:
    """Every number below 10,000 as a clerk writes it in words (the sandbox's writer, not the parser's)."""
    for n in range(10_000):
        assert TimeLimit.parse(f"{chinese_number(n)}个工作日") == TimeLimit(n, "working_day"), chinese_number(n)


@pytest.mark.parametrize("text", ["1年", "20个工作日（其中公示10日）", "二二个工作日", "千日", "20 working days", "视情况而定",
                                  "20个工作日，可延长10个工作日", "5个工作日（涉及现场核查的，20个工作日）",
                                  "20个工作日（除特殊情况外，可延长10个工作日）", "20个工作日（不含公示时间；需听证的延长10日）"])
def test_what_is_not_a_limit_is_not_guessed(text: str) -> None:
    with pytest.raises(ValueError, match="is not a time limit"):
        TimeLimit.parse(text)


@pytest.mark.parametrize("text", ["20个工作日（不含公示时间）", "二十个工作日(不包括听证、专家评审时间)",
                                  "20个工作日内（不计算补正材料时间）。", "20个工作日。（不含公示时间）"])
def test_a_note_of_the_time_not_counted_leaves_the_limit(text: str) -> None:
    """The law's own rule restated (行政许可法 第四十五条): an operator's walkthrough found every such entry flagged
    "not a time limit" by the audit."""
    assert TimeLimit.parse(text) == TimeLimit(20, "working_day")


def _entry(**overrides: object) -> CatalogueEntry:
    base = {"catalog_code": "000120001000", "item_code": "X1", "level": "1", "division": "100000",
            "name": "社会团体登记", "item_type": "01", "departments": [{"name": "民政部", "code": "A"}],
            "legal_limit": "20个工作日", "promised_limit": "20个工作日", "service_objects": "自然人、企业法人"}
    return CatalogueEntry.model_validate({**base, **overrides})


def test_an_unreadable_limit_is_a_flag_on_the_entry_naming_the_field_rule_and_text() -> None:
    entry = _entry(item_code="X2", level="4", division="370102", legal_limit="1年", promised_limit="二十个工作日",
                   name="社会团体登记（告知承诺制）")
    assert entry.legal_limit is None and entry.promised_limit == TimeLimit(20, "working_day")
    (flag,) = entry.quality
    assert (flag.rule, flag.field, flag.value) == ("catalogue.time_limit", "legal_limit", "1年")
    assert CatalogueEntry.model_validate(entry.document()) == entry  # the flag is stored with the entry
    assert "quality" not in _entry().document()  # an unflagged entry is stored as before flags existed

    found = {(f.kind, f.rule, f.element): f for f in find([_entry(), entry])}
    assert set(found) == {("unreadable_field", "catalogue.time_limit", "legal_limit"),
                          ("element_differs", "element_differs", "name")}  # no "legal limit differs": not read
    unreadable = found[("unreadable_field", "catalogue.time_limit", "legal_limit")]
    assert unreadable.found == "1年" and "法定时限" in unreadable.message and unreadable.item_code == "X2"


def test_an_unreadable_reference_limit_is_compared_with_no_one() -> None:
    national = _entry(legal_limit="视情况而定")
    district = _entry(item_code="X2", level="4", division="370102")
    assert [(f.kind, f.item_code) for f in find([national, district])] == [("unreadable_field", "X1")]


def test_a_schema_break_outside_the_key_is_still_a_validation_error_on_the_model() -> None:
    with pytest.raises(ValidationError):
        _entry(visits=-1)  # the harvest turns this into a flag; the model itself does not guess


def test_units_differ_is_a_conflict_but_promised_shorter_in_another_unit_is_not() -> None:
    national = _entry()
    months = _entry(item_code="X2", level="4", division="370102", legal_limit="1个月", promised_limit="10个工作日")
    found = find([national, months])
    assert [(f.kind, f.rule) for f in found] == [("time_limit_conflict", "legal_differs_from_national")]
    late = _entry(item_code="X3", level="4", division="370103", promised_limit="2个月")
    assert [(f.rule, f.item_code) for f in find([national, late])] == [("promised_exceeds_legal", "X3")]


def test_service_objects_in_another_order_and_separator_are_the_same() -> None:
    other = _entry(item_code="X2", level="2", division="370000", service_objects="企业法人；自然人")
    slash = _entry(item_code="X3", level="4", division="370102", service_objects="企业法人／自然人")
    spaced = _entry(item_code="X4", level="4", division="370103", service_objects="自然人 企业法人")
    assert find([_entry(), other, slash, spaced]) == []


def test_a_tenfold_fee_and_a_reversed_comparison_are_findings() -> None:
    national = _entry(fee=True, fee_basis="每件收费1.5元", conditions="经营面积>100平方米")
    district = _entry(item_code="X2", level="4", division="370102", fee=True, fee_basis="每件收费15元",
                      conditions="经营面积＜100平方米")
    assert sorted(f.element for f in find([national, district])) == ["conditions", "fee"]
