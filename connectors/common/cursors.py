"""Cursor formats: turning each system's change-time field into an aware datetime, and back into a parameter.

Systems write change times their own way (``2024-03-05 10:31:00`` in Beijing time, epoch millis, ISO 8601
with an offset). The engine compares watermarks as aware datetimes, so every value is parsed with the
stream's ``timezone`` applied to naive values, and formatted back with the same vocabulary:

    >>> fmt = CursorCodec("%Y-%m-%d %H:%M:%S", timezone(timedelta(hours=8)))
    >>> fmt.format(fmt.parse("2024-03-05 10:31:00"))
    '2024-03-05 10:31:00'

Vocabulary: ``epoch_ms``, ``epoch_s``, ``iso8601`` or any ``strftime`` pattern.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from gateway.models.datetimes import epoch_unit_problem

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND = timedelta(seconds=1)
_MILLISECOND = timedelta(milliseconds=1)
_END_STEPS = (timedelta(milliseconds=1), _SECOND, timedelta(minutes=1), timedelta(hours=1), timedelta(days=1),
              timedelta(days=31), timedelta(days=366))
"""How far :meth:`CursorCodec.format_end` looks for the next value a coarse format can write."""
_FAST_ISO_PATTERNS = {"%Y-%m-%d %H:%M:%S": " ", "%Y-%m-%dT%H:%M:%S": "T"}


class CursorCodec:
    """Parse and format one cursor format. ``parse`` raises ``ValueError`` on anything it cannot read."""

    __slots__ = ("_fast_sep", "_offset", "fmt", "tz")

    def __init__(self, fmt: str, tz: tzinfo) -> None:
        self.fmt = fmt
        self.tz = tz
        # fromisoformat is a C fast path, ~10x quicker than strptime; used only when the shape matches.
        self._fast_sep = _FAST_ISO_PATTERNS.get(fmt)
        # a fixed offset is appended to the text ("+08:00"): parsing it is 5x quicker than .replace(tzinfo=...)
        self._offset = datetime(2000, 1, 1, tzinfo=tz).isoformat()[19:] if isinstance(tz, timezone) else None

    def parse(self, value: Any) -> datetime:
        if value is None or isinstance(value, bool):
            raise ValueError(f"no cursor value ({value!r})")
        if self.fmt in ("epoch_ms", "epoch_s"):
            text = str(value).strip()
            number: int | float = int(text) if text.lstrip("-").isdigit() else float(text)
            problem = epoch_unit_problem(number, millis=self.fmt == "epoch_ms")
            if problem is not None:
                raise ValueError(f"{value!r} {problem}")
            unit = _MILLISECOND if self.fmt == "epoch_ms" else _SECOND
            return (_EPOCH + number * unit).astimezone(self.tz)
        if not isinstance(value, str):
            raise ValueError(f"expected a {self.fmt} string, got {type(value).__name__}")
        if self.fmt == "iso8601":
            parsed = datetime.fromisoformat(value.strip())
        elif self._fast_sep is not None and len(value) == 19 and value[10] == self._fast_sep:
            if self._offset is not None and value.isascii():
                return datetime.fromisoformat(value + self._offset)
            parsed = datetime.fromisoformat(value)
        else:
            parsed = datetime.strptime(value, self.fmt)
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=self.tz)

    def format(self, value: datetime) -> str:
        # Floor, never round: the parameter is inclusive, so rounding up could skip a record.
        if self.fmt == "epoch_ms":
            return str((value - _EPOCH) // _MILLISECOND)
        if self.fmt == "epoch_s":
            return str((value - _EPOCH) // _SECOND)
        local = value.astimezone(self.tz)
        if self.fmt == "iso8601":
            return local.isoformat()
        return local.strftime(self.fmt)

    def format_end(self, value: datetime) -> str:
        """``value`` as the inclusive END of a window: the first value of the format at or after it — never
        floored. A coarser format than the instant (``%Y-%m-%d`` for 10:31 today) floored the end to midnight, so a
        service reading the end as that instant left out the day's changes until the next day's read."""
        text = self.format(value)
        try:
            if self.parse(text) >= value:
                return text
            for step in _END_STEPS:
                later = self.format(value + step)
                if self.parse(later) >= value:
                    return later
        except ValueError:
            pass  # a format that cannot be read back (no year in it…): its floor, as before
        return text

    def format_before(self, value: datetime) -> str:
        """The last value of the format strictly before ``value`` floored to it: what to send an EXCLUSIVE
        changed-since parameter (``update_time > ?``) so that it answers every record at or after that floor —
        ``10:31:00`` for 10:31:01 (and for 10:31:01.5), ``2024-03-04`` for a day format, one millisecond earlier for
        ``epoch_ms``. A record sharing the anchor's change time is then read again (a re-delivery, dropped by key
        and cursor), never skipped. A format that cannot be read back gives its floor one smallest step earlier."""
        text = self.format(value)
        try:
            floor = self.parse(text)
        except ValueError:
            return self.format(value - _END_STEPS[0])
        for step in _END_STEPS:
            earlier = self.format(floor - step)
            try:
                if self.parse(earlier) < floor:
                    return earlier
            except ValueError:
                break
        return self.format(floor - _END_STEPS[0])


__all__ = ["CursorCodec"]
