"""12345 reply due times: the close (18:00) of the order's 办理时限 (``blsx``)-th working day after its dispatch; a
same-day order (``blsx`` 0) is due by the close of the dispatch's working day — the next working day's close when
dispatched after closing or on a day off, never before its dispatch. Over real HTTP on an injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from citizen_testlib import hotline_clock, hotline_platform, ledger_with_cases, point_settings, start
from sqlalchemy import select

from gateway.citizen import HotlineClient, sync_workorders, workorder_summary
from gateway.citizen.conventions import hotline_time
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.tables import citizen_workorders


def _rows(engine: Any) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        return {r["order_no"]: dict(r) for r in conn.execute(select(citizen_workorders)).mappings()}


def _new_order(sandbox: Any, at: datetime, limit: int) -> str:
    hotline_clock(sandbox, at)
    created = requests.post(sandbox.admin_urls["hotline"] + "/_sandbox/new",
                            json={"count": 1, "ywfl": "民政", "blsx": limit}, timeout=10).json()["created"]
    return str(created[0]["gdbh"])


def test_a_same_day_order_dispatched_after_closing_is_due_the_next_working_day(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start({"hotline": 0, "evaluator": 0})
    try:
        settings = point_settings(monkeypatch, sandbox)
        engine = ledger_with_cases(database_url, sandbox)
        calendar, client = WorkCalendar.load(), HotlineClient(settings.hotline)

        def bj(day: int, hour: int, minute: int = 0) -> datetime:
            return datetime(2026, 9, day, hour, minute, tzinfo=BEIJING)

        assert [calendar.is_working_day(bj(d, 0).date()) for d in (10, 11, 12, 13, 14)] == [True, True, False,
                                                                                            False, True]
        cases = [  # (handed out, blsx, due): Thursday 10 September 2026 …
            (bj(10, 19, 30), 0, bj(11, 18)),  # after closing: the next working day's close
            (bj(11, 10), 0, bj(11, 18)),      # a working morning: the same day's close
            (bj(11, 18, 20), 0, bj(14, 18)),  # Friday evening: Monday
            (bj(12, 10), 0, bj(14, 18)),      # Saturday: Monday
            (bj(10, 19, 30), 1, bj(11, 18)),  # one working day: the day after (the start day not counted)
            (bj(11, 19), 1, bj(14, 18)),
        ]
        numbers = []
        for handed, limit, _ in cases:
            numbers.append(_new_order(sandbox, handed, limit))
            sync_workorders(engine, settings, client=client, calendar=calendar, now=handed + timedelta(minutes=5))
        # dispatched on the platform itself at 20:00, read by Tongban afterwards: the same rule
        on_platform = _new_order(sandbox, bj(10, 20), 0)
        division = next(o["qhdm"] for o in hotline_platform(sandbox)["orders"] if o["gdbh"] == on_platform)
        route = settings.route("民政", division)
        client.call("/gd/api/zp", {"gdbh": on_platform, "cbdw": route.dept_code, "cbdwmc": route.dept_name,
                                   "zpsj": hotline_time(bj(10, 20))})
        sync_workorders(engine, settings, client=client, calendar=calendar, now=bj(10, 20, 10))
        rows = _rows(engine)
        for number, (handed, limit, due) in zip(numbers, cases, strict=True):
            r = rows[number]
            assert r["limit_days"] == limit and r["status"] == "dispatched"
            assert r["reply_due_at"] == due, (handed, limit, r["reply_due_at"])
            assert r["reply_due_at"] >= r["dispatched_at"]
        assert rows[on_platform]["dispatched_at"] == bj(10, 20) and rows[on_platform]["reply_due_at"] == bj(11, 18)
        # none is overdue the moment it is dispatched
        assert workorder_summary(engine, now=bj(10, 19, 36))["replies_overdue"] == 0
        client.close()
        engine.dispose()
    finally:
        sandbox.stop()
