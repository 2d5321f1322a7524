"""按时签收率: the monthly 12345 report carries how many orders the departments signed for (签收) within
``sign_hours`` of the dispatch, and how many dispatched orders are past it unsigned (outside review of the figures:
the sign due time was kept, and no figure read it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, migrated, order

from gateway.citizen import load_citizen, sign_workorder, sync_workorders, workorder_summary
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
    assert s["sign_on_time_ratio"] == 0.5 and s["signs_overdue"] == 1
    assert workorder_summary(engine, now=read + timedelta(hours=1))["signs_overdue"] == 0  # G3 not due yet
