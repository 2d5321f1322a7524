"""好差评 figures a supervisor reads, against the collection point and the provincial system over real HTTP:
评价率 counts the ledger's rateable cases with a rating (not every case number a rating names), a rating revised at
the collection point is forwarded again and its 差评 called back (or no longer counted), and a case rated many
times counts once, by its newest rating (一事一评); a 差评 set aside by an upheld appeal counts nowhere."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from citizen_testlib import ALL_CALLBACKS_COUNTED, ledger_with_cases, point_settings, start
from sqlalchemy import select, update

from gateway.citizen import ProvincialClient, deliver, evaluation_summary, scan_citizen, sync_evaluations
from gateway.ops.deadlines.calendar import WorkCalendar
from gateway.store import citizen as store
from gateway.store.tables import cases, citizen_callbacks, citizen_evaluations, citizen_outbox

LATER = datetime.now(timezone.utc) + timedelta(days=1)


def _revise(sandbox, rating_id: str, grade: int, comment: str) -> None:
    requests.post(sandbox.admin_urls["evaluator"] + "/_sandbox/revise",
                  json={"ratingId": rating_id, "grade": grade, "comment": comment}, timeout=10).raise_for_status()


def _drain(engine, client) -> None:
    for hour in range(10):
        report = deliver(engine, "provincial_pj", client, now=LATER + timedelta(hours=hour))
        if not report.delivered and not report.retried:
            return


def test_coverage_counts_rateable_ledger_cases_and_revised_ratings_are_forwarded_and_called_back(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start({"evaluator": 200})
    try:
        settings = point_settings(monkeypatch, sandbox, callbacks_from=ALL_CALLBACKS_COUNTED)
        engine = ledger_with_cases(database_url, sandbox)
        calendar = WorkCalendar.load()
        sync_evaluations(engine, settings, calendar=calendar)
        with engine.connect() as conn:
            ratings = {r["rating_id"]: r for r in conn.execute(select(citizen_evaluations)).mappings()}
        rated_cases = {r["case_no"] for r in ratings.values() if not r["revoked"]}
        before = evaluation_summary(engine)
        assert before["evaluated_cases"] == len(rated_cases) <= before["cases"]

        # cases that leave the ledger (voided) are no longer rateable: their ratings stop counting in 评价率
        gone = sorted(rated_cases)[:10]
        with engine.begin() as conn:
            conn.execute(update(cases).where(cases.c.case_no.in_(gone)).values(deleted=True))
        after = evaluation_summary(engine)
        assert after["cases"] == before["cases"] - 10
        assert after["evaluated_cases"] == before["evaluated_cases"] - 10
        # the console counts on the KPI facts' basis (no read of every case document): the same figure
        from gateway.ops.kpi import kpi_summary, refresh_facts

        refresh_facts(engine, full=True)
        assert kpi_summary(engine)["citizen"]["evaluation_coverage"] == after["coverage"]

        good = next(k for k, r in sorted(ratings.items()) if r["level"] == 5 and not r["revoked"])
        bad = next(k for k, r in sorted(ratings.items()) if r["level"] == 1 and not r["revoked"]
                   and r["case_no"] not in gone)
        _revise(sandbox, good, 1, "改为差评：窗口让我跑了三趟")
        _revise(sandbox, bad, 5, "问题已解决，改为非常满意")
        report = sync_evaluations(engine, settings, calendar=calendar)
        assert report.updated == 2 and report.bad == 1  # the good rating turned bad opens its callback

        with engine.connect() as conn:
            callbacks = {r["rating_id"]: r for r in conn.execute(select(citizen_callbacks)).mappings()}
        assert good in callbacks and callbacks[good]["done_at"] is None
        figures = evaluation_summary(engine, now=LATER + timedelta(days=30))
        open_bad = {k for k, r in ratings.items() if r["level"] <= 2 and not r["revoked"]} - {bad} | {good}
        assert figures["bad"] == len([k for k in open_bad if ratings[k]["appeal"] != "upheld"])
        assert figures["callbacks_overdue"] == figures["bad"]  # none called back yet; the revised-to-good one gone

        alerts = scan_citizen(engine, now=LATER + timedelta(days=30), calendar=calendar)
        assert alerts["callback_overdue"]["open"] == figures["bad"]

        # the citizen changes their mind twice more, back to 非常满意 and then to the same 差评 again: each is a new
        # revision, delivered in order (the same text again is no longer a key seen before, dropped)
        _revise(sandbox, good, 5, "算了，满意")
        sync_evaluations(engine, settings, calendar=calendar)
        _revise(sandbox, good, 1, "改为差评：窗口让我跑了三趟")
        sync_evaluations(engine, settings, calendar=calendar)
        with engine.connect() as conn:
            keys = sorted(k for (k,) in conn.execute(select(citizen_outbox.c.key).where(
                citizen_outbox.c.key.like(f"rating:{good}%"))))
        assert keys == [f"rating:{good}", f"rating:{good}:1", f"rating:{good}:2", f"rating:{good}:3"]
        client = ProvincialClient(settings.provincial_pj)
        _drain(engine, client)
        received = requests.get(sandbox.admin_urls["provincial_pj"] + "/_sandbox/received", timeout=10).json()
        assert received["records"][good]["pjdj"] == "05"  # 非常不满意 in the province's codes: the revision
        assert received["records"][bad]["pjdj"] == "01"
        assert received["records"][good]["pjnr"] == "改为差评：窗口让我跑了三趟"
        with engine.connect() as conn:
            assert store.outbox_counts(conn).get(("provincial_pj", "sbPj", "pending"), 0) == 0
        engine.dispose()
    finally:
        sandbox.stop()


def test_a_case_rated_many_times_counts_once_by_its_newest_rating(sqlite_url: str) -> None:
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    base = datetime(2026, 9, 1, 2, 0, tzinfo=timezone.utc)

    def row(rating_id: str, case_no: str, level: int, minutes: int) -> dict:
        return {"rating_id": rating_id, "case_no": case_no, "level": level, "bad": level <= 2, "channel": "device",
                "device": "PJQ-W01", "window_no": "W01", "staff": "S01", "dept_code": "D1", "division": "370102",
                "office_code": None, "rated_at": base + timedelta(minutes=minutes), "month": "2026-09",
                "case_finished_at": None, "comment": "", "revoked": False, "content_hash": rating_id,
                "updated_at": base, "appeal": None}

    with engine.begin() as conn:
        # C1 pressed five times (非常满意), then rated 不满意 by the citizen; C2 once 满意; C3 once 非常不满意
        store.insert_evaluations(conn, [row(f"R1-{i}", "C1", 5, i) for i in range(5)]
                                 + [row("R1-9", "C1", 2, 30), row("R2", "C2", 4, 5), row("R3", "C3", 1, 6),
                                    {**row("R4", "C4", 1, 7), "appeal": "upheld"}])  # 申诉成立: set aside
    figures = evaluation_summary(engine, rateable_cases=4)
    assert figures["evaluations"] == 3
    assert figures["by_level"] == {"非常满意": 0, "满意": 1, "基本满意": 0, "不满意": 1, "非常不满意": 1}
    assert figures["good_ratio"] == round(1 / 3, 4)
    assert figures["superseded"] == 5
    engine.dispose()


def test_a_bad_review_nobody_calls_back_falls_due_for_rectification_all_the_same(sqlite_url: str) -> None:
    """The 整改 fell due only once a callback was recorded: a department that ignored a 差评 entirely showed a 限时办结率
    of 100% and nothing overdue (国办发〔2019〕51号: every 差评 is called back and rectified within the limit)."""
    from dataclasses import replace

    from citizen_testlib import Pages, add_case, rating

    from gateway.citizen import finish_rectification, load_citizen, record_callback
    from gateway.models.datetimes import BEIJING
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    calendar = WorkCalendar.load()
    settings = load_citizen()
    settings = replace(settings, policy=replace(settings.policy, callbacks_from=datetime(2000, 1, 1, tzinfo=BEIJING)))
    rated = datetime(2026, 11, 2, 10, tzinfo=BEIJING)  # a Monday
    add_case(engine, "C1", rated - timedelta(hours=1))
    add_case(engine, "C2", rated - timedelta(hours=1))
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, rated, rated),
                                                     rating("R2", "C2", 1, rated, rated)]), calendar=calendar, now=rated)
    record_callback(engine, "R1", "已回访", at=rated + timedelta(hours=2), calendar=calendar, policy=settings.policy)
    finish_rectification(engine, "R1", "已整改", at=rated + timedelta(days=1))
    summary = evaluation_summary(engine, now=rated + timedelta(days=30))  # R2: never called back, never rectified
    assert summary["rectification_on_time_ratio"] == 0.5 and summary["rectifications_overdue"] == 1, summary
    with pytest.raises(Exception, match="record the callback first"):  # due from the start, done after a callback
        finish_rectification(engine, "R2", "已整改")


RATED = datetime(2026, 11, 2, 2, tzinfo=timezone.utc)  # 10:00 in Beijing, a Monday


def _bad_reviews(sqlite_url: str, *case_nos: str) -> tuple[Any, WorkCalendar, Any]:
    """A ledger holding one 差评 per case (rating R1 of C1, R2 of C2 …), rated at :data:`RATED` and synced, every
    callback counted: ``(engine, calendar, settings)``."""
    from dataclasses import replace

    from citizen_testlib import Pages, add_case, rating

    from gateway.citizen import load_citizen
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    calendar = WorkCalendar.load()
    settings = load_citizen()
    settings = replace(settings, policy=replace(settings.policy, callbacks_from=datetime(2000, 1, 1, tzinfo=timezone.utc)))
    for case_no in case_nos:
        add_case(engine, case_no, RATED - timedelta(hours=1))
    sync_evaluations(engine, settings, client=Pages([rating(f"R{case_no[1:]}", case_no, 1, RATED, RATED)
                                                     for case_no in case_nos]), calendar=calendar, now=RATED)
    return engine, calendar, settings


def test_a_late_callback_does_not_move_the_rectification_due_time_later(sqlite_url: str) -> None:
    """The 整改 falls due from the 差评's callback deadline; a callback recorded late set it again from the callback,
    later — an overdue rectification stopped being overdue the moment anyone recorded a callback."""
    from gateway.citizen import record_callback
    from gateway.models.datetimes import BEIJING

    engine, calendar, settings = _bad_reviews(sqlite_url, "C1")
    rated = RATED
    with engine.connect() as conn:
        opened = conn.execute(select(citizen_callbacks.c.rect_due_at)).scalar_one()
    late = record_callback(engine, "R1", "已回访", at=rated + timedelta(days=30), calendar=calendar,
                           policy=settings.policy)
    assert late["rect_due_at"].astimezone(BEIJING) == opened.astimezone(BEIJING)
    summary = evaluation_summary(engine, now=rated + timedelta(days=31))
    assert summary["rectifications_overdue"] == 1, summary


def test_callbacks_opened_before_the_upgrade_get_their_rectification_due_time(sqlite_url: str) -> None:
    """Callbacks opened before every 差评 fell due for 整改 had none: a ledger upgraded with such 差评 kept them out of
    every rectification figure, however long they went unrectified. The next sync dates them, once."""
    from citizen_testlib import Pages

    from gateway.citizen import record_callback
    from gateway.citizen.evaluations import rectification_due
    from gateway.models.datetimes import BEIJING

    engine, calendar, settings = _bad_reviews(sqlite_url, "C1", "C2")
    rated = RATED
    record_callback(engine, "R1", "已回访", at=rated + timedelta(hours=2), calendar=calendar, policy=settings.policy)
    with engine.begin() as conn:  # what a ledger of before holds
        conn.execute(update(citizen_callbacks).values(rect_due_at=None))
    assert evaluation_summary(engine, now=rated + timedelta(days=30))["rectifications_overdue"] == 0

    report = sync_evaluations(engine, settings, client=Pages([]), calendar=calendar, now=rated + timedelta(days=30))
    assert report.rectifications_dated == 2
    with engine.connect() as conn:
        dated = dict(conn.execute(select(citizen_callbacks.c.rating_id, citizen_callbacks.c.rect_due_at)).all())
    called = rectification_due(rated + timedelta(hours=2), calendar, settings.policy)
    assert dated["R1"].astimezone(BEIJING) <= called.astimezone(BEIJING)
    assert evaluation_summary(engine, now=rated + timedelta(days=30))["rectifications_overdue"] == 2
    again = sync_evaluations(engine, settings, client=Pages([]), calendar=calendar, now=rated + timedelta(days=30))
    assert again.rectifications_dated == 0
