"""What a system's ``schedule`` may say: what its Airflow sync DAG accepts, checked when the systems file loads.

The DAG factory turns a schedule into ``CronTriggerTimetable(schedule, timezone="Asia/Shanghai")``
(:mod:`gateway.orchestration.dagfactory`), which takes a cron expression of five fields or one of Airflow's cron
presets — nothing else (no ``timedelta``, no ``@once``/``@continuous``). Six or seven fields are refused: croniter
(Airflow's) reads a sixth field as the *second*, written last, while Quartz and Spring write seconds first — the
Quartz "every ten minutes" ``0 */10 * * * *`` ran every second of every tenth minute.
Anything else used to load without a word and then broke ``dags/tongban.py`` in Airflow's DagBag: every sync DAG
gone, an import error naming the DAG file and not the system. Checked here, without importing Airflow (the CLI does not need it)::

    check_schedule("*/10 * * * *")        # returned as given
    check_schedule("every 10 minutes")    # ValueError: ... write "*/10 * * * *"
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta

from croniter import croniter

CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
"""Airflow's cron presets (``airflow.sdk.definitions.timetables._cron.CRON_PRESETS``)."""

_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_DAYS = {d: i for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}), ("month", 1, 12, _MONTHS),
           ("day of week", 0, 7, _DAYS))
"""The five fields of a cron expression, in order."""
_EVERY = re.compile(r"^(?:every\s+)?(\d+)\s*(m|min|mins|minutes?|h|hours?|分钟|小时)$", re.IGNORECASE)


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int:
    number = int(text) if text.isascii() and text.isdigit() else names.get(text.upper())
    if number is None or not low <= number <= high:
        raise ValueError(f"{text!r} is not in {low}-{high}" + (" (write ASCII digits)" if not text.isascii() else ""))
    return number


def _field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> None:
    for item in text.split(","):
        if name == "day of month" and item in ("L", "?"):
            continue
        if name == "day of week":
            if item == "?":
                continue
            item = re.sub(r"^(\w+)#[1-5]$", r"\1", item)  # 5#3: the third Friday
        base, _, step = item.partition("/")
        if step and (not step.isdigit() or int(step) == 0):
            raise ValueError(f"step {step!r} is not a positive number")
        if base == "*":
            continue
        start, dash, end = base.partition("-")
        _value(start, low, high, names)
        if dash:
            _value(end, low, high, names)


def _suggestion(value: str) -> str:
    found = _EVERY.match(value.strip())
    if not found:
        return ""
    amount, unit = int(found.group(1)), found.group(2).lower()
    if unit.startswith(("h", "小")) and 0 < amount < 24:
        return f"; write \"0 */{amount} * * *\" for every {amount} hour(s)"
    if 0 < amount < 60:
        return f"; write \"*/{amount} * * * *\" for every {amount} minute(s)"
    return ""


def _five_field_equivalent(parts: list[str]) -> str | None:
    """The five-field expression a Quartz/Spring one (second minute hour day-of-month month day-of-week [year])
    means, when that is plain: second 0, any year, and a day of week that reads the same in both (Quartz counts
    1-7 from Sunday, cron 0-6): ``*``, ``?`` or names."""
    second, rest = parts[0], parts[1:6]
    year = parts[6] if len(parts) == 7 else "*"
    if second not in ("0", "00") or year != "*":
        return None
    minute, hour, day, month, weekday = rest
    if day == "?" and weekday == "?":
        return None
    if any(ch.isdigit() for ch in weekday.replace("#", "")):
        return None
    day = "*" if day == "?" else day
    weekday = "*" if weekday == "?" else weekday
    candidate = " ".join((minute, hour, day, month, weekday))
    try:
        _check_fields(candidate.split(), candidate)
    except ValueError:
        return None
    return candidate


def _check_fields(parts: list[str], value: str) -> None:
    for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True):
        try:
            _field(part, name, low, high, names)
        except ValueError as exc:
            raise ValueError(f"{value!r}: the {name} field {part!r} is not valid ({exc})") from None


