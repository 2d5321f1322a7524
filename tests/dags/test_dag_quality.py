"""Airflow shows what the ledger knows: a degraded sync fails the DAG's ``quality`` task (at once, no retries),
the sync DAG takes ``full_refresh`` as a param, and the task log ends with a run summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dags_testlib import task_states
from sqlalchemy import select

from gateway.orchestration.tasks import run_summary
from gateway.store.tables import runs

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_a_degraded_sync_is_a_failed_quality_task(make_world: Any, dags_for: Any, tmp_path: Path) -> None:
    mapping = yaml.safe_load((REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8"))
    mapping["fields"]["case_no"] = {"path": "noSuchField", "required": True}
    broken = tmp_path / "sd_civil_broken.yaml"
    broken.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    world = make_world(civil=20, estate=0, mappings={"sd_civil": broken})
    run = dags_for(world)["tongban_sync_sd_civil"].test()
    states = task_states(run)
    assert states["sync"] == ("success", 1)  # the run itself completed and was recorded
    assert states["quality"] == ("failed", 1)  # no retries burnt on a data problem
    assert str(run.state) == "failed"
    from gateway.ops.alerts import open_alerts

    (failed,) = open_alerts(world.runtime.engine, kind="task_failed")  # under its system, as status lists it
    assert failed["key"] == "tongban_sync_sd_civil.quality" and failed["system"] == "sd_civil"


def test_full_refresh_is_a_param_of_the_sync_dag(make_world: Any, dags_for: Any) -> None:
    world = make_world(civil=15, estate=0)
    dag = dags_for(world)["tongban_sync_sd_civil"]
    assert dag.params["full_refresh"] is False
    assert str(dag.test().state) == "success"
    assert str(dag.test(run_conf={"full_refresh": True}).state) == "success"
    with world.runtime.engine.connect() as conn:
        modes = [r.mode for r in conn.execute(select(runs).where(runs.c.system == "sd_civil").order_by(runs.c.id))]
    assert modes == ["incremental", "full_refresh"]


def test_the_run_summary_reads_like_a_load_info() -> None:
    lines = run_summary({"system": "s", "status": "succeeded", "run_id": 3, "duration_s": 1.2, "read": 10,
                         "inserted": 8, "updated": 1, "unchanged": 1, "rejected": 0, "deleted": 0, "queued": 9,
                         "watermark_before": None, "watermark_after": "2026-12-03T10:00:00+08:00",
                         "warnings": {"case.reason_required": 2}, "unmapped_source_fields": ["fee"], "error": None})
    assert lines[0].startswith("sync s succeeded (run 3, 1.2 s): read 10, inserted 8")
    assert "  quality flag case.reason_required: 2 records" in lines and any("fee" in line for line in lines)
