"""The citizen DAG, run by Airflow (``dag.test()``) against the three sandbox systems over HTTP: ratings read and
forwarded once, misuse flagged, work orders routed and dispatched once; a second run sends nothing again."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "citizen"))

from citizen_testlib import ledger_with_cases, point_settings, start  # noqa: E402


def _dag() -> Any:
    from gateway.orchestration.dagfactory import build_dags

    return build_dags()["tongban_citizen"]


def test_the_citizen_dag_forwards_ratings_and_routes_work_orders_once(database_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = start({"evaluator": 200, "hotline": 20})
    try:
        point_settings(monkeypatch, sandbox)
        monkeypatch.setenv("TONGBAN_DATABASE_URL", database_url)
        engine = ledger_with_cases(database_url, sandbox)
        dag = _dag()

        assert str(dag.test().state) == "success"
        assert str(dag.test().state) == "success"  # a second run: nothing new, nothing sent twice

        pj = requests.get(sandbox.admin_urls["provincial_pj"] + "/_sandbox/received", timeout=10).json()
        served = requests.get(sandbox.admin_urls["evaluator"] + "/_sandbox/records", timeout=10).text.splitlines()
        assert len(pj["ratings"]) == len(served) and set(pj["ratings"].values()) == {1}
        platform = requests.get(sandbox.admin_urls["hotline"] + "/_sandbox/orders", timeout=10).json()
        sent = [k for k in platform["received"] if k.startswith(("zp:", "th:"))]
        assert len(sent) == 20 and set(platform["received"].values()) == {1}
        from gateway.citizen import evaluation_summary

        assert evaluation_summary(engine)["flagged"] == 10
        engine.dispose()
    finally:
        sandbox.stop()


def test_a_deployment_without_the_citizen_systems_skips_instead_of_failing(sqlite_url: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("TONGBAN_EVALUATOR_API_KEY", "TONGBAN_PROVINCIAL_PJ_APP_ID", "TONGBAN_PROVINCIAL_PJ_APP_KEY",
                "TONGBAN_HOTLINE_APPID", "TONGBAN_HOTLINE_SECRET"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TONGBAN_DATABASE_URL", sqlite_url)
    run = _dag().test()
    assert str(run.state) == "success"
    assert {str(ti.state) for ti in run.get_task_instances()} == {"skipped"}


def test_a_receiver_that_is_down_fails_the_delivery_task_at_once_and_the_rest_goes_on(
        sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The province down: its delivery fails in one try — the queue keeps every item for the next run, five
    minutes on — instead of holding the DAG (one run at a time) through its retries while 12345 orders, which must
    be routed within 15 minutes, wait behind it; the citizen alerts are still scanned."""
    sandbox = start({"evaluator": 100, "hotline": 0})
    try:
        point_settings(monkeypatch, sandbox)
        monkeypatch.setenv("TONGBAN_DATABASE_URL", sqlite_url)
        ledger_with_cases(sqlite_url, sandbox).dispose()
        sandbox.set_faults("provincial_pj", outage=True)
        from gateway.orchestration.dagfactory import build_dags

        run = build_dags(None)["tongban_citizen"].test()
        assert str(run.state) == "failed"  # the run says a side failed (its leaves decide, not the scan)
        states = {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}
        assert states["outcome"][0] == "upstream_failed"
        assert states["evaluations"] == ("success", 1) and states["forward"] == ("failed", 1)
        assert states["workorders"] == ("success", 1) and states["replies"] == ("success", 1)
        assert states["scan"] == ("success", 1)
    finally:
        sandbox.stop()


def _states(run: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_a_wing_half_connected_fails_its_tasks_and_the_other_wing_runs(database_url: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by review: one secret of the provincial 好差评 system missing on a worker (a rotation, a new host)
    skipped every task, 12345 included — a green run while work orders waited past their 15 minutes."""
    sandbox = start({"evaluator": 20, "hotline": 4})
    try:
        point_settings(monkeypatch, sandbox)
        monkeypatch.delenv("TONGBAN_PROVINCIAL_PJ_APP_KEY")
        monkeypatch.setenv("TONGBAN_DATABASE_URL", database_url)
        ledger_with_cases(database_url, sandbox).dispose()
        run = _dag().test()
        states = _states(run)
        assert str(run.state) == "failed", states
        assert states["evaluations"] == "failed", states
        assert {states[t] for t in ("forward", "appeals", "misuse")} == {"upstream_failed"}, states
        assert states["workorders"] == states["replies"] == states["scan"] == "success", states
        platform = requests.get(sandbox.admin_urls["hotline"] + "/_sandbox/orders", timeout=10).json()
        assert len([k for k in platform["received"] if k.startswith(("zp:", "th:"))]) == 4
    finally:
        sandbox.stop()


def test_citizen_settings_that_do_not_read_fail_the_run(sqlite_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in the settings file (``dispatch_minutes: 15min``) was read as "not connected": every task skipped."""
    original = (Path(__file__).resolve().parents[2] / "config" / "citizen.yaml").read_text(encoding="utf-8")
    assert "dispatch_minutes: 15" in original
    broken = tmp_path / "citizen.yaml"
    broken.write_text(original.replace("dispatch_minutes: 15", "dispatch_minutes: 15min", 1), encoding="utf-8")
    monkeypatch.setenv("TONGBAN_CITIZEN", str(broken))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", sqlite_url)
    run = _dag().test()
    assert str(run.state) == "failed" and "skipped" not in set(_states(run).values()), _states(run)
