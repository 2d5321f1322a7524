"""Run by Airflow (``dag.test()``): the reconcile DAG with ``TONGBAN_RECONCILE_DAYS`` checks the days of the run it
is, not the last days by the wall clock. Found by review: a backfill, a cleared old run or a manual run for a
missed night reconciled the last N days before *now* — the missed night never, and the run was green."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dags_testlib import task_states

pytestmark = pytest.mark.slow


def test_a_run_for_a_past_night_reconciles_that_nights_days(make_world, dags_for, monkeypatch) -> None:
    import gateway.sync.reconcile as reconcile

    world = make_world(civil=5, estate=0)
    dags = dags_for(world)
    monkeypatch.setenv("TONGBAN_RECONCILE_DAYS", "2")
    asked: dict[str, list[str]] = {}
    original = reconcile.reconcile_days

    def spy(runtime, name, days, **kwargs):  # the days the task asks for (no source record falls on them here)
        asked[name] = [d.isoformat() for d in days]
        return original(runtime, name, days, **kwargs)

    monkeypatch.setattr(reconcile, "reconcile_days", spy)
    night = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)  # 2 March, 02:30 in Beijing: its scheduled time
    run = dags["tongban_reconcile"].test(logical_date=night)
    assert str(run.state) == "success", task_states(run)
    # the two whole days before the run's, and its own so far (with N=1 a 02:30 run checked its 2½ hours only: the
    # rest of every day was never reconciled — orchestration review's find)
    assert asked and set(map(tuple, asked.values())) == {("2026-02-28", "2026-03-01", "2026-03-02")}, asked
