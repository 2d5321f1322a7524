"""12345 orders the platform moved on its own (outside review): an order its staff routed before Tongban read it is
not a dispatch of Tongban's, and a 重办 it opens on an order Tongban holds closed opens the redo."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, migrated, order

from gateway.citizen import list_workorders, load_citizen, reply_workorder, sync_workorders, workorder_summary
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

T = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)  # a Tuesday


def test_an_order_the_platforms_staff_routed_is_no_dispatch_of_tongbans(database_url: str) -> None:
    """Read for the first time already 已转派 (after the cut-over), 40 minutes after its hand-out: it counted as
    Tongban's own late dispatch (15分钟内转派率 0.5, 转派用时 max 40 min) though Tongban never routed it."""
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    sync_workorders(engine, settings, calendar=calendar, now=T + timedelta(minutes=2),
                    client=Pages([order("G-OWN", "待转派", T, T)]))
    handed = T + timedelta(minutes=10)
    route = settings.route("民政", "370102")
    assert route is not None
    sync_workorders(engine, settings, calendar=calendar, now=handed + timedelta(minutes=45), client=Pages([
        order("G-PLAT", "已转派", handed, handed + timedelta(minutes=40), zpsj=handed + timedelta(minutes=40),
              cbdw=route.dept_code, cbdwmc=route.dept_name)]))
    s = workorder_summary(engine, now=T + timedelta(hours=2))
    assert (s["routed"], s["routed_by_platform"], s["routed_before_tongban"]) == (2, 1, 0)
    assert (s["dispatched_late"], s["dispatched_in_time_ratio"]) == (0, 1.0)
    assert s["dispatch_minutes"]["max"] == 2.0
    assert s["dispatched_in_time_ratio_all"] == 0.5  # as the platform counts the district: every routed order


def test_a_redo_the_platform_opens_on_an_order_held_closed_is_opened(database_url: str) -> None:
    """满意 at the callback closed the order; a 复核 turned the rating unsatisfied and the platform opened 重办: it
    stayed closed here — no redo in the department's queue, no due time, no overdue alert."""
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    route = settings.route("民政", "370102")
    assert route is not None
    sync_workorders(engine, settings, calendar=calendar, now=T + timedelta(minutes=2),
                    client=Pages([order("G1", "待转派", T, T)]))
    reply_workorder(engine, "G1", "已处理", at=T + timedelta(hours=3))
    facts = {"cbdw": route.dept_code, "zpsj": T + timedelta(minutes=2), "dfsj": T + timedelta(hours=3)}
    sync_workorders(engine, settings, calendar=calendar, now=T + timedelta(days=1), client=Pages([
        order("G1", "已答复", T, T + timedelta(days=1), hfmyd=1, hfsj=T + timedelta(days=1), **facts)]))
    assert list_workorders(engine)[0]["status"] == "closed"
    later = T + timedelta(days=2)
    sync_workorders(engine, settings, calendar=calendar, now=later + timedelta(minutes=5), client=Pages([
        order("G1", "重办", T, later, hfmyd=3, hfsj=later, cbcs=1, **facts)]))
    held = list_workorders(engine)[0]
    assert (held["status"], held["rating"], held["redo_round"]) == ("redo", "unsatisfied", 1)
    assert held["redo_due_at"] is not None and held["redo_due_at"] > later
    s = workorder_summary(engine, now=later + timedelta(days=10))
    assert s["redo"] == {"opened": 1, "refused": 0} and s["replies_overdue"] == 1
