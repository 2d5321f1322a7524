"""12345 orders whose steps happen on the platform itself, over real HTTP on an injected clock: what the platform
reports is taken as it is — on the first read (history, orders dispatched, signed for, replied, rated or redone
before Tongban saw them) and later (a department that signs or replies on the platform's own screen) — nothing
done is sent again, every rating counts, an unsatisfied first rating opens the one redo, and a reply given there
is not counted overdue. A same-day order (``blsx`` 0) dispatched after closing is due the next working day."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from citizen_testlib import handed_at, hotline, hotline_clock, hotline_platform
from sqlalchemy import select

from gateway.citizen import (
    CitizenError,
    deliver,
    reply_workorder,
    request_redo,
    sync_workorders,
    workorder_summary,
)
from gateway.citizen.conventions import hotline_time
from gateway.ops.deadlines.calendar import BEIJING
from gateway.store.tables import citizen_outbox, citizen_workorders, dead_letters
from sandbox.hotline import OUT_OF_SCOPE

STATUS = {"已转派": "dispatched", "已签收": "dispatched", "重办": "redo", "已办结": "closed", "已退回": "returned"}
RATING = {"1": "satisfied", "2": "basic", "3": "unsatisfied"}


def _dash(text: str | None) -> datetime | None:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING) if text else None


def _rows(engine: Any) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["order_no"]: dict(r) for r in conn.execute(select(citizen_workorders)).mappings()}


def _rate(sandbox: Any, order_no: str, grade: str) -> None:
    requests.post(sandbox.admin_urls["hotline"] + "/_sandbox/rate", json={"gdbh": order_no, "hfmyd": grade},
                  timeout=10).raise_for_status()


def _by_no(sandbox: Any) -> dict[str, dict[str, Any]]:
    return {o["gdbh"]: o for o in hotline_platform(sandbox)["orders"]}


def _satisfaction(platform: dict[str, dict[str, Any]]) -> tuple[float, dict[tuple[str, str], Counter]]:
    """满意率 and the per unit and month counts, counted here from the platform's own orders."""
    rated = [o for o in platform.values() if o["hfmyd"]]
    per: dict[tuple[str, str], Counter] = {}
    for o in rated:
        per.setdefault((o["cbdw"], o["pdsj"][:7]), Counter())[o["hfmyd"]] += 1
    return round(sum(o["hfmyd"] in ("1", "2") for o in rated) / len(rated), 4), per


def _same_units(summary: dict[str, Any], per: dict[tuple[str, str], Counter]) -> None:
    got = {(g["dept_code"], g["month"]): g for g in summary["by_unit_month"]}
    assert set(got) == set(per)
    for key, counts in per.items():
        assert got[key]["rated"] == sum(counts.values()) and got[key]["unsatisfied"] == counts["3"]


