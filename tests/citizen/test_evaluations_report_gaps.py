"""Gaps a supervisor found in the 好差评 figures (walkthrough of ``tongban evaluations summary``):

1. 差评整改率 (差评 rectified / 差评) could not be had: no count of rectifications done was given;
2. the table had no 超时未整改 column, though the JSON had ``rectifications_overdue``;
3. "限时办结率" of the rectifications read as the case KPI 按时办结率;
4. "当天回访率" counted callbacks by a due time that is the next working day's close for a 差评 given after closing;
5. a month's table showed the all-time 上报省级 (and 申诉) counts;
6. 好评率 counted ratings of cases the ledger does not hold, and the table said so only beside 评价数, a month's
   table not at all."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from citizen_testlib import Pages, add_case, migrated, rating
from typer.testing import CliRunner

from gateway.citizen import (
    evaluation_summary,
    file_appeal,
    finish_rectification,
    load_citizen,
    record_callback,
    sync_evaluations,
)
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

RATED = datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING)  # a Monday: callback due 18:00, 整改 due 11-09 18:00
LATER = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)
OCT = datetime(2026, 10, 13, 10, 0, tzinfo=BEIJING)
NOV = datetime(2026, 11, 10, 10, 0, tzinfo=BEIJING)
CAL = WorkCalendar.load()


def _settings() -> Any:
    """The shipped settings with every callback counted (no cut-over in the way)."""
    settings = load_citizen()
    return replace(settings, policy=replace(settings.policy, callbacks_from=datetime(2000, 1, 1, tzinfo=BEIJING)))


def _summary(database_url: str, *args: str) -> str:
    """What ``tongban evaluations summary`` prints."""
    from gateway.cli import app

    out = CliRunner().invoke(app, ["evaluations", "summary", "--database-url", database_url, *args])
    assert out.exit_code == 0, out.output
    return out.output


def _table(database_url: str, *args: str) -> str:
    """The summary's tables as an operator reads them, whitespace runs made one space."""
    return " ".join(_summary(database_url, *args).split())


def _four_bad_reviews(database_url: str) -> Any:
    """R1 rectified in time, R2 rectified late, R3 called back and not rectified, R4 ignored: both past due."""
    engine, settings = migrated(database_url), _settings()
    for n in range(1, 5):
        add_case(engine, f"C{n}", RATED - timedelta(hours=1))
    sync_evaluations(engine, settings, calendar=CAL, now=RATED,
                     client=Pages([rating(f"R{n}", f"C{n}", 1, RATED, RATED) for n in range(1, 5)]))
    for n in (1, 2, 3):
        record_callback(engine, f"R{n}", "已回访", at=RATED + timedelta(hours=2), calendar=CAL,
                        policy=settings.policy)
    finish_rectification(engine, "R1", "已整改", at=RATED + timedelta(days=1))
    finish_rectification(engine, "R2", "已整改", at=datetime(2026, 11, 12, 10, tzinfo=BEIJING))  # due 11-09
    return engine


def test_rectified_bad_reviews_are_counted_in_time_late_and_open(database_url: str) -> None:
    engine = _four_bad_reviews(database_url)
    s = evaluation_summary(engine, now=LATER)
    assert (s["rectified"], s["rectified_in_time"], s["rectified_late"]) == (2, 1, 1), s
    assert (s["rectifications_open"], s["rectifications_overdue"]) == (2, 2), s
    assert s["rectification_ratio"] == 0.5  # 差评整改率: 2 of the 4 差评
    assert s["rectification_on_time_ratio"] == 0.25  # 限时整改率: 1 in time of 4 done or past due (unchanged)
    month = s["by_month"][0]
    assert (month["rectified"], month["rectification_ratio"]) == (2, 0.5)
    assert (s["by_unit_month"][0]["rectified"], s["by_unit"][0]["rectification_ratio"]) == (2, 0.5)
    # before their due time what is not done is open, not overdue
    early = evaluation_summary(engine, now=RATED + timedelta(days=1, hours=1))
    assert (early["rectified"], early["rectifications_open"], early["rectifications_overdue"]) == (2, 2, 0)
    engine.dispose()

    table = _table(database_url)
    for header in ("差评整改率", "已整改 按时/超时", "未整改", "超时未整改", "限时整改率"):
        assert header in table, (header, table)
    assert "限时办结率" not in table  # the case KPI's name (按时办结率's kin), not the 整改's
    assert "50.0% │ 1/1 │ 2 │ 2 │ 25.0%" in table, table  # 差评整改率, 已整改 按时/超时, 未整改, 超时未整改, 限时整改率


