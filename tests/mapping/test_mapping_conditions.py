"""Conditions (``equals`` / ``in`` / ``not_in``) read a value as code tables do, never crash on a record's shape,
and a mistake in how one is written fails at load naming the file, the line and the setting.

- an object or a list where a condition reads a scalar raised TypeError out of the compiled mapping (and so
  out of the whole sync run, on every re-run): it now matches no value;
- a CHAR-padded code (``"1 "``) or a number (``1``) missed a condition that the stripped code table matched;
- ``in: 1`` crashed with a bare TypeError, ``in: "12"`` was read as the codes 1 and 2, ``concat: abc`` as the
  paths a, b, c, ``true_values: "Y"`` as Y alone only by luck;
- a list written as a null token ("null", "无", "-") rejected the case where the same token in a field is null.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.contract.errors import ConfigError
from gateway.mapping.mapper import Mapper
from gateway.models import Case
from sandbox import civil, estate, welfare

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"

CONDITIONS = """
system: t
version: "1"
null_tokens: ["null", "-"]
fields:
  eq: {any: [{path: f, equals: "1"}]}
  one_of: {any: [{path: f, in: ["1", "2"]}]}
  none_of: {any: [{path: f, not_in: ["1", "2"]}]}
  yes: {any: [{path: f, equals: true}]}
  kind: {cases: [{when: {path: f, in: ["1"]}, value: person}, {value: other}]}
  code: {path: f, code: {"1": person, "2": company}, on_unknown: null}
