"""What a dormant finding (长期无办件) says about an item's last case: what the ledger knows, not the instant the
audit compares with its cutoff. Review: an item last applied for in March 2026 read "last: 2026-04-01 00:00" —
the end of the month of 申请时间 (the conservative instant compared with the cutoff), a time at which no case
was applied for, and in the wrong month."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert

from gateway.catalogue.entry import CatalogueEntry
from gateway.catalogue.findings import find
from gateway.store import catalogue as store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, kpi_case_facts

NOW = datetime(2027, 6, 15, 4, 0, tzinfo=timezone.utc)
DEPT = "11370100004300853E"  # a 实施编码 begins with its department's USCC
APPLIED, CHANGED = DEPT + "000001", DEPT + "000002"  # dated by 申请时间 (a KPI fact) / by a case's change only
CHANGED_AT = datetime(2026, 3, 17, 1, 5, tzinfo=timezone.utc)  # 09:05 in Beijing


def entry(code: str, **fields: Any) -> CatalogueEntry:
    base = {"catalog_code": "000130001000", "item_code": code, "level": "4", "division": "370102",
            "name": "户口迁移", "item_type": "20", "departments": [{"name": "公安局", "code": DEPT}]}
    return CatalogueEntry.model_validate({**base, **fields})


def _fact(case_no: str, item_code: str, month: str) -> dict[str, Any]:
    return {"case_no": case_no, "case_version": 1, "month": month, "item_code": item_code, "dept_code": None,
            "office_code": None, "office_division": None, "channel": None, "live": True, "instant": False,
            "finished": False, "with_deadline": False, "on_time": False, "online": None, "cross_province": None,
            "promised_days": None, "materials": 0, "materials_reused": 0, "submissions_saved": 0,
            "refreshed_at": NOW}


def _case(case_no: str, item_code: str, at: datetime) -> dict[str, Any]:
    return {"case_no": case_no, "version": 1, "content_hash": "x" * 32, "data": "{}", "origin_system": "test",
            "origin_source_id": case_no, "source_updated_at": at, "dept_code": None, "item_code": item_code,
            "deleted": False, "updated_at": NOW}


def test_a_dormant_item_shows_the_month_of_its_last_application_or_the_minute_of_its_last_change(
        sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(insert(kpi_case_facts), [_fact("K1", APPLIED, "2026-02"), _fact("K2", APPLIED, "2026-03")])
            conn.execute(insert(cases), [_case("K1", APPLIED, NOW - timedelta(days=3)),  # a late correction
                                         _case("K2", APPLIED, NOW - timedelta(days=3)),
                                         _case("K3", CHANGED, CHANGED_AT)])
        with engine.connect() as conn:
            activity = store.last_case_activity(conn)
    finally:
        engine.dispose()

    found = {f.item_code: f for f in find([entry(APPLIED), entry(CHANGED)], activity=activity, now=NOW,
                                          dormant_months=12) if f.kind == "dormant"}

    assert set(found) == {APPLIED, CHANGED}
    applied = found[APPLIED]
    assert applied.found == "2026-03"  # the month of 申请时间 — not "2026-04-01 00:00", when nobody applied
    assert "last application in 2026-03" in applied.message and "2026-04" not in applied.message
    changed = found[CHANGED]
    assert changed.found == "2026-03-17 09:05 +08:00"  # a change time is an instant: shown to the minute
    assert changed.message.endswith("no case for 12 months (last: 2026-03-17 09:05 +08:00)")


def test_the_cutoff_is_still_compared_with_the_end_of_the_month_of_application() -> None:
    """An application in March can have been on 31 March: with a cutoff in mid-March, the item is not dormant."""
    applied = store.CaseActivity.applied_in("2026-03")
    assert applied is not None and applied.latest == datetime(2026, 4, 1, tzinfo=timezone(timedelta(hours=8)))
    activity = {APPLIED: applied}
    march = datetime(2027, 3, 15, 4, 0, tzinfo=timezone.utc)
    assert [f for f in find([entry(APPLIED)], activity=activity, now=march, dormant_months=12)
            if f.kind == "dormant"] == []
    april = datetime(2027, 4, 1, 4, 0, tzinfo=timezone.utc)
    assert [f.found for f in find([entry(APPLIED)], activity=activity, now=april, dormant_months=12)
            if f.kind == "dormant"] == ["2026-03"]
