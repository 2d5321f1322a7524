"""The first read of a collection point brings its history: a 差评 of past months is no callback Tongban missed.

Found by review: every 差评 of the collection point's history opened a callback "due the same working day" long gone
— 84 red callback_overdue alerts at once, 差评回复率 0%, and the only way to clear them was to record callbacks after the
fact, sent to the province as if they were new. A callback due before the cut-over (the policy's
``callbacks_from``, else Tongban's first read of the collection point) is kept and listed, not counted nor alerted;
a 差评 that arrives after it is counted, even when read late (an outage of Tongban's own is Tongban's to answer for).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import yaml
from citizen_testlib import ledger_with_cases, point_settings, start
from sqlalchemy import select

from gateway.citizen import evaluation_summary, record_callback, scan_citizen, sync_evaluations
from gateway.citizen.evaluations import list_evaluations
from gateway.citizen.settings import parse_citizen
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store.tables import citizen_callbacks

REPO = Path(__file__).resolve().parents[2]


def test_history_read_at_the_first_sync_is_listed_not_counted_and_a_later_bad_review_is(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start({"evaluator": 200})
    try:
        settings = point_settings(monkeypatch, sandbox)  # no callbacks_from: the first read is the cut-over
        engine = ledger_with_cases(database_url, sandbox)
        calendar = WorkCalendar.load()
        first = datetime.now(timezone.utc)
        sync_evaluations(engine, settings, calendar=calendar, now=first)
        with engine.connect() as conn:
            history = list(conn.execute(select(citizen_callbacks)).mappings())
        assert history and all(c["predates"] for c in history if c["due_at"] < first)
        figures = evaluation_summary(engine, now=first + timedelta(days=3))
        assert figures["callbacks_overdue"] == 0 and figures["callbacks_open"] == 0
        assert figures["callbacks_before_tongban"] == len(history) == figures["bad"]
        assert figures["reply_ratio"] is None  # no 差评 Tongban had to call back yet: no 0%
        alerts = scan_citizen(engine, now=first + timedelta(days=3), calendar=calendar)
        assert alerts["callback_overdue"]["open"] == 0
        listed = {e["rating_id"]: e for e in list_evaluations(engine, bad=True, limit=1000)}
        assert all(listed[c["rating_id"]]["callback_predates"] for c in history)

        # a person who knows one was called back may still record it: said, not counted
        done = record_callback(engine, history[0]["rating_id"], "已于当日电话回访", calendar=calendar)
        assert done["predates"] is True
        assert evaluation_summary(engine, now=first + timedelta(days=3))["reply_ratio"] is None

        # a good rating changed to 差评 after the cut-over: Tongban's to call back, overdue when not
        good = next(e["rating_id"] for e in list_evaluations(engine, limit=1000) if e["level"] == 5)
        requests.post(sandbox.admin_urls["evaluator"] + "/_sandbox/revise",
                      json={"ratingId": good, "grade": 1, "comment": "改为差评"}, timeout=10).raise_for_status()
        sync_evaluations(engine, settings, calendar=calendar, now=first + timedelta(minutes=5))
        with engine.connect() as conn:
            fresh = conn.execute(select(citizen_callbacks).where(citizen_callbacks.c.rating_id == good)).mappings().one()
        assert fresh["predates"] is False
        later = first + timedelta(days=3)
        figures = evaluation_summary(engine, now=later)
        assert (figures["callbacks_overdue"], figures["callbacks_open"], figures["reply_ratio"]) == (1, 1, 0.0)
        assert scan_citizen(engine, now=later, calendar=calendar)["callback_overdue"]["open"] == 1
    finally:
        sandbox.stop()


def test_a_district_names_its_own_cut_over() -> None:
    def policy_from(value: object) -> object:
        data = yaml.safe_load((REPO / "config" / "citizen.yaml").read_text(encoding="utf-8"))
        if value is not None:
            data["policy"]["callbacks_from"] = value
        return parse_citizen(yaml.safe_dump(data, allow_unicode=True)).policy.callbacks_from

    assert policy_from("2026-09-01") == datetime(2026, 9, 1, tzinfo=BEIJING)  # Beijing midnight
    assert policy_from("2026-09-01T08:00:00+00:00") == datetime(2026, 9, 1, 16, tzinfo=BEIJING)
    assert policy_from(None) is None
