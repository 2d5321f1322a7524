"""Run by Airflow (``dag.test()``): a sync task Airflow times out leaves its run in the ledger as failed, saying
so. Airflow's timeout is a BaseException: the sync recorded only ``Exception``s, so the run stayed "running" —
``tongban status`` and the console showed a sync in progress — until the next sync relabelled it "abandoned: the
process running it died"."""

from __future__ import annotations

import pytest
from dags_testlib import task_states
from sqlalchemy import select

from gateway.store.tables import runs

pytestmark = pytest.mark.slow


def test_a_sync_task_that_times_out_leaves_a_failed_run_not_a_running_one(make_world, dags_for) -> None:
    world = make_world(civil=20, estate=0)
    dags = dags_for(world, execution_timeout="3s", retries=0)
    world.sandbox.set_faults("civil", latency_ms=8000)
    run = dags["tongban_sync_sd_civil"].test()
    assert task_states(run)["sync"][0] == "failed"
    with world.runtime.engine.connect() as conn:
        (status, error), = conn.execute(select(runs.c.status, runs.c.error).where(runs.c.system == "sd_civil")).all()
    assert status == "failed" and "Timeout" in (error or ""), (status, error)