"""


@pytest.fixture(scope="module")
def conditions() -> Mapper:
    return Mapper.from_text(CONDITIONS, where="c.yaml")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None)
@given(value=st.one_of(st.lists(json_values, max_size=3), st.dictionaries(st.text(max_size=3), json_values,
                                                                           max_size=3)))
def test_an_object_or_a_list_where_a_condition_reads_a_scalar_matches_no_value(conditions: Mapper,
                                                                                value: object) -> None:
    out, _issues = conditions.map({"f": value})  # raised TypeError: unhashable type
    assert out["eq"] is False and out["one_of"] is False and out["yes"] is False
    assert out["none_of"] is True and out["kind"] == "other"


@settings(max_examples=60, deadline=None)
@given(code=st.sampled_from(["1", "2", "3"]),
       left=st.text(alphabet=" \t\u3000", max_size=2), right=st.text(alphabet=" \t\u3000", max_size=3),
       as_number=st.booleans())
def test_a_condition_reads_a_padded_or_numeric_code_as_the_code_table_does(conditions: Mapper, code: str, left: str,
                                                                         right: str, as_number: bool) -> None:
    value: object = int(code) if as_number else f"{left}{code}{right}"
    out, issues = conditions.map({"f": value})
    assert issues == []
    assert out["eq"] is (code == "1")
    assert out["one_of"] is (code in ("1", "2")) and out["none_of"] is (code not in ("1", "2"))
    assert (out["kind"] == "person") is (out["code"] == "person")  # the condition and the code table agree


def test_true_matches_the_ways_systems_write_it_and_null_tokens_match_nothing(conditions: Mapper) -> None:
    for value in (True, 1, "1", " true ", "True"):
        assert conditions.map({"f": value})[0]["yes"] is True, value
    for value in (False, 0, "0", "false", None, "null", " - "):
        assert conditions.map({"f": value})[0]["yes"] is False, value
    out, _ = conditions.map({"f": "-"})
    assert out["eq"] is False and out["one_of"] is False and out["none_of"] is True


def _first(generate, pred) -> dict:
    for i in range(3000):
        record = generate(7, i)
        if pred(record):
            return copy.deepcopy(record)
    raise AssertionError("no such sandbox record")


def _case(mapper: Mapper, raw: dict) -> Case:
    mapped, issues = mapper.map(raw)
    assert issues == []
    result = mapper.validate([mapped], ["t:1"])
    assert not result.rejected, result.rejected
    return result.valid[0][1]


def test_padded_and_numeric_codes_in_the_shipped_mappings_are_the_codes() -> None:
    """The review's records: a CHAR-padded 申请人类型 became 7 (其他组织), a padded 删除标志 lost the deletion, a
    padded 补正 step stopped the special procedure (the deadline clock ran on), a number missed its code."""
    mapper = Mapper.from_file(MAPPINGS / "jn_welfare.yaml", model=Case)
    raw = _first(welfare.generate, lambda r: r["SQRLX"] == "1" and r["ZJLX"] == "居民身份证" and r["SCBZ"] == "否")
    raw["SQRLX"] = "1 "
    assert _case(mapper, raw).applicant.type.value == "1"
    raw["SQRLX"], raw["SCBZ"] = "1", "是 "
    deleted = _case(mapper, raw)
    assert deleted.deleted is True and deleted.status.value == "deleted"

    mapper = Mapper.from_file(MAPPINGS / "jn_estate.yaml", model=Case)
    raw = _first(estate.generate, lambda r: len(r.get("hj") or []) >= 2 and r.get("czlx") != "D")
    raw["hj"][1]["dz"] = "BZ "
    event = _case(mapper, raw).events[1]
    assert event.kind == "special" and event.special_type.value == "correction"


@pytest.mark.parametrize("value", [{"value": 1}, [1], ["0"], {"code": "1"}])
def test_a_hostile_shape_in_the_shipped_civil_mapping_is_named_or_ignored_never_raised(value: object) -> None:
    mapper = Mapper.from_file(MAPPINGS / "sd_civil.yaml", model=Case)
    for field in ("isDeleted", "result", "caseType"):
        raw = civil.generate(7, 3)
        raw[field] = value
        _out, issues = mapper.map(raw)  # raised TypeError for isDeleted and result
        assert all(rule == "mapping.code_table" for _f, rule, _m in issues)


@pytest.mark.parametrize("token", ["null", "无", "-", " null "])
def test_a_list_written_as_a_null_token_is_no_list(token: str) -> None:
    mapper = Mapper.from_file(MAPPINGS / "sd_civil.yaml", model=Case)
    raw = civil.generate(7, 3)
    raw["specials"] = None
    expected = _case(mapper, raw)
    raw["specials"] = token
    assert _case(mapper, raw).events == expected.events  # was mapping.shape: expected an object, got 'null'


HEAD = 'system: t\nversion: "1"\nfields:\n  case_no: {path: a}\n'


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("deleted: {any: [{path: f, in: 1}]}", "deleted: in must be a list of values"),
        ("deleted: {any: [{path: f, in: \"12\"}]}", "deleted: in must be a list of values"),
        ("deleted: {any: [{path: f, not_in: 3}]}", "deleted: not_in must be a list of values"),
        ("deleted: {any: [{path: f, in: [[1]]}]}", "deleted: in: [1] in the list is not a value"),
        ("deleted: {any: [{path: f, equals: {a: 1}}]}", "deleted: equals: {'a': 1} is not a value"),
        ("deleted: {any: {path: f, equals: 1}}", "deleted: any must be a non-empty list of conditions"),
        ("summary: {concat: abc}", "summary: concat must be a non-empty list"),
        ("deleted: {path: f, type: bool, true_values: \"Y\"}", "deleted: true_values must be a non-empty list"),
        ("applied_at: {path: d, date: []}", "applied_at: date must name a format or give a non-empty list"),
    ],
)
def test_a_condition_or_setting_written_wrong_fails_at_load_naming_file_line_and_setting(field: str,
                                                                                        message: str) -> None:
    with pytest.raises(ConfigError) as err:
        Mapper.from_text(HEAD + "  # a comment line\n  " + field + "\n", where="m.yaml", model=Case)
    assert f"m.yaml: line 6: fields: {message}" in str(err.value)


def test_an_error_inside_a_list_item_names_the_item_field_line() -> None:
    text = HEAD + ("  events:\n    list:\n      - from: steps\n        fields:\n          seq: {position: true}\n"
                   "          kind: {cases: [{when: {path: k, in: BZ}, value: special}, {value: step}]}\n")
    with pytest.raises(ConfigError) as err:
        Mapper.from_text(text, where="m.yaml")
    assert "m.yaml: line 10: fields: events.list[0].kind.cases[0]: in must be a list of values" in str(err.value)


def test_a_top_level_normalize_of_one_step_is_that_step_not_its_letters() -> None:
    text = 'system: t\nversion: "1"\nnormalize: strip\nfields:\n  case_no: {path: a}\n'
    mapper = Mapper.from_text(text, where="m.yaml")  # was: unknown normalize step 's'
    assert mapper.map({"a": "  X  "}) == ({"case_no": "X"}, [])
    with pytest.raises(ConfigError, match="m.yaml: normalize must be a list of steps"):
        Mapper.from_text(text.replace("normalize: strip", "normalize: {a: 1}"), where="m.yaml")
