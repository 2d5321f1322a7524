"""Time formats in connector configs: one check for every place a YAML names one.

A connector YAML writes times as Python does (``strftime``: ``%Y%m%d%H%M%S``) — a stream's ``cursor_format`` and
``param_format``, a signature's ``timestamp.format`` — or by a name (``iso8601``, ``epoch_ms``; ``milliseconds``
for a signature). The system's own documentation writes them the Java/.NET way (``yyyyMMddHHmmss``), and that
spelling pasted into the YAML was accepted: every value was then "not 'yyyyMMddHHmmss'", 21 records
dead-lettered and the paging refused for a reason that named neither. It is refused when the YAML is loaded,
with the ``strftime`` spelling to write instead::

    check_time_format("yyyyMMddHHmmss", names=CURSOR_NAMES)
    ValueError: 'yyyyMMddHHmmss' is a Java/.NET date pattern; write the strftime form "%Y%m%d%H%M%S" (or one of
    iso8601, epoch_ms, epoch_s)
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

CURSOR_NAMES = ("iso8601", "epoch_ms", "epoch_s")
"""What a stream's ``cursor_format`` / ``param_format`` may name instead of a pattern."""
SIGNATURE_NAMES = ("seconds", "milliseconds", "http_date")
"""What a signature's ``timestamp.format`` may name instead of a pattern."""

_JAVA_TOKENS = {"yyyy": "%Y", "YYYY": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "DD": "%d", "HH": "%H",
                "hh": "%H", "mm": "%M", "ss": "%S", "SSS": "%f", "'T'": "T", "XXX": "%z", "Z": "%z"}
_JAVA_RE = re.compile("|".join(sorted(map(re.escape, _JAVA_TOKENS), key=len, reverse=True)))
_LOOKS_JAVA = re.compile(r"yyyy|YYYY|yy|MM|dd|HH|hh|mm|ss")
_SAMPLE = datetime(2024, 3, 5, 13, 4, 5, 123000, tzinfo=timezone.utc)


def strftime_from_java(pattern: str) -> str:
    """``yyyy-MM-dd HH:mm:ss`` → ``%Y-%m-%d %H:%M:%S`` (``hh``, the 12-hour clock, as ``%H``: what was meant)."""
    return _JAVA_RE.sub(lambda m: _JAVA_TOKENS[m.group(0)], pattern)


def check_time_format(value: object, *, names: tuple[str, ...], parse: bool = False) -> str:
    """``value`` if it is one of ``names`` or a usable ``strftime`` pattern, else ``ValueError`` saying what to
    write. ``parse``: the pattern must also read back what it writes (a cursor is parsed, a signature's timestamp
    only written)."""
    choices = ", ".join(names)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a time format is one of {choices} or a strftime pattern such as %Y-%m-%d %H:%M:%S, "
                         f"got {value!r}")
    if value in names:
        return value
    if "%" not in value:
        if _LOOKS_JAVA.search(value):
            raise ValueError(f"{value!r} is a Java/.NET date pattern; write the strftime form "
                             f"\"{strftime_from_java(value)}\" (or one of {choices})")
        raise ValueError(f"a time format is one of {choices} or a strftime pattern such as %Y-%m-%d %H:%M:%S, "
                         f"got {value!r}")
    if _LOOKS_JAVA.search(re.sub(r"%.", "", value)):
        raise ValueError(f"{value!r} mixes strftime directives with Java/.NET letters; write "
                         f"\"{strftime_from_java(value)}\"")
    try:
        text = _SAMPLE.strftime(value)
        if parse:
            datetime.strptime(text, value)
    except ValueError as exc:
        raise ValueError(f"time format {value!r} does not {'read back what it writes' if parse else 'format'}: "
                         f"{exc}") from None
    return value


__all__ = ["CURSOR_NAMES", "SIGNATURE_NAMES", "check_time_format", "strftime_from_java"]
