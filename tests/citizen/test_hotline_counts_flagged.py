"""An optional 12345 count (``blsx`` 办理时限, ``cbcs`` 重办次数) that is no plain whole number keeps the order.

4a8165e refused the whole order for ``blsx 3.0``, ``blsx "3个工作日"`` or ``cbcs 1.0`` (``limit_days.number``,
``redo_count.number``), where before they were kept with the default. A whole float is its integer, a leading
integer with its unit word (个工作日, 工作日, 天, 日, 次) is that integer; anything else unreadable in an optional
count is the documented default (``blsx`` 5, ``cbcs`` 0, as when absent) and a quality flag naming record, field and
rule with the value sent — counted in the run's report, not a dead letter.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from citizen_testlib import Pages, migrated, order

from gateway.citizen import load_citizen, sync_workorders
from gateway.citizen.conventions import from_hotline
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import citizen as store

T = datetime(2026, 11, 2, 9, 0, tzinfo=BEIJING)


@pytest.mark.parametrize(("blsx", "days"), [
    (3.0, 3), ("3个工作日", 3), ("3工作日", 3), ("3天", 3), (" 3 日 ", 3), ("３个工作日", 3), ("10 个工作日", 10),
])
def test_a_whole_float_or_a_number_with_its_unit_is_that_number(blsx: object, days: int) -> None:
    wo = from_hotline(order("G1", "待转派", T, T, blsx=blsx))
    assert (wo.limit_days, wo.quality) == (days, ())


@pytest.mark.parametrize(("cbcs", "redo"), [(1.0, 1), (0.0, 0), ("1次", 1), ("2 次", 2)])
def test_a_redo_count_as_a_whole_float_or_with_its_unit(cbcs: object, redo: int) -> None:
    wo = from_hotline(order("G1", "待转派", T, T, cbcs=cbcs))
    assert (wo.redo_count, wo.quality) == (redo, ())


@pytest.mark.parametrize(("name", "field", "value", "default"), [
    ("blsx", "limit_days", "three", 5),
    ("blsx", "limit_days", "3.5", 5),
    ("blsx", "limit_days", 3.5, 5),
    ("blsx", "limit_days", True, 5),
    ("blsx", "limit_days", float("nan"), 5),
    ("blsx", "limit_days", "三个工作日", 5),
    ("blsx", "limit_days", "3个月", 5),
    ("blsx", "limit_days", "٣", 5),
    ("cbcs", "redo_count", "一", 0),
    ("cbcs", "redo_count", -1, 0),
    ("cbcs", "redo_count", 2**70, 0),
    ("cbcs", "redo_count", [1], 0),
    ("blsx", "limit_days", 999_999_999, 5),  # past the most an order's limit can be (60 working days)
    ("blsx", "limit_days", "999个工作日", 5),
])
def test_an_unreadable_optional_count_is_its_default_and_a_flag(name: str, field: str, value: object,
                                                                default: int) -> None:
    wo = from_hotline(order("G1", "待转派", T, T, **{name: value}))
    assert getattr(wo, field) == default
    [flag] = wo.quality
    assert (flag.record, flag.field, flag.rule) == ("hotline:G1", field, f"{field}.number")
    assert name in flag.message and f"taken as {default}" in flag.message


def test_a_code_that_is_no_number_still_rejects_and_a_whole_float_code_reads() -> None:
    from gateway.contract.errors import RecordRejected

    with pytest.raises(RecordRejected):
        from_hotline(order("G1", "待转派", T, T, gdlx="3个"))
    assert from_hotline(order("G1", "待转派", T, T, gdlx=3.0)).matter_type == "complaint"


def test_the_sync_keeps_the_order_and_counts_the_flag(sqlite_url: str) -> None:
    engine = migrated(sqlite_url)
    settings, calendar = load_citizen(), WorkCalendar.load()
    try:
        orders = [order("G-UNIT", "待转派", T, T, blsx="3个工作日", cbcs=1.0),
                  order("G-BAD", "待转派", T, T, blsx="three")]
        report = sync_workorders(engine, settings, client=Pages(orders), calendar=calendar, now=T)  # type: ignore[arg-type]
        assert report.new == 2 and report.rejected == 0
        assert report.flagged == 1 and "limit_days.number" in report.flags[0] and "hotline:G-BAD" in report.flags[0]
        with engine.connect() as conn:
            assert store.workorder(conn, "G-UNIT")["limit_days"] == 3
            assert store.workorder(conn, "G-BAD")["limit_days"] == 5
    finally:
        engine.dispose()
