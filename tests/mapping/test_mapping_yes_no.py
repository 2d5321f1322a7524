"""A yes/no field (``type: bool``) is true for a true value, false for a false value, and no yes/no at all for
anything else: a county that writes 收费 (or y, or 有偿) in 是否收费 was read as "free" — a wrong 八统一 fee
element, and a real finding hidden. Now such a value is a named issue (``mapping.type``), which a catalogue
entry carries as an unreadable field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.catalogue.entry import CatalogueEntry
from gateway.contract.errors import ConfigError
from gateway.mapping.mapper import Mapper

REPO = Path(__file__).resolve().parents[2]
YES_NO = """
system: t
version: "1"
fields:
  plain: {path: a, type: bool}
  fee: {path: b, type: bool, true_values: ["是", "收费"], false_values: ["否", "免费"]}
"""


@pytest.fixture(scope="module")
def yes_no() -> Mapper:
    return Mapper.from_text(YES_NO, where="y.yaml")


@pytest.mark.parametrize(("value", "expected"), [("是", True), ("Y", True), (1, True), (True, True), ("1 ", True),
                                                 ("Yes", True), ("TRUE", True), (1.0, True), ("1.0", True),
                                                 ("否", False), ("N", False), (0, False), (False, False),
                                                 (" no", False), ("NO", False), (0.0, False), ("0.0", False)])
def test_the_default_lists_read_the_usual_ways(yes_no: Mapper, value: object, expected: bool) -> None:
    mapped, issues = yes_no.map({"a": value})
    assert not issues and mapped["plain"] is expected


@settings(max_examples=80, deadline=None)
@given(value=st.one_of(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=4), st.integers(),
                       st.floats(allow_nan=True)))
def test_a_value_in_neither_list_is_a_named_issue_never_false(yes_no: Mapper, value: object) -> None:
    mapped, issues = yes_no.map({"b": value})
    text = (str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    if not text:  # blank is no value: nothing to read, nothing wrong
        assert mapped.get("fee") is None and not issues
    elif text in ("是", "收费"):
        assert mapped["fee"] is True and not issues
    elif text in ("否", "免费"):
        assert mapped["fee"] is False and not issues
    else:
        assert [(f, r) for f, r, _ in issues] == [("fee", "mapping.type")]


def test_lists_that_share_a_value_fail_at_load() -> None:
    with pytest.raises(ConfigError, match="share"):
        Mapper.from_text(YES_NO.replace('false_values: ["否", "免费"]', 'false_values: ["否", "是"]'), where="y.yaml")


def test_the_shipped_catalogue_reads_a_countys_fee_wordings_and_flags_the_rest() -> None:
    mapper = Mapper.from_file(REPO / "mappings" / "catalogue" / "sd_catalogue.yaml", model=CatalogueEntry)
    for value, fee in (("收费", True), ("y", True), ("1", True), ("有偿", True), ("免费", False), ("N", False)):
        mapped, issues = mapper.map({"SFSF": value})
        assert mapped.get("fee") is fee and not [i for i in issues if i[0] == "fee"], (value, issues)
    _, issues = mapper.map({"SFSF": "按标准"})
    assert [r for f, r, _ in issues if f == "fee"] == ["mapping.type"]


def test_every_field_written_wrong_is_named_at_once_with_its_line() -> None:
    """A scaffold's skeleton leaves fields to fill in: each one left empty is named with its line in one error,
    not one per attempt (17 attempts for 17 fields)."""
    text = ('system: t\nversion: "1"\nfields:\n  case_no: bjbh\n  item_code: null\n  division_code: null\n'
            '  fee: {path: sfsf, type: bool, true_values: 1}\n')
    with pytest.raises(ConfigError) as caught:
        Mapper.from_text(text, where="m.yaml")
    lines = str(caught.value).splitlines()
    assert lines[0] == "3 fields written wrong:"
    assert [line.split(": ")[1] for line in lines[1:]] == ["line 5", "line 6", "line 7"]
    assert "item_code" in lines[1] and "division_code" in lines[2] and "true_values" in lines[3]


@pytest.mark.parametrize("blank", [" ", "\u3000", "\xa0 ", "\t"])
def test_a_blank_yes_no_is_no_value_not_an_issue(yes_no: Mapper, blank: str) -> None:
    """Spaces only (a full-width one too) are no answer, as an empty string is — not a value in neither list (the
    property test above found it: 1 in a few hundred runs)."""
    mapped, issues = yes_no.map({"b": blank})
    assert mapped.get("fee") is None and issues == []
