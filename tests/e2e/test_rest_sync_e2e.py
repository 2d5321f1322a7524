"""Issue 2's acceptance, end to end over real HTTP against the sandbox systems, on SQLite and PostgreSQL.

Each test starts the sandbox (civil affairs, real-estate registry, online hall) on 127.0.0.1, syncs through
the real REST connector, mapping, ledger and push job, and compares what Tongban holds with what the
sandbox holds.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from gateway.store import ledger
from gateway.store.tables import cases, dead_letters, outbox, runs, source_records, watermarks
from gateway.sync.engine import SyncFailed, sync_system
from gateway.sync.push import push
from gateway.sync.reprocess import remap_system, replay_dead_letters

REPO = Path(__file__).resolve().parents[2]
CIVIL_DEPT, ESTATE_DEPT = "11370000004390448N", "113701000042183922"

pytestmark = pytest.mark.slow


def scalar(world, query):
    with world.runtime.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def rows(world, query):
    with world.runtime.engine.connect() as conn:
        return conn.execute(query).all()


def live(record: dict) -> bool:
    return not (record.get("isDeleted") or record.get("result") in ("2", "3") or record.get("czlx") == "D")


def test_two_syncs_in_a_row_the_second_reads_only_the_overlap_and_changes_nothing(make_world) -> None:
    world = make_world(civil=400, estate=300)
    for name, total in (("sd_civil", 400), ("jn_estate", 300)):
        first = sync_system(world.runtime, name)
        assert first.counts.inserted == total and first.counts.rejected == 0
        second = sync_system(world.runtime, name)
        counts = second.counts
        assert (counts.inserted, counts.updated, counts.deleted, counts.queued) == (0, 0, 0, 0)
        assert 0 < counts.read < total / 10, f"{name}: the second run read {counts.read}, not just the overlap"
        assert world.ledger_records(name) == world.source_records(name)
        full = sync_system(world.runtime, name, full_refresh=True)  # re-reads the source from the start
        assert full.counts.read == total and full.counts.unchanged == total and full.counts.queued == 0
    assert scalar(world, select(func.count()).select_from(runs).where(runs.c.status == "succeeded")) == 6


def test_killed_at_random_points_and_rerun_the_ledger_equals_the_source(make_world) -> None:
    world = make_world(civil=12000, estate=10)
    world.sandbox.set_faults("civil", latency_ms=40)  # ~5 s of paging: room to be killed at any point
    rng = random.Random(20261121)
    killed = 0
    for _ in range(4):
        proc = subprocess.Popen(world.cli("sync", "sd_civil"), env=world.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.5, 5.0))
        if proc.poll() is None:
            proc.kill()
            killed += 1
        proc.wait(timeout=60)
        world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"count": 25})  # the source moves on meanwhile
    assert killed >= 2, "the sync finished before it could be killed: make the source slower"
    final = subprocess.run(world.cli("sync", "sd_civil", "--json"), env=world.env, capture_output=True, text=True,
                           timeout=600)
    assert final.returncode == 0, final.stderr
    source = world.source_records("sd_civil")
    assert world.ledger_records("sd_civil") == source  # nothing missing, nothing stale
    assert scalar(world, select(func.count()).select_from(cases)) == len({r["projectNo"] for r in source.values()})
    # Bookkeeping asserted on what was committed, not on timing: a process killed before it wrote its run row
    # (a slow start on a loaded machine) leaves nothing to close; every run row that was written is closed —
    # the killed ones as failed (abandoned when the next run took the lease), none left "running".
    with world.runtime.engine.connect() as conn:
        statuses = list(conn.execute(select(runs.c.status).where(runs.c.system == "sd_civil")
                                     .order_by(runs.c.id)).scalars())
    assert statuses[-1] == "succeeded" and "running" not in statuses, statuses
    assert statuses.count("failed") <= killed, (statuses, killed)


def test_records_updated_while_the_client_pages_are_not_missed(make_world) -> None:
    world = make_world(civil=1500, estate=1500)
    for name, system in (("sd_civil", "civil"), ("jn_estate", "estate")):
        world.sandbox.set_faults(system, mutate_per_page=4)
        sync_system(world.runtime, name)
        world.sandbox.set_faults(system)
        changed = world.admin(name, "GET", "/_sandbox/stats")["mutations"]
        assert changed > 20
        sync_system(world.runtime, name)  # picks up the changes made after the first run's last page
        assert world.ledger_records(name) == world.source_records(name)


def _v1_mapping(path: Path) -> Path:
    """The civil mapping as it was before two fixes: it did not know the 2024/03/05 date format nor the
    withdrawn result code "7", and it mapped step action "2" (审核) wrongly as 批准."""
    text = (REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8")
    v1 = (re.sub(r'(?m)^version: "[^"]*"$', 'version: "1"', text, count=1)
          .replace(', "yyyy/MM/dd HH:mm:ss"]', "]")
          .replace(', "7": withdrawn}', "}")
          .replace('"2": review', '"2": approve'))
    assert v1.count("yyyy/MM/dd") == 0 and '"7": withdrawn' not in v1 and '"2": approve' in v1
    path.write_text(v1, encoding="utf-8")
    return path


def test_malformed_records_dead_letter_then_a_mapping_fix_replays_and_remaps(make_world, tmp_path: Path) -> None:
    mapping = _v1_mapping(tmp_path / "sd_civil.yaml")
    world = make_world(civil=1200, estate=10, mappings={"sd_civil": mapping})
    world.sandbox.set_faults("civil", malformed_rate=0.05)
    malformed = {m["id"]: m["kind"] for m in world.admin("sd_civil", "GET", "/_sandbox/malformed")}
    assert {"bad_checksum", "impossible_date", "alt_date_format", "unknown_code"} <= set(malformed.values())
    report = sync_system(world.runtime, "sd_civil")
    assert report.counts.rejected == len(malformed)
    dead = {r.source_id: r for r in rows(world, select(dead_letters).where(dead_letters.c.status == "open"))}
    assert set(dead) == set(malformed)
    expected = {
        "bad_checksum": ("applicant.id_number", ("[resident_id.checksum]", "[uscc.checksum]")),
        "impossible_date": ("applied_at", ("[type.datetime]",)),
        "alt_date_format": ("applied_at", ("[mapping.date_format]",)),
        "unknown_code": ("result", ("[mapping.code_table]",)),
    }
    for source_id, kind in malformed.items():
        letter = dead[source_id]
        field, rules = expected[kind]
        assert f"sd_civil:{source_id}: {field}:" in letter.reason, letter.reason
        assert any(rule in letter.reason for rule in rules), letter.reason
        assert ledger.loads(letter.raw)["id"] == source_id  # the raw payload is kept
        assert letter.mapping_version.startswith("1@")
    wrong = [r for r in world.ledger_records("sd_civil").values() if any(s["action"] == "2" for s in r["steps"])]
    assert wrong, "the sandbox data should contain 审核 steps"

    # The mapping is fixed (the shipped version): replay brings in what was a mapping problem ...
    mapping.write_text((REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    replayed = replay_dead_letters(world.runtime, system="sd_civil")
    learnable = {k for k, v in malformed.items() if v in ("alt_date_format", "unknown_code")}
    assert replayed.systems["sd_civil"].inserted == len(learnable)
    still_open = {r.source_id for r in rows(world, select(dead_letters).where(dead_letters.c.status == "open"))}
    assert still_open == set(malformed) - learnable  # broken data stays rejected
    assert learnable <= set(world.ledger_records("sd_civil"))

    # ... and remap corrects what had mapped wrongly, as new versions pushed like any change.
    before = scalar(world, select(func.count()).select_from(outbox))
    remapped = remap_system(world.runtime, "sd_civil")
    assert remapped.counts.updated == len(wrong)
    data = {r.case_no: ledger.loads(r.data) for r in rows(world, select(cases.c.case_no, cases.c.data))}
    for record in wrong:
        events = data[record["projectNo"]]["events"]
        assert [e["action"] for e in events if e["kind"] == "step" and e["name"] == "审核"] == ["review"]
    assert scalar(world, select(func.count()).select_from(outbox)) > before
    assert remap_system(world.runtime, "sd_civil").counts.updated == 0  # idempotent


def test_a_case_deleted_or_voided_at_the_source_disappears_from_the_hall(make_world) -> None:
    world = make_world(civil=150, estate=150)
    for name in ("sd_civil", "jn_estate"):
        sync_system(world.runtime, name)
    assert push(world.runtime).ok
    civil = [r for r in world.source_records("sd_civil").values() if live(r)]
    estate = [r for r in world.source_records("jn_estate").values() if live(r)]
    flagged, voided, removed = civil[0], civil[1], estate[0]
    world.admin("sd_civil", "POST", "/_sandbox/delete", json={"ids": [flagged["id"]], "how": "flag"})
    world.admin("sd_civil", "POST", "/_sandbox/delete", json={"ids": [voided["id"]], "how": "void"})
    world.admin("jn_estate", "POST", "/_sandbox/delete", json={"ids": [removed["ywh"]], "how": "op"})
    assert sync_system(world.runtime, "sd_civil").counts.deleted == 2
    assert sync_system(world.runtime, "jn_estate").counts.deleted == 1
    assert push(world.runtime).ok
    hall = {c["case_no"]: c for c in world.admin("sd_hall", "GET", "/_sandbox/cases")}
    for case_no in (flagged["projectNo"], voided["projectNo"], removed["bjbh"]):
        assert hall[case_no]["deleted"] is True, case_no
    assert sum(1 for c in hall.values() if not c["deleted"]) == len(civil) + len(estate) - 3


def test_a_source_outage_fails_the_run_clearly_and_the_next_run_catches_up(make_world) -> None:
    world = make_world(civil=300, estate=10)
    sync_system(world.runtime, "sd_civil")
    mark = scalar(world, select(watermarks.c.cursor).where(watermarks.c.system == "sd_civil"))
    changed = world.admin("sd_civil", "POST", "/_sandbox/mutate", json={"count": 12})["mutated"]
    world.sandbox.set_faults("civil", outage="refuse")
    failed = subprocess.run(world.cli("sync", "sd_civil"), env=world.env, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1
    assert "sync of sd_civil failed" in failed.stderr and "SourceUnavailableError" not in failed.stdout
    assert world.sandbox.urls["civil"].split("//")[1] in failed.stderr, failed.stderr  # names the unreachable system
    assert "Traceback" not in failed.stderr
    assert scalar(world, select(watermarks.c.cursor).where(watermarks.c.system == "sd_civil")) == mark
    last = rows(world, select(runs.c.status, runs.c.error).order_by(runs.c.id.desc()).limit(1))[0]
    assert last.status == "failed" and last.error
    world.sandbox.set_faults("civil")
    caught_up = sync_system(world.runtime, "sd_civil")
    assert caught_up.counts.updated == len(changed)
    assert world.ledger_records("sd_civil") == world.source_records("sd_civil")


def test_pushing_to_the_hall_is_idempotent_under_retries_and_partial_failures(make_world) -> None:
    world = make_world(civil=80, estate=10)
    sync_system(world.runtime, "sd_civil")
    world.sandbox.set_faults("hall", error_rate=0.3)  # each 503 asks for Retry-After: 1 s, honoured
    first = push(world.runtime, targets=["sd_hall"])
    world.sandbox.set_faults("hall")
    pending = first.targets[0].pending
    from datetime import datetime, timedelta, timezone

    later = push(world.runtime, targets=["sd_hall"], now=datetime.now(timezone.utc) + timedelta(days=1))
    assert later.targets[0].pending == 0
    assert first.targets[0].delivered + later.targets[0].delivered == scalar(
        world, select(func.count()).select_from(outbox).where(outbox.c.target_system == "sd_hall"))
    assert pending == later.targets[0].delivered
    # A crash after the hall applied a write but before Tongban recorded it: the rows come round again.
    with world.runtime.engine.begin() as conn:
        conn.execute(update(outbox).values(status="pending", delivered_at=None))
    again = push(world.runtime, targets=["sd_hall"])
    assert again.targets[0].duplicates == scalar(world, select(func.count()).select_from(outbox))
    assert again.targets[0].delivered == 0
    hall = world.admin("sd_hall", "GET", "/_sandbox/cases")
    versions = dict(rows(world, select(cases.c.case_no, cases.c.version)))
    assert hall and all(c["applied_writes"] == 1 for c in hall), "a write was applied twice"
    assert all(c["version"] == versions[c["case_no"]] for c in hall)


def test_both_directions_each_case_exactly_once_and_never_back_to_its_origin(make_world) -> None:
    world = make_world(civil=120, estate=120)
    created = world.admin("sd_hall", "POST", "/_sandbox/frontdesk", json={"count": 3, "dept_code": CIVIL_DEPT})["created"]
    created += world.admin("sd_hall", "POST", "/_sandbox/frontdesk", json={"count": 2, "dept_code": ESTATE_DEPT})["created"]
    for _ in range(3):  # departments → hall, hall → departments, departments read the hall's cases back
        for name in ("sd_civil", "jn_estate", "sd_hall"):
            sync_system(world.runtime, name)
        assert push(world.runtime).ok
    civil = world.source_records("sd_civil")
    estate = world.source_records("jn_estate")
    for fd in created:
        target = civil if fd["dept_code"] == CIVIL_DEPT else estate
        key = "projectNo" if target is civil else "bjbh"
        assert sum(1 for r in target.values() if r[key] == fd["case_no"]) == 1, fd["case_no"]
    assert world.admin("sd_civil", "GET", "/_sandbox/stats")["writes_applied"] == 3
    assert world.admin("jn_estate", "GET", "/_sandbox/stats")["writes_applied"] == 2
    # Every department case reached the hall, each version applied once.
    hall = {c["case_no"]: c for c in world.admin("sd_hall", "GET", "/_sandbox/cases")}
    department_cases = {r["projectNo"] for r in civil.values() if live(r)} | {r["bjbh"] for r in estate.values()
                                                                             if live(r)}
    frontdesk = {fd["case_no"] for fd in created}
    # The hall's own cases came back unchanged from the departments: nothing to push for them.
    assert department_cases - frontdesk <= set(hall)
    assert not frontdesk & set(hall)
    assert all(c["applied_writes"] == 1 for c in hall.values())
    # Never back to the origin: no civil case queued for the civil system, no front-desk original for the hall.
    civil_native = {r["projectNo"] for r in civil.values() if r["projectNo"] not in {fd["case_no"] for fd in created}}
    echoes = rows(world, select(outbox.c.case_no).where(outbox.c.target_system == "sd_civil"))
    assert not civil_native & {r.case_no for r in echoes}
    hall_v1 = rows(world, select(outbox.c.case_no).where(outbox.c.target_system == "sd_hall", outbox.c.version == 1,
                                                         outbox.c.case_no.in_([fd["case_no"] for fd in created])))
    assert hall_v1 == []
    # And a second round with nothing new changes nothing anywhere.
    before = scalar(world, select(func.count()).select_from(outbox))
    for name in ("sd_civil", "jn_estate", "sd_hall"):
        assert sync_system(world.runtime, name).counts.queued == 0
    assert scalar(world, select(func.count()).select_from(outbox)) == before
    assert json.dumps(sorted(hall)) == json.dumps(sorted(c["case_no"] for c in world.admin("sd_hall", "GET",
                                                                                             "/_sandbox/cases")))
