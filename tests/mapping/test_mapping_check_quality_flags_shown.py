"""``tongban mapping check SYSTEM`` (the table, not --json) shows the quality flags: each rule, how many records
it flagged, on which fields, and an example record. --json listed them under ``quality``; the table said
nothing, so a check read as clean while a rule flagged records."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sandbox import civil

REPO = Path(__file__).resolve().parents[2]


def test_the_human_output_lists_the_flags(tmp_path: Path) -> None:
    from gateway.cli import app

    records = [civil.generate(42, i) for i in range(6)]
    records[1]["applyTime"] = "2030-01-01 00:00:00"  # applied after it was accepted and finished: case.date_order
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    args = ["mapping", "check", "sd_civil", "--sample", str(sample), "--systems", str(REPO / "config" / "systems.yaml")]

    as_json = CliRunner().invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert "case.date_order" in json.loads(as_json.output)["quality"]

    human = CliRunner().invoke(app, args, terminal_width=200)
    assert human.exit_code == 0, human.output
    assert "quality flags" in human.output
    line = next(line for line in human.output.splitlines() if "case.date_order" in line)
    assert "1 record flagged" in line and "finished_at" in line and f"sd_civil:{records[1]['id']}" in line


def test_quality_lines_name_rule_count_fields_and_an_example() -> None:
    from gateway.mapping.check import quality_lines

    result = {"quality": {"case.reason_required": {"severity": "flag", "records": 12, "fields": ["result_reason"],
                                                   "examples": ["s:1", "s:2"]}}}
    assert quality_lines(result) == ["case.reason_required: 12 records flagged (result_reason), e.g. s:1"]
    assert quality_lines({"quality": {}}) == []


def test_a_field_the_source_no_longer_sends_is_said_so_by_mapping_check(tmp_path: Path) -> None:
    """A nested path the source renamed (or a typo in the mapping) left the canonical field empty, and mapping check
    said only what an empty field breaks (``type.str``: "Input should be a valid string"); the dead letter of the
    same record said the source has no value there. Both say it now."""
    from gateway.cli import app

    records = [civil.generate(42, i) for i in range(3)]
    del records[2]["applicant"]["name"]
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    checked = CliRunner().invoke(app, ["mapping", "check", "sd_civil", "--sample", str(sample), "--json", "--systems",
                                       str(REPO / "config" / "systems.yaml")])
    assert checked.exit_code in (0, 1), checked.output
    report = json.loads(checked.stdout)  # the exit code is 1 (a record rejected), said on stderr
    example = next(e for e in report["examples"] if e["field"] == "applicant.name")
    assert "the source record has no value at applicant.name" in example["message"], example


def test_a_record_id_that_spells_an_emoji_code_is_printed_as_it_is(tmp_path: Path) -> None:
    """Found by a new engineer: the console turned ":x:" into an emoji, so record "x" was printed as "sd_civil❌"."""
    from gateway.cli import app

    record = civil.generate(42, 0)
    record["id"] = "x"
    del record["projectNo"]
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    human = CliRunner().invoke(app, ["mapping", "check", "sd_civil", "--sample", str(sample), "--systems",
                                     str(REPO / "config" / "systems.yaml")], terminal_width=200)
    assert "sd_civil:x:" in human.output and "❌" not in human.output, human.output
