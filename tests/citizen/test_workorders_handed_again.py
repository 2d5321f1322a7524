"""An order the district returned (退回) and the platform hands out again (重新派单: same number, 待转派,
reclassified) is routed anew — never silently left as returned (review defect 9)."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, migrated, order
from sqlalchemy import select

from gateway.citizen import load_citizen, sync_workorders, workorder_summary
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import citizen as store
from gateway.store.tables import citizen_outbox

HANDED = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)
MARKET = "11370102MB2853001A"  # 市场监管's route in config/citizen.yaml


def test_an_order_handed_out_again_after_a_return_is_routed(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    first = sync_workorders(engine, settings, client=Pages([order("G1", "待转派", HANDED, HANDED, ywfl="警情")]),
                            calendar=calendar, now=HANDED + timedelta(minutes=1))
    assert first.returned == 1
    # a re-read of the record we returned (the lookback) is no new hand-out
    sync_workorders(engine, settings, client=Pages([order("G1", "待转派", HANDED, HANDED, ywfl="警情")]),
                    calendar=calendar, now=HANDED + timedelta(minutes=6))
    with engine.connect() as conn:
        assert store.workorder(conn, "G1")["status"] == "returned"

    again = HANDED + timedelta(hours=2)
    report = sync_workorders(engine, settings, client=Pages([order("G1", "待转派", again, again, ywfl="市场监管")]),
                             calendar=calendar, now=again + timedelta(minutes=1))
    with engine.connect() as conn:
        row = store.workorder(conn, "G1")
        assert (row["status"], row["category"], row["dept_code"]) == ("dispatched", "市场监管", MARKET)
        assert row["return_reason"] is None and row["received_at"] == again
        keys = set(conn.execute(select(citizen_outbox.c.key)).scalars())
    assert report.rehanded == 1 and report.dispatched == 1
    assert {"th:G1", "zp:G1#1"} <= keys  # the second hand-out's dispatch, under its own key
    assert workorder_summary(engine, now=again + timedelta(hours=1))["dispatched_in_time_ratio"] == 1.0


def test_an_order_taken_back_after_dispatch_and_handed_out_again_is_sent_anew(database_url: str) -> None:
    """Dispatched, signed and replied for once; the platform takes it back (已退回, 改派) and hands it out again: the
    new hand-out's 转派, 签收 and 答复 go to the platform under new keys — the first hand-out's keys were taken
    (delivered), so the platform never heard of the second dispatch."""
    from gateway.citizen import reply_workorder, sign_workorder

    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    sync_workorders(engine, settings, client=Pages([order("G2", "待转派", HANDED, HANDED)]), calendar=calendar,
                    now=HANDED + timedelta(minutes=1))
    sign_workorder(engine, "G2", at=HANDED + timedelta(minutes=10))
    taken_back = HANDED + timedelta(hours=1)
    sync_workorders(engine, settings, client=Pages([order("G2", "已退回", HANDED, taken_back)]), calendar=calendar,
                    now=taken_back + timedelta(minutes=1))
    again = HANDED + timedelta(hours=3)
    report = sync_workorders(engine, settings, client=Pages([order("G2", "待转派", again, again, ywfl="市场监管")]),
                             calendar=calendar, now=again + timedelta(minutes=1))
    assert report.rehanded == 1 and report.dispatched == 1
    sign_workorder(engine, "G2", at=again + timedelta(minutes=5))
    reply_workorder(engine, "G2", "已处理", at=again + timedelta(hours=1))
    with engine.connect() as conn:
        assert store.workorder(conn, "G2")["handout"] == 1
        keys = set(conn.execute(select(citizen_outbox.c.key).where(citizen_outbox.c.key.like("%G2%"))).scalars())
    assert keys == {"zp:G2", "qs:G2", "zp:G2#1", "qs:G2#1", "df:G2#1:0"}


def test_a_handed_out_again_order_waiting_for_a_route_is_dispatched_under_its_own_key_on_replay(
        database_url: str) -> None:
    """Handed out again to a category without a route: it waits (received, dead-lettered); once the route exists
    the replay dispatches it as its second hand-out (zp:G3#1) — under the first hand-out's key, already delivered,
    the platform never heard of it, and the signature went out without a dispatch before it."""
    from dataclasses import replace

    from gateway.citizen import sign_workorder
    from gateway.citizen.workorders import replay_rejected

    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    sync_workorders(engine, settings, client=Pages([order("G3", "待转派", HANDED, HANDED)]), calendar=calendar,
                    now=HANDED + timedelta(minutes=1))
    taken_back = HANDED + timedelta(hours=1)
    sync_workorders(engine, settings, client=Pages([order("G3", "已退回", HANDED, taken_back)]), calendar=calendar,
                    now=taken_back + timedelta(minutes=1))
    again = HANDED + timedelta(hours=3)
    no_route = replace(settings, routes=tuple(r for r in settings.routes if r.category != "民政"))
    waiting = sync_workorders(engine, no_route, client=Pages([order("G3", "待转派", again, again)]),
                              calendar=calendar, now=again + timedelta(minutes=1))
    assert waiting.unroutable == 1
    replay_rejected(engine, settings, calendar=calendar, now=again + timedelta(minutes=30))
    sign_workorder(engine, "G3", at=again + timedelta(hours=1))
    with engine.connect() as conn:
        keys = set(conn.execute(select(citizen_outbox.c.key).where(citizen_outbox.c.key.like("%G3%"))).scalars())
    assert keys == {"zp:G3", "zp:G3#1", "qs:G3#1"}
