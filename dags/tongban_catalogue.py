"""Nightly: harvest the service catalogues, audit them for consistency (八统一), refresh the KPIs from the ledger.

``tongban_catalogue_kpi`` — ``harvest`` (every catalogue of ``TONGBAN_CATALOGUES``) → ``audit``; ``kpis`` runs
beside them (the KPIs need the catalogue only for item limits, and a catalogue that is down must not hold back
the case figures). The bodies call :mod:`gateway.catalogue` and :mod:`gateway.ops.kpi`, the same functions as
``tongban catalogue harvest|audit`` and ``tongban kpi``; importing this file touches no database or network.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, CronTriggerTimetable, task

from gateway.orchestration.callbacks import clear_failure, record_failure

DAG_ID = "tongban_catalogue_kpi"
SCHEDULE = "40 2 * * *"  # Beijing time: after the nightly reconcile (02:30)


def _engine() -> Any:
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    engine = make_engine(os.environ.get("TONGBAN_DATABASE_URL"))
    upgrade(engine)
    return engine


with DAG(
    dag_id=DAG_ID,
    description="Harvest the service catalogues, audit them (八统一), refresh the service KPIs",
    schedule=CronTriggerTimetable(SCHEDULE, timezone="Asia/Shanghai"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "tongban", "retries": 2, "retry_delay": timedelta(minutes=5),
                  "retry_exponential_backoff": 2.0, "max_retry_delay": timedelta(minutes=30),
                  "on_failure_callback": record_failure, "on_success_callback": clear_failure},
    tags=["tongban", "catalogue", "kpi"],
    doc_md=__doc__,
) as dag:

    @task(task_id="harvest")
    def harvest() -> list[dict[str, Any]]:
        from gateway.catalogue import harvest_catalogue, load_catalogues

        engine = _engine()
        try:
            return [harvest_catalogue(engine, config).as_dict() for _, config in sorted(load_catalogues().items())]
        finally:
            engine.dispose()

    @task(task_id="audit")
    def audit(harvested: list[dict[str, Any]]) -> dict[str, Any]:
        from gateway.catalogue import run_audit

        engine = _engine()
        try:
            report = run_audit(engine, dormant_months=int(os.environ.get("TONGBAN_DORMANT_MONTHS", "12")))
        finally:
            engine.dispose()
        print(f"catalogue audit: {report.counts()} by kind {report.by_kind()}")
        return {**report.counts(), "by_kind": report.by_kind(), "harvested": [h["read"] for h in harvested]}

    @task(task_id="kpis")
    def kpis() -> dict[str, Any]:
        from gateway.ops.kpi import refresh_facts

        engine = _engine()
        try:
            return refresh_facts(engine).as_dict()
        finally:
            engine.dispose()

    audit(harvest())
    kpis()
