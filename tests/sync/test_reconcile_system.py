"""`tongban reconcile SYSTEM`: per day, source vs ledger vs hall, with the missing and divergent cases named."""

from __future__ import annotations

import json
import subprocess

import pytest
from sqlalchemy import delete, select, update

from gateway.ops.alerts import open_alerts
from gateway.ops.deadlines.calendar import BEIJING
from gateway.store.tables import outbox, reconciliations, source_records
from gateway.sync.engine import sync_system
from gateway.sync.push import push
from gateway.sync.reconcile import reconcile_days, reconcile_system

pytestmark = pytest.mark.slow


def test_reconcile_agrees_after_sync_and_push_then_names_what_went_missing(make_world) -> None:
    world = make_world(civil=160, estate=20)
    sync_system(world.runtime, "sd_civil")
    push(world.runtime)
    report = reconcile_system(world.runtime, "sd_civil")
    totals = report.totals()
    assert report.ok and report.hall == "sd_hall" and report.hall_view == "receipts"
    assert totals["source_count"] == totals["ledger_count"] == totals["matched"] == 160
    assert totals["hall_count"] == totals["hall_expected"] > 0
    assert all(d.source_hash == d.ledger_hash for d in report.days)
    assert not open_alerts(world.runtime.engine, kind="reconcile")
    said = subprocess.run(world.cli("reconcile", "sd_civil"), capture_output=True, text=True, env=world.env,
                          timeout=300)
    # the hall is seen by its receipts: the command says so, never that the hall itself agrees (an operator read
    # "source, ledger and hall agree" after the hall had lost every case it had acknowledged)
    assert said.returncode == 0, said.stderr
    text = " ".join(said.stdout.split())
    assert "by Tongban's delivery receipts: the hall is not read back" in text
    assert "source and ledger agree; the hall acknowledged every case" in text and "hall agree" not in text

    # a record lost from the ledger, one changed behind its back, one the hall never got, one not yet synced
    with world.runtime.engine.begin() as conn:
        (lost, lost_case), (changed, changed_case) = conn.execute(
            select(source_records.c.source_id, source_records.c.case_no).where(source_records.c.system == "sd_civil")
            .order_by(source_records.c.source_id).limit(2)).all()
        conn.execute(delete(source_records).where(source_records.c.system == "sd_civil",
                                                  source_records.c.source_id == lost))
        conn.execute(update(source_records).where(source_records.c.system == "sd_civil",
                                                  source_records.c.source_id == changed).values(content_hash="x"))
        undelivered = conn.execute(select(outbox.c.id, outbox.c.case_no).where(
            outbox.c.target_system == "sd_hall", outbox.c.status == "delivered",
            outbox.c.case_no.not_in([lost_case, changed_case])).order_by(outbox.c.id).limit(1)).first()
        conn.execute(update(outbox).where(outbox.c.id == undelivered.id).values(status="dead"))
    world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"count": 3})
    # an open alert about another day: today's differences are not "found again" for it
    from gateway.ops.alerts import raise_alert

    raise_alert(world.runtime.engine, "reconcile", "sd_civil", level="warning", system="sd_civil",
                message="an earlier difference", details={"days": ["1999-01-01"], "totals": {}})

    report = reconcile_system(world.runtime, "sd_civil")
    totals = report.totals()
    problems = {p["source_id"]: p for d in report.days for p in d.problems}
    assert not report.ok
    assert (totals["missing_in_ledger"], totals["divergent"], totals["missing_in_hall"]) == (1, 1, 1)
    assert totals["not_yet_synced"] == 3
    assert problems[lost]["problem"] == "missing_in_ledger" and problems[changed]["problem"] == "divergent"
    (in_hall,) = [p for p in problems.values() if p["case_no"] == undelivered.case_no]
    assert in_hall["problem"] == "missing_in_hall"
    with world.runtime.engine.connect() as conn:  # named by the department's record, as every other problem
        assert in_hall["source_id"] == conn.execute(select(source_records.c.source_id).where(
            source_records.c.system == "sd_civil", source_records.c.case_no == undelivered.case_no)).scalar_one()
    (alert,) = open_alerts(world.runtime.engine, kind="reconcile")
    assert alert["system"] == "sd_civil" and "1 missing in the ledger" in alert["message"]
    assert alert["level"] == "warning"  # found once: it may be timing (a change the next sync brings)
    with world.runtime.engine.connect() as conn:
        assert conn.execute(select(reconciliations.c.day).where(reconciliations.c.divergent == 1)).first()

    cli = subprocess.run(world.cli("reconcile", "sd_civil", "--json"), env=world.env, capture_output=True,
                         text=True, timeout=300)
    assert cli.returncode == 1, cli.stderr  # differences: exit code 1
    assert json.loads(cli.stdout)["totals"]["divergent"] == 1
    (alert,) = open_alerts(world.runtime.engine, kind="reconcile")  # found again: a loss, check_alerts fails on it
    assert alert["level"] == "error" and "found again by this reconciliation" in alert["message"]

    sync_system(world.runtime, "sd_civil", full_refresh=True)  # the repair: re-read, re-push
    push(world.runtime)
    with world.runtime.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == undelivered.id).values(status="delivered"))
    assert reconcile_system(world.runtime, "sd_civil").ok
    assert not open_alerts(world.runtime.engine, kind="reconcile")


