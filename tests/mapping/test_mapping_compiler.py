"""The mapping compiler: every spec form, its errors, and that YAML values never become code."""

from __future__ import annotations

import pytest

from gateway.contract.errors import ConfigError
from gateway.mapping.mapper import Mapper

BASE = """
system: t
version: "7"
code_tables:
  result: {"0": issued, "1": not_permitted, "2": voided}
  kind: {person: "1", company: "2"}
fields:
"""


def mapper(fields: str, extra: str = "") -> Mapper:
    return Mapper.from_text(BASE + fields + extra, where="t.yaml")


def test_paths_nested_targets_and_list_indexes() -> None:
    m = mapper("  case_no: a.b\n  applicant.name: qlr.0.xm\n  applicant.kind: {path: k, code: kind}\n")
    out, issues = m.map({"a": {"b": "X1"}, "qlr": [{"xm": "张伟"}], "k": "company"})
    assert issues == []
    assert out == {"case_no": "X1", "applicant": {"name": "张伟", "kind": "2"}}


def test_missing_source_values_are_none_and_required_is_reported() -> None:
    m = mapper("  case_no: {path: pn, required: true}\n  summary: s\n")
    out, issues = m.map({})
    assert out == {"summary": None}
    assert issues == [("case_no", "mapping.required", "no value at path 'pn'")]


def test_dates_in_several_formats_become_iso_with_offset() -> None:
    m = mapper('  a: {path: a, date: ["yyyy-MM-dd HH:mm:ss", "yyyy/MM/dd HH:mm:ss"]}\n'
               '  b: {path: b, date: yyyyMMddHHmmss}\n  c: {path: c, date: epoch_ms}\n'
               '  d: {path: d, date: iso8601}\n  e: {path: e, date: yyyy-MM-dd, date_only: true}\n')
    out, issues = m.map({"a": "2024/03/05 10:12:00", "b": "20240305101200", "c": 1709605860000,
                         "d": "2024-03-05T10:12:00", "e": "2024-03-05"})
    assert issues == []
    assert out == {"a": "2024-03-05T10:12:00+08:00", "b": "2024-03-05T10:12:00+08:00",
                   "c": "2024-03-05T10:31:00+08:00", "d": "2024-03-05T10:12:00+08:00", "e": "2024-03-05"}


def test_a_date_in_an_undeclared_format_names_field_rule_and_value() -> None:
    m = mapper("  applied_at: {path: t, date: yyyy-MM-dd HH:mm:ss}\n")
    _, issues = m.map({"t": "05.03.2024"})
    assert issues == [("applied_at", "mapping.date_format",
                       "value '05.03.2024' does not match the date format(s) yyyy-MM-dd HH:mm:ss")]


def test_code_tables_error_null_or_keep_on_unknown_values() -> None:
    m = mapper("  a: {path: r, code: result}\n  b: {path: r, code: result, on_unknown: null}\n"
               "  c: {path: r, code: result, on_unknown: keep}\n  d: {path: n, code: result}\n")
    out, issues = m.map({"r": "9", "n": 0})
    assert out == {"b": None, "c": "9", "d": "issued"}  # ints are looked up as their text
    assert issues == [("a", "mapping.code_table", "value '9' is not in code table 'result'")]


def test_normalisation_of_full_width_digits_and_spaces() -> None:
    m = mapper("  id: {path: id, normalize: [nfkc, strip_all_spaces, upper]}\n  name: {path: n, normalize: [strip_all_spaces]}\n"
               "  addr: {path: a, normalize: [squash_spaces]}\n  plain: p\n")
    out, _ = m.map({"id": "３７０１０２ 19850601123x", "n": "王\u3000秀英 ", "a": " 历下区   泉城路 ", "p": "  x  "})
    assert out == {"id": "37010219850601123X", "name": "王秀英", "addr": "历下区 泉城路", "plain": "x"}


def test_empty_string_and_null_stay_different_for_text() -> None:
    m = mapper("  reason: r\n")
    assert m.map({"r": ""})[0] == {"reason": ""}
    assert m.map({"r": None})[0] == {"reason": None}


def test_constants_concat_conditions_and_types() -> None:
    m = mapper(
        "  dept: {const: 山东省民政厅}\n"
        "  summary: {concat: [item, {const: '·'}, who]}\n"
        "  deleted: {any: [{path: del, in: [1, '1']}, {path: r, in: ['2', '3']}]}\n"
        "  status: {cases: [{when: {path: fin, present: true}, value: finished}, {value: submitted}]}\n"
        "  days: {path: d, type: int}\n  flag: {path: f, type: bool}\n"
    )
    out, issues = m.map({"item": "登记", "who": "王伟", "del": 0, "r": "2", "d": "20", "f": "是"})
    assert issues == []
    assert out == {"dept": "山东省民政厅", "summary": "登记·王伟", "deleted": True, "status": "submitted",
                   "days": 20, "flag": True}
    _, issues = m.map({"d": "twenty"})
    assert issues == [("days", "mapping.type", "value 'twenty' is not an int")]


