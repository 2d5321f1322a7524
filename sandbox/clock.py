"""Beijing time, the base-record timeline, and the overlay clock.

Base records change at times that grow with their index (``Timeline``), so "changed since T" is an index range
found by arithmetic. Changes made while the server runs take their time from ``OverlayClock``, which never
hands out the same instant twice: a client that resumes from its last seen time loses nothing.
"""

from __future__ import annotations

from functools import lru_cache

import calendar
import threading
import time
from datetime import datetime, timedelta, timezone

from .prng import mix

__all__ = [
    "BJ",
    "Timeline",
    "OverlayClock",
    "fmt_dash",
    "fmt_compact",
    "fmt_iso",
    "fmt_iso_ms",
    "fmt_date",
    "parse_dash",
    "parse_iso_ms",
]

BJ = timezone(timedelta(hours=8), "Asia/Shanghai")
_BJ_OFFSET = 8 * 3600


def _bj_epoch(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - _BJ_OFFSET


_DAYS: dict[int, tuple[str, str]] = {}
_2D = [f"{n:02d}" for n in range(100)]


def _day(day: int) -> tuple[str, str]:
    """("yyyy-MM-dd", "yyyyMMdd") of a Beijing day number, cached: date formatting is the generators' hot path."""
    out = _DAYS.get(day)
    if out is None:
        t = time.gmtime(day * 86400)
        out = _DAYS[day] = (f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}", f"{t[0]:04d}{t[1]:02d}{t[2]:02d}")
    return out


def fmt_dash(sec: int) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Beijing time (the civil system's format)."""
    day, rest = divmod(sec + _BJ_OFFSET, 86400)
    return f"{_day(day)[0]} {_2D[rest // 3600]}:{_2D[rest // 60 % 60]}:{_2D[rest % 60]}"


def fmt_compact(sec: int) -> str:
    """``yyyyMMddHHmmss`` in Beijing time (the estate registry's format)."""
    day, rest = divmod(sec + _BJ_OFFSET, 86400)
    return f"{_day(day)[1]}{_2D[rest // 3600]}{_2D[rest // 60 % 60]}{_2D[rest % 60]}"


def fmt_date(sec: int) -> str:
    """``yyyyMMdd`` in Beijing time (the date inside case numbers)."""
    return _day((sec + _BJ_OFFSET) // 86400)[1]


def fmt_iso(sec: int) -> str:
    """ISO 8601 with +08:00, second precision (the hall's case dates)."""
    return fmt_dash(sec).replace(" ", "T") + "+08:00"


def fmt_iso_ms(ms: int) -> str:
    """ISO 8601 with milliseconds and +08:00 (the hall's ``updated_at``)."""
    sec, milli = divmod(ms, 1000)
    t = time.gmtime(sec + _BJ_OFFSET)
    return f"{t[0]:04d}-{t[1]:02d}-{t[2]:02d}T{t[3]:02d}:{t[4]:02d}:{t[5]:02d}.{milli:03d}+08:00"


def parse_dash(text: str) -> int:
    """Parse ``yyyy-MM-dd HH:mm:ss`` (Beijing time) to epoch seconds; ``ValueError`` otherwise."""
    dt = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S")
    return calendar.timegm(dt.timetuple()) - _BJ_OFFSET


def parse_iso_ms(text: str) -> int:
    """Parse an ISO 8601 time to epoch milliseconds; no offset means Beijing time.

    A ``+`` that arrived unescaped in a query string has become a space; it is put back.
    """
    text = text.strip()
    if len(text) > 19 and text[-6] == " " and text[-5:-3].isdigit():
        text = text[:-6] + "+" + text[-5:]
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=BJ)
    return int(round(dt.timestamp() * 1000))


# Slots get shorter as the index grows, so a small sandbox still spreads its cases over a year while a
# million-record one stays in the past: indexes 0-999 every 8 h, then every 5 min, from 100,000 every 20 s.
_SEGMENTS: tuple[tuple[int, int], ...] = ((0, 8 * 3600), (1_000, 300), (100_000, 20))
BASE_START = _bj_epoch(2021, 1, 4, 8, 30)


class Timeline:
    """Change times of base records: slot ``i`` starts at a fixed time, plus a seeded jitter inside the slot.

    ``scale`` is the number of time units per second (1 for second precision, 1000 for milliseconds). Times
    are strictly increasing in the index, so ``first_at_or_after`` is arithmetic, not a search.
    """

    def __init__(self, seed: int, salt: int, scale: int = 1) -> None:
        self.seed, self.salt, self.scale = seed, salt, scale
        starts = []
        t = BASE_START * scale
        for k, (first, step) in enumerate(_SEGMENTS):
            if k:
                prev_first, prev_step = _SEGMENTS[k - 1]
                t += (first - prev_first) * prev_step * scale
            starts.append((first, t, step * scale))
        self._segments = starts

    def _segment(self, i: int) -> tuple[int, int, int]:
        for seg in reversed(self._segments):
            if i >= seg[0]:
                return seg
        return self._segments[0]

    def slot_start(self, i: int) -> int:
        first, t0, step = self._segment(i)
        return t0 + (i - first) * step

    def time(self, i: int) -> int:
        """Change time of base record ``i`` in this timeline's units."""
        _, _, step = self._segment(i)
        return self.slot_start(i) + mix(self.seed, i, self.salt) % step

    def first_at_or_after(self, t: int) -> int:
        """The smallest index whose time is >= ``t`` (may exceed any record count)."""
        if t <= self._segments[0][1]:
            return 0
        seg = self._segments[0]
        for s in self._segments:
            if t >= s[1]:
                seg = s
        first, t0, step = seg
        i = first + (t - t0) // step
        return i if self.time(i) >= t else i + 1


class OverlayClock:
    """Times for changes made while the server runs: "now", but strictly increasing.

    With second precision (civil) a burst of changes runs a few seconds ahead of the wall clock rather than
    share a second. ``burst(n)`` makes the next ``n`` changes share one time on purpose (fault
    ``same_time_burst``).
    """

    def __init__(self, scale: int = 1) -> None:
        self.scale = scale
        self._last = 0
        self._burst_left = 0
        self._burst_time: int | None = None
        self._lock = threading.Lock()

    def burst(self, n: int) -> None:
        with self._lock:
            self._burst_left = max(0, int(n))
            self._burst_time = None

    def next(self) -> int:
        with self._lock:
            if self._burst_left > 0 and self._burst_time is not None:
                self._burst_left -= 1
                return self._burst_time
            t = max(int(time.time() * self.scale), self._last + 1)
            self._last = t
            if self._burst_left > 0:
                self._burst_left -= 1
                self._burst_time = t
            return t

    def now(self) -> int:
        """The current time in this clock's units, never before the last time handed out."""
        with self._lock:
            return max(int(time.time() * self.scale), self._last)


@lru_cache(maxsize=256)
def timeline_of(seed: int, salt: int, scale: int = 1) -> Timeline:
    """The :class:`Timeline` of one system's base records, built once per (seed, salt, scale)."""
    return Timeline(seed, salt, scale)
