"""A citizen's 差评 is not replaced in the figures by a later rating of the same case from the window's evaluator
(staff can press it): only the citizen's own rating after the rectification (整改) changes it, or an upheld
appeal sets it aside. The evaluator pressed after another channel's 差评 is a misuse finding (review defect 5)."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, add_case, migrated, rating

from gateway.citizen import evaluation_summary, finish_rectification, load_citizen, record_callback
from gateway.citizen.evaluations import sync_evaluations
from gateway.citizen.misuse import detect_misuse
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

FINISHED = datetime(2026, 12, 1, 9, 0, tzinfo=BEIJING)  # a Tuesday
RATED = FINISHED + timedelta(hours=2)
DEVICE = {"channel": "device", "deviceSn": "PJQ-W03", "windowNo": "W03", "staffNo": "S0031"}


def _world(database_url: str) -> tuple[object, object, WorkCalendar]:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    add_case(engine, "C1", FINISHED)
    add_case(engine, "C2", FINISHED)
    sync_evaluations(engine, settings, client=Pages([rating("R-SMS", "C1", 1, RATED, RATED, channel="sms"),
                                                     rating("R-OK", "C2", 5, RATED, RATED)]),
                     calendar=calendar, now=RATED)
    return engine, settings, calendar


def test_the_evaluator_pressed_after_a_citizens_bad_review_replaces_nothing(database_url: str) -> None:
    engine, settings, calendar = _world(database_url)
    later = RATED + timedelta(minutes=30)
    sync_evaluations(engine, settings, client=Pages([rating("R-DEV", "C1", 5, later, later, **DEVICE)]),
                     calendar=calendar, now=later)

    s = evaluation_summary(engine, now=later)
    assert s["by_level"]["非常不满意"] == 1 and s["by_level"]["非常满意"] == 1  # C1's 差评 and C2's 非常满意
    assert s["good_ratio"] == 0.5 and s["bad"] == 1 and s["evaluations"] == 2 and s["superseded"] == 1
    assert detect_misuse(engine, settings.policy.misuse).groups[0]["rules"] == ["supersede"]


def test_the_citizens_own_rating_after_the_rectification_replaces_the_bad_review(database_url: str) -> None:
    engine, settings, calendar = _world(database_url)
    record_callback(engine, "R-SMS", "已回访", at=RATED + timedelta(hours=1), calendar=calendar, policy=settings.policy)
    early = RATED + timedelta(hours=2)  # re-rated before the rectification is done: the 差评 stands
    sync_evaluations(engine, settings, client=Pages([rating("R-APP1", "C1", 4, early, early, channel="app")]),
                     calendar=calendar, now=early)
    assert evaluation_summary(engine, now=early)["good_ratio"] == 0.5

    finish_rectification(engine, "R-SMS", "已整改", at=RATED + timedelta(hours=3))
    again = RATED + timedelta(hours=4)
    sync_evaluations(engine, settings, client=Pages([rating("R-APP2", "C1", 4, again, again, channel="app")]),
                     calendar=calendar, now=again)
    s = evaluation_summary(engine, now=again)
    assert s["good_ratio"] == 1.0 and s["by_level"]["非常不满意"] == 0 and s["by_level"]["满意"] == 1
    assert s["evaluations"] == 2 and s["superseded"] == 2
    assert detect_misuse(engine, settings.policy.misuse).groups == []


def test_bad_is_counted_on_the_ratings_base_and_the_callbacks_on_every_bad_review_received(
        database_url: str) -> None:
    """Review: the summary read "评价数 2, 差评 2" for a case rated 差评 twice and another 非常满意 — the 差评 counted
    every bad review with a callback, superseded ones included, beside ratings counted one per case. 差评 is now
    the counted ratings' (its by_level); the callback figures keep every 差评 received, and say so."""
    engine, settings, calendar = _world(database_url)
    later = RATED + timedelta(minutes=30)  # the citizen rates C1 bad again: the first 差评 keeps its place
    sync_evaluations(engine, settings, client=Pages([rating("R-SMS2", "C1", 2, later, later, channel="sms")]),
                     calendar=calendar, now=later)
    record_callback(engine, "R-SMS", "已回访", at=later, calendar=calendar, policy=settings.policy)
    s = evaluation_summary(engine, now=later)
    assert (s["evaluations"], s["superseded"], s["by_level"]["非常不满意"], s["by_level"]["不满意"]) == (2, 1, 1, 0)
    assert s["bad"] == 1 and s["bad_received"] == 2 and s["reply_ratio"] == 0.5
    [month] = s["by_month"]
    assert (month["evaluations"], month["bad"], month["bad_received"]) == (2, 1, 2)


def test_a_bad_review_set_aside_on_appeal_leaves_the_cases_earlier_rating_counted(database_url: str) -> None:
    """满意, then a 差评 of the same case set aside by an upheld appeal: the 差评 replaced the 满意 in the figures
    and was then dropped itself — the case counted by no rating, 好评率 without it (review: 评价数 1 → 0)."""
    from gateway.citizen import file_appeal
    from gateway.store import citizen as store

    engine, settings, calendar = _world(database_url)
    bad_at = RATED + timedelta(hours=1)
    sync_evaluations(engine, settings, client=Pages([rating("R-APP", "C2", 1, bad_at, bad_at, channel="app")]),
                     calendar=calendar, now=bad_at)
    s = evaluation_summary(engine, now=bad_at)
    assert s["evaluations"] == 2 and s["bad"] == 2 and s["superseded"] == 1
    file_appeal(engine, "R-APP", "评价人误选")
    with engine.begin() as conn:  # what the appeal poll writes when the city upholds it
        store.set_appeal(conn, "R-APP", "city", status="upheld", decided_at=bad_at + timedelta(days=1), opinion="成立",
                         evaluation_appeal="upheld")
    s = evaluation_summary(engine, now=bad_at + timedelta(days=2))
    assert s["evaluations"] == 2 and s["superseded"] == 0 and s["bad"] == 1
    assert s["by_level"]["非常满意"] == 1 and s["good_ratio"] == 0.5
