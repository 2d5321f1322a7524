"""What ``tongban workorders …`` and ``tongban kpi`` tell an operator, after an outside review: a reply that is not
sent says so and why, an unknown ``--status`` is refused naming the states, the summary shows orders late on
arrival apart from Tongban's own late dispatches, and a ratio counted over a small part of the cases says its base
(12345 defects 2–5)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from citizen_testlib import Pages, add_case, migrated, order
from typer.testing import CliRunner

from gateway.citizen import load_citizen, reply_workorder, request_redo, sync_workorders
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

T = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)  # a Tuesday


def _tongban(*args: str) -> Any:
    from gateway.cli import app

    return CliRunner().invoke(app, list(args))


def _synced(url: str) -> Any:
    """A ledger with one order of the platform's backlog (due two hours before the first read), one routed in
    time, and one routed late by Tongban."""
    engine, settings, calendar = migrated(url), load_citizen(), WorkCalendar.load()
    sync_workorders(engine, settings, calendar=calendar, now=T, client=Pages([
        order("G-BACKLOG", "待转派", T - timedelta(hours=2), T - timedelta(hours=2)),
        order("G-FRESH", "待转派", T - timedelta(minutes=2), T - timedelta(minutes=2))]))
    handed = T + timedelta(minutes=5)
    sync_workorders(engine, settings, calendar=calendar, now=handed + timedelta(minutes=25),
                    client=Pages([order("G-OWN", "待转派", handed, handed)]))
    return engine


def test_the_reply_to_a_redo_opened_by_hand_says_it_was_not_sent(sqlite_url: str) -> None:
    engine = _synced(sqlite_url)
    reply_workorder(engine, "G-FRESH", "已处理", at=T + timedelta(hours=1))
    request_redo(engine, "G-FRESH", at=T + timedelta(hours=2), policy=load_citizen().policy)
    engine.dispose()
    out = _tongban("workorders", "reply", "G-FRESH", "重新处理完毕", "--database-url", sqlite_url)
    assert out.exit_code == 0, out.output
    line = " ".join(out.output.split())
    assert "queued" not in line and "recorded" in line and "not sent to the platform" in line
    assert "opened here by hand" in line  # why


def test_a_reply_sent_to_the_platform_says_queued(sqlite_url: str) -> None:
    _synced(sqlite_url).dispose()
    out = _tongban("workorders", "reply", "G-FRESH", "已处理", "--database-url", sqlite_url, "--json")
    assert out.exit_code == 0 and json.loads(out.output)["sent"] is True
    out = _tongban("workorders", "reply", "G-OWN", "已处理", "--database-url", sqlite_url)
    assert "queued" in out.output and "not sent" not in out.output


def test_an_unknown_status_is_refused_naming_the_states(sqlite_url: str) -> None:
    _synced(sqlite_url).dispose()
    out = _tongban("workorders", "list", "--status", "bogus", "--database-url", sqlite_url)
    assert out.exit_code == 1
    said = " ".join(out.output.split())
    assert "'bogus'" in said and "received, dispatched, returned, replied, redo, closed" in said
    assert _tongban("workorders", "list", "--status", "dispatched", "--database-url", sqlite_url).exit_code == 0


def test_the_summary_shows_late_on_arrival_apart(sqlite_url: str) -> None:
    _synced(sqlite_url).dispose()
    out = _tongban("workorders", "summary", "--database-url", sqlite_url, "--json")
    s = json.loads(out.output)
    assert (s["routed"], s["late_on_arrival"], s["dispatched_late"]) == (3, 1, 1)
    assert s["dispatched_in_time_ratio"] == 0.5 and "dispatch_minutes" in s  # the keys the console reads stay
    table = _tongban("workorders", "summary", "--database-url", sqlite_url)
    assert table.exit_code == 0, table.output
    assert "到达即超时" in table.output and "自身超时转派" in table.output
    assert "50.0% (of 2" in " ".join(table.output.split())  # the base of the ratio, the backlog left out


def test_the_online_ratio_says_its_base_when_few_cases_have_a_channel(sqlite_url: str) -> None:
    engine = migrated(sqlite_url)
    finished = T - timedelta(days=3)
    for n in range(20):
        add_case(engine, f"C{n:03}", finished, **({"channel": "2" if n == 0 else "1"} if n < 4 else {}))
    engine.dispose()
    out = _tongban("kpi", "--database-url", sqlite_url, "--json")
    assert out.exit_code == 0, out.output
    sums = json.loads(out.output)["rows"][0]["sums"]
    assert (sums["online"], sums["channel_known"], sums["cases"]) == (1, 4, 20)  # --json has the base already
    table = _tongban("kpi", "--database-url", sqlite_url, "--no-refresh")
    assert table.exit_code == 0, table.output
    assert "25.00% (of 4 with a channel)" in " ".join(table.output.split())


def test_the_online_ratio_says_its_base_in_a_comparison_too(sqlite_url: str) -> None:
    engine = migrated(sqlite_url)
    applied, before = (T - timedelta(hours=2)).isoformat(), (T - timedelta(days=10)).isoformat()
    for n in range(20):  # applied this month: 4 of 20 with a channel, 1 online
        add_case(engine, f"N{n:03}", T, applied_at=applied,
                 **({"channel": "2" if n == 0 else "1"} if n < 4 else {}))
    for n in range(10):  # the month before: every case with its channel, 5 online
        add_case(engine, f"B{n:03}", T, applied_at=before, channel="2" if n < 5 else "1")
    engine.dispose()
    out = _tongban("kpi", "--database-url", sqlite_url, "--period", "2026-12", "--compare", "previous", "--json")
    assert out.exit_code == 0, out.output
    sums = json.loads(out.output)["rows"][0]["sums"]
    assert (sums["now"]["channel_known"], sums["now"]["cases"], sums["before"]["channel_known"]) == (4, 20, 10)
    table = " ".join(_tongban("kpi", "--database-url", sqlite_url, "--period", "2026-12", "--compare", "previous",
                              "--no-refresh").output.split())
    assert "25.00% (of 4 with a channel) │ 50.00% │ -25.00 pp" in table  # now with its base; before, counted over every case
