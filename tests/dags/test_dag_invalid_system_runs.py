"""Run by Airflow (``dag.test()``): one invalid entry of the systems file fails only its own DAG at run time, as it
does at parse time. Every task used to build its runtime from the whole file strictly, so a typo in one system's
``retries`` failed every sync, push and scan of every other system, permanently (a ConfigError is not retried).
The cases that belong to the broken system are still queued for it and reach it once the entry is fixed."""

from __future__ import annotations

import pytest
import yaml
from dags_testlib import task_states
from sqlalchemy import func, select

from gateway.ops.alerts import open_alerts
from gateway.store.tables import outbox

pytestmark = pytest.mark.slow


def _edit_entry(world, system: str, **settings) -> None:
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    entry = data["systems"][system]
    for key, value in settings.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def _pending(world, target: str) -> int:
    with world.runtime.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.target_system == target, outbox.c.status == "pending")).scalar_one())


def test_a_typo_in_one_system_fails_only_its_dag_and_its_cases_wait_for_it(make_world, dags_for) -> None:
    world = make_world(civil=25, estate=10)
    _edit_entry(world, "sd_hall", retries="three")
    dags = dags_for(world)

    broken = dags["tongban_sync_sd_hall"].test()  # the placeholder says why
    assert str(broken.state) == "failed"
    for system in ("sd_civil", "jn_estate"):
        run = dags[f"tongban_sync_{system}"].test()
        assert str(run.state) == "success", task_states(run)
    assert _pending(world, "sd_hall") == 35  # queued for the hall all the same: routing reads its entry
    run = dags["tongban_push"].test()
    assert str(run.state) == "success", task_states(run)
    assert "push_sd_hall" not in task_states(run)
    states = task_states(dags["tongban_deadlines"].test())
    assert states["check_freshness"] == ("success", 1)
    assert states["check_alerts"] == ("failed", 1)  # the broken entry is a standing error, not an absent system
    (standing,) = open_alerts(world.runtime.engine, kind="config_invalid")
    assert standing["key"] == "sd_hall" and "retries" in standing["message"]
    assert open_alerts(world.runtime.engine, kind="sync_failed")  # its placeholder's failure is not "orphaned"

    _edit_entry(world, "sd_hall", retries=None)  # fixed: the next push delivers what waited
    fixed = dags_for(world)
    run = fixed["tongban_push"].test()
    assert str(run.state) == "success", task_states(run)
    assert _pending(world, "sd_hall") == 0
    assert task_states(fixed["tongban_deadlines"].test())["check_freshness"] == ("success", 1)
    assert not open_alerts(world.runtime.engine, kind="config_invalid")
    hall = {c["case_no"] for c in world.admin("sd_hall", "GET", "/_sandbox/cases") if not c["deleted"]}
    assert len(hall) >= 35


def test_an_entry_whose_routing_does_not_read_stops_routing_and_says_which(make_world, dags_for) -> None:
    """Where cases go cannot be told while a system's ``departments`` do not read: the syncs that route fail
    naming that entry (no case routed as if it did not exist), and what routes nothing still runs."""
    world = make_world(civil=5, estate=0)
    _edit_entry(world, "jn_estate", departments=["not-a-code"])
    dags = dags_for(world)
    run = dags["tongban_sync_sd_civil"].test()
    assert str(run.state) == "failed"
    assert task_states(run)["sync"] == ("failed", 1)  # permanent: no retry can fix the file
    assert _pending(world, "sd_hall") == 0
    (alert,) = open_alerts(world.runtime.engine, kind="sync_failed")
    assert "jn_estate" in alert["message"] and "not-a-code" in alert["message"], alert
    states = task_states(dags["tongban_deadlines"].test())
    assert states["scan_deadlines"] == ("success", 1)  # the check after it fails: the sync's alert is open