def check_schedule(value: str) -> str:
    """``value`` (without surrounding spaces) if the sync DAG can run on it, else ``ValueError`` saying what is wrong
    and what to write. Last, croniter (what Airflow's timetable runs on) reads it and must find a time it fires
    within :data:`FIRES_WITHIN_YEARS`: ``0 0 31 2 *`` (31 February) loaded, and its DAG never ran, without a word."""
    text = value.strip()
    if text.startswith("@"):
        if text in CRON_PRESETS:
            return text
        raise ValueError(f"{value!r} is not a schedule the sync DAG takes: the presets are "
                         f"{', '.join(CRON_PRESETS)}")
    parts = text.split()
    if len(parts) in (6, 7):
        equivalent = _five_field_equivalent(parts)
        hint = (f"; write \"{equivalent}\"" if equivalent else
                "; write it with five fields (minute hour day-of-month month day-of-week)")
        raise ValueError(f"{value!r} has {len(parts)} fields: the sync DAG takes five (minute hour day-of-month month "
                         "day-of-week) — Airflow would read a sixth field as the second, written last, so a Quartz or "
                         f"Spring expression (seconds first) runs at the wrong times, even every second{hint}")
    if len(parts) != 5:
        raise ValueError(f"{value!r} is not a cron expression (five fields: minute hour day-of-month month "
                         f"day-of-week, e.g. \"*/10 * * * *\") nor one of {', '.join(CRON_PRESETS)}"
                         f"{_suggestion(text)}")
    _check_fields(parts, value)
    text = " ".join(parts)
    try:
        croniter(text, datetime(2026, 1, 1), max_years_between_matches=FIRES_WITHIN_YEARS).get_next(datetime)
    except Exception as exc:  # noqa: BLE001 — croniter's own classes (bad cron, unsupported mix, no date found)
        reason = ("it never fires (no such date within "
                  f"{FIRES_WITHIN_YEARS} years)" if type(exc).__name__ == "CroniterBadDateError" else str(exc))
        raise ValueError(f"{value!r} is not a schedule Airflow can run: {reason}") from None
    return text


FIRES_WITHIN_YEARS = 5
"""A schedule must fire within this many years of any moment (29 February fires every four)."""


@functools.lru_cache(maxsize=1024)
def longest_gap(schedule: str) -> timedelta:
    """The longest wait between two fires of a schedule :func:`check_schedule` accepted. What a system's lag
    reaches between two green runs: a nightly sync is a day behind each evening, and that is no alert.

    Computed, not walked fire by fire (3000 fires of croniter were 150 ms a schedule, and office-hours schedules
    staggered by minute made a systems file of 100 systems take 12 s to load in every task): a cron's minutes and
    hours are the same on every day it fires, so the gap is the longest of (a) the widest gap within a day and
    (b) for two consecutive firing days D days apart, D days less the day's span of fires. Which days fire comes
    from croniter over :data:`FIRES_WITHIN_YEARS` years (29 February fires every four), cached by the day fields."""
    fields = CRON_PRESETS.get(schedule, schedule).split()
    minutes, hours = (_expanded(fields[0], 59), _expanded(fields[1], 23))
    times = sorted(h * 60 + m for h in hours for m in minutes)
    within = max((b - a for a, b in zip(times, times[1:], strict=False)), default=0)
    span = times[-1] - times[0]
    days = _longest_day_gap(" ".join(fields[2:]))
    return timedelta(minutes=max(within, days * 1440 - span))


def _expanded(field: str, high: int) -> list[int]:
    """The values a minute or hour field holds (``*/15`` → 0, 15, 30, 45), as croniter reads it."""
    values = croniter(f"{field} 0 * * *" if high == 59 else f"0 {field} * * *").expanded[0 if high == 59 else 1]
    return list(range(high + 1)) if values == ["*"] else [int(v) for v in values]


@functools.lru_cache(maxsize=256)
def _longest_day_gap(day_fields: str) -> int:
    """The most days between two consecutive days a schedule's day fields (day of month, month, day of week)
    fire on, over :data:`FIRES_WITHIN_YEARS` years; 1 for every day."""
    if day_fields == "* * *":
        return 1
    start = datetime(2026, 1, 1)
    fires = croniter(f"0 0 {day_fields}", start - timedelta(days=1),
                     max_years_between_matches=FIRES_WITHIN_YEARS)
    previous = fires.get_next(datetime)
    longest = 1
    until = start + timedelta(days=366 * FIRES_WITHIN_YEARS)
    while previous < until:
        moment = fires.get_next(datetime)
        longest = max(longest, (moment - previous).days)
        previous = moment
    return longest


__all__ = ["CRON_PRESETS", "check_schedule", "longest_gap"]
