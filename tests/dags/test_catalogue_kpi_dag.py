"""The nightly catalogue + KPI DAG, run by Airflow (``dag.test()``) against the sandbox's catalogue over HTTP."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, catalogue_audit_runs, catalogue_items, kpi_case_facts
from sandbox.server import start_all

REPO = Path(__file__).resolve().parents[2]


def _dag() -> Any:
    from gateway.orchestration.dagfactory import build_dags

    return build_dags()["tongban_catalogue_kpi"]


def test_the_nightly_dag_harvests_audits_and_refreshes_kpis(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start_all(seed=42, records={"catalogue": 600}, systems=["catalogue"])
    try:
        monkeypatch.setenv("TONGBAN_SD_CATALOGUE_URL", sandbox.urls["catalogue"])
        monkeypatch.setenv("TONGBAN_SD_CATALOGUE_TOKEN", sandbox.credentials["catalogue"]["token"])
        monkeypatch.setenv("TONGBAN_DATABASE_URL", database_url)
        engine = make_engine(database_url)
        upgrade(engine)
        now = datetime.now(timezone.utc)
        with engine.begin() as conn:
            conn.execute(cases.insert(), [
                {"case_no": f"K{n}", "version": 1, "content_hash": "x" * 32,
                 "data": '{"case_type": "instant", "applied_at": "2026-11-02T09:00:00+08:00"}',
                 "origin_system": "t", "origin_source_id": f"K{n}", "source_updated_at": now, "dept_code": None,
                 "item_code": None, "deleted": False, "updated_at": now} for n in range(30)])
        dag = _dag()

        run = dag.test()

        assert str(run.state) == "success"
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(catalogue_items)).scalar() == 600
            (audit,) = conn.execute(select(catalogue_audit_runs)).mappings().all()
            assert audit["entries"] == 600 and audit["findings"] > 0 and audit["new"] == audit["findings"]
            assert conn.execute(select(func.count()).select_from(kpi_case_facts)).scalar() == 30
        assert str(dag.test().state) == "success"  # a second night: nothing new, everything still open
        with engine.connect() as conn:
            second = conn.execute(select(catalogue_audit_runs).order_by(catalogue_audit_runs.c.id.desc())).mappings().first()
        assert second["new"] == 0 and second["still_open"] == audit["findings"]
        engine.dispose()
    finally:
        sandbox.stop()
