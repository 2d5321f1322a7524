"""The console's case KPIs follow a catalogue harvest: 提速率 joins the catalogue's legal limits in when the KPI rows
are summed, so sums cached as of a refresh are stale once the catalogue changes — with no case changed and no
refresh run since (docs/kpi.md "How the figures stay cheap")."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from gateway.catalogue import CatalogueEntry
from gateway.catalogue.harvest import entry_row
from gateway.ops import kpi
from gateway.ops.deadlines import BEIJING, WorkCalendar
from gateway.process import TongbanCatalogue
from gateway.store import catalogue as catalogue_store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases


def _entry(legal: str, *, version: int, at: datetime) -> dict:  # type: ignore[type-arg]
    entry = CatalogueEntry.model_validate({
        "catalog_code": "000199990000", "item_code": "X", "level": "4", "division": "370102", "name": "事项",
        "item_type": "01", "departments": [{"name": "局", "code": "D1"}], "legal_limit": legal,
        "promised_limit": "10个工作日", "visits": 1})
    return {**entry_row("test", "test-0", entry, now=at), "version": version}


def test_the_console_reads_a_harvested_legal_limit_without_a_refresh(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    now = datetime.now(UTC) - timedelta(minutes=1)
    doc = {"case_no": "C1", "item_code": "X", "item_name": "事项", "case_type": "promised", "promised_days": 10,
           "applied_at": datetime.now(BEIJING).isoformat(), "dept_code": "D1", "division_code": "370102",
           "status": "submitted"}
    with engine.begin() as conn:
        catalogue_store.insert_entries(conn, [_entry("20个工作日", version=1, at=now)])
        conn.execute(cases.insert().values(
            case_no="C1", version=1, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
            origin_system="src", origin_source_id="C1", source_updated_at=now, dept_code="D1", item_code="X",
            deleted=False, updated_at=now))
    kpi.refresh_facts(engine, calendar=WorkCalendar.load(), catalogue=TongbanCatalogue.load())
    before = kpi.kpi_summary(engine)
    assert before["overall"]["speedup"] == 1 - 10 / 20
    assert before["this_month"]["kpis"]["speedup"]["now"] == 1 - 10 / 20

    with engine.begin() as conn:  # the nightly harvest: the law now allows 40 working days
        catalogue_store.update_entries(conn, [_entry("40个工作日", version=2, at=datetime.now(UTC))])

    after = kpi.kpi_summary(engine)
    assert after["overall"]["speedup"] == kpi.compute(engine)[0].kpis["speedup"] == 1 - 10 / 40
    assert after["this_month"]["kpis"]["speedup"]["now"] == 1 - 10 / 40
    engine.dispose()