def test_lists_from_several_sources_with_positions_and_item_issue_paths() -> None:
    m = mapper(
        "  events:\n    list:\n"
        "      - from: steps\n        fields: {seq: {position: true}, kind: {const: step}, at: {path: t, date: yyyyMMddHHmmss}}\n"
        "      - from: specials\n        fields: {seq: {position: true}, kind: {const: special}}\n"
    )
    out, issues = m.map({"steps": [{"t": "20240305103000"}, {"t": "bad"}], "specials": {"x": 1}})
    assert [e["seq"] for e in out["events"]] == [1, 2, 3]
    assert [e["kind"] for e in out["events"]] == ["step", "step", "special"]
    assert issues == [("events.1.at", "mapping.date_format",
                       "value 'bad' does not match the date format(s) yyyyMMddHHmmss")]


def test_outbound_inverts_code_tables_formats_dates_and_reads_context() -> None:
    m = mapper("  r: {path: r, code: result}\n",
               "outbound:\n  fields:\n    result: {path: r, code: {table: result, invert: true}}\n"
               "    applyTime: {path: at, date: {to: yyyyMMddHHmmss}}\n    version: {context: version}\n")
    body = m.outbound({"r": "voided", "at": "2024-03-05T02:12:00+00:00"}, version=4)
    assert body == {"result": "2", "applyTime": "20240305101200", "version": 4}


def test_a_table_named_in_the_long_form_is_read_forwards_unless_inverted() -> None:
    """``code: {table: result}`` is ``code: result`` (it used to be taken for an inline table whose only code was
    the word "table": every real value fell through to nothing)."""
    m = mapper("  r: {path: r, code: {table: result}}\n",
               "outbound:\n  fields:\n    result: {path: r, code: {table: result, invert: false}}\n")
    assert m.map({"r": "2"}) == ({"r": "voided"}, [])
    assert m.outbound({"r": "2"}) == {"result": "voided"}
    with pytest.raises(ConfigError, match="invert must be true or false"):
        mapper("  r: {path: r, code: {table: result, invert: 'yes'}}\n")
    with pytest.raises(ConfigError, match="code table 'nope' is not defined"):
        mapper("  r: {path: r, code: {table: nope}}\n")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("  a: {path: x, fromat: y}\n", "t.yaml: line 8: fields: a: unknown key(s) ['fromat']"),
        ("  a: {path: x, code: nope}\n", "t.yaml: line 8: fields: a: code table 'nope' is not defined"),
        ("  a: {path: x, date: 'dd/MM'}\n", "t.yaml: line 8: fields: a: date format 'dd/MM' needs yyyy, MM and dd"),
        # the review's yyyyMMddhhmmss: hh (12-hour clock) read as literal text rejected every record
        ("  a: {path: x, date: yyyyMMddhhmmss}\n", "t.yaml: line 8: fields: a: date format 'yyyyMMddhhmmss' has hh, the "
                                                  "12-hour clock, which needs an am/pm marker and is not supported; "
                                                  "for the 24-hour clock write HH: 'yyyyMMddHHmmss'"),
        ("  a: {path: x, date: {from: iso8601, to: 'yyyy-MM-dd hh:mm'}}\n",
         "t.yaml: line 8: fields: a: date to: date format 'yyyy-MM-dd hh:mm' has hh"),
        ("  a: {path: x, const: 1}\n", "t.yaml: line 8: fields: a: needs exactly one of"),
        ("  a: {path: x, normalize: [shout]}\n", "t.yaml: line 8: fields: a: unknown normalize step 'shout'"),
    ],
)
def test_bad_specs_fail_at_load_naming_file_and_field(fields: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        mapper(fields)
    assert message in str(err.value)


def test_yaml_values_never_become_code() -> None:
    hostile = "'); import os; os.system('touch /tmp/pwned') #"
    key = "'); exec('raise SystemExit') #"
    m = mapper(f'  a: {{const: "{hostile}"}}\n  "b": {{path: "{key}"}}\n')
    out, _ = m.map({key: "ok"})
    assert out == {"a": hostile, "b": "ok"}


def test_version_and_fingerprint_identify_the_mapping() -> None:
    one, two = mapper("  a: x\n"), mapper("  a: y\n")
    assert one.version == "7" and one.fingerprint != two.fingerprint


@pytest.mark.parametrize(("given", "kind", "expected"), [
    (1.9, "int", None), (True, "int", None), (float("inf"), "int", None), ("1.5", "int", None),
    (20.0, "int", 20), ("20", "int", 20), (7, "int", 7),
    ("NaN", "float", None), ("1e400", "float", None), (float("nan"), "float", None), (False, "float", None),
    ("2.5", "float", 2.5), (3, "float", 3.0),
])
def test_a_number_is_converted_only_when_nothing_is_lost(given: object, kind: str, expected: object) -> None:
    """``int(1.9)`` is 1 and ``float("NaN")`` is a float: a converter that loses or invents a value is a silent
    change of the record; it is a mapping.type issue instead."""
    out, issues = mapper(f"  days: {{path: d, type: {kind}}}\n").map({"d": given})
    if expected is None:
        assert [(f, r) for f, r, _ in issues] == [("days", "mapping.type")], (given, out)
    else:
        assert issues == [] and out["days"] == expected and type(out["days"]).__name__ == kind
