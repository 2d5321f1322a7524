"""The misuse rules' scheduled run (ratings stored in the last day) sees ratings whose case reached the ledger
days after them: linking a rating to its case is a change of the rating (review defect 10)."""

from __future__ import annotations

from datetime import datetime, timedelta

from citizen_testlib import Pages, add_case, migrated, rating

from gateway.citizen import detect_misuse, load_citizen
from gateway.citizen.evaluations import sync_evaluations
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

FINISHED = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)
DEVICE = {"channel": "device", "deviceSn": "PJQ-W03", "windowNo": "W03", "staffNo": "S0031"}


def test_quick_ratings_are_found_when_their_cases_arrive_days_later(database_url: str) -> None:
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    closed = [FINISHED + timedelta(minutes=20 * i) for i in range(4)]
    page = [rating(f"R{i}", f"C{i}", 5, at + timedelta(seconds=3), at + timedelta(seconds=3), **DEVICE)
            for i, at in enumerate(closed)]
    read = FINISHED + timedelta(hours=2)
    sync_evaluations(engine, settings, client=Pages(page), calendar=calendar, now=read)
    assert not detect_misuse(engine, settings.policy.misuse, stored_since=read - timedelta(days=1)).flagged

    for i, at in enumerate(closed):  # the case sync catches up two days later
        add_case(engine, f"C{i}", at)
    later = read + timedelta(days=2)
    assert sync_evaluations(engine, settings, client=Pages([]), calendar=calendar, now=later).relinked == 4
    found = detect_misuse(engine, settings.policy.misuse, stored_since=later - timedelta(days=1))
    assert found.flagged == {"R0", "R1", "R2", "R3"} and found.groups[0]["rules"] == ["quick"]


def _flags(engine) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    from gateway.store import citizen as store

    with engine.connect() as conn:
        return {r["rating_id"]: r["flags"] for r in store.evaluation_rows(conn)}


def test_a_scheduled_run_keeps_the_flags_of_a_day_it_reads_in_part(database_url: str) -> None:
    """The scheduled run read from a day before the earliest new rating — from 10:30 of that day, not its
    midnight: the morning's quick ratings were out of sight, the day's count fell below ``min_quick``, and the
    flags of the ratings it did see were cleared (review: the summary's ``flagged`` dropped by a rating a day)."""
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    closed = [FINISHED + timedelta(minutes=20 * i) for i in range(3)]
    for i, at in enumerate(closed):
        add_case(engine, f"C{i}", at)
    page = [rating(f"R{i}", f"C{i}", 5, at + timedelta(seconds=3), at + timedelta(seconds=3), **DEVICE)
            for i, at in enumerate(closed)]
    sync_evaluations(engine, settings, client=Pages(page), calendar=calendar, now=FINISHED + timedelta(hours=1))
    assert detect_misuse(engine, settings.policy.misuse).flagged == {"R0", "R1", "R2"}

    nxt = FINISHED + timedelta(days=1, minutes=30)  # a citizen's own rating on the same device the next day
    add_case(engine, "C9", nxt - timedelta(minutes=10))
    sync_evaluations(engine, settings, client=Pages([rating("R9", "C9", 5, nxt, nxt, **DEVICE)]),
                     calendar=calendar, now=nxt + timedelta(minutes=1))
    found = detect_misuse(engine, settings.policy.misuse, stored_since=nxt - timedelta(hours=1))
    assert found.flagged == {"R0", "R1", "R2"}
    assert {k: v for k, v in _flags(engine).items() if v} == {f"R{i}": '["quick"]' for i in range(3)}


def test_a_bad_rating_read_late_on_another_channel_flags_the_device_rating_after_it(database_url: str) -> None:
    """The scheduled run looked for the earliest new *device* rating: a 差评 the citizen gave on the app, read two
    days late, never brought back the device rating pressed after it (``supersede``)."""
    engine, settings, calendar = migrated(database_url), load_citizen(), WorkCalendar.load()
    add_case(engine, "C1", FINISHED)
    bad_at, pressed_at = FINISHED + timedelta(hours=1), FINISHED + timedelta(hours=3)
    sync_evaluations(engine, settings, client=Pages([rating("R-DEV", "C1", 5, pressed_at, pressed_at, **DEVICE)]),
                     calendar=calendar, now=pressed_at + timedelta(minutes=5))
    assert not detect_misuse(engine, settings.policy.misuse,
                             stored_since=pressed_at - timedelta(minutes=1)).flagged
    read = FINISHED + timedelta(days=2)
    sync_evaluations(engine, settings, client=Pages([rating("R-APP", "C1", 1, bad_at, bad_at, channel="app")]),
                     calendar=calendar, now=read)
    found = detect_misuse(engine, settings.policy.misuse, stored_since=read - timedelta(minutes=5))
    assert found.flagged == {"R-DEV"} and found.groups[0]["rules"] == ["supersede"]
