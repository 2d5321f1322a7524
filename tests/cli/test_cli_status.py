"""``tongban status`` as an operator reads it: a failure is never hidden behind a hundred deadlines, --json holds
every alert (also those of no system), lag in human units, times in Beijing time."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from typing import Any

from gateway.cli.output import _default, human_age, human_duration, local_time
from gateway.ops.alerts import AlertSpec, raise_alert, sync_alerts


def test_human_units_and_local_time() -> None:
    assert human_duration(177_953_714) == "5 y 234 d" and human_duration(3725) == "1 h 2 min"
    assert human_duration(42) == "42 s" and human_duration(0) == "0 s"
    # a newest change after this machine's clock (the source's runs ahead): said, not "-21 s" (walkthrough's find)
    assert human_age(-21) == "21 s ahead of this clock" and human_age(3725) == "1 h 2 min" and human_age(None) == ""
    assert local_time(datetime(2026, 12, 3, 11, 5, 12, 123456, tzinfo=timezone.utc)) == "2026-12-03 19:05:12"


def test_json_writes_times_in_beijing_time_with_their_offset() -> None:
    """--json is for machines and for people reading it: the same instant, in the time every other view shows."""
    written = json.loads(json.dumps({"at": datetime(2026, 12, 3, 16, 30, tzinfo=timezone.utc)}, default=_default))
    assert written == {"at": "2026-12-04T00:30:00+08:00"}
    assert datetime.fromisoformat(written["at"]) == datetime(2026, 12, 3, 16, 30, tzinfo=timezone.utc)


def test_a_task_failure_shows_first_among_100_deadline_alerts(make_world: Any) -> None:
    world = make_world(civil=0, estate=0)
    engine = world.runtime.engine
    sync_alerts(engine, "deadline", [AlertSpec(key=f"CASE-{n:03d}", level="red", system="sd_civil",
                                               message=f"case CASE-{n:03d} past its time limit") for n in range(100)])
    raise_alert(engine, "task_failed", "tongban_push.push_sd_hall", level="error", system=None,
                message="tongban_push.push_sd_hall failed after 3 tries: HTTP 503")
    out = subprocess.run([sys.executable, "-m", "gateway", "status", "--json", "--systems", str(world.systems_path),
                          "--database-url", world.database_url], env=world.env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["alerts"][0]["kind"] == "task_failed" and data["alerts"][0]["system"] is None  # kept, and first
    assert len(data["alerts"]) == 1 and data["alert_counts"] == {"error": 1, "red": 100}  # deadlines counted
    assert data["deadline_counts"] == [{"system": "sd_civil", "level": "red", "count": 100}]
    human = subprocess.run([sys.executable, "-m", "gateway", "status", "--systems", str(world.systems_path),
                            "--database-url", world.database_url], env={**world.env, "COLUMNS": "200"},
                           capture_output=True, text=True, timeout=120).stdout
    lines = [line for line in human.splitlines() if "task_failed" in line or "deadline" in line]
    assert "task_failed" in lines[0]  # the first alert line an operator reads


def test_warnings_survive_60_red_deadlines_and_deadlines_are_counts(make_world: Any) -> None:
    """A reconcile warning is listed however many deadlines are red; --json never lists deadlines one by one."""
    world = make_world(civil=0, estate=0)
    engine = world.runtime.engine
    sync_alerts(engine, "deadline", [AlertSpec(key=f"CASE-{n:03d}", level="red", system="sd_civil",
                                               message=f"case CASE-{n:03d} past its time limit") for n in range(60)])
    raise_alert(engine, "reconcile", "sd_civil:2026-12-03", level="warning", system="sd_civil",
                message="sd_civil 2026-12-03: 2 cases missing in the ledger")
    args = ["--systems", str(world.systems_path), "--database-url", world.database_url]
    data = json.loads(subprocess.run([sys.executable, "-m", "gateway", "status", "--json", *args], env=world.env,
                                     capture_output=True, text=True, timeout=120, check=True).stdout)
    assert [a["kind"] for a in data["alerts"]] == ["reconcile"]
    civil = next(r for r in data["systems"] if r["system"] == "sd_civil")
    assert civil["deadline_alerts"] == {"yellow": 0, "red": 60} and [a["kind"] for a in civil["alerts"]] == ["reconcile"]
    assert data["alert_counts"] == {"warning": 1, "red": 60}
    human = subprocess.run([sys.executable, "-m", "gateway", "status", *args], env={**world.env, "COLUMNS": "200"},
                           capture_output=True, text=True, timeout=120, check=True).stdout
    assert "reconcile" in human and "CASE-0" not in human  # the warning listed, the deadlines only counted
    assert any("sd_civil" in line and "60" in line for line in human.split("time limits running out")[1].splitlines())


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "gateway", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("tongban ")


def test_a_long_alert_keeps_its_remedy_and_dead_letters_outside_the_systems_file_are_shown(make_world: Any) -> None:
    """The remedy is at the end of an alert's message: status cut every message at 160 characters (and a run's
    error at 60) without a mark. Open dead letters filed under a name the systems file does not hold (the
    citizen processes' own) were in the console's count and nowhere in status."""
    from datetime import UTC

    from gateway.store.tables import dead_letters

    world = make_world(civil=0, estate=0)
    engine = world.runtime.engine
    remedy = "update the holidays package or list the year's days in config/calendar.yaml"
    raise_alert(engine, "calendar", "2027", level="warning", system=None,
                message="the working-day calendar has no statutory holidays for 2027: deadlines after 2026-12-31 "
                        "count every weekday as a working day and may be wrong; " + remedy)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(dead_letters.insert(), [
            dict(kind="record", system="evaluator", stream="ratings", source_id=f"R{n}", reason="bad",
                 issues="[]", status="open", attempts=1, created_at=now, updated_at=now) for n in range(3)])
    args = ["--systems", str(world.systems_path), "--database-url", world.database_url]
    human = subprocess.run([sys.executable, "-m", "gateway", "status", *args], env={**world.env, "COLUMNS": "400"},
                           capture_output=True, text=True, timeout=120, check=True).stdout
    words = " ".join(human.split())
    assert remedy in words
    assert "open dead letters outside the systems file" in words, human
    assert any("evaluator" in line and "3" in line for line in human.split("filed under")[1].splitlines())
    data = json.loads(subprocess.run([sys.executable, "-m", "gateway", "status", "--json", *args], env=world.env,
                                     capture_output=True, text=True, timeout=120, check=True).stdout)
    assert data["other_dead_letters"] == {"evaluator": 3}


def test_an_entry_that_does_not_validate_is_shown_not_left_out(make_world: Any) -> None:
    """The runtime loads the systems file entry by entry: an invalid entry was simply missing from the table (one
    warning line on stderr, exit 0) until the next freshness check raised its alert."""
    import yaml

    world = make_world(civil=0, estate=0)
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data["systems"]["jn_estate"]["retries"] = "three"
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    base = [sys.executable, "-m", "gateway", "status", "--systems", str(world.systems_path), "--database-url",
            world.database_url]
    out = subprocess.run([*base, "--json"], env=world.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    invalid = json.loads(out.stdout)["invalid_entries"]
    assert set(invalid) == {"jn_estate"} and "retries" in invalid["jn_estate"]
    human = subprocess.run(base, env={**world.env, "COLUMNS": "250"}, capture_output=True, text=True, timeout=120)
    assert "do not validate" in human.stdout and "jn_estate" in human.stdout


def test_an_entry_whose_mapping_file_is_not_there_is_an_invalid_entry_and_the_others_sync(make_world: Any) -> None:
    """A `mapping:` (or `connector_config:`) naming no file was not checked when the file was loaded: status showed
    the system as fine, syncs routed cases to it without a word, and only its own push said so. Now it is an
    invalid entry like any other mistake — shown, named with its file — while every other system syncs."""
    import yaml

    world = make_world(civil=3, estate=0)
    data = yaml.safe_load(world.systems_path.read_text(encoding="utf-8"))
    data["systems"]["jn_estate"]["mapping"] = "mappings/jn_estate_v2.yaml"  # a deploy that forgot the file
    world.systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    args = ["--systems", str(world.systems_path), "--database-url", world.database_url]
    out = subprocess.run([sys.executable, "-m", "gateway", "status", "--json", *args], env=world.env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    invalid = json.loads(out.stdout)["invalid_entries"]
    assert set(invalid) == {"jn_estate"} and "jn_estate_v2.yaml" in invalid["jn_estate"], invalid
    synced = subprocess.run([sys.executable, "-m", "gateway", "sync", "sd_civil", *args], env=world.env,
                            capture_output=True, text=True, timeout=300)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    refused = subprocess.run([sys.executable, "-m", "gateway", "sync", "jn_estate", *args], env=world.env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "jn_estate_v2.yaml" in refused.stdout + refused.stderr
