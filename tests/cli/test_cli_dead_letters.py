"""Dead letters for operators: 300 records broken the same way are one line (count, examples), any one of them in
full with its raw input masked; the reason's ``[rule]`` survives the table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def _cli(world: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--systems", str(world.systems_path),
                           "--database-url", world.database_url], env={**world.env, "COLUMNS": "250"},
                          capture_output=True, text=True, timeout=300)


def test_dead_letters_grouped_by_rule_and_shown_one_by_one(make_world: Any, tmp_path: Path) -> None:
    mapping = yaml.safe_load((REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8"))
    mapping["fields"]["case_no"] = {"path": "noSuchField", "required": True}
    broken = tmp_path / "sd_civil_broken.yaml"
    broken.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    world = make_world(civil=40, estate=0, mappings={"sd_civil": broken})
    assert _cli(world, "sync", "sd_civil").returncode == 1  # degraded: every record rejected
    groups = json.loads(_cli(world, "dead-letters", "list", "--json").stdout)
    assert len(groups) == 1
    (group,) = groups
    assert (group["system"], group["field"], group["count"]) == ("sd_civil", "case_no", 40)
    assert len(group["example_ids"]) == 3
    assert len(group["example_records"]) == 3 and all(group["example_records"])  # the records at the source
    human = _cli(world, "dead-letters", "list").stdout
    assert "case_no" in human and "40" in human
    assert f"#{group['example_ids'][0]} ({group['example_records'][0]})" in human.replace("\n", "").replace("│", "")
    per_record = json.loads(_cli(world, "dead-letters", "list", "--records", "--json").stdout)
    assert len(per_record) == 40 and "[" in per_record[0]["reason"]
    shown = _cli(world, "dead-letters", "show", str(group["example_ids"][0]))
    assert shown.returncode == 0, shown.stderr
    assert "case_no" in shown.stdout and "raw input" in shown.stdout and f"[{group['rule']}]" not in shown.stderr
    detail = json.loads(_cli(world, "dead-letters", "show", str(group["example_ids"][0]), "--json").stdout)
    raw = json.loads(detail["raw"])
    assert raw["applicant"]["certNo"].count("*") >= 8  # the ID number is masked
    missing = _cli(world, "dead-letters", "show", "999999")
    assert missing.returncode == 1 and "no dead letter 999999" in missing.stderr and "Traceback" not in missing.stderr
