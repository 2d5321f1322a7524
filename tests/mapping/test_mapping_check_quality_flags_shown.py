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
