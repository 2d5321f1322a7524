"""The mapping operations for real data: null tokens, slice, regex, conditionals with field values, defaults,
lookups (department by item code), rule severities — each compiled, run, and its errors at load time."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.mapping.mapper import Mapper

TOKENS = 'null_tokens: ["null", "NULL", "-", "无", "0000-00-00 00:00:00"]\n'


def mapper(fields: str, top: str = "", *, base_dir: Path | None = None) -> Mapper:
    return Mapper.from_text(f'system: t\nversion: "1"\n{top}fields:\n{fields}', where="t.yaml", base_dir=base_dir)


def mapped(m: Mapper, record: dict) -> dict:
    out, issues = m.map(record)
    assert issues == []
    return out


# --- null tokens -----------------------------------------------------------------------------------------

def test_null_tokens_become_null_before_dates_and_every_other_step() -> None:
    m = mapper('  finished_at: {path: f, date: "yyyy-MM-dd HH:mm:ss"}\n  days: {path: d, type: int}\n'
               "  result: {path: r, code: {\"0\": issued}}\n  reason: why\n", TOKENS)
    for token in ("null", "NULL", " null ", "-", "无", "0000-00-00 00:00:00", "", "   ", "\u3000"):
        assert mapped(m, {"f": token, "d": token, "r": token, "why": token}) == {
            "finished_at": None, "days": None, "result": None, "reason": None}, token
    assert mapped(m, {"f": "2024-03-05 10:12:00", "d": "3", "r": "0", "why": "材料不全"}) == {
        "finished_at": "2024-03-05T10:12:00+08:00", "days": 3, "result": "issued", "reason": "材料不全"}


def test_without_null_tokens_the_same_values_are_kept_or_rejected_as_before() -> None:
    m = mapper('  finished_at: {path: f, date: "yyyy-MM-dd HH:mm:ss"}\n  reason: why\n')
    out, issues = m.map({"f": "null", "why": "-"})
    assert out == {"reason": "-"}
    assert [(f, r) for f, r, _ in issues] == [("finished_at", "mapping.date_format")]
    assert mapped(m, {"why": ""}) == {"finished_at": None, "reason": ""}  # blank text stays blank


def test_a_field_overrides_or_switches_off_the_mappings_tokens() -> None:
    m = mapper('  reason: why\n  literal: {path: why, null_tokens: []}\n  grade: {path: g, null_tokens: ["0"]}\n',
               TOKENS)
    assert mapped(m, {"why": "-", "g": "0"}) == {"reason": None, "literal": "-", "grade": None}
    assert mapped(m, {"why": "-", "g": "-"}) == {"reason": None, "literal": "-", "grade": "-"}


def test_null_tokens_count_as_absent_in_present_conditions_and_concat() -> None:
    m = mapper("  status: {cases: [{when: {path: f, present: true}, value: finished}, {value: in_progress}]}\n"
               "  summary: {concat: [a, b, c], sep: /}\n", TOKENS)
    assert mapped(m, {"f": "null", "a": "x", "b": "-", "c": "y"}) == {"status": "in_progress", "summary": "x/y"}
    assert mapped(m, {"f": "2024-03-05 10:12:00", "a": "null"}) == {"status": "finished", "summary": None}


def test_null_tokens_do_not_apply_outbound() -> None:
    m = mapper("  r: r\n", TOKENS + "outbound:\n  fields:\n    why: reason\n")
    assert m.outbound({"reason": "-"}) == {"why": "-"}


def test_bad_null_tokens_fail_at_load() -> None:
    with pytest.raises(ConfigError, match="null_tokens must be a list of strings"):
        mapper("  a: x\n", "null_tokens: null-ish\n")
    with pytest.raises(ConfigError, match="t.yaml: line 4: fields: a: null_tokens must be a list of strings"):
        mapper("  a: {path: x, null_tokens: [1]}\n")


# --- slice and regex -------------------------------------------------------------------------------------

def test_slice_takes_part_of_the_text_numbers_too() -> None:
    m = mapper("  division: {path: item, slice: [0, 6]}\n  tail: {path: num, slice: [-4]}\n"
               "  nothing: {path: item, slice: [40, 50], default: none}\n")
    assert mapped(m, {"item": "370102-000201-001", "num": 370102202400012345}) == {
        "division": "370102", "tail": "2345", "nothing": "none"}
    assert mapped(m, {"item": None, "num": "12"}) == {"division": None, "tail": "12", "nothing": "none"}


@pytest.mark.parametrize("bounds", ["[a, 2]", "[]", "[1, 2, 3]", "6", "[true, 2]"])
def test_bad_slices_fail_at_load(bounds: str) -> None:
    with pytest.raises(ConfigError, match="t.yaml: line 4: fields: a: slice must be"):
        mapper(f"  a: {{path: x, slice: {bounds}}}\n")


def test_regex_captures_by_number_name_or_whole_match() -> None:
    m = mapper("  division: {path: num, regex: '^(\\d{6})'}\n"
               "  year: {path: num, regex: '^\\d{6}(?P<year>\\d{4})', group: year, type: int}\n"
               "  whole: {path: num, regex: '\\d{4}$'}\n"
               "  second: {path: code, regex: '([A-Z]+)-(\\d+)', group: 2}\n")
    assert mapped(m, {"num": "370102202400012345", "code": "SL-0042"}) == {
        "division": "370102", "year": 2024, "whole": "2345", "second": "0042"}


def test_regex_without_a_match_gives_null_or_rejects_or_keeps() -> None:
    m = mapper("  a: {path: x, regex: '^(\\d+)'}\n  b: {path: x, regex: '^(\\d+)', on_no_match: keep}\n"
               "  c: {path: x, regex: '^(\\d+)', default: '0'}\n  d: {path: x, regex: '^(\\d+)', on_no_match: error}\n")
    out, issues = m.map({"x": "abc"})
    assert out == {"a": None, "b": "abc", "c": "0"}
    assert issues == [("d", "mapping.regex", "value 'abc' does not match '^(\\\\d+)'")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{path: x, regex: '('}", "does not compile"),
        ("{path: x, regex: '(a)', group: 2}", "group 2 is not a group"),
        ("{path: x, regex: '(a)', group: name}", "group 'name' is not a group"),
        ("{path: x, regex: '(a)', on_no_match: drop}", "on_no_match must be null, flag, error or keep"),
    ],
)
def test_bad_regexes_fail_at_load(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        mapper(f"  a: {spec}\n")


# --- conditionals whose branches read fields --------------------------------------------------------------

def test_when_then_else_takes_a_field_value_and_the_fields_modifiers_apply_to_it() -> None:
    m = mapper('  finished_at: {when: {field: status, in: ["9"]}, then: {field: finishTime}, else: null,\n'
               '                date: "yyyy-MM-dd HH:mm:ss"}\n', TOKENS)
    assert mapped(m, {"status": "9", "finishTime": "2024-03-05 10:12:00"}) == {
        "finished_at": "2024-03-05T10:12:00+08:00"}
    assert mapped(m, {"status": "3", "finishTime": "2024-03-05 10:12:00"}) == {"finished_at": None}
    assert mapped(m, {"status": "9", "finishTime": "null"}) == {"finished_at": None}
    _, issues = m.map({"status": "9", "finishTime": "yesterday"})
    assert [(f, r) for f, r, _ in issues] == [("finished_at", "mapping.date_format")]


def test_cases_branches_mix_constants_paths_and_full_specs() -> None:
    m = mapper(
        "  finished_at:\n    cases:\n"
        "      - {when: {path: s, equals: '9'}, then: {path: done, date: yyyyMMddHHmmss}}\n"
        "      - {when: {path: s, equals: '8'}, then: {path: cancelled, date: epoch_ms}}\n"
        "      - {when: {path: s, equals: '7'}, value: null}\n"
        "      - {then: fallback}\n"
        "  reason: {when: {path: r, matches: '^退'}, then: {concat: [r, {const: '：'}, why]}, else: why}\n"
    )
    assert mapped(m, {"s": "9", "done": "20240305101200", "r": "办结", "why": "同意"}) == {
        "finished_at": "2024-03-05T10:12:00+08:00", "reason": "同意"}
    assert mapped(m, {"s": "8", "cancelled": 1709605860000, "r": "退回", "why": "材料不全"}) == {
        "finished_at": "2024-03-05T10:31:00+08:00", "reason": "退回：材料不全"}
    assert mapped(m, {"s": "7"}) == {"finished_at": None, "reason": None}
    assert mapped(m, {"s": "1", "fallback": "x"}) == {"finished_at": "x", "reason": None}


def test_nested_conditionals_and_not_any_all() -> None:
    m = mapper("  kind:\n    when: {all: [{path: a, present: true}, {not: {path: b, in: [x]}}]}\n"
               "    then: {when: {any: [{field: c, equals: 1}, {field: d, equals: 1}]}, then: {const: both}, else: a}\n"
               "    else: {const: none}\n")
    assert mapped(m, {"a": "A", "b": "y", "c": 1}) == {"kind": "both"}
    assert mapped(m, {"a": "A", "b": "y"}) == {"kind": "A"}
    assert mapped(m, {"a": "A", "b": "x"}) == {"kind": "none"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{then: x}", "then/else need when"),
        ("{when: {path: a, present: true}, else: x}", "when needs then"),
        ("{cases: [{value: a}, {when: {path: a, present: true}, value: b}]}", "only the last branch may go without when"),
        ("{cases: [{when: {path: a, present: true}, value: a, then: b}]}", "a constant value or a then spec, not both"),
        ("{cases: [{when: {path: a, presnt: true}, value: a}]}", "condition has unknown key(s) ['presnt']"),
        ("{path: a, field: b}", "field is another name for path"),
        ("{first: []}", "first must be a non-empty list"),
    ],
)
def test_bad_conditionals_fail_at_load(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                       .replace(")", r"\)")):
        mapper(f"  a: {spec}\n")


# --- defaults and required -------------------------------------------------------------------------------

def test_default_fills_whatever_would_be_null() -> None:
    m = mapper("  count: {path: n, type: int, default: 1}\n  src: {path: s, code: {'1': paper}, on_unknown: null,"
               " default: electronic}\n  note: {path: t, default: 无备注}\n", TOKENS)
    assert mapped(m, {}) == {"count": 1, "src": "electronic", "note": "无备注"}
    assert mapped(m, {"n": "null", "s": "9", "t": "-"}) == {"count": 1, "src": "electronic", "note": "无备注"}
    assert mapped(m, {"n": "0", "s": "1", "t": "有"}) == {"count": 0, "src": "paper", "note": "有"}


def test_required_rejects_null_tokens_and_blank_text() -> None:
    m = mapper("  case_no: {path: pn, required: true}\n", TOKENS)
    for value in (None, "null", "  ", "-"):
        _, issues = m.map({"pn": value})
        assert issues == [("case_no", "mapping.required", "no value at path 'pn'")], value
    assert mapped(m, {"pn": " X1 "}) == {"case_no": "X1"}


# --- lookups: the department from the item code --------------------------------------------------------------

DEPARTMENTS = """\
lookups:
  departments:
    entries:
      "370102": {uscc: 11370102004214052W, name: 历下区行政审批服务局}
      "370102-000201": {uscc: 11370100MB2840129T, name: 济南市市场监督管理局}
      "370103-000301-001": {uscc: 11370100004306906K, name: 济南市卫生健康委员会}