def test_one_day_reads_that_day_and_agrees_with_the_full_reconciliation(make_world) -> None:
    """`--day`: the day's row equals the full run's row for that day; a problem on another day is not its own."""
    from datetime import date, datetime, time

    world = make_world(civil=160)
    sync_system(world.runtime, "sd_civil")
    push(world.runtime)
    full = {d.day: d for d in reconcile_system(world.runtime, "sd_civil", store=False).days}
    busiest = max(full.values(), key=lambda d: d.source_count)
    other = next(d for d in full.values() if d.day != busiest.day and d.day != "unknown")
    with world.runtime.engine.begin() as conn:  # one record of another day changed behind the ledger's back
        (victim,) = [p for p in conn.execute(select(source_records.c.source_id, source_records.c.cursor)
                                             .where(source_records.c.system == "sd_civil"))
                     if p.cursor.astimezone(BEIJING).date().isoformat() == other.day][:1]
        conn.execute(update(source_records).where(source_records.c.source_id == victim.source_id)
                     .values(content_hash="x"))

    report = reconcile_system(world.runtime, "sd_civil", day=date.fromisoformat(busiest.day), store=False)
    (only,) = report.days
    assert only.day == busiest.day and report.ok
    assert (only.source_count, only.ledger_count, only.matched, only.source_hash, only.ledger_hash) == (
        busiest.source_count, busiest.ledger_count, busiest.matched, busiest.source_hash, busiest.ledger_hash)
    assert (only.hall_expected, only.hall_count) == (busiest.hall_expected, busiest.hall_count)

    report = reconcile_system(world.runtime, "sd_civil", day=date.fromisoformat(other.day), store=False)
    assert not report.ok and report.totals()["divergent"] == 1
    assert [p["source_id"] for d in report.days for p in d.problems] == [victim.source_id]

    # the nightly shape (TONGBAN_RECONCILE_DAYS): several days stored as one report, one alert for the bad day
    both = reconcile_days(world.runtime, "sd_civil", sorted(date.fromisoformat(d) for d in (other.day, busiest.day)))
    assert [d.day for d in both.days] == sorted([other.day, busiest.day]) and not both.ok
    (alert,) = open_alerts(world.runtime.engine, kind="reconcile")
    assert alert["details"]["days"] == [other.day]

    # several days from ONE read of the source (since the earliest day's start), each day's row the full run's,
    # and none of the days between them
    source = world.runtime.connector("sd_civil")
    reads: list[object] = []
    read = source.read

    def counted(*args: object, **kwargs: object) -> object:
        reads.append(kwargs.get("since"))
        return read(*args, **kwargs)  # type: ignore[arg-type]

    source.read = counted  # type: ignore[method-assign]
    wanted = sorted(date.fromisoformat(d) for d in (other.day, busiest.day))
    try:
        again = reconcile_days(world.runtime, "sd_civil", wanted[::-1], store=False, connector=source)
    finally:
        source.close()
    assert reads == [datetime.combine(wanted[0], time(0), BEIJING)]
    assert [d.day for d in again.days] == [d.isoformat() for d in wanted]
    row = next(d for d in again.days if d.day == busiest.day)
    assert (row.source_count, row.ledger_count, row.matched, row.source_hash, row.ledger_hash) == (
        busiest.source_count, busiest.ledger_count, busiest.matched, busiest.source_hash, busiest.ledger_hash)
    assert next(d for d in again.days if d.day == other.day).divergent == 1

    cli = subprocess.run(world.cli("reconcile", "sd_civil", "--day", "2026-13-01"), env=world.env,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode != 0 and "not a date" in cli.stderr + cli.stdout
