"""Whatever a page holds, reading it neither crashes nor loses a record: records without ids are dead-lettered
apart (a digest of the payload), a change time no calendar holds is ignored for the watermark, the same broken
record twice in a page is one dead letter."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from gateway.citizen import load_citizen, sync_evaluations
from gateway.ops.deadlines.calendar import WorkCalendar
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import (
    citizen_callbacks,
    citizen_evaluations,
    citizen_outbox,
    dead_letters,
    watermarks,
)

CALENDAR = WorkCalendar.from_text("national: false\n")
GOOD = {"ratingId": "R1", "caseNo": "370102202609010001", "grade": 2, "channel": "pc", "ratedAt": "2026-09-01 10:00:00",
        "updateTime": 1788228000000, "areaCode": "370102"}


class Pages:
    def __init__(self, *pages: list[Any]) -> None:
        self._pages = pages

    def pages(self, since_ms: int | None) -> Any:
        yield from self._pages

    def close(self) -> None:
        pass


def test_records_without_ids_and_impossible_times(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    page = [{"grade": 5}, {"grade": 4}, {"grade": 4}, {**GOOD, "ratingId": "R2", "updateTime": 10 ** 30}, GOOD, 7]
    report = sync_evaluations(engine, load_citizen(), client=Pages(page), calendar=CALENDAR)  # type: ignore[arg-type]
    assert report.read == 6 and report.inserted == 2 and report.rejected == 4 and report.bad == 2
    with engine.connect() as conn:
        letters = conn.execute(select(func.count()).select_from(dead_letters)).scalar()
        mark = conn.execute(select(watermarks.c.cursor)).scalar()
    assert letters == 3  # {"grade": 4} twice is one dead letter; {"grade": 5} and 7 are two more
    assert mark.year == 2026  # the impossible change time did not move the watermark
    engine.dispose()


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory: Any) -> Any:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'ledger.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(sorted(GOOD)), st.none() | st.integers() | st.text(max_size=12),
                                max_size=7), max_size=8))
def test_any_page_of_near_ratings_is_read_without_crashing(shared_engine: Any, page: list[Any]) -> None:
    with shared_engine.begin() as conn:
        for table in (citizen_evaluations, citizen_callbacks, citizen_outbox, dead_letters, watermarks):
            conn.execute(delete(table))
    report = sync_evaluations(shared_engine, load_citizen(), client=Pages([{**GOOD, **r} for r in page]),  # type: ignore[arg-type]
                              calendar=CALENDAR)
    with shared_engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(citizen_evaluations)).scalar()
        letters = conn.execute(select(func.count()).select_from(dead_letters)).scalar()
    assert report.read == len(page) and held == report.inserted and letters <= report.rejected
    assert report.inserted + report.rejected + report.unchanged + report.updated >= min(len(page), 1) or not page


ORDER = {"gdbh": "123452026090100001", "gdlx": "3", "ywfl": "市场监管", "qhdm": "370102", "nr": "投诉", "pdsj":
         "2026-09-01 08:10:00", "blsx": 5, "zt": "待转派", "gxsj": "2026-09-01 08:10:00"}


class Orders:
    def __init__(self, page: list[Any]) -> None:
        self.page = page

    def orders(self, since: str | None) -> Any:
        yield self.page

    def close(self) -> None:
        pass


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(sorted(ORDER) + ["hfmyd", "hfsj", "dfsj", "cbcs", "glbjbh"]),
                                st.none() | st.integers() | st.text(max_size=12), max_size=6), max_size=6))
def test_any_page_of_near_orders_is_read_without_crashing(shared_engine: Any, page: list[Any]) -> None:
    from gateway.citizen import sync_workorders
    from gateway.store.tables import citizen_workorders

    with shared_engine.begin() as conn:
        for table in (citizen_workorders, citizen_outbox, dead_letters, watermarks):
            conn.execute(delete(table))
    report = sync_workorders(shared_engine, load_citizen(), client=Orders([{**ORDER, **r} for r in page]),  # type: ignore[arg-type]
                             calendar=CALENDAR)
    with shared_engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(citizen_workorders)).scalar()
    assert report.read == len(page) and held == report.new
