"""What a mapping does with a value that has no text, a context it cannot name, an offset that is no offset and a
date written in other digits (an outside review of the mapping language: each was a silently wrong value, or a
raw Python error at the first record, where the mapping's field and rule belong)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.contract.errors import ConfigError
from gateway.mapping.mapper import Mapper

TEXT_STEPS = Mapper.from_text("""
system: t
version: "1"
lookups:
  areas:
    entries:
      "370102": {name: 历下区}
fields:
  summary: {concat: [item, {const: " 申请人 "}, who], sep: ""}
  division_code: {path: area, slice: [0, 6]}
  item_code: {path: code, regex: '^(\\d+)'}
  office.name: {path: area, lookup: {table: areas, column: name}}
  agent.name: {when: {path: who, matches: '王'}, then: {const: 王}, else: {const: other}}
""", where="t.yaml")


@pytest.mark.parametrize("value, what", [({"name": "王伟", "certNo": "370102198506011234"}, "an object"),
                                         (["370102"], "a list"), (True, "true/false"), (float("nan"), "not a finite")])
def test_a_value_that_has_no_text_is_a_type_issue_in_every_text_step(value: Any, what: str) -> None:
    """Its Python repr passed as valid text: a nested object leaked what it held (an ID number) into the summary."""
    out, issues = TEXT_STEPS.map({"item": "食品经营许可", "who": value, "area": value, "code": value})
    named = {field: (rule, message) for field, rule, message in issues}
    for field in ("summary", "division_code", "item_code", "office.name"):
        assert named[field][0] == "mapping.type" and what in named[field][1], (field, named)
    assert "370102198506011234" not in repr(out)
    assert out["agent"]["name"] == "other"  # matches: no text, no match (never the repr's)


def test_numbers_are_still_text_to_the_text_steps() -> None:
    out, issues = TEXT_STEPS.map({"item": "许可", "who": 7, "area": 370102, "code": 12345})
    assert issues == [] and out["summary"] == "许可 申请人 7" and out["division_code"] == "370102"
    assert out["item_code"] == "12345" and out["office"]["name"] == "历下区"


@pytest.mark.parametrize("context", ["[version]", "{name: version}", ".nan", "''"])
def test_a_context_that_names_no_value_is_refused_at_load_with_its_field(context: str) -> None:
    text = ("system: t\nversion: '1'\nfields:\n  case_no: id\noutbound:\n  fields:\n    id: case_no\n"
            f"    ver: {{context: {context}}}\n")
    with pytest.raises(ConfigError, match=r"t.yaml: line 8: outbound: ver: context names a value"):
        Mapper.from_text(text, where="t.yaml")


@pytest.mark.parametrize("offset", ["+25:00", "+08:99", "-24:00"])
def test_an_offset_no_clock_has_is_refused_at_load(offset: str) -> None:
    with pytest.raises(ConfigError, match="hours run to 23 and minutes to 59"):
        Mapper.from_text(f"system: t\nversion: '1'\ntimezone: '{offset}'\nfields:\n  case_no: id\n", where="t.yaml")


@pytest.mark.parametrize("written", ["２０２４-０３-０５ １０:１２:００", "٢٠٢٤-٠٣-٠٥ ١٠:١٢:٠٠"])
def test_a_date_in_other_digits_is_the_mappings_date_format_issue(written: str) -> None:
    """It matched the pattern (\\d is any digit), went out as ISO text in those digits and failed the model's type
    check, which points nowhere near the fix (``normalize: [nfkc]``)."""
    m = Mapper.from_text("system: t\nversion: '1'\nfields:\n  applied_at: {path: t, date: 'yyyy-MM-dd HH:mm:ss'}\n",
                         where="t.yaml")
    out, issues = m.map({"t": written})
    assert [(f, r) for f, r, _ in issues] == [("applied_at", "mapping.date_format")]
    nfkc = Mapper.from_text("system: t\nversion: '1'\nfields:\n  applied_at: {path: t, date: 'yyyy-MM-dd HH:mm:ss', "
                            "normalize: [nfkc]}\n", where="t.yaml")
    assert nfkc.map({"t": "２０２４-０３-０５ １０:１２:００"}) == ({"applied_at": "2024-03-05T10:12:00+08:00"}, [])


@pytest.mark.parametrize("written, number", [("01", 1), ("010", 8), ("0x1F", 31), ("1_0", 10)])
def test_a_condition_code_yaml_reads_as_another_number_is_refused_at_load(written: str, number: int) -> None:
    """``in: [01, 02]`` was the numbers 1 and 2 (``010`` octal 8): a record's "01" never matched, and nothing said
    so. A code table's keys are kept as written; a condition's values now say what YAML made of them."""
    text = (f"system: t\nversion: '1'\nfields:\n  status:\n    cases:\n      - {{when: {{path: zt, in: [{written}]}}, "
            "value: finished}\n      - {value: accepted}\n")
    with pytest.raises(ConfigError, match=rf"in: {written} is read by YAML as the number {number}.*quote it"):
        Mapper.from_text(text, where="t.yaml")
    quoted = Mapper.from_text(text.replace(f"[{written}]", f"['{written}']"), where="t.yaml")
    assert quoted.map({"zt": written}) == ({"status": "finished"}, [])


def test_each_record_gets_its_own_copy_of_a_list_or_object_constant() -> None:
    """A ``default: []`` or an outbound ``const: {…}`` was one object shared by every record and by the mapping's
    spec: a caller that changed one record's list changed the next record's, and the mapping itself."""
    m = Mapper.from_text("system: t\nversion: '1'\nfields:\n  tags: {path: t, default: []}\noutbound:\n  fields:\n"
                         "    header: {const: {appId: hall, sign: null}}\n", where="t.yaml")
    first, _ = m.map({})
    first["tags"].append("only the first record's")
    assert m.map({}) == ({"tags": []}, []) and m.spec["fields"]["tags"] == {"path": "t", "default": []}
    body = m.outbound({})
    body["header"]["sign"] = "signature of push 1"
    assert m.outbound({}) == {"header": {"appId": "hall", "sign": None}}


@pytest.mark.parametrize("pattern", [r"^(\d+)+-JB$", r"(a*)*", r"(?:x|y+)*z"])
def test_a_regex_that_repeats_a_repetition_is_refused_at_load(pattern: str) -> None:
    """``(\\d+)+`` on 30 digits and an X backtracked for minutes: one such value in a record stopped the sync."""
    with pytest.raises(ConfigError, match="repeats a group that itself repeats"):
        Mapper.from_text(f"system: t\nversion: '1'\nfields:\n  case_no: {{path: n, regex: '{pattern}'}}\n", where="t.yaml")


@pytest.mark.parametrize("pattern", [r"^(\d{6})", r"(\d+)-(\d+)", r"(\d{2})+", r"^([A-Z]{2})\d+$"])
def test_regexes_that_split_a_value_one_way_are_taken(pattern: str) -> None:
    Mapper.from_text(f"system: t\nversion: '1'\nfields:\n  case_no: {{path: n, regex: '{pattern}'}}\n", where="t.yaml")


@pytest.mark.parametrize("written", ["2024-03-05 garbage", "2024-03-05至2024-03-10"])
def test_an_iso_date_only_field_reads_a_whole_date_and_time_or_names_it(written: str) -> None:
    """It took the first ten characters of anything: a range was silently its first day."""
    m = Mapper.from_text("system: t\nversion: '1'\nfields:\n  applied_at: {path: t, date: iso8601, date_only: true}\n",
                         where="t.yaml")
    out, issues = m.map({"t": written})
    assert "applied_at" not in out and [(f, r) for f, r, _ in issues] == [("applied_at", "mapping.date_format")]
    assert m.map({"t": "2024-03-05T23:30:00Z"}) == ({"applied_at": "2024-03-06"}, [])  # Beijing's day


def test_a_mapping_too_deep_for_python_is_a_config_error_naming_it() -> None:
    """``first:`` with 96 alternatives raised a raw IndentationError of the generated source at load."""
    alternatives = "\n".join(f"      - {{path: a{i}}}" for i in range(120))
    with pytest.raises(ConfigError, match=r"t.yaml: fields: the mapping nests too deeply for Python to compile it"):
        Mapper.from_text(f"system: t\nversion: '1'\nfields:\n  case_no:\n    first:\n{alternatives}\n", where="t.yaml")


@pytest.mark.parametrize("target", [".a", "a.", "a..b"])
def test_an_outbound_target_with_an_empty_part_is_refused(target: str) -> None:
    """'.a' and 'a' both wrote the key a (one over the other), 'a.' made a key '' in the body sent."""
    with pytest.raises(ConfigError, match="has an empty part"):
        Mapper.from_text(f"system: t\nversion: '1'\nfields:\n  case_no: id\noutbound:\n  fields:\n    a: case_no\n"
                         f"    '{target}': case_no\n", where="t.yaml")
