"""按时答复率 counts each reply against its own due time: a late first reply stays late when the redo's reply is
on time (review defect 8: the redo's reply overwrote the first one's time and the order scored 100%)."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, migrated, order

from gateway.citizen import load_citizen, reply_workorder, request_redo, sync_workorders, workorder_summary
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

HANDED = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)  # a Tuesday; blsx 1: reply due Wednesday 18:00
LATE = datetime(2026, 12, 4, 10, 0, tzinfo=BEIJING)   # Friday


def test_a_late_first_reply_counts_late_after_the_platforms_redo(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    dispatched = HANDED + timedelta(minutes=2)
    sync_workorders(engine, settings, client=Pages([order("G1", "待转派", HANDED, HANDED)]), calendar=calendar,
                    now=dispatched)
    assert reply_workorder(engine, "G1", "已处理", at=LATE)["on_time"] is False
    rated = LATE + timedelta(hours=2)  # the platform calls back: unsatisfied → 重办
    sync_workorders(engine, settings, client=Pages([order(
        "G1", "重办", HANDED, rated, dfsj=LATE, hfmyd="3", hfsj=rated, cbcs=1, cbdw="11370102MB2850005E",
        zpsj=dispatched)]), calendar=calendar, now=rated)
    assert reply_workorder(engine, "G1", "重新处理完毕", at=rated + timedelta(hours=1))["on_time"] is True
    assert workorder_summary(engine, now=rated + timedelta(days=1))["reply_on_time_ratio"] == 0.5


def test_a_late_first_reply_counts_late_after_a_redo_opened_by_hand(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    sync_workorders(engine, settings, client=Pages([order("G2", "待转派", HANDED, HANDED)]), calendar=calendar,
                    now=HANDED + timedelta(minutes=2))
    reply_workorder(engine, "G2", "已处理", at=LATE)
    request_redo(engine, "G2", at=LATE + timedelta(hours=1), calendar=calendar, policy=settings.policy)
    reply_workorder(engine, "G2", "重新处理完毕", at=LATE + timedelta(hours=2))
    assert workorder_summary(engine, now=LATE + timedelta(days=1))["reply_on_time_ratio"] == 0.5
