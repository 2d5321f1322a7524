"""Unpadded date patterns: ``yyyy/M/d H:mm:ss`` is .NET's zh-CN ``DateTime.ToString()`` (``2026/3/1 9:30:05``).
The single-letter tokens ``M d H m s`` read one or two digits and are written unpadded outbound; the padded
tokens keep reading exactly two digits, and their generated code is what it was (the hot path pays nothing)."""

from __future__ import annotations

import pytest

from gateway.contract.errors import ConfigError
from gateway.mapping.mapper import Mapper

NET = "yyyy/M/d H:mm:ss"


def mapper(pattern: str, *, out: str | None = None, date_only: bool = False) -> Mapper:
    outbound = f'outbound:\n  fields:\n    t: {{path: at, date: {{to: "{out}"}}}}\n' if out else ""
    only = ", date_only: true" if date_only else ""
    return Mapper.from_text(f'system: t\nversion: "1"\nfields:\n  at: {{path: t, date: "{pattern}"{only}}}\n'
                            + outbound, where="t.yaml")


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2026/3/1 9:30:05", "2026-03-01T09:30:05+08:00"),
        ("2026/12/31 23:59:59", "2026-12-31T23:59:59+08:00"),
        ("2026/03/01 09:30:05", "2026-03-01T09:30:05+08:00"),  # one or two digits
        ("2026/3/1 0:00:00", "2026-03-01T00:00:00+08:00"),
    ],
)
def test_the_dotnet_default_format_is_read(raw: str, iso: str) -> None:
    assert mapper(NET).map({"t": raw}) == ({"at": iso}, [])


def test_every_unpadded_token_reads_one_digit_and_date_only_keeps_the_day() -> None:
    assert mapper("yyyy-M-d H:m:s").map({"t": "2026-3-1 9:5:7"}) == ({"at": "2026-03-01T09:05:07+08:00"}, [])
    assert mapper("yyyy/M/d", date_only=True).map({"t": "2026/3/1"}) == ({"at": "2026-03-01"}, [])


def test_three_digits_in_an_unpadded_token_is_no_match() -> None:
    _, issues = mapper(NET).map({"t": "2026/123/1 9:30:05"})
    assert [(f, r) for f, r, _ in issues] == [("at", "mapping.date_format")]


def test_padded_tokens_still_read_exactly_two_digits() -> None:
    _, issues = mapper("yyyy/MM/dd HH:mm:ss").map({"t": "2026/3/1 9:30:05"})
    assert [(f, r) for f, r, _ in issues] == [("at", "mapping.date_format")]


def test_outbound_writes_unpadded_tokens_without_a_leading_zero() -> None:
    m = mapper(NET, out=NET)
    assert m.outbound({"at": "2026-03-01T09:30:05+08:00"}) == {"t": "2026/3/1 9:30:05"}
    assert m.outbound({"at": "2026-12-31T23:04:05+08:00"}) == {"t": "2026/12/31 23:04:05"}
    raw = "2026/3/1 9:30:05"  # read back by the same pattern: the same text
    assert m.outbound(m.map({"t": raw})[0]) == {"t": raw}


def test_padded_patterns_generate_no_padding_code() -> None:
    """The hot path: a padded pattern's conversion is the same f-string as before, no format spec per value."""
    assert ":0>2" not in mapper("yyyy-MM-dd HH:mm:ss").source
    assert ":0>2" in mapper(NET).source


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("yyyyMd", "has M and d with nothing between"),
        ("yyyy/M/d Hmm", "has H and mm with nothing between"),
        ("yyyy/M/d h:mm:ss", "has h, the 12-hour clock"),
        ("yyyy/M", "needs yyyy, MM and dd"),
        ("yyyy/M/d/MM", "repeats MM"),
        # the connector YAML's strftime spelling: read as literal text it matched no record (walkthrough's find)
        ("%Y-%m-%d %H:%M:%S", "is a strftime pattern .*a mapping writes the Java/.NET way: 'yyyy-MM-dd HH:mm:ss'"),
    ],
)
def test_patterns_that_cannot_be_read_are_refused_at_load(pattern: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        mapper(pattern)


def test_the_reference_documents_the_tokens() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "mapping-reference.md").read_text(encoding="utf-8")
    section = text.split("## Date formats", 1)[1].split("\n## ", 1)[0]
    for token in ("`yyyy`", "`MM`", "`dd`", "`HH`", "`mm`", "`ss`", "`SSS`", "`M`", "`d`", "`H`", "`m`", "`s`"):
        assert token in section
    assert "yyyy/M/d H:mm:ss" in section and "unpadded" in section


def test_a_value_written_unpadded_against_a_padded_pattern_is_told_the_pattern_that_reads_it() -> None:
    """``2026年11月3日 9:05`` against ``yyyy年MM月dd日 HH:mm``: the rejection said only "does not match"; the engineer
    had to work out that the system writes its numbers without leading zeros."""
    _, issues = mapper("yyyy年MM月dd日 HH:mm").map({"t": "2026年11月3日 9:05"})
    ((field, rule, message),) = issues
    assert (field, rule) == ("at", "mapping.date_format")
    assert "it matches yyyy年M月d日 H:mm" in message and "add that format to the list" in message
    _, issues = mapper("yyyy年MM月dd日 HH:mm").map({"t": "3 Nov 2026"})  # no hint where none applies
    assert "it matches" not in issues[0][2]
    assert mapper("yyyy年MM月dd日 HH:mm").map({"t": "2026年11月03日 09:05"})[1] == []
