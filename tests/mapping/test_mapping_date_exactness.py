"""Dates read and written exactly: ``SSS`` is three digits both ways, epoch milliseconds go through integer
arithmetic (a float lost a millisecond for one value in five after 2038), a boolean is no timestamp, and ISO
times with an hour-only offset (``+08``) or a lowercase ``z`` are read as the instants they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.mapping.dates import format_datetime, iso_from_epoch, iso_normalise
from gateway.mapping.mapper import Mapper

BEIJING = timezone(timedelta(hours=8))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MILLIS = Mapper.from_text("""
system: t
version: "1"
fields:
  at: {path: t, date: "yyyy-MM-dd HH:mm:ss.SSS"}
outbound:
  fields:
    t: {path: at, date: {to: "yyyy-MM-dd HH:mm:ss.SSS"}}
""", where="millis.yaml")

EPOCH_MS = Mapper.from_text("""
system: t
version: "1"
fields:
  at: {path: t, date: epoch_ms}
outbound:
  fields:
    t: {path: at, date: {to: epoch_ms}}
""", where="epoch.yaml")

moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


@settings(max_examples=80, deadline=None)
@given(moment=moments)
def test_sss_is_written_as_three_digits_and_reads_back(moment: datetime) -> None:
    text = f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1000:03d}"
    canonical, issues = MILLIS.map({"t": text})
    assert issues == []
    out = MILLIS.outbound(canonical)
    assert out == {"t": text}  # was six digits (%f), which the same format does not read
    assert MILLIS.map(out) == (canonical, [])


@settings(max_examples=150, deadline=None)
@given(ms=st.one_of(st.just(0), st.integers(min_value=10 ** 11, max_value=4_102_444_800_000)))  # below 1e11 ms (1973): seconds, refused
def test_epoch_ms_is_exact_both_ways(ms: int) -> None:
    canonical, issues = EPOCH_MS.map({"t": ms})
    assert issues == []
    assert datetime.fromisoformat(canonical["at"]) == EPOCH + timedelta(milliseconds=ms)
    assert EPOCH_MS.outbound(canonical) == {"t": ms}
    assert EPOCH_MS.map({"t": str(ms)}) == (canonical, [])


def test_epoch_values_a_float_got_wrong() -> None:
    for ms, text in [(2167658993614, "2038-09-09T23:29:53.614000+08:00"),
                     (2184009912410, "2039-03-18T05:25:12.410000+08:00"),
                     (1084090410192, "2004-05-09T16:13:30.192000+08:00")]:
        assert iso_from_epoch(ms, BEIJING, millis=True) == text
        assert format_datetime(text, "epoch_ms", BEIJING) == ms


def test_a_boolean_is_no_timestamp() -> None:
    for value in (True, False):
        canonical, issues = EPOCH_MS.map({"t": value})  # was 1970-01-01T08:00:00.001+08:00
        assert "at" not in canonical
        assert [(field, rule) for field, rule, _ in issues] == [("at", "mapping.date_format")]


@settings(max_examples=80, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
       hours=st.integers(min_value=-12, max_value=14), sep=st.sampled_from(["T", " "]))
def test_an_hour_only_offset_is_an_offset(moment: datetime, hours: int, sep: str) -> None:
    moment = moment.replace(microsecond=0)
    text = f"{moment:%Y-%m-%d}{sep}{moment:%H:%M:%S}{'+' if hours >= 0 else '-'}{abs(hours):02d}"
    expected = moment.replace(tzinfo=timezone(timedelta(hours=hours))).astimezone(BEIJING)
    assert datetime.fromisoformat(iso_normalise(text, "+08:00")) == expected  # was "…+08+08:00"


@settings(max_examples=40, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)))
def test_a_lowercase_z_is_utc(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    text = f"{moment:%Y-%m-%dT%H:%M:%S}z"
    expected = moment.replace(tzinfo=UTC).astimezone(BEIJING)
    assert iso_normalise(text, "+08:00") == expected.isoformat()  # was "…z+08:00"
