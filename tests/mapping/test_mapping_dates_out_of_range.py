"""An ISO time near the edge of the datetime range (9999-12-31T23:00:00Z is in the year 10000 in Beijing) is the
field's mapping.date_format issue, never an OverflowError out of the mapping; and ``mapping check`` reports a
record whose mapping raises as that record's failure and checks the rest of the sample."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from gateway.kernel.config import load_systems
from gateway.mapping.check import check_mapping
from gateway.mapping.dates import format_datetime
from gateway.mapping.mapper import Mapper
from sandbox import hall

REPO = Path(__file__).resolve().parents[2]
BEIJING = timezone(timedelta(hours=8))
EDGES = ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00+09:00", "9999-12-31T23:59:59-05:00"]


def iso(date_only: bool = False) -> Mapper:
    only = ", date_only: true" if date_only else ""
    return Mapper.from_text(f'system: t\nversion: "1"\nfields:\n  at: {{path: t, date: iso8601{only}}}\n'
                            'outbound:\n  fields:\n    t: {path: at, date: {to: "yyyy-MM-dd HH:mm:ss"}}\n',
                            where="t.yaml")


@pytest.mark.parametrize("value", EDGES)
@pytest.mark.parametrize("date_only", [False, True])
def test_an_instant_outside_the_years_1_to_9999_here_names_the_field(value: str, date_only: bool) -> None:
    _, issues = iso(date_only).map({"t": value})
    assert [(f, r) for f, r, _ in issues] == [("at", "mapping.date_format")]
    assert value in issues[0][2] and "outside the years 1-9999" in issues[0][2]


def test_the_edges_that_fit_still_map() -> None:
    assert iso().map({"t": "9999-12-31T15:59:59Z"}) == ({"at": "9999-12-31T23:59:59+08:00"}, [])
    assert iso().map({"t": "0001-01-01T00:00:00+08:00"}) == ({"at": "0001-01-01T00:00:00+08:00"}, [])


def test_outbound_names_a_time_it_cannot_write_in_the_system_zone() -> None:
    with pytest.raises(ValueError, match=r"t: value '9999-12-31T23:00:00-05:00' is outside the years 1-9999"):
        iso().outbound({"at": "9999-12-31T23:00:00-05:00"})
    with pytest.raises(ValueError, match="outside the years 1-9999"):  # a datetime given as such: no OverflowError
        format_datetime(datetime(9999, 12, 31, 23, tzinfo=UTC), "yyyyMMddHHmmss", BEIJING)
    assert format_datetime(datetime(1, 1, 1, 5, tzinfo=timezone(timedelta(hours=9))), "yyyyMMddHHmm",
                           BEIJING) == "000101010400"  # in range here, though not in UTC


@pytest.mark.parametrize("value", EDGES[:2])
def test_the_shipped_hall_mapping_names_applied_at(value: str) -> None:
    record = copy.deepcopy(hall.generate(7, 1))
    record["applied_at"] = value
    _, issues = Mapper.from_file(REPO / "mappings" / "sd_hall.yaml").map(record)
    assert ("applied_at", "mapping.date_format") in [(f, r) for f, r, _ in issues]


def test_mapping_check_reports_the_record_and_checks_the_rest() -> None:
    systems = load_systems(REPO / "config" / "systems.yaml")
    good, bad = hall.generate(7, 1), copy.deepcopy(hall.generate(7, 2))
    bad["applied_at"] = "9999-12-31T23:00:00Z"
    result = check_mapping(systems, "sd_hall", [good, bad])
    assert result["records"] == 2 and result["valid"] == 1 and result["rejected"] == 1
    assert [(e["field"], e["rule"]) for e in result["examples"]] == [("applied_at", "mapping.date_format")]


def test_mapping_check_survives_a_mapping_that_raises_on_one_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a record makes the mapping raise is that record's failure (mapping.internal, as ingest names
    it), not the end of the check."""
    systems = load_systems(REPO / "config" / "systems.yaml")
    records = [hall.generate(7, i) for i in range(1, 4)]
    doomed = records[1]
    real = Mapper.map

    def fragile(self: Mapper, raw: Any, **context: Any) -> Any:
        if raw is doomed:
            raise RuntimeError("boom")
        return real(self, raw, **context)

    monkeypatch.setattr(Mapper, "map", fragile)
    result = check_mapping(systems, "sd_hall", records)
    assert result["records"] == 3 and result["valid"] == 2 and result["rejected"] == 1
    (example,) = result["examples"]
    assert example["field"] == "$" and example["rule"] == "mapping.internal" and "RuntimeError: boom" in example["message"]


def test_mapping_check_survives_validation_that_raises_on_one_record(monkeypatch: pytest.MonkeyPatch) -> None:
    systems = load_systems(REPO / "config" / "systems.yaml")
    records = [hall.generate(7, i) for i in range(1, 4)]
    doomed = f"sd_hall:{records[1]['fd_id']}"
    real = Mapper.validate

    def fragile(self: Mapper, mapped: Any, refs: Any, flags: Any = None) -> Any:
        if doomed in refs:
            raise RuntimeError("boom")
        return real(self, mapped, refs, flags)

    monkeypatch.setattr(Mapper, "validate", fragile)
    result = check_mapping(systems, "sd_hall", records)
    assert result["records"] == 3 and result["valid"] == 2 and result["rejected"] == 1
    (example,) = result["examples"]
    assert example["record"] == doomed and example["rule"] == "validation.internal" and "boom" in example["message"]
