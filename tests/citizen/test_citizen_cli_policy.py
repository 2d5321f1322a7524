"""The commands follow the configured time limits as the sync does (review defect 7): ``tongban evaluations
callback`` opens the rectification due ``rectification_days`` working days later at ``callback_closing``, and
``tongban workorders redo`` the redo due in ``redo_days``; 15分钟内转派率 is judged on the configured
``dispatch_minutes`` of when the order was read."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from citizen_testlib import Pages, add_case, migrated, order, rating

from gateway.citizen import parse_citizen, reply_workorder, sync_workorders, workorder_summary
from gateway.citizen.evaluations import sync_evaluations
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar

CONFIG = Path(__file__).parents[2] / "config" / "citizen.yaml"
TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=BEIJING)


def _custom(tmp_path: Path) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    for key, value in (("callback_closing", '"17:00"'), ("rectification_days", "2"), ("redo_days", "2")):
        lines = [line for line in text.splitlines() if line.strip().startswith(f"{key}:")]
        assert len(lines) == 1, key
        indent = lines[0][:len(lines[0]) - len(lines[0].lstrip())]
        text = text.replace(lines[0], f"{indent}{key}: {value}")
    path = tmp_path / "citizen.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(url: str, citizen: Path, *args: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-m", "gateway", *args, "--json"], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "TONGBAN_DATABASE_URL": url, "TONGBAN_CITIZEN": str(citizen)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_callback_and_redo_from_the_command_line_follow_the_configured_limits(sqlite_url: str,
                                                                              tmp_path: Path) -> None:
    citizen = _custom(tmp_path)
    settings, calendar = parse_citizen(citizen.read_text(encoding="utf-8")), WorkCalendar.load()
    engine = migrated(sqlite_url)
    add_case(engine, "C1", TUESDAY - timedelta(hours=1))
    sync_evaluations(engine, settings, client=Pages([rating("R1", "C1", 1, TUESDAY, TUESDAY)]), calendar=calendar,
                     now=TUESDAY)
    handed = TUESDAY - timedelta(hours=1)
    sync_workorders(engine, settings, client=Pages([order("G1", "待转派", handed, handed)]), calendar=calendar,
                    now=handed)
    reply_workorder(engine, "G1", "已处理", at=TUESDAY)
    engine.dispose()

    called = _run(sqlite_url, citizen, "evaluations", "callback", "R1", "已回访")
    redo = _run(sqlite_url, citizen, "workorders", "redo", "G1")
    # the redo counts from now; the 整改 from the 差评's callback deadline (Tuesday's close), a late callback moving
    # it no later — both the configured 2 working days, at the configured 17:00
    for out, key, start in ((called, "rect_due_at", TUESDAY.astimezone(BEIJING).date()),
                            (redo, "redo_due_at", datetime.now(BEIJING).date())):
        due = datetime.fromisoformat(out[key]).astimezone(BEIJING)
        assert (due.hour, due.minute) == (17, 0), out
        assert due.date() == calendar.add_days(start, 2), out


def test_dispatch_in_time_follows_the_configured_minutes(sqlite_url: str) -> None:
    settings = parse_citizen(CONFIG.read_text(encoding="utf-8"))
    slow = dataclasses.replace(settings, policy=dataclasses.replace(settings.policy, dispatch_minutes=30))
    engine = migrated(sqlite_url)
    sync_workorders(engine, slow, client=Pages([order("G1", "待转派", TUESDAY, TUESDAY)]), calendar=WorkCalendar.load(),
                    now=TUESDAY + timedelta(minutes=20))
    assert workorder_summary(engine, now=TUESDAY + timedelta(hours=1))["dispatched_in_time_ratio"] == 1.0
