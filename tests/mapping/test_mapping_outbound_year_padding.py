"""Outbound patterns write four-digit years always: the year 202 is ``0202`` (glibc's ``strftime('%Y')`` wrote
``202``, and ``yyyyMMddHHmmss`` came out 13 digits long), so what is pushed is read back by the same pattern."""

from __future__ import annotations

import copy
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from gateway.mapping.dates import format_datetime
from gateway.mapping.mapper import Mapper
from sandbox import civil, estate

REPO = Path(__file__).resolve().parents[2]
BEIJING = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("pattern", "written"),
    [
        ("yyyy-MM-dd HH:mm:ss", "0202-01-04 20:35:35"),
        ("yyyyMMddHHmmss", "02020104203535"),
        ("yyyy-MM-dd HH:mm:ss.SSS", "0202-01-04 20:35:35.120"),
        ("yyyy/M/d H:mm:ss", "0202/1/4 20:35:35"),
        ("yyyy-MM-dd", "0202-01-04"),
    ],
)
def test_a_year_before_1000_is_written_with_four_digits(pattern: str, written: str) -> None:
    assert format_datetime("0202-01-04T20:35:35.120+08:00", pattern, BEIJING) == written


def test_the_first_year_and_the_last() -> None:
    assert format_datetime("0001-01-01T00:00:00+08:00", "yyyyMMddHHmmss", BEIJING) == "00010101000000"
    assert format_datetime("9999-12-31T23:59:59+08:00", "yyyyMMddHHmmss", BEIJING) == "99991231235959"


def test_literal_text_in_a_pattern_is_written_as_it_is() -> None:
    assert format_datetime("2026-03-01T09:05:00+08:00", "yyyy年MM月dd日 {HH}%mm", BEIJING) == "2026年03月01日 {09}%05"


def test_the_shipped_mappings_push_what_they_read() -> None:
    record = copy.deepcopy(civil.generate(7, 1))
    record["finishTime"] = "0202-01-04 20:35:35"
    sd_civil = Mapper.from_file(REPO / "mappings" / "sd_civil.yaml")
    canonical, issues = sd_civil.map(record)
    assert issues == []
    assert canonical["finished_at"] == "0202-01-04T20:35:35+08:00"
    assert sd_civil.outbound(canonical)["finishTime"] == "0202-01-04 20:35:35"

    record = copy.deepcopy(estate.generate(7, 1))
    record["bjsj"] = "02020104215150"
    jn_estate = Mapper.from_file(REPO / "mappings" / "jn_estate.yaml")
    canonical, _ = jn_estate.map(record)
    assert jn_estate.outbound(canonical)["bjsj"] == "02020104215150"
