"""Honest run bookkeeping, from the CLI as from Airflow: a run that fails anywhere is closed as failed with its
reason and alerts; a run that rejects too much ends degraded, exits non-zero and alerts; stored errors carry no
personal data; a clean run resolves the alerts."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from sqlalchemy import select

from gateway.contract.connector import CheckResult, Connector, Page, StreamInfo
from gateway.contract.errors import FatalSyncError
from gateway.ops.alerts import open_alerts
from gateway.store.tables import runs
from gateway.sync.engine import SyncFailed, sync_system

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _cli(world: Any, *args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(world.cli(*args), env=dict(env or world.env), capture_output=True, text=True, timeout=300)


def _last_run(world: Any, system: str) -> Any:
    with world.runtime.engine.connect() as conn:
        return conn.execute(select(runs).where(runs.c.system == system).order_by(runs.c.id.desc()).limit(1)).first()


def test_an_unset_secret_fails_the_run_it_started_with_the_reason_and_an_alert(make_world: Any) -> None:
    world = make_world(civil=20, estate=0)
    env = {k: v for k, v in world.env.items() if k != "TONGBAN_SD_CIVIL_API_KEY"}
    result = _cli(world, "sync", "sd_civil", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    run = _last_run(world, "sd_civil")
    assert run.status == "failed" and run.finished_at is not None  # never left "running"
    assert "TONGBAN_SD_CIVIL_API_KEY" in run.error or "api_key" in run.error
    alerts = open_alerts(world.runtime.engine, kind="sync_failed", system="sd_civil")
    assert len(alerts) == 1 and alerts[0]["level"] == "error"
    ok = _cli(world, "sync", "sd_civil", "--json")
    assert ok.returncode == 0, ok.stderr
    assert open_alerts(world.runtime.engine, kind="sync_failed", system="sd_civil") == []


def test_a_run_that_rejects_every_record_is_degraded_not_green(make_world: Any, tmp_path: Path) -> None:
    mapping = yaml.safe_load((REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8"))
    mapping["fields"]["case_no"] = {"path": "noSuchField", "required": True}
    broken = tmp_path / "sd_civil_broken.yaml"
    broken.write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    world = make_world(civil=30, estate=0, mappings={"sd_civil": broken})
    result = _cli(world, "sync", "sd_civil", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["status"] == "degraded" and report["rejected"] == report["read"] == 30
    human = _cli(world, "sync", "sd_civil", "--full-refresh")
    assert human.returncode == 1 and "degraded" in human.stdout and "max_rejected_share" in human.stderr
    assert _last_run(world, "sd_civil").status == "degraded"
    alerts = open_alerts(world.runtime.engine, kind="sync_degraded", system="sd_civil")
    assert len(alerts) == 1 and "30 of 30 records rejected" in alerts[0]["message"]
    assert alerts[0]["level"] == "error"  # as the README says: the deadlines DAG's check_alerts fails on it


class _LeakyFailure(Connector):
    """A source whose error message quotes a response body full of personal data."""

    kind: ClassVar[str] = "leaky"

    def check(self) -> CheckResult:
        return CheckResult(True, "ok")

    def streams(self) -> list[StreamInfo]:
        return [StreamInfo("cases", readable=True, writable=False, incremental=True, ordered=True)]

    def read(self, stream: str, *, since: datetime | None = None, mode: Any = "incremental",
             checkpoint: Mapping[str, Any] | None = None) -> Iterator[Page]:
        raise FatalSyncError('HTTP 500: {"sqrxm":"欧阳娜娜","zjhm":"370102198506011234","lxdh":"13812345678"}')


def test_stored_run_errors_mask_personal_data(make_world: Any) -> None:
    world = make_world(civil=0, estate=0)
    with pytest.raises(SyncFailed) as caught:
        sync_system(world.runtime, "sd_civil", connector=_LeakyFailure({}))
    stored = _last_run(world, "sd_civil").error
    for secret in ("370102198506011234", "13812345678", "欧阳娜娜"):
        assert secret not in stored and secret not in str(caught.value)
        assert secret not in open_alerts(world.runtime.engine, kind="sync_failed")[0]["message"]
    assert "370***********1234" in stored and "138****5678" in stored
