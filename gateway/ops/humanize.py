"""Numbers and moments as operators read them, for every screen (CLI tables, the ops console): Beijing time to
the second, durations in two units at most. One place, so the console and ``tongban status`` never disagree."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_time(value: datetime | None) -> str:
    """A moment as operators read it: Beijing time to the second (``2026-12-03 19:05:12``)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def human_duration(seconds: float | None) -> str:
    """``177953714`` → ``5 y 235 d``; ``3725`` → ``1 h 2 min``; ``42`` → ``42 s``: two units at most."""
    if seconds is None:
        return ""
    left = int(abs(seconds))
    parts = []
    for name, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if left >= size or (name == "s" and not parts):
            parts.append(f"{left // size} {name}")
            left %= size
        if len(parts) == 2:
            break
    return ("-" if seconds < 0 else "") + " ".join(parts)


def human_age(seconds: float | None) -> str:
    """How long ago something happened, in :func:`human_duration`'s units; a moment after this machine's clock (a
    source whose clock runs ahead) says so instead of a negative age (``-21 s`` read as a typo)."""
    if seconds is None or seconds >= 0:
        return human_duration(seconds)
    return f"{human_duration(-seconds)} ahead of this clock"


__all__ = ["BEIJING", "human_age", "human_duration", "local_time"]
