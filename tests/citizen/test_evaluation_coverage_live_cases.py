"""评价率 counts over the live cases with a finish time (docs/kpi.md): a voided (作废) or deleted (删除) case is dead
like a tombstone, whether the figure is read from the ledger (``tongban evaluations summary``) or from the KPI rows
(the console) — one definition of a live case, :func:`gateway.store.kpi.is_live`, for both."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from gateway.citizen import evaluation_summary
from gateway.ops import kpi
from gateway.ops.deadlines import BEIJING, WorkCalendar
from gateway.process import TongbanCatalogue
from gateway.store import kpi as kpi_store
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, citizen_evaluations

FINISHED = datetime(2026, 11, 10, 10, tzinfo=BEIJING)
# case number → (result, tombstone); every one finished, so each could be rated were it live
CASES = {"ISSUED": ("issued", False), "REFUSED": ("not_accepted", False), "WITHDRAWN": ("withdrawn", False),
         "PLAIN": (None, False), "VOIDED": ("voided", False), "DELETED": ("deleted", False),
         "TOMBSTONE": ("issued", True)}
RATED = ("ISSUED", "REFUSED", "VOIDED", "DELETED", "TOMBSTONE")


def _ledger(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC) - timedelta(minutes=1)
    with engine.begin() as conn:
        for no, (result, deleted) in CASES.items():
            doc = {"case_no": no, "item_code": "X", "item_name": "测试", "case_type": "promised",
                   "applied_at": datetime(2026, 11, 2, 9, tzinfo=BEIJING).isoformat(), "dept_code": "D1",
                   "division_code": "370102", "status": "finished", "finished_at": FINISHED.isoformat(),
                   **({"result": result} if result else {})}
            conn.execute(cases.insert().values(
                case_no=no, version=1, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
                origin_system="src", origin_source_id=no, source_updated_at=now, dept_code="D1", item_code="X",
                deleted=deleted, updated_at=now))
        conn.execute(citizen_evaluations.insert(), [
            {"rating_id": f"R-{no}", "case_no": no, "level": 5, "bad": False, "channel": "pc", "rated_at": now,
             "month": "2026-11", "content_hash": "h", "updated_at": now, "revoked": False,
             "case_finished_at": FINISHED} for no in RATED])
    return engine


def test_voided_and_deleted_cases_are_not_rateable_in_the_ledger_figure(database_url: str) -> None:
    engine = _ledger(database_url)
    ledger = evaluation_summary(engine)  # before any KPI refresh: counted from the ledger's cases
    # live and finished: ISSUED, REFUSED, WITHDRAWN, PLAIN; rated among them: ISSUED, REFUSED
    assert (ledger["cases"], ledger["evaluated_cases"]) == (4, 2)
    assert ledger["coverage"] == 0.5

    kpi.refresh_facts(engine, calendar=WorkCalendar.load(), catalogue=TongbanCatalogue.load())
    console = kpi.kpi_summary(engine)
    assert console["facts"]["rateable_cases"] == 4
    assert console["citizen"]["evaluation_coverage"] == ledger["coverage"]
    engine.dispose()


def test_the_ledger_predicate_and_the_kpi_rows_agree_case_by_case(database_url: str) -> None:
    engine = _ledger(database_url)
    with engine.connect() as conn:
        in_sql = set(conn.execute(cases.select().with_only_columns(cases.c.case_no)
                                  .where(kpi_store.live_case())).scalars())
    in_python = {no for no, (result, deleted) in CASES.items() if kpi_store.is_live(deleted, result)}
    assert in_sql == in_python == {"ISSUED", "REFUSED", "WITHDRAWN", "PLAIN"}
    engine.dispose()
