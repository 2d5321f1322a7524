"""The deadline scan reads only what changed or fell due, and still files exactly the alerts a full read would.

Oracle: after each scan, every case evaluated directly (``evaluate``, ``evaluate_stages``, ``overdue_materials``)
at that instant — the whole picture the scan used to rebuild every time. The scan under test reads through the
``clock_due_at`` index; the steps move time forward over weekends and a holiday, change cases the way a
foreign writer would (plain SQL, no version bump), pause and resume clocks, finish and delete cases.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from gateway.ops.deadlines import BEIJING, WorkCalendar, evaluate, scan_deadlines
from gateway.ops.deadlines.scan import material_alert_key
from gateway.ops.deadlines.stages import evaluate_stages, overdue_materials
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import alerts, cases

CAL = WorkCalendar.load()
START = datetime(2026, 9, 21, 9, 0, tzinfo=BEIJING)  # the National Day week and its 调休 ahead


def make_case(i: int, rng: random.Random) -> dict:
    accepted = START - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 900))
    data = {"case_no": f"C{i:04d}", "item_code": "ITEM", "item_name": "测试事项", "dept_name": "测试局",
            "accepted_at": accepted.isoformat(), "promised_days": rng.choice([0, 1, 3, 5, 10, 20]),
            "status": "in_progress", "events": []}
    if rng.random() < 0.3:
        begun = accepted + timedelta(days=rng.randint(0, 5))
        data["stages"] = [{"name": "审核", "started_at": begun.isoformat(), "limit_days": rng.choice([1, 3, 5])}]
    if rng.random() < 0.2:
        data["deferred_materials"] = [{"name": "纳税证明", "kind": "pledged", "received_at": None,
                                       "due_at": (START + timedelta(days=rng.randint(-2, 12))).isoformat()}]
    return data


def expected_alerts(rows: list[dict], now: datetime) -> dict[tuple[str, str], str]:
    out = {}
    for data in rows:
        state = evaluate(data, CAL, now=now)
        if state is not None and state.level:
            out[("deadline", data["case_no"])] = state.level
        for st in evaluate_stages(data, CAL, now=now):
            if st.level:
                out[("deadline", f"{data['case_no']}/stage/{st.seq}")] = st.level
        seen: dict[str, int] = {}
        for m in overdue_materials(data, now=now):
            out[("deferred_material", material_alert_key(data["case_no"], m.name, seen))] = "red"
    return out


def open_alerts(engine) -> dict[tuple[str, str], str]:
    with engine.connect() as conn:
        return {(k, key): level for k, key, level in conn.execute(
            select(alerts.c.kind, alerts.c.key, alerts.c.level).where(alerts.c.status == "open"))}


def stored(engine) -> list[dict]:
    with engine.connect() as conn:
        return [json.loads(d) for d, deleted in conn.execute(select(cases.c.data, cases.c.deleted)) if not deleted]


def plant(engine, rows: list[dict]) -> None:
    """The cases in the ledger, as a sync leaves them (the column default marks each due)."""
    with engine.begin() as conn:
        conn.execute(insert(cases), [
            {"case_no": d["case_no"], "version": 1, "content_hash": "h", "data": json.dumps(d, ensure_ascii=False),
             "origin_system": "sd_civil", "origin_source_id": d["case_no"], "source_updated_at": START,
             "dept_code": None, "item_code": "ITEM", "deleted": False, "updated_at": START} for d in rows])


def write(engine, data: dict, **values) -> None:
    """A foreign writer: new content, same version (the trigger, not the writer, marks the case due)."""
    with engine.begin() as conn:
        conn.execute(update(cases).where(cases.c.case_no == data["case_no"])
                     .values(data=json.dumps(data, ensure_ascii=False), **values))


def test_the_scan_reads_what_changed_or_fell_due_and_files_what_a_full_read_would(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    rng = random.Random(20261203)
    rows = [make_case(i, rng) for i in range(120)]
    plant(engine, rows)

    report = scan_deadlines(engine, CAL, now=START)
    assert report.full and report.checked == 120
    assert open_alerts(engine) == expected_alerts(rows, START)

    report = scan_deadlines(engine, CAL, now=START + timedelta(seconds=1))
    assert not report.full and report.checked == 0  # nothing changed, nothing crossed a threshold in a second

    now = START
    for step in range(40):
        now += timedelta(hours=rng.choice([1, 3, 7, 19, 30]))
        changed = set()
        for data in rng.sample(rows, 3):
            kind = rng.choice(["finish", "pause", "resume", "receive", "delete", "touch"])
            changed.add(data["case_no"])
            if kind == "finish":
                data.update(status="finished", finished_at=now.isoformat())
            elif kind == "pause":
                data["events"].append({"kind": "special", "name": "补正", "started_at": now.isoformat(),
                                       "ended_at": None})
            elif kind == "resume":
                for event in data["events"]:
                    event["ended_at"] = event["ended_at"] or now.isoformat()
            elif kind == "receive":
                for m in data.get("deferred_materials") or []:
                    m["received_at"] = now.isoformat()
            elif kind == "touch":
                data["item_name"] = f"测试事项{step}"
            if kind == "delete":
                write(engine, data, deleted=True)
                rows.remove(data)
            else:
                write(engine, data)
        report = scan_deadlines(engine, CAL, now=now)
        assert not report.full
        assert changed <= _read_by(engine, report, changed)
        assert open_alerts(engine) == expected_alerts(rows, now), f"step {step} at {now:%m-%d %H:%M}"
        assert report.checked < len(rows)  # never a read of everything
        live = [evaluate(d, CAL, now=now) for d in rows]
        assert report.running == sum(s is not None for s in live)
        assert report.red == sum(s is not None and s.level == "red" for s in live)
        assert report.yellow == sum(s is not None and s.level == "yellow" for s in live)

    # a new calendar (one more day off) reads every clock again
    holiday = WorkCalendar(holidays=CAL.holidays | {now.date() + timedelta(days=1)}, workdays=CAL.workdays,
                           known_years=CAL.known_years, yellow_at=CAL.yellow_at)
    report = scan_deadlines(engine, holiday, now=now + timedelta(days=2))
    assert report.full and report.checked >= len(rows)
    # and so does a scan at an earlier instant than the last one
    report = scan_deadlines(engine, CAL, now=now)
    assert report.full
    assert open_alerts(engine) == expected_alerts(rows, now)
    engine.dispose()


def _read_by(engine, report, changed: set[str]) -> set[str]:
    """The changed cases are no longer due (the scan read and filed them)."""
    with engine.connect() as conn:
        due = {n for n, at in conn.execute(select(cases.c.case_no, cases.c.clock_due_at)
                                          .where(cases.c.case_no.in_(sorted(changed))))
               if at is not None and at.year == 1970}
    return changed - due


def test_a_case_written_by_the_sync_path_is_read_again(database_url: str) -> None:
    """The trigger marks a case due whatever changed it: a version bump from the ledger's own writer too."""
    engine = make_engine(database_url)
    upgrade(engine)
    data = make_case(1, random.Random(1)) | {"promised_days": 20, "stages": [], "deferred_materials": []}
    with engine.begin() as conn:
        conn.execute(insert(cases).values(
            case_no=data["case_no"], version=1, content_hash="h", data=json.dumps(data), origin_system="s",
            origin_source_id="1", source_updated_at=START, dept_code=None, item_code="ITEM", deleted=False,
            updated_at=START))
    assert scan_deadlines(engine, CAL, now=START).checked == 1
    assert scan_deadlines(engine, CAL, now=START + timedelta(minutes=1)).checked == 0
    with engine.begin() as conn:
        conn.execute(update(cases).values(version=2))
    assert scan_deadlines(engine, CAL, now=START + timedelta(minutes=2)).checked == 1
    with engine.begin() as conn:  # the scan's own filing does not mark it due again
        conn.execute(update(cases).values(clock_flags=0))
    assert scan_deadlines(engine, CAL, now=START + timedelta(minutes=3)).checked == 0
    engine.dispose()