def test_the_callback_figure_is_named_for_what_it_counts(database_url: str) -> None:
    """A 差评 given at 19:00 is due at the next working day's close (the working-day rule): a callback the next
    morning is on time. The figure was called 当天回访率 (the same day), which it is not."""
    engine, settings = migrated(database_url), _settings()
    evening = RATED.replace(hour=19)
    add_case(engine, "C1", evening - timedelta(hours=1))
    sync_evaluations(engine, settings, calendar=CAL, now=evening,
                     client=Pages([rating("R1", "C1", 1, evening, evening)]))
    record_callback(engine, "R1", "已回访", at=evening + timedelta(hours=15), calendar=CAL, policy=settings.policy)
    assert evaluation_summary(engine, now=LATER)["callback_on_time_ratio"] == 1.0
    engine.dispose()
    table = _table(database_url)
    assert "当天回访率" not in table and "按时回访率" in table, table


def test_a_month_s_table_forwards_and_appeals_the_month_s_ratings(database_url: str) -> None:
    engine, settings = migrated(database_url), _settings()
    for case_no, finished in (("C-O1", OCT), ("C-O2", OCT), ("C-O3", OCT), ("C-N1", NOV)):
        add_case(engine, case_no, finished)
    sync_evaluations(engine, settings, calendar=CAL, now=NOV, client=Pages([
        rating("R-O1", "C-O1", 5, OCT, OCT), rating("R-O2", "C-O2", 1, OCT, OCT),
        rating("R:O3", "C-O3", 4, OCT, OCT),  # an id its outbox key escapes (rating:R%3AO3)
        rating("R-N1", "C-N1", 4, NOV, NOV)]))
    changed = NOV + timedelta(hours=1)  # two October ratings revised in November: each a second item to send
    sync_evaluations(engine, settings, calendar=CAL, now=changed, client=Pages([
        rating("R-O1", "C-O1", 4, OCT, changed, comment="改评"),
        rating("R:O3", "C-O3", 5, OCT, changed, comment="改评")]))
    file_appeal(engine, "R-O2", "评价人误选", at=NOV)
    october = evaluation_summary(engine, period="2026-10", now=changed)
    november = evaluation_summary(engine, period="2026-11", now=changed)
    whole = evaluation_summary(engine, now=changed)
    assert whole["forwarded"] == {"delivered": 0, "pending": 6, "dead": 0}
    assert october["forwarded"] == {"delivered": 0, "pending": 5, "dead": 0}, october["forwarded"]
    assert november["forwarded"] == {"delivered": 0, "pending": 1, "dead": 0}, november["forwarded"]
    assert (october["appeals"]["pending"], november["appeals"]["pending"], whole["appeals"]["pending"]) == (1, 0, 1)
    engine.dispose()
    assert "0/1/0" in _table(database_url, "--period", "2026-11")  # 上报省级 已/待/失败 of November


def test_ratings_of_cases_not_in_the_ledger_are_said_beside_the_good_ratio(database_url: str) -> None:
    engine = migrated(database_url)
    add_case(engine, "C-HELD", OCT)
    sync_evaluations(engine, load_citizen(), calendar=CAL, now=NOV, client=Pages([
        rating("R-1", "C-HELD", 5, OCT, OCT), rating("R-2", "C-ELSEWHERE", 4, OCT, OCT),
        rating("R-3", "C-ELSEWHERE-2", 5, NOV, NOV)]))
    assert evaluation_summary(engine, now=NOV)["unlinked"] == 2
    october = evaluation_summary(engine, period="2026-10", now=NOV)
    assert (october["evaluations"], october["unlinked"], october["good_ratio"]) == (2, 1, 1.0)  # still counted
    engine.dispose()
    table = _table(database_url, "--period", "2026-10")
    assert "好评率 (其中本库无办件)" in table, table
    assert "100.0% (1 of 2 rated cases not in the ledger)" in table, table
    assert json.loads(_summary(database_url, "--period", "2026-10", "--json"))["unlinked"] == 1
