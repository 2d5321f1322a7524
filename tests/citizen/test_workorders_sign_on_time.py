"""按时签收率: the monthly 12345 report carries how many orders the departments signed for (签收) within
``sign_hours`` of the dispatch, and how many dispatched orders are past it unsigned (outside review of the figures:
the sign due time was kept, and no figure read it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, migrated, order

from gateway.citizen import load_citizen, reply_workorder, sign_workorder, sync_workorders, workorder_summary
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

HANDED = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)  # a Tuesday


def test_orders_signed_for_in_time_late_and_not_at_all(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    read = HANDED + timedelta(minutes=1)
    report = sync_workorders(engine, settings, calendar=calendar, now=read, client=Pages(
        [order(no, "待转派", HANDED, HANDED) for no in ("G1", "G2", "G3")]))
    assert report.dispatched == 3  # 民政, 370102: routed at ``read``, signatures due 2 hours later
    sign_workorder(engine, "G1", at=read + timedelta(hours=1))
    sign_workorder(engine, "G2", at=read + timedelta(hours=3))
    s = workorder_summary(engine, now=read + timedelta(hours=4))
    # G3, never signed for, is late: a department that ignores its orders must not score 100% (review: the base
    # held only the orders signed for)
    assert s["sign_on_time_ratio"] == round(1 / 3, 4) and s["signs_overdue"] == 1
    [unit] = s["timeliness_by_unit_month"]  # the same, for the department routed to, in the month of 派单
    assert (unit["month"], unit["sign_on_time_ratio"], unit["signs_overdue"]) == ("2026-12", round(1 / 3, 4), 1)
    early = workorder_summary(engine, now=read + timedelta(hours=1))
    assert early["signs_overdue"] == 0 and early["sign_on_time_ratio"] == 0.5  # G3 not due yet: not judged


def test_replies_owed_past_their_due_time_count_late(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    read = HANDED + timedelta(minutes=1)
    sync_workorders(engine, settings, calendar=calendar, now=read, client=Pages(
        [order(no, "待转派", HANDED, HANDED) for no in ("R1", "R2")]))
    reply_workorder(engine, "R1", "已处理", at=read + timedelta(hours=3))  # on time: due Wednesday 18:00
    friday = datetime(2026, 12, 4, 10, 0, tzinfo=BEIJING)
    s = workorder_summary(engine, now=friday)
    assert s["replies_overdue"] == 1 and s["reply_on_time_ratio"] == 0.5  # R2 owed since Wednesday
    [unit] = s["timeliness_by_unit_month"]
    assert (unit["reply_on_time_ratio"], unit["replies_overdue"]) == (0.5, 1)