"""


def test_lookup_by_longest_prefix_with_exact_keys_winning() -> None:
    m = mapper("  dept_code: {path: item, lookup: {table: departments, column: uscc}}\n"
               "  dept_name: {path: item, lookup: {table: departments, column: name}}\n", DEPARTMENTS)
    assert mapped(m, {"item": "370102-000201-007"}) == {"dept_code": "11370100MB2840129T", "dept_name": "济南市市场监督管理局"}
    assert mapped(m, {"item": "370102-000999-001"}) == {"dept_code": "11370102004214052W", "dept_name": "历下区行政审批服务局"}
    assert mapped(m, {"item": "370103-000301-001"})["dept_name"] == "济南市卫生健康委员会"
    assert mapped(m, {"item": "370103-000301-002"}) == {"dept_code": None, "dept_name": None}
    assert mapped(m, {"item": None}) == {"dept_code": None, "dept_name": None}


def test_lookup_exact_match_and_unknown_keys() -> None:
    table = DEPARTMENTS.replace("  departments:\n", "  departments:\n    match: exact\n")
    m = mapper("  a: {path: item, lookup: {table: departments, column: uscc}}\n"
               "  b: {path: item, lookup: {table: departments, column: uscc}, on_unknown: keep}\n"
               "  c: {path: item, lookup: {table: departments, column: uscc}, on_unknown: error}\n", table)
    out, issues = m.map({"item": "370102-000201-007"})
    assert out == {"a": None, "b": "370102-000201-007"}
    assert issues == [("c", "mapping.lookup", "value '370102-000201-007' is not in lookup table 'departments'")]
    assert mapped(m, {"item": "370102"}) == {"a": "11370102004214052W", "b": "11370102004214052W",
                                             "c": "11370102004214052W"}


def test_first_falls_back_from_the_catalogue_to_the_sources_own_code() -> None:
    m = mapper("  dept_code:\n    first:\n      - {path: item, lookup: {table: departments, column: uscc}}\n"
               "      - {path: deptCode, normalize: [nfkc, upper]}\n", DEPARTMENTS + TOKENS)
    assert mapped(m, {"item": "370102-000201-1", "deptCode": "x"}) == {"dept_code": "11370100MB2840129T"}
    assert mapped(m, {"item": "999", "deptCode": "１１３７０１０２００４２１４０５２ｗ"}) == {"dept_code": "11370102004214052W"}
    assert mapped(m, {"item": "999", "deptCode": "null"}) == {"dept_code": None}


def test_lookup_tables_from_csv_and_yaml_files_next_to_the_mapping(tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    (tmp_path / "cat" / "items.csv").write_text(
        "item_prefix,uscc,name\n370102-000201,11370100MB2840129T,济南市市场监督管理局\n370102,,历下区\n",
        encoding="utf-8")
    (tmp_path / "cat" / "extra.yaml").write_text(
        "- {code: '370103', uscc: 11370100004306906K, name: 卫健委}\n", encoding="utf-8")
    text = ('system: t\nversion: "1"\nlookups:\n'
            "  departments: {file: cat/items.csv, key: item_prefix}\n"
            "  more: {file: cat/extra.yaml, key: code, match: exact}\n"
            "fields:\n  code: {path: item, lookup: {table: departments, column: uscc}, default: none}\n"
            "  name: {path: item, lookup: {table: departments, column: name}}\n"
            "  other: {path: item, lookup: {table: more, column: name}}\n")
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    m = Mapper.from_file(path)
    assert mapped(m, {"item": "370102-000201-001"}) == {"code": "11370100MB2840129T", "name": "济南市市场监督管理局",
                                                        "other": None}
    assert mapped(m, {"item": "370102-000301-001"}) == {"code": "none", "name": "历下区", "other": None}
    assert mapped(m, {"item": "370103"})["other"] == "卫健委"
    # a changed catalogue is a changed mapping
    before = m.fingerprint
    (tmp_path / "cat" / "items.csv").write_text("item_prefix,uscc,name\n370102,X,Y\n", encoding="utf-8")
    assert Mapper.from_file(path).fingerprint != before


@pytest.mark.parametrize(
    ("top", "field", "message"),
    [
        ("", "{path: x, lookup: {table: nope, column: a}}", "lookup table 'nope' is not defined"),
        (DEPARTMENTS, "{path: x, lookup: {table: departments, column: code}}", "has no column 'code'"),
        (DEPARTMENTS, "{path: x, lookup: departments}", "lookup must be {table: NAME, column: COLUMN}"),
        (DEPARTMENTS, "{path: x, lookup: {table: departments, column: uscc}, code: {a: b}}", "either code or lookup"),
        ("lookups:\n  d: {match: fuzzy, entries: {}}\n", "x", "match must be exact or prefix"),
        ("lookups:\n  d: {match: exact}\n", "x", "needs entries, file, or both"),
        ("lookups:\n  d: {file: missing.csv}\n", "x", "cannot read"),
        ("lookups:\n  d: {entries: {a: 1}}\n", "x", "entry 'a' must map column names to values"),
    ],
)
def test_bad_lookups_fail_at_load(top: str, field: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        mapper(f"  a: {field}\n", top, base_dir=tmp_path)


# --- rule severities in the mapping ------------------------------------------------------------------------

def test_a_mapping_sets_quality_rule_severities() -> None:
    m = mapper("  a: x\n", "rules:\n  case.reason_required: reject\n  division.unknown: ignore\n"
                           "  case.date_order: flag\n")
    assert m.rules == {"case.reason_required": "reject", "division.unknown": "ignore"}  # flag is the default


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("{case.refusal_reasons: reject}", "unknown rule 'case.refusal_reasons'; a mapping may set: "),
        ("{resident_id.checksum: flag}", "resident_id.checksum is a structural rule and always rejects"),
        ("{case.reason_required: warn}", "severity must be one of reject, flag, ignore"),
        ("[case.reason_required]", "rules must map rule names"),
    ],
)
def test_bad_rule_severities_fail_at_load(rules: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        mapper("  a: x\n", f"rules: {rules}\n")


def test_generated_code_stays_plain_one_function_per_object() -> None:
    m = mapper('  a: {path: x, slice: [0, 2], regex: "(\\\\d)", type: int, default: 0}\n'
               "  b: {first: [y, {path: z, lookup: {table: departments, column: uscc}}]}\n"
               "  c: {when: {path: w, present: true}, then: w, else: {const: none}}\n", DEPARTMENTS + TOKENS)
    assert m.source.count("def ") == 2  # the object function and the entry point: no helpers per value
    assert "yaml" not in m.source and "spec" not in m.source
    assert mapped(m, {"x": "7a", "y": "", "z": "370102-1", "w": "null"}) == {
        "a": 7, "b": "11370102004214052W", "c": "none"}


def test_an_instant_given_with_another_offset_is_kept_in_the_systems_offset() -> None:
    """A hall sending UTC (``Z``) under an ISO 8601 convention: the canonical text is Beijing time, the same
    instant — a case applied at 00:30 on 1 November in Beijing must not read as October from its text."""
    from gateway.mapping.dates import iso_normalise

    assert iso_normalise("2026-10-31T16:30:00Z", "+08:00") == "2026-11-01T00:30:00+08:00"
    assert iso_normalise("2026-10-31T11:30:00-05:00", "+08:00") == "2026-11-01T00:30:00+08:00"
    assert iso_normalise("2026-10-31T16:30:00+08:00", "+08:00") == "2026-10-31T16:30:00+08:00"
    assert iso_normalise("2026-10-31T16:30:00", "+08:00") == "2026-10-31T16:30:00+08:00"
    assert iso_normalise("2026-10-31", "+08:00") == "2026-10-31T00:00:00+08:00"
    assert iso_normalise("2026-10-31T16:30:00Z", "+08:00", date_only=True) == "2026-11-01"
    assert iso_normalise("2026-10-31T16:30:00", "+08:00", date_only=True) == "2026-10-31"
    assert iso_normalise("2026-10-31", "+08:00", date_only=True) == "2026-10-31"
