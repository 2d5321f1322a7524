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
