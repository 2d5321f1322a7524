"""The incremental KPI refresh reads the cases changed since its watermark, and once an hour (the sweep) every case
whose version moved, whatever ``updated_at`` its writer stamped — a row never stays behind its case for good; a
materials answer logged for a case without a row is applied once the row exists, never dropped."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from kpi_testlib import log_materials_answer
from sqlalchemy import Engine, delete, update

from gateway.ops import kpi
from gateway.ops.deadlines import BEIJING, WorkCalendar
from gateway.process import TongbanCatalogue
from gateway.store import kpi as kpi_store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, kpi_case_facts

CAL, TONGBAN = WorkCalendar.load(), TongbanCatalogue.load()


def _doc(no: str, **extra: Any) -> str:
    return json.dumps({"case_no": no, "item_code": "X", "item_name": "测试", "case_type": "promised",
                       "applied_at": datetime(2026, 11, 2, 9, tzinfo=BEIJING).isoformat(), "dept_code": "D1",
                       "division_code": "370102", "status": "submitted", **extra}, ensure_ascii=False)


def _insert(engine: Engine, nos: list[str], *, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(cases.insert(), [
            {"case_no": no, "version": 1, "content_hash": "x" * 32, "data": _doc(no), "origin_system": "src",
             "origin_source_id": no, "source_updated_at": at, "dept_code": "D1", "item_code": "X", "deleted": False,
             "updated_at": at} for no in nos])


def _rewrite(engine: Engine, no: str, *, at: datetime, **extra: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.case_no == no).values(
            version=cases.c.version + 1, data=_doc(no, **extra), updated_at=at))



def _refresh(engine: Engine) -> kpi.RefreshReport:
    return kpi.refresh_facts(engine, calendar=CAL, catalogue=TONGBAN)


def _ledger(url: str, nos: int = 50) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    _insert(engine, [f"C{n:03d}" for n in range(nos)], at=datetime.now(UTC) - timedelta(minutes=1))
    assert _refresh(engine).written == nos  # the first refresh computes every row
    return engine


def test_a_case_written_with_an_old_updated_at_is_read_and_only_the_changed_ones(database_url: str) -> None:
    engine = _ledger(database_url)
    assert _refresh(engine).read == 0  # nothing moved: nothing read
    past = datetime.now(UTC) - timedelta(hours=2)  # before the last refresh's watermark, beyond any lookback
    _rewrite(engine, "C007", at=past, result="withdrawn", status="finished",
             finished_at=datetime(2026, 11, 3, 9, tzinfo=BEIJING).isoformat())
    _insert(engine, ["PART-01"], at=past)  # a 一件事 part released "as of" an earlier --now

    assert _refresh(engine).read == 0  # before the watermark: the incremental refresh does not see them...
    report = kpi.refresh_facts(engine, calendar=CAL, catalogue=TONGBAN, sweep=True)  # ...the hourly sweep does

    assert (report.read, report.written, report.rebuilt, report.swept) == (2, 2, False, True)
    (row,) = kpi.compute(engine, period="2026-11")
    assert (row.kpis["cases"], row.kpis["withdrawn_cases"]) == (50, 1)
    assert _refresh(engine).read == 0
    engine.dispose()


def test_a_materials_answer_for_a_case_without_a_row_is_applied_when_the_row_exists(database_url: str) -> None:
    engine = _ledger(database_url, nos=3)
    with engine.begin() as conn:  # a row lost (however): the case is in the ledger, its row is not
        conn.execute(delete(kpi_case_facts).where(kpi_case_facts.c.case_no == "C001"))
    log_materials_answer(engine, "C001", 2)
    log_materials_answer(engine, "LATER", 3)  # answered before the case reaches this ledger's cases (a replica behind)
    _refresh(engine)
    (row,) = kpi.compute(engine, period="2026-11")
    assert row.kpis["submissions_saved"] == 2  # C001's row computed, the answer applied to it

    _insert(engine, ["LATER"], at=datetime.now(UTC) - timedelta(hours=3))
    _refresh(engine)
    (row,) = kpi.compute(engine, period="2026-11")
    assert (row.kpis["cases"], row.kpis["submissions_saved"]) == (4, 5)
    full = kpi.refresh_facts(engine, calendar=CAL, catalogue=TONGBAN, full=True)
    assert full.rebuilt and kpi.compute(engine, period="2026-11")[0].kpis["submissions_saved"] == 5
    engine.dispose()


def test_the_sweep_runs_by_itself_once_an_hour(database_url: str) -> None:
    engine = _ledger(database_url, nos=3)
    assert not _refresh(engine).swept  # the first refresh swept: the next, minutes later, does not
    _rewrite(engine, "C001", at=datetime.now(UTC) - timedelta(hours=2), result="withdrawn", status="finished",
             finished_at=datetime(2026, 11, 3, 9, tzinfo=BEIJING).isoformat())
    with engine.begin() as conn:  # an hour and more since the last sweep
        mark = kpi_store.get_checkpoint(conn)
        kpi_store.set_checkpoint(conn, cases_at=mark["cases"], audit_seq=mark["audit_seq"],
                                 fingerprint=mark["fingerprint"], swept_at=datetime.now(UTC) - kpi.SWEEP_EVERY)
    report = _refresh(engine)
    assert report.swept and report.read == 1
    assert kpi.compute(engine, period="2026-11")[0].kpis["withdrawn_cases"] == 1
    engine.dispose()
