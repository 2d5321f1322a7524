"""The monthly report from the commands (found by review: every citizen figure was all-time only — a month's
report could not be written from them, and a past backlog weighed on the 0% for ever). ``--period`` takes one
month or year: the ratings given and the orders handed out in it, 评价率 over the cases finished in it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from citizen_testlib import Pages, add_case, migrated, order, rating

from gateway.citizen import (
    evaluation_summary,
    load_citizen,
    sync_evaluations,
    sync_workorders,
    workorder_summary,
)
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

OCT = datetime(2026, 10, 13, 10, 0, tzinfo=BEIJING)
NOV = datetime(2026, 11, 10, 10, 0, tzinfo=BEIJING)
CAL = WorkCalendar.load()


def test_a_month_s_figures_are_those_of_the_month(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = migrated(url)
    settings = load_citizen()
    for case_no, finished in (("C-O1", OCT), ("C-O2", OCT), ("C-N1", NOV), ("C-N2", NOV), ("C-N3", NOV)):
        add_case(engine, case_no, finished)
    sync_evaluations(engine, settings, calendar=CAL, now=NOV + timedelta(days=1), client=Pages([
        rating("R-O1", "C-O1", 5, OCT, OCT), rating("R-O2", "C-O2", 1, OCT, OCT),
        rating("R-N1", "C-N1", 4, NOV, NOV)]))
    october = evaluation_summary(engine, period="2026-10", now=NOV + timedelta(days=1))
    november = evaluation_summary(engine, period="2026-11", now=NOV + timedelta(days=1))
    whole = evaluation_summary(engine, now=NOV + timedelta(days=1))
    assert (october["evaluations"], october["bad"], october["good_ratio"]) == (2, 1, 0.5)
    assert (october["cases"], october["evaluated_cases"], october["coverage"]) == (2, 2, 1.0)
    assert (november["evaluations"], november["bad"], november["good_ratio"]) == (1, 0, 1.0)
    assert (november["cases"], november["evaluated_cases"], november["coverage"]) == (3, 1, 0.3333)
    assert (whole["evaluations"], whole["cases"]) == (3, 5) and whole["period"] is None
    assert evaluation_summary(engine, period="2026")["evaluations"] == 3

    handed = NOV + timedelta(days=2)
    sync_workorders(engine, settings, calendar=CAL, now=handed + timedelta(minutes=5), client=Pages([
        order("G-N1", "待转派", handed, handed), order("G-O1", "待转派", OCT, OCT)]))
    assert [workorder_summary(engine, period=p)["orders"] for p in ("2026-10", "2026-11", "2026", None)] == \
        [1, 1, 2, 2]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gateway", *args, "--database-url", url],
                              capture_output=True, text=True, timeout=300)

    shown = cli("evaluations", "summary", "--period", "2026-11", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["evaluations"] == 1 and json.loads(shown.stdout)["period"] == "2026-11"
    table = cli("workorders", "summary", "--period", "2026-10")
    assert table.returncode == 0 and "12345 2026-10" in table.stdout
    wrong = cli("evaluations", "summary", "--period", "2026-13")
    assert wrong.returncode == 1 and "--period: period '2026-13' is neither a year" in wrong.stderr


def test_ratings_of_cases_the_ledger_does_not_hold_are_counted_and_said(tmp_path: Path) -> None:
    """Found by review: 评价数 1,789 held 805 ratings of cases the ledger does not hold (in 好评率 and 差评, in no
    评价率), and no figure said so."""
    engine = migrated(f"sqlite:///{tmp_path / 'ledger.db'}")
    add_case(engine, "C-HELD", OCT)
    sync_evaluations(engine, load_citizen(), calendar=CAL, now=NOV, client=Pages([
        rating("R-1", "C-HELD", 5, OCT, OCT), rating("R-2", "C-ELSEWHERE", 1, OCT, OCT)]))
    summary = evaluation_summary(engine, now=NOV)
    assert (summary["evaluations"], summary["unlinked"], summary["evaluated_cases"], summary["bad"]) == (2, 1, 1, 1)
    # and the console's panel says it too (it showed "ratings 2, coverage …" with no word of the unlinked one)
    from gateway.console.pages import _citizen

    panel = _citizen({"evaluations": summary, "workorders": workorder_summary(engine, now=NOV)})
    assert "1 of cases not in the ledger" in panel
