"""A system behind its ``max_lag`` is a warning; three times over, nothing is syncing it (a paused DAG, a
scheduler down, runs that hang) and Airflow shows no failure anywhere — so it is an error, which the deadlines
DAG's ``check_alerts`` fails on. Before, every system could be days behind with every DAG green."""

from __future__ import annotations

from sqlalchemy import update

from gateway.ops.alerts import open_alerts
from gateway.ops.freshness import BEHIND_IS_AN_ERROR, check_freshness
from gateway.store import ledger
from gateway.store.tables import runs
from gateway.sync.engine import sync_system


def test_behind_is_a_warning_then_an_error(make_world) -> None:
    world = make_world(civil=5, estate=0)
    engine = world.runtime.engine
    sync_system(world.runtime, "sd_civil")
    lag = world.runtime.systems.get("sd_civil").max_lag
    now = ledger.utcnow()

    def last_success(ago) -> None:
        with engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.system == "sd_civil").values(finished_at=now - ago))

    last_success(lag * 0.5)
    check_freshness(world.runtime, now=now)
    assert not [a for a in open_alerts(engine, kind="behind") if a["system"] == "sd_civil"]
    last_success(lag * 2)
    check_freshness(world.runtime, now=now)
    (alert,) = [a for a in open_alerts(engine, kind="behind") if a["system"] == "sd_civil"]
    assert alert["level"] == "warning"
    last_success(lag * (BEHIND_IS_AN_ERROR + 1))
    check_freshness(world.runtime, now=now)
    (alert,) = [a for a in open_alerts(engine, kind="behind") if a["system"] == "sd_civil"]
    assert alert["level"] == "error", alert


def test_a_system_that_never_synced_becomes_an_error_once_its_alert_has_stood_long_enough(make_world) -> None:
    """Found by review: "never synced successfully" stayed a warning for ever (there is no age to compare), so a new
    system whose DAG was never unpaused kept check_alerts green for a month."""
    world = make_world(civil=0, estate=0)
    engine = world.runtime.engine
    lag = world.runtime.systems.get("jn_estate").max_lag
    now = ledger.utcnow()

    def level() -> str:
        (alert,) = [a for a in open_alerts(engine, kind="behind") if a["system"] == "jn_estate"]
        assert "never synced" in alert["message"]
        return str(alert["level"])

    check_freshness(world.runtime, now=now)
    assert level() == "warning"
    check_freshness(world.runtime, now=now + lag)
    assert level() == "warning"
    check_freshness(world.runtime, now=now + lag * (BEHIND_IS_AN_ERROR + 1))
    assert level() == "error"


def test_alerts_of_a_removed_system_are_resolved_and_any_can_be_resolved_by_hand(make_world) -> None:
    """A system removed from the systems file never runs again: its sync_failed, and the failure of its push
    task, stayed open for ever and check_alerts failed on them with nothing anyone could do."""
    import subprocess

    from gateway.ops.alerts import raise_alert

    world = make_world(civil=0, estate=0)
    engine = world.runtime.engine
    raise_alert(engine, "sync_failed", "sd_gone", level="error", system="sd_gone", message="HTTP 503")
    raise_alert(engine, "task_failed", "tongban_push.push_sd_gone", level="error", system="sd_gone", message="x")
    raise_alert(engine, "task_failed", "tongban_sync_sd_gone.publish", level="error", system="sd_gone", message="x")
    raise_alert(engine, "task_failed", "tongban_push.push_sd_hall", level="error", system="sd_hall", message="x")
    raise_alert(engine, "sync_failed", "sd_civil", level="error", system="sd_civil", message="HTTP 503")
    report = check_freshness(world.runtime)
    assert report["resolved_orphaned"] == 3
    left = {(a["kind"], a["key"]) for a in open_alerts(engine) if a["kind"] != "behind"}
    assert left == {("task_failed", "tongban_push.push_sd_hall"), ("sync_failed", "sd_civil")}

    done = subprocess.run(world.cli("alerts", "resolve", "task_failed", "tongban_push.push_sd_hall"),
                          env=world.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "resolved task_failed tongban_push.push_sd_hall" in done.stdout, done.stderr
    again = subprocess.run(world.cli("alerts", "resolve", "task_failed", "tongban_push.push_sd_hall"),
                           env=world.env, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "no open task_failed alert" in again.stderr + again.stdout
    assert {(a["kind"], a["key"]) for a in open_alerts(engine) if a["kind"] != "behind"} == {
        ("sync_failed", "sd_civil")}
