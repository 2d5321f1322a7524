"""An outside review's hostile inputs and spec mistakes: each is a fast, named mapping issue for a record, or a
ConfigError at load naming the file, the field and what to write instead — never a raw exception, a silent wrong
value or a minute of CPU."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.mapping.compiler import _short
from gateway.mapping.mapper import Mapper

HEAD = 'system: t\nversion: "1"\n'


def mapper(fields: str, extra: str = "") -> Mapper:
    """``fields`` start at line 4 of t.yaml."""
    return Mapper.from_text(HEAD + "fields:\n" + fields + extra, where="t.yaml")


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        Mapper.from_text(text if text.startswith("system") else HEAD + "fields:\n" + text, where="t.yaml")
    return str(err.value)


# -- 1. epoch text and decimals with absurd exponents ----------------------------------------------------------


@pytest.mark.parametrize("raw", ["1e999000", "1e999999", "-1e999999", "1E+400", Decimal("1E+999999"),
                                 Decimal("-1E+999000"), 1e300, pytest.param("9" * 5000, id="5000-nines"),
                                 " 1e999999 "])
@pytest.mark.parametrize("fmt", ["epoch_ms", "epoch_s"])
def test_epoch_values_with_absurd_exponents_are_a_date_format_issue(raw: object, fmt: str) -> None:
    m = mapper(f"  at: {{path: t, date: {fmt}}}\n")
    shown = _short(raw.strip() if isinstance(raw, str) else raw)  # the mapping's normalize: [strip]
    assert m.map({"t": raw}) == ({}, [("at", "mapping.date_format",
                                       f"value {shown} does not match the date format(s) {fmt}")])


def test_epoch_numbers_of_a_sane_size_still_read() -> None:
    m = mapper("  at: {path: t, date: epoch_ms}\n")
    for raw in ("1709605860000", "1.70960586E+12", Decimal("1709605860000"), 1709605860000, "1709605860000.0"):
        assert m.map({"t": raw}) == ({"at": "2024-03-05T10:31:00+08:00"}, [])


@pytest.mark.parametrize("raw", [Decimal("1E+999999"), Decimal("-1E+999999"), Decimal("1E+5000"), Decimal("2.5"),
                                 Decimal("NaN"), Decimal("Infinity")])
def test_type_int_refuses_a_decimal_that_is_not_a_whole_number_of_sane_size(raw: Decimal) -> None:
    m = mapper("  n: {path: v, type: int}\n")
    assert m.map({"v": raw}) == ({}, [("n", "mapping.type", f"value {raw!r} is not an int")])


def test_type_int_still_reads_whole_decimals() -> None:
    m = mapper("  n: {path: v, type: int}\n")
    assert m.map({"v": Decimal("20")}) == ({"n": 20}, [])
    assert m.map({"v": Decimal("2E+1")}) == ({"n": 20}, [])
    assert m.map({"v": Decimal("20.000")}) == ({"n": 20}, [])


# -- 2. non-finite float constants ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "said"), [
    ("  x: {const: .nan}\n", "line 4: fields: x: const nan is NaN or infinite"),
    ("  x: {path: a, default: .inf}\n", "line 4: fields: x: default inf is NaN or infinite"),
    ("  x: {cases: [{value: -.inf}]}\n", "line 4: fields: x.cases[0]: value -inf is NaN or infinite"),
    ("  x: {when: {path: a, present: true}, then: .nan}\n", "line 4: fields: x.cases[0]: then nan is NaN or infinite"),
    ("  x: {when: {path: a, present: true}, then: a, else: .inf}\n",
     "line 4: fields: x.cases[1]: then inf is NaN or infinite"),
    ("  x: {const: [1, .nan]}\n", "line 4: fields: x: const [1, nan] is NaN or infinite"),
])
def test_non_finite_constants_are_refused_at_load(fields: str, said: str) -> None:
    message = refused(fields)
    assert message.startswith(f"t.yaml: {said}")
    assert "YAML reads .nan and .inf as numbers" in message
    assert 'quote it (".nan", ".inf") if text was meant' in message


def test_a_non_finite_outbound_default_is_refused_at_load() -> None:
    message = refused(HEAD + "fields:\n  case_no: caseNo\noutbound:\n  fields:\n    fee: {path: fee, default: .inf}\n")
    assert message.startswith("t.yaml: line 7: outbound: fee: default inf is NaN or infinite")


# -- 3. inverted code tables with booleans and whole floats ----------------------------------------------------


def test_an_inverted_table_of_booleans_and_whole_floats_reads_back() -> None:
    m = mapper("  paid: {path: SFJF, code: yn}\n  weight: {path: DJ, code: grade}\n",
               "code_tables:\n  yn: {\"Y\": true, \"N\": false}\n  grade: {\"A\": 1.0, \"B\": 2.0, \"C\": 2.5}\n"
               "outbound:\n  fields:\n"
               "    SFJF: {path: paid, code: {table: yn, invert: true}}\n"
               "    DJ: {path: weight, code: {table: grade, invert: true}}\n")
    for raw in ({"SFJF": "Y", "DJ": "B"}, {"SFJF": "N", "DJ": "A"}, {"SFJF": "Y", "DJ": "C"}):
        canonical, issues = m.map(raw)
        assert issues == []
        assert m.outbound(canonical) == raw
    assert m.outbound({"paid": 1, "weight": 2}) == {"SFJF": "Y", "DJ": "B"}  # as lookups read values


# -- 4. a target and a target inside it ------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "outer", "inner"), [
    ("  applicant.name: xm\n  applicant: {path: qlr}\n", "applicant", "applicant.name"),
    ("  a: p\n  a.b: q\n", "a", "a.b"),
    ("  a.b.c: q\n  a.b: p\n", "a.b", "a.b.c"),
])
def test_a_target_and_a_target_inside_it_are_refused(fields: str, outer: str, inner: str) -> None:
    message = refused(fields)
    assert re.match(rf"t\.yaml: line \d: fields: {re.escape(inner)}: {re.escape(outer)} and {re.escape(inner)} are "
                    rf"both targets", message), message
    assert f"one would overwrite the other: map {outer} as a whole or its parts ({inner}, ...), not both" in message


def test_a_clash_inside_a_list_item_is_refused_too() -> None:
    message = refused("  events:\n    list:\n      - from: steps\n        fields: {n: name, n.x: y}\n")
    assert "fields: events.list[0].n.x: n and n.x are both targets" in message


def test_sibling_targets_with_a_common_prefix_are_no_clash() -> None:
    m = mapper("  ab: p\n  a.b: q\n  a.bc: r\n")
    assert m.map({"p": 1, "q": 2, "r": 3}) == ({"a": {"b": 2, "bc": 3}, "ab": 1}, [])


# -- 5. timezone as written with spaces or without the colon -------------------------------------------------


@pytest.mark.parametrize("tz", ['"+08:00 "', '" +08:00"', '"+0800"'])
def test_the_timezone_is_written_into_dates_normalised(tz: str) -> None:
    m = Mapper.from_text(f"{HEAD}timezone: {tz}\nfields:\n  at: {{path: t, date: yyyyMMddHHmmss}}\n"
                         "  iso: {path: i, date: iso8601}\n  ms: {path: e, date: epoch_ms}\n", where="t.yaml")
    assert m.map({"t": "20240305101200", "i": "2024-03-05T10:12:00", "e": 1709605860000}) == (
        {"at": "2024-03-05T10:12:00+08:00", "iso": "2024-03-05T10:12:00+08:00", "ms": "2024-03-05T10:31:00+08:00"},
        [])


# -- 6. type: str of objects, lists, booleans and NaN -----------------------------------------------------------


@pytest.mark.parametrize(("raw", "said"), [
    ({"k": 1}, "an object"),
    ([1, 2], "a list"),
    (True, "true/false"),
    (False, "true/false"),
    (float("nan"), "not a finite number"),
    (float("inf"), "not a finite number"),
    (Decimal("NaN"), "not a finite number"),
    pytest.param(10 ** 5000, "a number too long to write as text", id="int-over-4300-digits"),
])
def test_type_str_refuses_values_that_are_no_text(raw: object, said: str) -> None:
    m = mapper("  s: {path: v, type: str}\n")
    assert m.map({"v": raw}) == ({}, [("s", "mapping.type", f"value {_short(raw)} is {said}, not text or a number")])


def test_type_str_still_writes_numbers_as_text() -> None:
    m = mapper("  s: {path: v, type: str}\n")
    for raw, text in ((3, "3"), (2.5, "2.5"), (Decimal("1.10"), "1.10"), ("x", "x")):
        assert m.map({"v": raw}) == ({"s": text}, [])


# -- 9. date specs ----------------------------------------------------------------------------------------------


def test_an_unknown_key_under_date_is_refused() -> None:
    message = refused("  at: {path: t, date: {format: yyyyMMdd}}\n")
    assert message == ("t.yaml: line 4: fields: at: date has unknown key(s) ['format']; expected from (the format(s) "
                       "read) and to (the format written, outbound)")


@pytest.mark.parametrize(("to", "shown"), [("20240101", "20240101"), ("[yyyyMMdd]", "['yyyyMMdd']")])
def test_date_to_that_is_not_a_format_name_is_refused(to: str, shown: str) -> None:
    message = refused(f"{HEAD}fields:\n  x: a\noutbound:\n  fields:\n    t: {{path: x, date: {{to: {to}}}}}\n")
    assert message == (f"t.yaml: line 7: outbound: t: date to must be one format written as text (a pattern such as "
                       f"yyyyMMddHHmmss, or iso8601, epoch_ms, epoch_s), got {shown}: quote it if YAML read it as "
                       f"something else")


# -- 10. spec mistakes that raised raw exceptions at compile ---------------------------------------------------


@pytest.mark.parametrize(("fields", "said"), [
    ("  x: {path: a, regex: 'a{4294967296}'}\n",
     "line 4: fields: x: regex 'a{4294967296}' does not compile: the repetition number is too large"),
    ("  x: {when: {path: a, matches: 'a{4294967296}'}, then: b}\n",
     "line 4: fields: x.cases[0]: regex 'a{4294967296}' does not compile: the repetition number is too large"),
    ("  x: {path: a, regex: '" + "(" * 3000 + ")" * 3000 + "'}\n",
     "line 4: fields: x: regex '((((((((((((((((((((((((((((((((((((((((((((((((((((((((..." 
     " does not compile: it is nested too deeply (more than 100 groups inside one another)"),
    ("  x: {path: a, normalize: [[strip]]}\n",
     "line 4: fields: x: unknown normalize step ['strip']; expected one of ['lower', 'name_spaces', 'nfkc', "
     "'squash_spaces', 'strip', 'strip_all_spaces', 'upper']"),
    ("  x: {const: 0b" + "1" * 20000 + "}\n",
     "line 4: fields: x: const is an integer of more than 4300 digits, longer than any value a record holds: quote "
     "it if text was meant"),
    ("  x: {path: a, default: 0x" + "f" * 5000 + "}\n",
     "line 4: fields: x: default is an integer of more than 4300 digits, longer than any value a record holds: "
     "quote it if text was meant"),
    ("  x: {when: {path: a, in: [0b" + "1" * 20000 + "]}, then: b}\n",
     "line 4: fields: x.cases[0]: in: an integer of more than 4300 digits is no code a record holds: quote it if "
     "text was meant"),
])
def test_spec_mistakes_are_config_errors_naming_the_field(fields: str, said: str) -> None:
    assert refused(fields) == f"t.yaml: {said}"


def test_a_regex_nesting_a_hundred_groups_still_compiles() -> None:
    assert mapper("  x: {path: a, regex: '" + "(" * 100 + "a" + ")" * 100 + "'}\n").map({"a": "a"}) == ({"x": "a"}, [])


def test_a_decimal_integer_over_4300_digits_is_a_config_error_naming_the_file() -> None:
    message = refused("  x: {const: " + "1" * 5000 + "}\n")
    assert message.startswith("t.yaml: line 4: an integer of more than 4300 digits is longer than any value a "
                              "setting holds (")  # the one YAML reader's words, for every configuration file
    assert message.endswith("): quote it if text was meant")


# -- 12. quoted booleans ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "where", "key", "got"), [
    ("  x: {path: a, required: 'false'}\n", "x", "required", "the text 'false'"),
    ("  x: {path: a, blank_as_null: 'true'}\n", "x", "blank_as_null", "the text 'true'"),
    ("  x: {path: a, date: yyyyMMdd, date_only: 'false'}\n", "x", "date_only", "the text 'false'"),
    ("  x: {path: a, required: 2}\n", "x", "required", "2"),
    ("  x: {when: {path: a, present: 'false'}, then: b}\n", "x.cases[0]", "present", "the text 'false'"),
    ("  x: {when: {path: a, present: null}, then: b}\n", "x.cases[0]", "present", "None"),
])
def test_a_boolean_written_as_text_is_refused(fields: str, where: str, key: str, got: str) -> None:
    assert refused(fields) == (f"t.yaml: line 4: fields: {where}: {key} must be true or false (a boolean), got "
                               f"{got}: write {key}: true or {key}: false, without quotes")


def test_one_zero_and_empty_read_as_mappings_written_before_the_check_meant_them() -> None:
    """``required: 1``, ``date_only: 0`` and ``required: ~`` loaded before the check: a site mapping written so keeps
    loading after an upgrade (its sync would fail at load otherwise), read as it was read then."""
    m = mapper("  x: {path: a, required: 1, date: yyyyMMdd, date_only: 0}\n  y: {path: b, required: ~}\n")
    assert m.map({"a": "20240305", "b": None}) == ({"x": "2024-03-05T00:00:00+08:00", "y": None}, [])
    assert m.map({"b": "1"})[1][0][:2] == ("x", "mapping.required")


def test_real_booleans_still_work() -> None:
    m = mapper("  x: {path: a, required: false, date: yyyyMMdd, date_only: true}\n"
               "  y: {when: {path: a, present: false}, then: {const: absent}, else: {const: present}}\n")
    assert m.map({"a": "20240305"}) == ({"x": "2024-03-05", "y": "present"}, [])


# -- 13. unpadded tokens split only by digits --------------------------------------------------------------------


@pytest.mark.parametrize(("pattern", "first", "second", "digits"), [
    ("yyyyM1d", "M", "d", "1"), ("yyyy-M12d", "M", "d", "12"), ("yyyyMMdd H0m", "H", "m", "0"),
])
def test_two_unpadded_tokens_with_only_digits_between_are_refused(pattern: str, first: str, second: str,
                                                                   digits: str) -> None:
    message = refused(f'  at: {{path: t, date: "{pattern}"}}\n')
    assert message == (f"t.yaml: line 4: fields: at: date format {pattern!r} has {first} and {second} with only the "
                       f"digits {digits!r} between: both are unpadded (one or two digits), so the digits of a date "
                       f"can be split between them in more than one way; put a separator that is no digit between "
                       f"them, or pad one ({first * 2} or {second * 2})")


def test_one_unpadded_token_beside_digit_literals_reads_unambiguously() -> None:
    m = Mapper.from_text(HEAD + 'fields:\n  at: {path: t, date: "yyyyMMd1"}\noutbound:\n  fields:\n'
                         '    t: {path: at, date: {to: "yyyyMMd1"}}\n', where="t.yaml")
    for day in (2, 12):
        out = m.outbound({"at": f"2024-01-{day:02d}T00:00:00+08:00"})
        assert m.map(out) == ({"at": f"2024-01-{day:02d}T00:00:00+08:00"}, [])


# -- 14. values no JSON parser produces ----------------------------------------------------------------------------


def _deep(levels: int) -> object:
    value: object = "x"
    for i in range(levels):
        value = [value] if i % 2 else {"k": value}
    return value


def test_short_never_raises() -> None:
    assert _short(10 ** 5000) == "<an integer of more than 4300 digits>"
    shown = _short(_deep(5000))
    assert shown.startswith("[{'k': [{") and len(shown) <= 60


@pytest.mark.parametrize("raw", [pytest.param(10 ** 5000, id="int-over-4300-digits"),
                                 pytest.param(_deep(5000), id="5000-deep")])
def test_values_no_json_parser_produces_are_named_issues(raw: object) -> None:
    m = mapper("  s: {path: v, type: str}\n  c: {path: v, code: {'1': one}}\n  d: {path: v, date: yyyyMMdd}\n")
    _, issues = m.map({"v": raw})
    assert [(f, r) for f, r, _ in issues] == [("s", "mapping.type"), ("c", "mapping.code_table"),
                                              ("d", "mapping.date_format")]
    assert issues[1][2] == f"value {_short(raw)} is not in code table 'inline'"


def test_position_must_be_true() -> None:
    message = refused("  events:\n    list:\n      - from: steps\n        fields: {seq: {position: 'false'}}\n")
    assert message == ("t.yaml: line 7: fields: events.list[0].seq: position must be true (a boolean), got 'false': "
                       "write position: true, without quotes")


# -- 8. hb_xhall's status round trip is said in its header -----------------------------------------------------------


def test_hb_xhall_says_which_statuses_do_not_survive_a_round_trip() -> None:
    """Said in docs/processes.md, not in the mapping's header: the mapping version is a hash of the file's text, and a
    comment there would ask every deployment to remap hb_xhall for nothing."""
    root = Path(__file__).resolve().parents[2]
    said = " ".join((root / "docs" / "processes.md").read_text(encoding="utf-8").split())
    assert "a deleted or voided case is written `03` (退回) and reads back `returned` with `deleted` false" in said
    assert "an `in_progress` or `suspended` one is written `02` (已受理) and reads back `accepted`" in said
    m = Mapper.from_file(root / "mappings" / "hb_xhall.yaml")
    for status, back in (("deleted", "returned"), ("voided", "returned"), ("in_progress", "accepted"),
                         ("suspended", "accepted"), ("finished", "finished")):
        body = m.outbound({"case_no": "C1", "item_code": "I1", "status": status, "deleted": status == "deleted"},
                          version=1)
        canonical, issues = m.map({**body, "gxsj": "20240305101200"})
        assert issues == []
        assert (canonical["status"], canonical["deleted"]) == (back, False)
