"""``tongban mapping check`` names records by their source key, shows the (masked) raw input that failed, and
reports source fields the mapping does not read; a sync logs the same drift once per run."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.kernel.config import load_systems
from gateway.mapping.check import check_mapping
from gateway.mapping.mapper import Mapper
from gateway.mapping.usage import source_paths, unmapped_fields
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]


def _records(n: int = 20) -> list[dict[str, Any]]:
    return [civil.generate(42, i) for i in range(n)]


def test_every_shipped_mapping_reads_every_field_its_sandbox_sends() -> None:
    used = source_paths(Mapper.from_file(REPO / "mappings" / "sd_civil.yaml").spec["fields"])
    assert unmapped_fields(_records(), used | {"id"}) == []


def test_a_new_source_field_is_reported_as_drift() -> None:
    used = source_paths(Mapper.from_file(REPO / "mappings" / "sd_civil.yaml").spec["fields"]) | {"id"}
    records = _records()
    records[3] = {**records[3], "channel": "自助终端", "applicant": {**records[3]["applicant"], "email": "a@b.cn"}}
    assert unmapped_fields(records, used) == ["applicant.email", "channel"]


def test_check_names_records_by_source_key_with_their_masked_input() -> None:
    systems = load_systems(REPO / "config" / "systems.yaml")
    records = _records(5)
    records[2] = {**records[2], "applyTime": "2024/13/45 99:99:99", "newField": 1}
    result = check_mapping(systems, "sd_civil", records)
    assert result["rejected"] == 1 and result["unmapped_source_fields"] == ["newField"]
    example = result["examples"][0]
    assert example["record"] == f"sd_civil:{records[2]['id']}" and example["field"] == "applied_at"
    assert "2024/13/45" in example["input"]
    assert records[2]["applicant"]["certNo"] not in example["input"]  # the ID number is masked


def test_a_sync_logs_drift_once(caplog: pytest.LogCaptureFixture, make_world: Any) -> None:
    from gateway.sync.engine import sync_system

    world = make_world(civil=30, estate=0)
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"count": 0})  # the sandbox is up
    with caplog.at_level(logging.WARNING, logger="gateway.sync.engine"):
        report = sync_system(world.runtime, "sd_civil")
    assert report.unmapped_source_fields == []
    assert not [r for r in caplog.records if "schema drift" in r.getMessage()]


def test_fields_left_unread_on_purpose_are_no_drift(tmp_path: Path) -> None:
    """A field the system sends that no canonical field wants (a 备注, an internal flag) was reported on every sync
    and by every mapping check, with no way to say "on purpose"; ``unread_source_fields`` says it."""
    from gateway.mapping.usage import paths_accounted_for

    spec = Mapper.from_file(REPO / "mappings" / "sd_civil.yaml").spec
    records = _records()
    records[3] = {**records[3], "bz": "内部备注", "applicant": {**records[3]["applicant"], "email": "a@b.cn"}}
    assert unmapped_fields(records, paths_accounted_for(spec, ["id"])) == ["applicant.email", "bz"]
    declared = {**spec, "unread_source_fields": ["bz", "applicant.email"]}
    assert unmapped_fields(records, paths_accounted_for(declared, ["id"])) == []
    text = (REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "m.yaml"
    bad.write_text(text + "\nunread_source_fields: bz\n", encoding="utf-8")
    with pytest.raises(Exception, match="unread_source_fields must be a list of source paths"):
        Mapper.from_file(bad)
