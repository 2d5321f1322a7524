"""The nightly catalogue DAG refreshes the KPIs after the harvest, run by Airflow (``dag.test()``): the case KPIs
join the harvested legal limits in (提速率), so a refresh running beside the harvest cached figures of the old
catalogue; and a catalogue that is down still does not hold back the case figures (``all_done``)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from dags_testlib import task_states

from gateway.store.db import make_engine
from gateway.store.migrate import upgrade


def _dag() -> Any:
    from gateway.orchestration.dagfactory import build_dags

    dag = build_dags()["tongban_catalogue_kpi"]
    for task in dag.tasks:  # the shared retries (1 min, x2) would only make the test wait
        task.retries = 0
    return dag


def test_kpis_wait_for_the_harvest_whatever_became_of_it() -> None:
    kpis = _dag().get_task("kpis")
    assert kpis.upstream_task_ids == {"harvest"} and kpis.trigger_rule == "all_done"


@pytest.mark.parametrize("harvest_fails", [False, True])
def test_the_kpi_refresh_starts_after_the_harvest_ends(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                                        harvest_fails: bool) -> None:
    from gateway.orchestration import tasks

    monkeypatch.setenv("TONGBAN_DATABASE_URL", sqlite_url)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    engine.dispose()
    times: dict[str, float] = {}

    def harvest() -> list[dict[str, Any]]:
        time.sleep(1.0)
        times["harvest_ended"] = time.monotonic()
        if harvest_fails:
            raise ConnectionError("catalogue unreachable")
        return []

    def refresh() -> dict[str, Any]:
        times["kpis_started"] = time.monotonic()
        return {}

    monkeypatch.setattr(tasks, "run_catalogue_harvest", harvest)
    monkeypatch.setattr(tasks, "run_catalogue_audit", lambda harvested: {})
    monkeypatch.setattr(tasks, "run_kpi_refresh", refresh)

    states = task_states(_dag().test())

    assert states["harvest"][0] == ("failed" if harvest_fails else "success"), states
    assert states["kpis"][0] == "success", states
    assert times["kpis_started"] >= times["harvest_ended"]
