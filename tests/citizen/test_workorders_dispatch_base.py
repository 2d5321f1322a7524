"""The 15-minute dispatch figures count what Tongban routed (转派) and could route in time: an order Tongban
returned (退回) is no dispatch, and the platform's backlog — orders whose 15 minutes ran out before Tongban first
read the platform — is counted apart (``late_on_arrival``), not as Tongban's own late dispatches (outside review,
12345 defects 1 and 2)."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, migrated, order
from sqlalchemy import delete

from gateway.citizen import load_citizen, sync_workorders, workorder_summary
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.tables import watermarks

T = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)  # a Tuesday


def test_an_order_returned_to_the_platform_is_no_dispatch_in_time(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    # 警情 is out of scope: returned a minute after the hand-out
    sync_workorders(engine, settings, client=Pages([order("G-RET", "待转派", T, T, ywfl="警情")]), calendar=calendar,
                    now=T + timedelta(minutes=1))
    # handed out at the same time, routed 20 minutes later: Tongban's own late dispatch
    sync_workorders(engine, settings, client=Pages([order("G-LATE", "待转派", T, T)]), calendar=calendar,
                    now=T + timedelta(minutes=20))
    s = workorder_summary(engine, now=T + timedelta(hours=1))
    assert s["dispatched_in_time_ratio"] == 0.0  # was 0.5: the quick 退回 counted as a quick 转派
    assert s["dispatch_minutes"] == {"p50": 20.0, "p90": 20.0, "p99": 20.0, "max": 20.0}
    assert s["by_status"]["returned"] == 1 and s["routed"] == 1
    assert (s["dispatched_late"], s["late_on_arrival"]) == (1, 0)


def test_the_backlog_at_the_first_read_is_late_on_arrival_not_tongbans_own(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    first_read = T
    sync_workorders(engine, settings, calendar=calendar, now=first_read, client=Pages([
        order("G-BACKLOG", "待转派", T - timedelta(hours=2), T - timedelta(hours=2)),  # due 08:15, read at 10:00
        order("G-FRESH", "待转派", T - timedelta(minutes=2), T - timedelta(minutes=2))]))  # routed in time
    # handed out after Tongban was reading, routed 25 minutes on (a sync that did not run): Tongban's own
    handed = T + timedelta(minutes=5)
    sync_workorders(engine, settings, calendar=calendar, now=handed + timedelta(minutes=25),
                    client=Pages([order("G-OWN", "待转派", handed, handed)]))

    s = workorder_summary(engine, now=T + timedelta(hours=1))
    assert s["dispatched_in_time_ratio"] == 0.5        # of the two Tongban could route in time
    assert (s["routed"], s["late_on_arrival"], s["dispatched_late"]) == (3, 1, 1)
    assert s["dispatched_in_time_ratio_all"] == 0.3333  # every routed order, as the platform counts
    assert s["dispatch_minutes"]["max"] == 25.0         # not the backlog's two hours
    assert s["undispatched_overdue"] == 0

    # a ledger from before the first read was kept: its earliest dispatch stands in, the same figures
    with engine.begin() as conn:
        conn.execute(delete(watermarks).where(watermarks.c.stream == "first_read",
                                              watermarks.c.system == "citizen:hotline"))
    again = workorder_summary(engine, now=T + timedelta(hours=1))
    assert (again["late_on_arrival"], again["dispatched_late"], again["dispatched_in_time_ratio"]) == (1, 1, 0.5)
