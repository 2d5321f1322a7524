"""``tongban catalogue harvest|audit`` and ``tongban kpi`` as an operator runs them: a table by default,
``--json`` for machines, ``--csv`` exports, exit code 1 with one line for what the operator must fix."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from catalogue_testlib import CatalogueWorld, records_in_use
from openpyxl import load_workbook


def _run(world: CatalogueWorld, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TONGBAN_DATABASE_URL": world.engine.url.render_as_string(hide_password=False)}
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=180,
                          env=env)


def test_harvest_audit_and_kpi_from_the_command_line(catalogue_world: CatalogueWorld, tmp_path: Path) -> None:
    harvested = _run(catalogue_world, "catalogue", "harvest", "--json")
    assert harvested.returncode == 0, harvested.stderr
    assert json.loads(harvested.stdout)[0]["inserted"] == 3000
    catalogue_world.plant_cases(records_in_use(catalogue_world, datetime.now(timezone.utc)))

    exported = tmp_path / "findings.csv"
    audit = _run(catalogue_world, "catalogue", "audit", "--json", "--csv", str(exported))
    assert audit.returncode == 0, audit.stderr
    report = json.loads(audit.stdout[audit.stdout.index("{"):])
    planted = catalogue_world.planted()
    assert report["findings"] == len(planted) == report["new"]
    with exported.open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(planted) and {"kind", "element", "item_code", "message", "status"} <= set(rows[0])
    sheet_path = tmp_path / "findings.xlsx"
    again = _run(catalogue_world, "catalogue", "findings", "--status", "all", "--xlsx", str(sheet_path))
    assert again.returncode == 0, again.stderr
    sheet = load_workbook(sheet_path).active
    header = [c.value for c in sheet[1]]
    assert sheet.max_row == len(planted) + 1 and {"kind", "element", "message"} <= set(header)
    messages = {r["message"] for r in rows}
    assert {row[header.index("message")] for row in sheet.iter_rows(min_row=2, values_only=True)} == messages

    table = _run(catalogue_world, "catalogue", "audit", "--kind", "unclaimed", "--limit", "2")
    assert table.returncode == 0, table.stderr
    assert "still open" in table.stdout and "unclaimed" in table.stdout and "more" in table.stdout

    stored = _run(catalogue_world, "catalogue", "findings", "--status", "all", "--json")
    assert stored.returncode == 0, stored.stderr
    assert len(json.loads(stored.stdout)) == len(planted)

    kpi = _run(catalogue_world, "kpi", "--items", "--json")
    assert kpi.returncode == 0, kpi.stderr
    (overall,) = json.loads(kpi.stdout)["rows"]
    assert overall["items"] == 3000 and 0 < overall["speedup_item"] < 1
    by_level = _run(catalogue_world, "kpi", "--items", "--by", "level", "--json")
    assert by_level.returncode == 0, by_level.stderr
    levels = json.loads(by_level.stdout)["rows"]
    assert len(levels) > 1 and sum(r["items"] for r in levels) == 3000  # grouped, not the overall row again

    cases = _run(catalogue_world, "kpi", "--by", "month", "--period", "2026-11", "--compare", "year")
    assert cases.returncode == 0, cases.stderr
    assert "against 2025-11" in cases.stdout


def test_operator_mistakes_are_one_line_and_exit_1(catalogue_world: CatalogueWorld) -> None:
    for args, words in [
        (("kpi", "--by", "street"), "--by 'street'"),
        (("kpi", "--items", "--by", "month"), "item KPIs (--items) group --by department or level"),
        (("kpi", "--period", "2026-13"), "neither a year"),
        (("kpi", "--compare", "previous"), "needs --period"),
        (("catalogue", "harvest", "nowhere"), "unknown catalogue 'nowhere'"),
        (("catalogue", "audit", "--xlsx", "/nonexistent-folder/x.xlsx"), "cannot write /nonexistent-folder/x.xlsx"),
    ]:
        result = _run(catalogue_world, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr, result.stderr