def test_the_first_read_takes_the_platform_state_as_it_is(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with hotline(database_url, monkeypatch, orders=40) as (sandbox, settings, engine, calendar, client, orders):
        now = max(map(handed_at, orders)) + timedelta(minutes=5)
        hotline_clock(sandbox, now)
        stamp = hotline_time(now)
        inside = sorted(o["gdbh"] for o in orders if o["ywfl"] not in OUT_OF_SCOPE)
        by_no = {o["gdbh"]: o for o in orders}
        acted, returned = inside[:24], inside[24]
        # before Tongban's first read, the platform's own staff dispatched, and the departments worked, on its screen
        dept = {}
        for g in acted:
            route = settings.route(by_no[g]["ywfl"], by_no[g]["qhdm"])
            dept[g] = route.dept_code
            client.call("/gd/api/zp", {"gdbh": g, "cbdw": route.dept_code, "cbdwmc": route.dept_name, "zpsj": stamp})
        for g in acted[2:]:
            client.call("/gd/api/qs", {"gdbh": g, "qssj": stamp})
        for g in acted[4:]:
            client.call("/gd/api/df", {"gdbh": g, "cbdw": dept[g], "dfnr": "已处理", "dfsj": stamp, "cblc": 0})
        redone = [g for g, o in _by_no(sandbox).items() if o["zt"] == "重办"]
        twice = redone[: len(redone) // 2]
        assert len(twice) >= 2 and len(redone) - len(twice) >= 2, redone
        for g in twice:  # redone on the platform, and unsatisfied again: closed there with 不满意
            client.call("/gd/api/df", {"gdbh": g, "cbdw": dept[g], "dfnr": "重办已处理", "dfsj": stamp, "cblc": 1})
            _rate(sandbox, g, "3")
        client.call("/gd/api/th", {"gdbh": returned, "thyy": "非本区事项", "thsj": stamp})
        before = hotline_platform(sandbox)
        ours = {k for k in before["received"] if k.split(":")[1] in {*acted, returned}}

        report = sync_workorders(engine, settings, client=client, calendar=calendar, now=now + timedelta(minutes=1))
        deliver(engine, "hotline", client, now=now + timedelta(minutes=1))
        platform = hotline_platform(sandbox)
        view = {o["gdbh"]: o for o in platform["orders"]}
        rows = _rows(engine)
        assert report.dispatched == len(inside) - len(acted) - 1 and report.redo_opened == 0
        for g in [*acted, returned]:  # Tongban holds what the platform says, field by field
            p, r = view[g], rows[g]
            assert r["status"] == STATUS[p["zt"]], (g, p["zt"])
            assert r["rating"] == (RATING[p["hfmyd"]] if p["hfmyd"] else None)
            assert r["rated_at"] == _dash(p["hfsj"]) and r["replied_at"] == _dash(p["dfsj"])
            assert r["signed_at"] == _dash(p["qssj"]) and r["redo_round"] == p["cbcs"]
            if g != returned:
                assert r["dept_code"] == p["cbdw"] and r["dispatched_at"] == _dash(p["zpsj"]) and r["reply_due_at"]
        assert rows[returned]["return_reason"] == "非本区事项"
        assert {(rows[g]["status"], rows[g]["rating"]) for g in twice} == {("closed", "unsatisfied")}
        for g in set(redone) - set(twice):
            rated = _dash(view[g]["hfsj"]).date()
            assert rows[g]["status"] == "redo"
            assert rows[g]["redo_due_at"] == datetime.combine(calendar.add_days(rated, 5),
                                                              settings.policy.callback_closing, BEIJING)
        # nothing done on the platform was sent again: each of those calls received once, and only those
        assert {k for k in platform["received"] if k.split(":")[1] in {*acted, returned}} == ours
        assert all(platform["received"][k] == 1 for k in ours)
        with engine.connect() as conn:
            queued = {r.key for r in conn.execute(select(citizen_outbox.c.key))}
        assert not {k for k in queued if k.split(":")[1] in {*acted, returned}}

        satisfaction, per = _satisfaction(view)
        summary = workorder_summary(engine, now=now + timedelta(minutes=2))
        assert summary["satisfaction"] == satisfaction and summary["by_status"]["closed"] == len(acted) - 4 - (
            len(redone) - len(twice))
        _same_units(summary, per)

        # and the work goes on from there: each step the platform takes as the next one
        later = now + timedelta(hours=1)
        hotline_clock(sandbox, later)
        unsigned, signed, redo = acted[0], acted[2], min(set(redone) - set(twice))
        assert reply_workorder(engine, unsigned, "已核实", at=later)["signed_now"] is True
        assert reply_workorder(engine, signed, "已核实", at=later)["signed_now"] is False
        assert reply_workorder(engine, redo, "重办：已再次核实", at=later) | {"replied_at": None} == {
            "order_no": redo, "round": 1, "replied_at": None, "on_time": True, "sent": True, "signed_now": False}
        with pytest.raises(CitizenError, match="redo.once"):  # redone on the platform already
            request_redo(engine, twice[0], at=later, calendar=calendar)
        deliver(engine, "hotline", client, now=later)
        received = hotline_platform(sandbox)["received"]
        assert received[f"qs:{unsigned}"] == received[f"df:{unsigned}:0"] == 1
        assert received[f"qs:{signed}"] == received[f"df:{signed}:0"] == 1 and received[f"df:{redo}:1"] == 1
        with engine.connect() as conn:
            assert not conn.execute(select(dead_letters).where(dead_letters.c.system == "hotline")).first()
        engine.dispose()


def test_signatures_replies_and_ratings_given_on_the_platform(database_url: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with hotline(database_url, monkeypatch, orders=16) as (sandbox, settings, engine, calendar, client, orders):
        now = max(map(handed_at, orders)) + timedelta(minutes=10)
        hotline_clock(sandbox, now)
        sync_workorders(engine, settings, client=client, calendar=calendar, now=now)
        deliver(engine, "hotline", client, now=now)
        routed = sorted(g for g, r in _rows(engine).items() if r["status"] == "dispatched")
        assert len(routed) >= 10
        signed_only, replied = routed[0], routed[1:]

        # the departments answer on the platform's own screen, not through Tongban
        on_platform = now + timedelta(minutes=30)
        hotline_clock(sandbox, on_platform)
        for g in routed:
            client.call("/gd/api/qs", {"gdbh": g, "qssj": hotline_time(on_platform)})
        dept = {g: r["dept_code"] for g, r in _rows(engine).items()}
        for g in replied:
            client.call("/gd/api/df", {"gdbh": g, "cbdw": dept[g], "dfnr": "已处理", "dfsj": hotline_time(on_platform),
                                       "cblc": 0})
        closed = [g for g, o in _by_no(sandbox).items() if g in replied and o["zt"] == "已办结"]
        for g in closed[:2]:  # the citizen changes the rating to 不满意 at the callback: the platform opens its redo
            _rate(sandbox, g, "3")
        view = _by_no(sandbox)
        redone = sorted(g for g in replied if view[g]["zt"] == "重办")
        assert len(redone) >= 2 and len(replied) - len(redone) >= 2

        first = sync_workorders(engine, settings, client=client, calendar=calendar,
                                now=on_platform + timedelta(hours=3))
        assert first.redo_opened == len(redone)
        rows = _rows(engine)
        assert rows[signed_only]["status"] == "dispatched" and rows[signed_only]["signed_at"] == on_platform
        for g in replied:
            r, p = rows[g], view[g]
            assert r["replied_at"] == _dash(p["dfsj"]) and r["signed_at"] == _dash(p["qssj"])
            assert r["rating"] == RATING[p["hfmyd"]] and r["rated_at"] == _dash(p["hfsj"])
            assert r["status"] == ("redo" if g in redone else "closed")
        for g in redone:
            assert rows[g]["redo_round"] == 1 and rows[g]["redo_due_at"] == datetime.combine(
                calendar.add_days(_dash(view[g]["hfsj"]).date(), 5), settings.policy.callback_closing, BEIJING)

        # the redo replied on the platform too; an unsatisfied rating after it closes the order, a refusal counted
        redo_at = on_platform + timedelta(days=1)
        hotline_clock(sandbox, redo_at)
        for g in redone:
            client.call("/gd/api/df", {"gdbh": g, "cbdw": dept[g], "dfnr": "重办已处理", "dfsj": hotline_time(redo_at),
                                       "cblc": 1})
        _rate(sandbox, redone[0], "3")
        view = _by_no(sandbox)
        second = sync_workorders(engine, settings, client=client, calendar=calendar, now=redo_at + timedelta(hours=3))
        again = [g for g in redone if view[g]["hfmyd"] == "3"]
        assert second.redo_refused == len(again) >= 1 and second.redo_opened == 0
        rows = _rows(engine)
        assert all(rows[g]["status"] == "closed" and rows[g]["replied_at"] == redo_at for g in redone)

        # a re-read of the same state (the one-hour lookback) changes nothing
        snapshot = {g: {k: v for k, v in r.items() if k not in ("updated_at", "source_changed_at")}
                    for g, r in rows.items()}
        third = sync_workorders(engine, settings, client=client, calendar=calendar, now=redo_at + timedelta(hours=4))
        assert third.read >= len(redone) and third.redo_opened == third.redo_refused == 0
        assert {g: {k: v for k, v in r.items() if k not in ("updated_at", "source_changed_at")}
                for g, r in _rows(engine).items()} == snapshot

        # only the order nobody replied to is overdue; every rating counts, as the platform counts them
        summary = workorder_summary(engine, now=redo_at + timedelta(days=30))
        assert summary["replies_overdue"] == 1
        assert summary["redo"] == {"opened": len(redone), "refused": len(again)}
        satisfaction, per = _satisfaction(view)
        assert summary["satisfaction"] == satisfaction
        _same_units(summary, per)

        # the department's reply through Tongban to the order it signed for on the platform: no second 签收
        assert reply_workorder(engine, signed_only, "已核实", at=redo_at)["signed_now"] is False
        deliver(engine, "hotline", client, now=redo_at)
        received = hotline_platform(sandbox)["received"]
        assert received[f"qs:{signed_only}"] == 1 and received[f"df:{signed_only}:0"] == 1
        engine.dispose()
