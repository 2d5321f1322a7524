"""A rating changes at the collection point after it was read: the province gets each version once and in order,
never an older one over a newer (a replay of a version refused earlier included), a 差评 made by a revision is
due for its callback from when the revision arrived, and a withdrawal (revoked) is never sent as if it were the
rating again — the provincial interface has no form for it, so a person is told. Replays hold the sync's lease."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from citizen_testlib import Pages, add_case, migrated, rating
from sqlalchemy import select

from gateway.citizen import (
    evaluation_summary,
    evaluations,
    load_citizen,
    replay_evaluations,
    replay_workorders,
    scan_citizen,
    sync_evaluations,
)
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import citizen as store
from gateway.store.lease import Lease, LeaseHeldError
from gateway.store.tables import alerts, citizen_outbox, dead_letters

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=BEIJING)  # a Tuesday


def _outbox(engine: Any) -> list[tuple[str, dict[str, str]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(citizen_outbox.c.key, citizen_outbox.c.payload).order_by(citizen_outbox.c.id))
        return [(k, orjson.loads(p)) for k, p in rows]


def _dead_letter_status(engine: Any, rating_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(dead_letters.c.status).where(dead_letters.c.system == "evaluator",
                                                                dead_letters.c.source_id == rating_id)).scalar()


def test_a_replay_never_brings_an_older_version_back_over_a_newer(sqlite_url: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    add_case(engine, "C1", T0 - timedelta(hours=1))
    v1 = rating("R1", "C1", 1, T0, T0, channel="wechat", comment="v1 非常不满意")  # refused: an unknown channel
    v2 = rating("R1", "C1", 5, T0, T0 + timedelta(hours=2), channel="app", comment="v2 改为非常满意")
    sync_evaluations(engine, settings, client=Pages([v1]), calendar=calendar, now=T0)
    assert _dead_letter_status(engine, "R1") == "open"
    sync_evaluations(engine, settings, client=Pages([v2]), calendar=calendar, now=T0 + timedelta(hours=2))
    assert _dead_letter_status(engine, "R1") == "resolved"  # a good version settles the older refused one

    with engine.begin() as conn:  # an operator reopens it (or it was left open before this fix): still not applied
        conn.execute(dead_letters.update().where(dead_letters.c.source_id == "R1").values(status="open"))
    accepting = evaluations.from_evaluator
    monkeypatch.setattr(evaluations, "from_evaluator", lambda raw: accepting(
        {**raw, "channel": "app"} if isinstance(raw, dict) and raw.get("channel") == "wechat" else raw))
    report = replay_evaluations(engine, settings, calendar=calendar, now=T0 + timedelta(hours=3))

    assert report.superseded == 1 and report.inserted == report.updated == 0
    with engine.connect() as conn:
        held = store.evaluation(conn, "R1")
        assert held["level"] == 5 and held["comment"] == "v2 改为非常满意"
        assert store.callback_rows(conn) == []
    assert [(k, p["pjdj"]) for k, p in _outbox(engine)] == [("rating:R1", "01")]
    assert _dead_letter_status(engine, "R1") == "resolved"


def test_a_replay_applies_a_refused_version_newer_than_the_one_held(sqlite_url: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 5, T0, T0)]), calendar=calendar, now=T0)
    later = T0 + timedelta(hours=2)
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, later, channel="wechat")]),
                     calendar=calendar, now=later + timedelta(minutes=1))
    accepting = evaluations.from_evaluator
    monkeypatch.setattr(evaluations, "from_evaluator", lambda raw: accepting({**raw, "channel": "app"}))
    report = replay_evaluations(engine, settings, calendar=calendar, now=later + timedelta(hours=1))
    assert report.updated == 1 and report.superseded == 0
    assert [k for k, _ in _outbox(engine)] == ["rating:R1", "rating:R1:1"]
    assert _dead_letter_status(engine, "R1") == "resolved"


def test_replays_hold_the_lease_the_syncs_hold(sqlite_url: str) -> None:
    engine, settings = migrated(sqlite_url), load_citizen()
    with Lease(engine, "citizen:evaluator"), pytest.raises(LeaseHeldError):
        replay_evaluations(engine, settings)
    with Lease(engine, "citizen:hotline"), pytest.raises(LeaseHeldError):
        replay_workorders(engine, settings)


def test_a_rating_revised_to_bad_is_due_for_its_callback_from_the_revision(sqlite_url: str) -> None:
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    revised = datetime(2026, 9, 22, 10, 0, tzinfo=BEIJING)  # three weeks later, a Tuesday
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 5, T0, T0)]), calendar=calendar, now=T0)
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, revised, comment="改为差评")]),
                     calendar=calendar, now=revised + timedelta(minutes=5))
    with engine.connect() as conn:
        (callback,) = store.callback_rows(conn)
    assert callback["due_at"] == datetime(2026, 9, 22, 18, 0, tzinfo=BEIJING)
    soon = revised + timedelta(minutes=6)
    assert evaluation_summary(engine, now=soon)["callbacks_overdue"] == 0
    assert scan_citizen(engine, now=soon, calendar=calendar)["callback_overdue"]["open"] == 0


def test_a_withdrawn_rating_is_not_sent_again_as_it_was_and_a_person_is_told(sqlite_url: str) -> None:
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, T0)]), calendar=calendar, now=T0)
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, T0 + timedelta(hours=1),
                                                            revoked=True)]),
                     calendar=calendar, now=T0 + timedelta(hours=1))
    assert [k for k, _ in _outbox(engine)] == ["rating:R1"]  # no identical "revision" that leaves the 差评 standing
    with engine.connect() as conn:
        alert = conn.execute(select(alerts).where(alerts.c.kind == "evaluation_revoked")).mappings().one()
    assert alert["key"] == "R1" and alert["status"] == "open" and "R1" in alert["message"]
    assert "withdraw" in alert["message"] and alert["case_no"] == "C1"
    assert evaluation_summary(engine, now=T0 + timedelta(days=2))["bad"] == 0


def test_a_rating_withdrawn_when_first_read_is_never_forwarded(sqlite_url: str) -> None:
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, T0, revoked=True)]),
                     calendar=calendar, now=T0)
    changed = T0 + timedelta(hours=1)
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 2, T0, changed, revoked=True)]),
                     calendar=calendar, now=changed)
    assert _outbox(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(alerts).where(alerts.c.kind == "evaluation_revoked")).first() is None
        assert store.evaluation(conn, "R1")["level"] == 2


def test_a_withdrawn_rating_changed_again_does_not_reopen_its_alert(sqlite_url: str) -> None:
    engine, settings, calendar = migrated(sqlite_url), load_citizen(), WorkCalendar.load()
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, T0)]), calendar=calendar, now=T0)
    withdrawn = T0 + timedelta(hours=1)
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, withdrawn, revoked=True)]),
                     calendar=calendar, now=withdrawn)
    with engine.begin() as conn:  # the operator withdrew it at the province and resolved the alert
        conn.execute(alerts.update().where(alerts.c.kind == "evaluation_revoked").values(status="resolved"))
    edited = T0 + timedelta(hours=2)
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, T0, edited, revoked=True, comment="x")]),
                     calendar=calendar, now=edited)
    with engine.connect() as conn:
        assert conn.execute(select(alerts.c.status).where(alerts.c.kind == "evaluation_revoked")).scalar() == "resolved"
    assert [k for k, _ in _outbox(engine)] == ["rating:R1"]
