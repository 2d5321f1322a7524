"""A citizen sync run from a shell (cron, by hand) that fails keeps a ``citizen_sync_failed`` alert the console
shows, as the Airflow task's failure callback does for the DAG; the next run that ends well resolves it. It exited
1 and no view said so."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from citizen_testlib import ledger_with_cases, point_settings, start

from gateway.ops.alerts import open_alerts
from gateway.store.db import make_engine
from gateway.store.tables import citizen_outbox


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "TONGBAN_DATABASE_URL": url})


def _closed_port() -> str:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _due_now(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(citizen_outbox.update().values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        engine.dispose()


def _open(url: str) -> list[dict]:
    engine = make_engine(url)
    try:
        return [a for a in open_alerts(engine) if a["kind"] == "citizen_sync_failed"]
    finally:
        engine.dispose()


def test_a_failed_citizen_sync_from_a_shell_raises_its_alert_and_the_next_good_run_resolves_it(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start({"evaluator": 20, "hotline": 5})
    try:
        point_settings(monkeypatch, sandbox)
        ledger_with_cases(sqlite_url, sandbox).dispose()
        monkeypatch.setenv("TONGBAN_HOTLINE_URL", _closed_port())
        failed = _run(sqlite_url, "workorders", "sync")
        assert failed.returncode == 1, failed.stdout
        [alert] = _open(sqlite_url)
        assert alert["key"] == "workorders" and alert["level"] == "error"
        assert "tongban workorders sync failed" in alert["message"]

        monkeypatch.setenv("TONGBAN_HOTLINE_URL", sandbox.urls["hotline"])
        assert _run(sqlite_url, "workorders", "sync").returncode == 0
        assert _open(sqlite_url) == []
    finally:
        sandbox.stop()


def test_a_sync_whose_receiver_is_down_fails_and_keeps_its_alert(sqlite_url: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: the ratings were read, the provincial system refused every connection, and the run exited 0 —
    resolving the alert an earlier failure had raised. Nothing delivered while items failed is a failure (the DAG's
    rule): exit 1, the alert stays; the report is still printed."""
    sandbox = start({"evaluator": 20, "hotline": 5})
    try:
        point_settings(monkeypatch, sandbox)
        ledger_with_cases(sqlite_url, sandbox).dispose()
        monkeypatch.setenv("TONGBAN_PROVINCIAL_PJ_URL", _closed_port())
        down = _run(sqlite_url, "evaluations", "sync", "--json")
        assert down.returncode == 1, down.stdout
        assert '"forwarded"' in down.stdout  # what was read is reported all the same
        assert "nothing delivered" in down.stderr
        [alert] = _open(sqlite_url)
        assert alert["key"] == "evaluations"
        # the next run has nothing due (the items wait out their back-off): it tried nothing, so it resolves nothing
        assert _run(sqlite_url, "evaluations", "sync").returncode == 0
        assert [a["key"] for a in _open(sqlite_url)] == ["evaluations"]

        monkeypatch.setenv("TONGBAN_PROVINCIAL_PJ_URL", sandbox.urls["provincial_pj"])
        _due_now(sqlite_url)  # the back-off over
        assert _run(sqlite_url, "evaluations", "sync").returncode == 0
        assert _open(sqlite_url) == []
    finally:
        sandbox.stop()
