"""12345 end to end over real HTTP, on an injected clock: orders routed within 15 minutes and exactly once,
out-of-scope ones returned, replies back once, one redo within 5 working days and a second refused, monthly
satisfaction per unit equal to a count done here from the platform's own data."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from citizen_testlib import (
    handed_at,
    hotline,
    hotline_clock,
    hotline_platform,
)
from sqlalchemy import select

from gateway.citizen import (
    CitizenError,
    deliver,
    replay_workorders,
    reply_workorder,
    request_redo,
    scan_citizen,
    sign_workorder,
    sync_workorders,
    workorder_summary,
)
from gateway.citizen.settings import Route
from gateway.ops.deadlines.calendar import BEIJING
from gateway.store.tables import citizen_workorders, dead_letters
from sandbox.hotline import OUT_OF_SCOPE


def test_work_orders_dispatched_in_time_replied_once_redone_once(database_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with hotline(database_url, monkeypatch, orders=60) as (sandbox, settings, engine, calendar, client, orders):
        handed = sorted(map(handed_at, orders))
        for at in handed:  # the platform hands an order out; Tongban's next run is at most 10 minutes later
            now = at + timedelta(minutes=10)
            hotline_clock(sandbox, now)
            sync_workorders(engine, settings, client=client, calendar=calendar, now=now)
            deliver(engine, "hotline", client, now=now)

        platform = hotline_platform(sandbox)
        received = platform["received"]
        out = {o["gdbh"] for o in orders if o["ywfl"] in OUT_OF_SCOPE}
        inside = {o["gdbh"] for o in orders} - out
        assert out and all(received.get(f"th:{g}") == 1 for g in out)  # returned, once
        assert all(received.get(f"zp:{g}") == 1 for g in inside)  # dispatched, once
        assert not any(k.startswith("zp:") and k[3:] in out for k in received)
        by_no = {o["gdbh"]: o for o in platform["orders"]}
        assert {by_no[g]["zt"] for g in out} == {"已退回"}
        assert "不属于12345受理范围" in by_no[sorted(out)[0]]["thyy"]
        summary = workorder_summary(engine)
        assert summary["dispatched_in_time_ratio"] == 1.0 and summary["dispatch_minutes"]["max"] <= 15
        assert summary["by_status"]["dispatched"] == len(inside) and summary["by_status"]["returned"] == len(out)
        with engine.connect() as conn:
            rows = {r["order_no"]: r for r in conn.execute(select(citizen_workorders)).mappings()}
        named = [o for o in orders if o["glbjbh"] or "办件编号" in o["nr"]]
        assert named and all(rows[o["gdbh"]]["case_no"] for o in named)  # linked to the case the citizen named

        # nobody has signed for or answered anything: every dispatched order is overdue, none of the returned
        now = handed[-1] + timedelta(hours=3)
        assert scan_citizen(engine, now=now, calendar=calendar)["workorder_overdue"]["open"] == len(inside)

        # the departments sign and reply; the platform calls back and rates
        now = handed[-1] + timedelta(hours=1)
        hotline_clock(sandbox, now)
        implicit = set(sorted(inside)[::2])  # these departments answer without signing for the order first
        for g in sorted(inside):
            if g not in implicit:
                sign_workorder(engine, g, at=now)
            assert reply_workorder(engine, g, "已核实并处理", at=now)["signed_now"] is (g in implicit)
        deliver(engine, "hotline", client, now=now)
        signed = {o["gdbh"]: o["qssj"] for o in hotline_platform(sandbox)["orders"] if o["gdbh"] in inside}
        assert all(signed.values()), signed  # the platform got each 签收 before its 答复 (it refuses one without)
        first = sync_workorders(engine, settings, client=client, calendar=calendar, now=now)
        platform = hotline_platform(sandbox)
        unsatisfied = {o["gdbh"] for o in platform["orders"] if o["cbcs"] == 1}
        assert first.redo_opened == len(unsatisfied) > 0
        with engine.connect() as conn:
            redo = {r["order_no"]: r for r in conn.execute(select(citizen_workorders)
                                                            .where(citizen_workorders.c.status == "redo")).mappings()}
        assert set(redo) == unsatisfied
        for r in redo.values():
            rated = r["rated_at"].astimezone(BEIJING).date()
            assert r["redo_due_at"].astimezone(BEIJING).date() == calendar.add_days(rated, 5)

        # the redo is replied to once; an unsatisfied rating after it is refused a second redo
        later = now + timedelta(days=1)
        hotline_clock(sandbox, later)
        for g in sorted(unsatisfied):
            reply_workorder(engine, g, "重办：已再次核实处理", at=later)
            with pytest.raises(CitizenError, match="reply.open_only"):
                reply_workorder(engine, g, "twice", at=later)
        deliver(engine, "hotline", client, now=later)
        second = sync_workorders(engine, settings, client=client, calendar=calendar, now=later)
        platform = hotline_platform(sandbox)
        again = {o["gdbh"] for o in platform["orders"] if o["gdbh"] in unsatisfied and o["hfmyd"] == "3"}
        assert second.redo_refused == len(again)
        with pytest.raises(CitizenError, match="redo.once"):
            request_redo(engine, sorted(unsatisfied)[0], at=later, calendar=calendar)
        received = platform["received"]
        assert all(received.get(f"df:{g}:0") == 1 for g in inside)
        assert all(received.get(f"df:{g}:1") == 1 for g in unsatisfied)
        assert platform["rounds"] and all(len(platform["rounds"][g]) <= 2 for g in platform["rounds"])

        # monthly satisfaction per unit, counted here from the platform's own data
        expected: dict[tuple[str, str], Counter] = {}
        for o in platform["orders"]:
            if o["hfmyd"]:
                expected.setdefault((o["cbdw"], o["pdsj"][:7]), Counter())[o["hfmyd"]] += 1
        summary = workorder_summary(engine)
        got = {(g["dept_code"], g["month"]): g for g in summary["by_unit_month"]}
        assert set(got) == set(expected)
        for key, counts in expected.items():
            rated = sum(counts.values())
            assert got[key]["rated"] == rated
            assert got[key]["satisfaction"] == round((counts["1"] + counts["2"]) / rated, 4)
        assert summary["redo"] == {"opened": len(unsatisfied), "refused": len(again) + 1}

        # an order nobody can route: dead-lettered with its rule, and an alert once 15 minutes have passed
        fresh = requests.post(sandbox.admin_urls["hotline"] + "/_sandbox/new", json={"count": 1, "ywfl": "燃气"},
                              timeout=10).json()["created"][0]
        sync_workorders(engine, settings, client=client, calendar=calendar, now=later + timedelta(minutes=1))
        with engine.connect() as conn:
            letter = conn.execute(select(dead_letters).where(dead_letters.c.source_id == fresh["gdbh"])).mappings().one()
        assert "category" in letter["reason"] and "route.missing" in letter["reason"]
        scan = scan_citizen(engine, now=later + timedelta(minutes=20), calendar=calendar)
        assert scan["workorder_dispatch"]["open"] == 1
        assert scan["workorder_overdue"]["open"] == 0 and scan["workorder_callback"]["open"] == 0

        # a route for 燃气 is added: the replay routes the waiting order and resolves its dead letter and alert
        gas = Route(category="燃气", division="*", dept_code="11370100MB0000009X", dept_name="燃气热力管理中心")
        fixed = replace(settings, routes=settings.routes + (gas,))
        replayed = replay_workorders(engine, fixed, calendar=calendar, now=later + timedelta(minutes=21))
        assert replayed.dispatched == 1 and replayed.unroutable == 0
        with engine.connect() as conn:
            assert conn.execute(select(dead_letters.c.status).where(
                dead_letters.c.source_id == fresh["gdbh"])).scalar() == "resolved"
            routed = conn.execute(select(citizen_workorders).where(
                citizen_workorders.c.order_no == fresh["gdbh"])).mappings().one()
        assert routed["status"] == "dispatched" and routed["dept_code"] == gas.dept_code
        assert scan_citizen(engine, now=later + timedelta(minutes=22), calendar=calendar)["workorder_dispatch"] == {
            "open": 0, "new": 0, "resolved": 1}
        deliver(engine, "hotline", client, now=later + timedelta(minutes=22))
        assert hotline_platform(sandbox)["received"][f"zp:{fresh['gdbh']}"] == 1
        engine.dispose()
