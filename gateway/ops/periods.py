"""Reporting periods as the supervisors' reports name them: a month (``2026-11``) or a year (``2026``).

One definition for the KPIs (:mod:`gateway.ops.kpi`) and the citizen figures (:mod:`gateway.citizen`), which the
KPIs read too: kept apart from both so that neither imports the other for it.
"""

from __future__ import annotations

__all__ = ["month_bounds", "period_range"]


def period_range(period: str | None) -> tuple[str | None, str | None]:
    """``"2026-11"`` → that month; ``"2026"`` → its twelve months; None → everything."""
    if period is None:
        return None, None
    if len(period) == 4 and period.isdigit() and int(period) >= 1:
        return f"{period}-01", f"{period}-12"
    if len(period) == 7 and period[4] == "-" and period[:4].isdigit() and period[5:].isdigit() \
            and int(period[:4]) >= 1 and 1 <= int(period[5:]) <= 12:
        return period, period
    raise ValueError(f"period {period!r} is neither a year (2026) nor a month (2026-11)")


def month_bounds(period: str | None) -> tuple[str, str]:
    """The first and last month (``YYYY-MM``) of ``period`` as bounds a month compares between, every month when
    None; a ``ValueError`` names a period that is neither a month nor a year."""
    first, last = period_range(period)
    return first or "", last or "9999-99"
