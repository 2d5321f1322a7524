"""The end of a change-time window (``end_param``) is never floored: a coarse parameter format (a date) sent the
start of today as the end, and a service reading it as that instant left out the day's changes until tomorrow."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connectors.common.cursors import CursorCodec

BEIJING = timezone(timedelta(hours=8))
AT = datetime(2026, 12, 5, 10, 31, 7, 250_000, tzinfo=BEIJING)


@pytest.mark.parametrize(("fmt", "start", "end"), [
    ("%Y-%m-%d", "2026-12-05", "2026-12-06"),
    ("%Y-%m-%d %H:%M", "2026-12-05 10:31", "2026-12-05 10:32"),
    ("%Y-%m-%d %H:%M:%S", "2026-12-05 10:31:07", "2026-12-05 10:31:08"),
    ("%Y%m%d%H%M%S", "20261205103107", "20261205103108"),
    ("%Y-%m", "2026-12", "2027-01"),
    ("epoch_s", str(int(AT.timestamp())), str(int(AT.timestamp()) + 1)),
    ("epoch_ms", str(int(AT.timestamp() * 1000)), str(int(AT.timestamp() * 1000))),
    ("iso8601", AT.isoformat(), AT.isoformat()),
])
def test_a_window_ends_at_or_after_the_instant_it_closes(fmt: str, start: str, end: str) -> None:
    codec = CursorCodec(fmt, BEIJING)
    assert codec.format(AT) == start  # the start is floored (inclusive: never skip a record)
    assert codec.format_end(AT) == end
    assert codec.parse(codec.format_end(AT)) >= AT


def test_an_instant_the_format_writes_exactly_is_its_own_end() -> None:
    codec = CursorCodec("%Y-%m-%d", BEIJING)
    midnight = datetime(2026, 12, 5, tzinfo=BEIJING)
    assert codec.format_end(midnight) == "2026-12-05"


def test_a_format_that_cannot_be_read_back_keeps_its_floor() -> None:
    codec = CursorCodec("%H:%M", BEIJING)  # no date: parses to 1900 — cannot say what is "after"
    assert codec.format_end(AT) == "10:31"
