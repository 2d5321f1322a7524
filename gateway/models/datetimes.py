"""Beijing time: every timestamp in the canonical model is aware and carries +08:00.

Source systems write local time without an offset (``yyyy-MM-dd HH:mm:ss``, ``yyyyMMddHHmmss``); the
mappings attach +08:00. The models accept any aware datetime and convert other offsets to +08:00, so the
same instant always serialises — and hashes — the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Protocol, TypeVar

BEIJING = timezone(timedelta(hours=8), "CST")
"""UTC+08:00, the only offset the ledger stores."""

_EIGHT_HOURS = timedelta(hours=8)


def to_beijing(value: datetime) -> datetime:
    """``value`` unchanged if it already carries +08:00, else the same instant at +08:00."""
    return value if value.utcoffset() == _EIGHT_HOURS else value.astimezone(BEIJING)


def parse_instant(value: object, *, naive: tzinfo = timezone.utc) -> datetime | None:
    """An ISO 8601 text as an aware datetime (a text without offset is taken in ``naive``: UTC, or ``BEIJING`` for a
    case document's times, which DOMAIN.md writes in Beijing time); None for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=naive)


def beijing_iso(moment: datetime) -> str:
    """``moment`` in Beijing time, to the second, ISO 8601 (how Tongban writes the times it stamps on a case)."""
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()


MAX_CLOCK_SKEW = timedelta(hours=1)
"""How far ahead of this machine's clock a source's change time may be and still be believed."""


def change_horizon() -> datetime:
    """The latest change time a source may report now: a later one (a typo of 9999, a source whose clock is wrong)
    must not move a watermark — every change still to come would look older and never be read."""
    return datetime.now(timezone.utc) + MAX_CLOCK_SKEW


class _Changed(Protocol):
    cursor: datetime | None


Changed = TypeVar("Changed", bound=_Changed)


def believable_cursors(records: Sequence[Changed]) -> tuple[list[datetime], list[Changed]]:
    """The change times of ``records`` a watermark may move to, and the records changed past
    :func:`change_horizon` (each still read, but its change time must not move a watermark: the caller counts
    them in its own report). The common page has none: one C-level ``max``, no per-record comparison in Python."""
    cursors = [r.cursor for r in records if r.cursor is not None]
    horizon = change_horizon()
    if not cursors or max(cursors) <= horizon:
        return cursors, []
    future = [r for r in records if r.cursor is not None and r.cursor > horizon]
    return [c for c in cursors if c <= horizon], future


def beijing_minute(moment: datetime) -> str:
    """``moment`` as an operator reads it in a message: Beijing time to the minute, with its offset
    (``2026-12-04 09:30 +08:00``) — never UTC, which every reader in the district would have to convert."""
    return f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M} +08:00"


EPOCH_MS_FLOOR = 10 ** 11
"""Epoch numbers: below this many milliseconds is before 4 March 1973 — no case's time, but exactly what
seconds since 1970 look like (1.8e9 today); at or above it, seconds are past the year 5000."""


def epoch_unit_problem(number: int | float | Decimal, *, millis: bool) -> str | None:
    """What is wrong with an epoch time given in the other unit, else None. Epoch *seconds* declared ``epoch_ms``
    were read as January 1970: every case stored as 1970, and the cursor never moved (the whole table read again
    every run, exit 0). Zero is left alone (sources send it for "no time")."""
    size = abs(number)
    if millis and 0 < size < EPOCH_MS_FLOOR:
        return "looks like seconds since 1970, not milliseconds: write epoch_s"
    if not millis and size >= EPOCH_MS_FLOOR:
        return "looks like milliseconds since 1970, not seconds: write epoch_ms"
    return None


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """``10m`` / ``2h`` / ``30s`` / ``1d`` or a number of seconds (the systems file's and connector configs' durations).

    Anything else is a ``ValueError`` (what pydantic reports as the setting's error, naming it): an empty value
    (``max_lag: ~``), a list, ``true``, a number past any calendar (``.inf``, ``1e15``), and a base-60 number YAML
    1.1 made of ``2:00`` (120 — two *minutes* as seconds — where the writer meant two hours: a sync killed after 2
    minutes, a push given up after 12 minutes). Other exceptions escaped the validation and took every system of
    the file down with the one that had the mistake."""
    if isinstance(value, timedelta):
        return value
    written = getattr(value, "written", None)  # gateway.kernel.yamlfile.WrittenInt: not how the number is written
    if isinstance(written, str) and ":" in written:
        raise ValueError(f"{written} is {int(value)} seconds to YAML (a base-60 number), not {written} hours or "
                         f"minutes: write 2h, 90m or 30s")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a duration like 30s, 10m, 2h or 1d")
    if isinstance(value, int | float):
        try:
            return timedelta(seconds=value)
        except (OverflowError, ValueError):
            raise ValueError(f"{value!r} seconds is not a duration a calendar holds") from None
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a duration like 30s, 10m, 2h or 1d")
    amount, unit = int(match.group(1)), match.group(2)
    try:
        return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})
    except OverflowError:
        raise ValueError(f"{value!r} is not a duration a calendar holds") from None


_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")


__all__ = ["BEIJING", "EPOCH_MS_FLOOR", "MAX_CLOCK_SKEW", "beijing_iso", "beijing_minute", "believable_cursors", "change_horizon", "epoch_unit_problem", "parse_duration", "parse_instant",
           "to_beijing"]