def test_more_changed_cases_than_a_batch_are_all_read_in_one_scan(database_url: str, monkeypatch) -> None:
    """Cases marked due by the trigger (or inserted with the column default) and by SQLAlchemy spell the epoch
    differently on SQLite; a batch key rebuilt from the parsed time skipped the other spelling, so a scan read
    one batch of changed cases and left the rest to later scans, one batch each."""
    from gateway.ops.deadlines import scan as scan_module

    engine = make_engine(database_url)
    upgrade(engine)
    rng = random.Random(20261204)
    rows = [make_case(i, rng) for i in range(30)]
    plant(engine, rows)
    monkeypatch.setattr(scan_module, "_BATCH", 5)
    assert scan_deadlines(engine, CAL, now=START).checked == 30  # the first scan: every case, six batches

    for data in rows[:17]:  # a sync changes more cases than a batch between two scans
        data["item_name"] = "测试事项（改）"
        write(engine, data)
    report = scan_deadlines(engine, CAL, now=START + timedelta(seconds=1))
    assert not report.full and report.checked == 17
    assert open_alerts(engine) == expected_alerts(rows, START + timedelta(seconds=1))
    assert scan_deadlines(engine, CAL, now=START + timedelta(seconds=2)).checked == 0
    engine.dispose()


def test_the_cli_runs_the_scan_the_dag_runs(tmp_path) -> None:
    """``tongban tickets reply`` says its alert resolves "on the next deadline scan", and no command ran one: an
    operator without Airflow could not (operator walkthrough's find). ``tongban deadlines scan`` is that scan."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    rows = [make_case(i, random.Random(i)) | {"stages": [], "deferred_materials": []} for i in range(40)]
    plant(engine, rows)
    expected = expected_alerts(rows, START)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    said = subprocess.run([sys.executable, "-m", "gateway", "deadlines", "scan", "--now", START.isoformat(), "--json",
                           "--systems", str(repo / "config" / "systems.yaml"), "--database-url", url],
                          capture_output=True, text=True, timeout=300, env=env)
    assert said.returncode == 0, said.stderr
    report = json.loads(said.stdout)
    assert report["red"] == sum(1 for level in expected.values() if level == "red") > 0
    assert open_alerts(engine) == expected
