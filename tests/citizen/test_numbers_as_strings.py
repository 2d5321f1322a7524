"""The 12345 platform sends its codes and counts as strings (``gdlx "3"``, ``hfmyd "1"``, ``blsx "3"``,
``cbcs "1"``): they are read as the numbers they are — full-width digits and spaces around included — and a value
that is no whole number is refused by name (record, field, rule), never replaced by a default: ``blsx "3"`` is 3
working days, not 5; ``cbcs "1"`` is an order already redone, which gets no second redo."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from citizen_testlib import Pages, migrated, order

from gateway.citizen import load_citizen, sync_workorders
from gateway.citizen.conventions import from_hotline
from gateway.contract.errors import RecordRejected
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import citizen as store

T = datetime(2026, 11, 2, 9, 0, tzinfo=BEIJING)


@pytest.mark.parametrize("three", [3, "3", " 3 ", "３", "03"])
def test_numbers_sent_as_text(three: object) -> None:
    wo = from_hotline(order("G1", "已答复", T, T, gdlx=three, blsx=three, cbcs=three, hfmyd=three, hfsj=T))
    assert (wo.matter_type, wo.limit_days, wo.redo_count, wo.rating) == ("complaint", 3, 3, "unsatisfied")


def test_absent_values_keep_their_meaning() -> None:
    wo = from_hotline(order("G1", "待转派", T, T, blsx=None, cbcs="", hfmyd=""))
    assert (wo.limit_days, wo.redo_count, wo.rating) == (5, 0, None)


# An optional count that is no whole number (blsx "three", cbcs -1) is its default and a quality flag, not a
# rejection: tests/citizen/test_hotline_counts_flagged.py.
@pytest.mark.parametrize(("name", "field", "rule", "value"), [
    ("hfmyd", "rating", "rating.code", "7"),
    ("gdlx", "matter_type", "matter_type.code", "3a"),
])
def test_what_is_no_whole_number_is_named(name: str, field: str, rule: str, value: object) -> None:
    with pytest.raises(RecordRejected) as caught:
        from_hotline(order("G1", "待转派", T, T, **{name: value}))
    assert [(i.record, i.field, i.rule) for i in caught.value.issues] == [("hotline:G1", field, rule)]


def test_an_order_redone_once_as_a_string_gets_no_second_redo(sqlite_url: str) -> None:
    engine = migrated(sqlite_url)
    settings, calendar = load_citizen(), WorkCalendar.load()
    replied = T + timedelta(days=3)
    rated = replied + timedelta(hours=2)
    common = dict(ywfl="民政", cbdw="11370102MB2850005E", zpsj=T + timedelta(minutes=5), qssj=T + timedelta(hours=1),
                  dfsj=replied, hfmyd="3", hfsj=rated, blsx="3")
    try:
        for number, cbcs in (("G-INT", 1), ("G-STR", "1")):
            report = sync_workorders(engine, settings, client=Pages([order(number, "已答复", T, rated, cbcs=cbcs, **common)]),  # type: ignore[arg-type]
                                     calendar=calendar, now=rated)
            assert report.redo_opened == 0 and report.redo_refused == 1
            with engine.connect() as conn:
                held = store.workorder(conn, number)
            assert held["status"] == "closed" and held["limit_days"] == 3
    finally:
        engine.dispose()
