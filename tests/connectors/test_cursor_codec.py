"""Cursor formats: the fast paths (fromisoformat, a fixed offset appended to the text) read what strptime reads."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.common.cursors import CursorCodec

_ZONES = st.one_of(
    st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
    st.sampled_from([timezone.utc, ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Urumqi")]),
)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2099, 12, 31)), _ZONES,
       st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]))
def test_the_fast_path_reads_what_strptime_reads(moment: datetime, zone, fmt: str) -> None:
    codec = CursorCodec(fmt, zone)
    text = moment.replace(microsecond=0).strftime(fmt)
    parsed = codec.parse(text)
    slow = datetime.strptime(text, fmt).replace(tzinfo=zone)
    assert parsed == slow and parsed.utcoffset() == slow.utcoffset()
    assert codec.format(parsed) == text


def test_text_the_fast_path_cannot_take_goes_the_slow_way() -> None:
    codec = CursorCodec("%Y-%m-%d %H:%M:%S", timezone(timedelta(hours=8)))
    assert codec.parse("2024-3-5 10:31:00") == datetime(2024, 3, 5, 10, 31, tzinfo=timezone(timedelta(hours=8)))
    for bad in ("2024-03-05 10:31:0０", "2024-03-05", ""):
        try:
            codec.parse(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} parsed")
