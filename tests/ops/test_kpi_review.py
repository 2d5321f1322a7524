"""KPI defects an outside review found, on a fresh ledger of each backend (as ``test_kpi.py``):

10. A case finished before it was accepted (dates out of order, ``case.date_order``) counted as 按时办结: it is
    left out of the on-time denominator.
- ``compare=previous`` of period ``0000`` answered "period '-1' is neither …", quoting the computed comparison
  instead of what the user sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gateway.ops import kpi
from gateway.ops.deadlines import BEIJING, WorkCalendar
from gateway.process import TongbanCatalogue
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases


def bj(m: int, d: int, h: int = 0) -> str:
    return datetime(2026, m, d, h, tzinfo=BEIJING).isoformat()


BASE = {"item_code": "X", "item_name": "测试", "case_type": "promised", "applied_at": bj(3, 2, 9), "dept_code": "D1",
        "division_code": "370102", "status": "finished", "promised_days": 5}
CASES = {
    "ON-TIME": {"accepted_at": bj(3, 2, 10), "finished_at": bj(3, 9, 17)},
    "LATE": {"accepted_at": bj(3, 2, 10), "finished_at": bj(3, 10, 9)},
    "BEFORE-ACCEPTED": {"accepted_at": bj(3, 10, 9), "finished_at": bj(3, 5, 9)},  # finished 5 days before accepted
}


def test_a_case_finished_before_it_was_accepted_is_not_counted_on_time(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for no, extra in CASES.items():
            doc = {**BASE, **extra, "case_no": no}
            conn.execute(cases.insert().values(
                case_no=no, version=1, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
                origin_system="src", origin_source_id=no, source_updated_at=now, dept_code="D1", item_code="X",
                deleted=False, updated_at=now))
    kpi.refresh_facts(engine, calendar=WorkCalendar.load(), catalogue=TongbanCatalogue.load())
    (row,) = kpi.compute(engine, period="2026-03")
    assert row.kpis["cases"] == 3 and row.kpis["finished_ratio"] == 1.0  # still a case, still finished
    assert (row.sums["finished_with_deadline"], row.sums["on_time"]) == (2, 1)  # judged neither way
    assert row.kpis["on_time_ratio"] == 0.5
    fact = kpi.case_fact("K", 1, {**BASE, **CASES["BEFORE-ACCEPTED"], "case_no": "K"}, deleted=False,
                         dept_code="D1", item_code="X", now=now)
    assert (fact["with_deadline"], fact["on_time"], fact["finished"]) == (False, False, True)


@pytest.mark.parametrize("period", ["0000", "0001", "0001-01"])
def test_a_period_with_nothing_before_it_names_the_users_period(period: str) -> None:
    with pytest.raises(ValueError) as caught:
        kpi.previous_period(period)
    message = str(caught.value)
    assert repr(period) in message and "'-1'" not in message
    with pytest.raises(ValueError) as caught:
        kpi.compare(None, period)  # type: ignore[arg-type]  # refused before any query
    assert repr(period) in str(caught.value)


def test_previous_periods_are_unchanged() -> None:
    assert kpi.previous_period("2026") == "2025"
    assert kpi.previous_period("2026-01") == "2025-12"
    assert kpi.previous_period("2026-03") == "2026-02"
    assert kpi.previous_period("2026-03", "year") == "2025-03"
    assert kpi.previous_period("0002-01") == "0001-12"
