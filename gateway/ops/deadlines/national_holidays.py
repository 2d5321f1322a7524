"""China's statutory holidays and adjusted working weekends (调休), from the maintained ``holidays`` package.

Each December the State Council publishes next year's schedule (国务院办公厅关于节假日安排的通知); the
``holidays`` package carries it as soon as its maintainers add it (with the notice cited in its source). A year
whose schedule is not yet in the installed package still has its statutory holidays (computed from the lunar
calendar), but not the weekend days moved to make bridges: such a year is *not known*, and the deadline scan
raises an alert for it instead of silently counting Monday to Friday. Updating the package (or adding local
overrides in ``config/calendar.yaml``) fixes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from importlib.metadata import version


@dataclass(frozen=True)
class NationalSchedule:
    days_off: frozenset[date]
    """Weekdays that are days off (statutory holidays and the days moved onto weekdays)."""
    weekend_workdays: frozenset[date]
    """Saturdays and Sundays that are working days (调休)."""
    scheduled_years: frozenset[int]
    """Years whose published schedule (with its 调休) the package carries."""
    source: str


def national_schedule(years: Iterable[int]) -> NationalSchedule:
    import holidays

    wanted = sorted(set(years))
    china = holidays.country_holidays("CN", years=wanted)
    days_off = frozenset(d for d in china if d.weekday() < 5)
    weekend = frozenset(d for d in china.weekend_workdays if d.year in wanted)
    return NationalSchedule(days_off, weekend, frozenset(y for y in wanted if y in _scheduled_years(weekend)),
                            f"holidays {version('holidays')}")


def _scheduled_years(weekend_workdays: frozenset[date]) -> set[int]:
    """Years with a published schedule: those the package lists special (moved) days for; where its internals
    differ, those with any adjusted working weekend."""
    try:
        from holidays.countries.china import ChinaStaticHolidays

        return {int(y) for y in ChinaStaticHolidays.special_public_holidays}
    except (ImportError, AttributeError):
        return {d.year for d in weekend_workdays}


__all__ = ["NationalSchedule", "national_schedule"]
