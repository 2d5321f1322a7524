"""An order Tongban dispatched and the platform then closed (已办结) or took back (已退回) itself ends there in
Tongban too — no overdue alert or count for an order the platform has finished, its rating counted — and the
"second redo refused" figure counts a refused second redo once per order, however often it is asked for."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from citizen_testlib import Pages, migrated, order
from sqlalchemy import select

from gateway.citizen import (
    CitizenError,
    load_citizen,
    reply_workorder,
    request_redo,
    scan_citizen,
    sync_workorders,
    workorder_summary,
)
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.tables import citizen_workorders

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=BEIJING)  # a Tuesday
CIVIL = "11370102MB2850005E"  # 民政局, where 民政 orders are routed


def test_orders_closed_or_taken_back_on_the_platform_end_in_tongban(sqlite_url: str) -> None:
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    handed = [order(no, "待转派", T0, T0) for no in ("G1", "G2", "G3")]
    sync_workorders(engine, settings, client=Pages(handed), calendar=calendar, now=T0 + timedelta(minutes=1))
    reply_workorder(engine, "G3", "已处理", at=T0 + timedelta(hours=1))
    later = T0 + timedelta(hours=3)
    sync_workorders(engine, settings, calendar=calendar, now=later, client=Pages([
        order("G1", "已办结", T0, later, cbdw=CIVIL, hfmyd="1", hfsj=later),
        order("G2", "已退回", T0, later, thyy="承办单位退单，平台改派他区"),
        order("G3", "已办结", T0, later, cbdw=CIVIL, dfsj=T0 + timedelta(hours=1), hfmyd="3", hfsj=later)]))

    with engine.connect() as conn:
        rows = {r["order_no"]: r for r in conn.execute(select(citizen_workorders)).mappings()}
    assert (rows["G1"]["status"], rows["G1"]["rating"]) == ("closed", "satisfied")
    assert (rows["G2"]["status"], rows["G2"]["return_reason"]) == ("returned", "承办单位退单，平台改派他区")
    # closed by the platform with an unsatisfied rating: it counts, and no redo opens on an order the platform ended
    assert (rows["G3"]["status"], rows["G3"]["rating"], rows["G3"]["redo_round"]) == ("closed", "unsatisfied", 0)
    ten_days = T0 + timedelta(days=10)
    assert scan_citizen(engine, now=ten_days, calendar=calendar)["workorder_overdue"]["open"] == 0
    summary = workorder_summary(engine, now=ten_days)
    assert summary["replies_overdue"] == 0 and summary["satisfaction"] == 0.5
    assert summary["by_status"]["dispatched"] == 0 and summary["by_status"]["closed"] == 2


def test_a_refused_second_redo_counts_once_per_order(sqlite_url: str) -> None:
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    sync_workorders(engine, settings, client=Pages([order("G1", "待转派", T0, T0)]), calendar=calendar,
                    now=T0 + timedelta(minutes=1))
    reply_workorder(engine, "G1", "已处理", at=T0 + timedelta(hours=1))
    request_redo(engine, "G1", at=T0 + timedelta(hours=2), calendar=calendar)  # the one redo, open
    for hour in (3, 4, 5):  # asked again while it is open: the same redo, not a second one
        with pytest.raises(CitizenError, match="redo.once"):
            request_redo(engine, "G1", at=T0 + timedelta(hours=hour), calendar=calendar)
    assert workorder_summary(engine)["redo"] == {"opened": 1, "refused": 0}
    reply_workorder(engine, "G1", "重办已处理", at=T0 + timedelta(hours=6))
    for hour in (7, 8, 9):  # a second redo asked for after the redo's reply, the command repeated
        with pytest.raises(CitizenError, match="redo.once"):
            request_redo(engine, "G1", at=T0 + timedelta(hours=hour), calendar=calendar)
    assert workorder_summary(engine)["redo"] == {"opened": 1, "refused": 1}
