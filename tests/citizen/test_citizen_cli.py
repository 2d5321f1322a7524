"""``tongban evaluations …`` and ``tongban workorders …`` as an operator runs them against the sandbox: a table
by default, ``--json`` for machines, exit code 1 with the record, field and rule when the rules refuse."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from citizen_testlib import ledger_with_cases, point_settings, start


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "TONGBAN_DATABASE_URL": url})


def test_evaluations_and_workorders_from_the_command_line(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start({"evaluator": 300, "hotline": 20})
    try:
        point_settings(monkeypatch, sandbox)
        ledger_with_cases(sqlite_url, sandbox).dispose()
        synced = _run(sqlite_url, "evaluations", "sync", "--json")
        assert synced.returncode == 0, synced.stderr
        out = json.loads(synced.stdout)
        assert out["read"]["inserted"] == out["forwarded"]["delivered"] > 200
        assert out["misuse"]["flagged"] == 10  # the planted burst

        summary = json.loads(_run(sqlite_url, "evaluations", "summary", "--json").stdout)
        assert summary["evaluations"] == out["read"]["inserted"] and summary["coverage_ok"] is True
        table = _run(sqlite_url, "evaluations", "summary")
        assert table.returncode == 0 and "差评回复率" in table.stdout and "评价率" in table.stdout

        bad = json.loads(_run(sqlite_url, "evaluations", "list", "--bad", "--json").stdout)
        assert bad and all(r["level"] <= 2 and r["callback_due_at"] for r in bad)
        done = _run(sqlite_url, "evaluations", "callback", bad[0]["rating_id"], "已回访", "--json")
        assert done.returncode == 0, done.stderr
        flagged = json.loads(_run(sqlite_url, "evaluations", "list", "--flagged", "--json").stdout)
        assert len(flagged) == 10 and all(r["channel"] == "device" for r in flagged)
        good = next(r for r in json.loads(_run(sqlite_url, "evaluations", "list", "--json").stdout) if r["level"] == 5)
        refused = _run(sqlite_url, "evaluations", "callback", good["rating_id"], "x")
        assert refused.returncode == 1 and "level" in refused.stderr and "callback.bad_only" in refused.stderr

        orders = _run(sqlite_url, "workorders", "sync", "--json")
        assert orders.returncode == 0, orders.stderr
        read = json.loads(orders.stdout)["read"]
        assert read["new"] == 20 and read["dispatched"] + read["returned"] == 20
        listed = json.loads(_run(sqlite_url, "workorders", "list", "--status", "dispatched", "--json").stdout)
        first = listed[0]["order_no"]
        dept = _run(sqlite_url, "workorders", "list", "--dept", listed[0]["dept_code"])
        assert dept.returncode == 0 and first in dept.stdout
        assert _run(sqlite_url, "workorders", "reply", first, "已处理").returncode == 0
        refused = _run(sqlite_url, "workorders", "redo", listed[1]["order_no"])
        assert refused.returncode == 1 and "redo.after_reply" in refused.stderr
        table = _run(sqlite_url, "workorders", "summary")
        assert table.returncode == 0 and "15分钟内转派" in table.stdout
    finally:
        sandbox.stop()


def test_the_kpi_summary_carries_the_citizen_figures(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.citizen import evaluation_summary, sync_evaluations
    from gateway.ops.kpi import DEFINITIONS, kpi_summary

    sandbox = start({"evaluator": 200, "hotline": 0})
    try:
        settings = point_settings(monkeypatch, sandbox)
        engine = ledger_with_cases(sqlite_url, sandbox)
        assert kpi_summary(engine)["citizen"]["evaluation_coverage"] == 0.0  # cases, none rated yet
        sync_evaluations(engine, settings)
        figures = kpi_summary(engine)["citizen"]
        own = evaluation_summary(engine)
        assert figures["evaluation_coverage"] == own["coverage"] > 0.7
        assert figures["good_review_ratio"] == own["good_ratio"] and figures["hotline_satisfaction"] is None
        assert set(figures) <= {d.name for d in DEFINITIONS}
        engine.dispose()
    finally:
        sandbox.stop()
