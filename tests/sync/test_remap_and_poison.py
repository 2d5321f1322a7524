"""Two ways one system's data stopped reaching the cases: a remap that fixes a mapping's timezone moves every
change time EARLIER, and the merge, comparing change times, kept the wrong ones (and the reconciliation called
the day matched); and a value the mapping was never written for made it raise, which failed the run at the same
record on every re-run. Now the record's newer copy replaces the version it wrote whatever its change time, the
reconciliation compares the merged case with the record that wrote it, and a mapping that raises on a record
dead-letters that record (``mapping.internal``) while the page goes on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pages_testlib import MemoryPages, served_records
from sqlalchemy import delete, func, select, update

import gateway.sync.engine as engine_module
from gateway.contract.connector import RawRecord
from gateway.models.datetimes import BEIJING
from gateway.ops.alerts import open_alerts
from gateway.store import ledger
from gateway.store.tables import cases, dead_letters, outbox, reconciliations, watermarks
from gateway.sync.engine import sync_system
from gateway.sync.reconcile import reconcile_system
from gateway.sync.reprocess import remap_system

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _with_version(text: str, version: str) -> str:
    return re.sub(r'(?m)^version: "[^"]*"$', f'version: "{version}"', text, count=1)


def test_a_remap_that_moves_change_times_earlier_reaches_the_cases_and_the_hall(make_world, tmp_path: Path) -> None:
    mapping = tmp_path / "sd_civil.yaml"
    right = (REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8")
    assert 'timezone: "+08:00"' in right
    mapping.write_text(_with_version(right, "utc-by-mistake").replace('timezone: "+08:00"', 'timezone: "+00:00"'),
                       encoding="utf-8")
    world = make_world(civil=20, estate=2, mappings={"sd_civil": mapping})
    assert sync_system(world.runtime, "sd_civil").counts.inserted == 20
    engine = world.runtime.engine

    def civil_cases() -> dict[str, tuple[int, str]]:
        with engine.connect() as conn:
            return {n: (v, ledger.loads(d)["updated_at"]) for n, v, d in conn.execute(
                select(cases.c.case_no, cases.c.version, cases.c.data).where(cases.c.origin_system == "sd_civil"))}

    wrong = civil_cases()
    mapping.write_text(_with_version(right, "fixed"), encoding="utf-8")  # the source speaks Beijing time
    assert remap_system(world.runtime, "sd_civil").counts.updated == 20
    fixed = civil_cases()
    assert fixed.keys() == wrong.keys()
    for case_no, (version, updated_at) in fixed.items():
        before = datetime.fromisoformat(wrong[case_no][1])
        assert version == wrong[case_no][0] + 1
        assert (before - datetime.fromisoformat(updated_at)).total_seconds() == 8 * 3600, case_no
    with engine.connect() as conn:  # each fixed version is queued for the systems that hold the case
        queued = {(n, v) for n, v in conn.execute(select(outbox.c.case_no, outbox.c.version))}
    assert {(n, v) for n, (v, _) in fixed.items()} <= queued
    assert reconcile_system(world.runtime, "sd_civil", store=False).totals()["divergent"] == 0


def test_the_reconciliation_compares_a_case_with_the_record_that_wrote_it(make_world) -> None:
    world = make_world(civil=12, estate=2)
    sync_system(world.runtime, "sd_civil")
    assert reconcile_system(world.runtime, "sd_civil", store=False).totals()["divergent"] == 0
    with world.runtime.engine.begin() as conn:
        case_no = conn.execute(select(cases.c.case_no).where(cases.c.origin_system == "sd_civil")
                               .order_by(cases.c.case_no).limit(1)).scalar_one()
        conn.execute(update(cases).where(cases.c.case_no == case_no).values(content_hash="not what the record says"))
    report = reconcile_system(world.runtime, "sd_civil", store=False)
    problems = [p for d in report.days for p in d.problems if p["problem"] != "queued_for_hall"]  # (not pushed)
    assert not report.ok and report.totals()["divergent"] == 1
    assert [(p["case_no"], p["problem"]) for p in problems] == [(case_no, "case_divergent")]


def test_a_record_the_mapping_raises_on_is_a_dead_letter_and_the_run_goes_on(make_world, monkeypatch) -> None:
    world = make_world(civil=3, estate=2)
    records = served_records(world)
    poison = RawRecord("POISON-1", records[0].cursor, {**records[0].payload, "id": "POISON-1"})
    mapper = world.runtime.mapper("sd_civil")
    inbound = mapper.inbound

    def raising(payload: Mapping[str, Any], context: Mapping[str, Any]) -> Any:
        if payload.get("id") == "POISON-1":
            raise TypeError("unhashable type: 'list'")  # what a value the compiled mapping never expected did
        return inbound(payload, context)

    monkeypatch.setattr(mapper, "inbound", raising)
    report = sync_system(world.runtime, "sd_civil", connector=MemoryPages([*records, poison]))
    assert report.status != "failed", report.error
    assert (report.counts.inserted, report.counts.rejected) == (3, 1)
    with world.runtime.engine.connect() as conn:
        (letter,) = conn.execute(select(dead_letters.c.source_id, dead_letters.c.reason, dead_letters.c.raw)
                                 .where(dead_letters.c.system == "sd_civil")).all()
    assert letter.source_id == "POISON-1" and "mapping.internal" in letter.reason and "TypeError" in letter.reason
    assert "POISON-1" in letter.raw


def test_a_rejected_record_no_dead_letter_holds_is_a_problem_of_the_day(make_world) -> None:
    """The source holds a record the mapping rejects and the dead letters do not: no sync saw it (or its letter
    was deleted by hand). Lost, like a missing record: the day is not ok, the alert says so, the row counts it."""
    world = make_world(civil=200, estate=2)
    world.sandbox.set_faults("civil", malformed_rate=0.05)
    sync_system(world.runtime, "sd_civil")
    engine = world.runtime.engine
    assert reconcile_system(world.runtime, "sd_civil").totals()["unrecorded_rejections"] == 0
    with engine.begin() as conn:  # an operator resolves them by hand, the records still broken: seen, not lost
        conn.execute(update(dead_letters).where(dead_letters.c.system == "sd_civil").values(status="resolved"))
    assert reconcile_system(world.runtime, "sd_civil").totals()["unrecorded_rejections"] == 0
    with engine.begin() as conn:
        lost = conn.execute(delete(dead_letters).where(dead_letters.c.system == "sd_civil")).rowcount
    assert lost > 0
    report = reconcile_system(world.runtime, "sd_civil")
    assert not report.ok and report.totals()["unrecorded_rejections"] == lost
    (alert,) = open_alerts(engine, kind="reconcile")
    assert f"{lost} rejected and in no dead letter" in alert["message"]
    with engine.connect() as conn:
        stored = conn.execute(select(func.sum(reconciliations.c.unrecorded_rejections))
                              .where(reconciliations.c.checked_at == report.checked_at)).scalar_one()
    assert stored == lost


def test_records_the_ledger_cannot_key_are_found_in_the_dead_letters_by_the_reconciliation(make_world) -> None:
    """A key too long for the ledger, or with a NUL, is dead-lettered under a fitted key; the reconciliation looks
    for it there, instead of calling it missing in the ledger every night."""
    world = make_world(civil=2, estate=2)
    records = served_records(world)
    odd = [RawRecord(key, records[0].cursor, {**records[0].payload, "id": key}) for key in ("K" * 300, "A\x00B")]
    source = MemoryPages([*records, *odd])
    report = sync_system(world.runtime, "sd_civil", connector=source)
    assert (report.counts.inserted, report.counts.rejected) == (2, 2)
    totals = reconcile_system(world.runtime, "sd_civil", connector=source, store=False).totals()
    assert (totals["missing_in_ledger"], totals["unrecorded_rejections"], totals["rejected"]) == (0, 0, 2)


def test_a_changed_mapping_says_the_held_records_need_a_remap_until_one_runs(make_world, tmp_path: Path,
                                                                            monkeypatch) -> None:
    """Records a sync does not read again keep what an earlier mapping made of them: a sync under a new mapping
    version opens a `mapping_changed` alert naming the remap; the remap resolves it; a first sync opens none."""
    mapping = tmp_path / "sd_civil.yaml"
    text = (REPO / "mappings" / "sd_civil.yaml").read_text(encoding="utf-8")
    mapping.write_text(_with_version(text, "old"), encoding="utf-8")
    world = make_world(civil=8, estate=2, mappings={"sd_civil": mapping})
    engine = world.runtime.engine

    def alerts() -> list[str]:
        return [a["message"] for a in open_alerts(engine, kind="mapping_changed")]

    sync_system(world.runtime, "sd_civil")
    sync_system(world.runtime, "sd_civil")
    assert alerts() == []
    mapping.write_text(_with_version(text, "new"), encoding="utf-8")
    world.runtime.reload_mapper("sd_civil")
    sync_system(world.runtime, "sd_civil")  # incremental: reads nothing again
    (message,) = alerts()
    assert "version new" in message and "version old" in message and "tongban remap sd_civil" in message
    asked: list[str] = []
    scan = ledger.mapped_otherwise
    with monkeypatch.context() as patched:
        patched.setattr(ledger, "mapped_otherwise", lambda *a: asked.append("scan") or scan(*a))
        sync_system(world.runtime, "sd_civil")  # said already: the ledger is not scanned again on every run
    assert asked == [] and len(alerts()) == 1
    remap_system(world.runtime, "sd_civil")
    assert alerts() == []
    sync_system(world.runtime, "sd_civil")
    assert alerts() == []

    # a ledger from before the version was remembered: asked once, and its current records are not "stale"
    with engine.begin() as conn:
        conn.execute(delete(watermarks).where(watermarks.c.stream == ledger.MAPPING_STREAM))
    sync_system(world.runtime, "sd_civil")
    assert alerts() == []
    with engine.connect() as conn:
        assert ledger.mapped_version(conn, "sd_civil") == world.runtime.mapper("sd_civil").version + "@" + \
            world.runtime.mapper("sd_civil").fingerprint[:12]


@pytest.mark.parametrize("held", [True, False], ids=["run-holds-open-letters", "database-asked"])
def test_records_already_dead_read_again_do_not_keep_a_system_degraded(make_world, monkeypatch, held: bool) -> None:
    """Two broken records of a quiet system, read again by every run's lookback: the first run that rejects them is
    degraded; the runs after, with nothing new at the source, are not (the letters stay open, one more attempt).
    Whether the run holds the open letters' ids or (past its limit) asks the database."""
    if not held:
        monkeypatch.setattr(engine_module, "_OPEN_DEAD_LETTERS_HELD", 0)
    world = make_world(civil=6, estate=2)
    world.sandbox.set_faults("civil", malformed_rate=0.5)
    records = served_records(world)
    pages = MemoryPages(records)
    first = sync_system(world.runtime, "sd_civil", connector=pages)
    assert first.status == "degraded" and first.counts.rejected > 0 and first.counts.rejected_again == 0
    assert open_alerts(world.runtime.engine, kind="sync_degraded")
    (alert,) = open_alerts(world.runtime.engine, kind="sync_degraded")
    again = sync_system(world.runtime, "sd_civil", connector=pages)
    assert again.status == "succeeded", again.error
    assert again.counts.rejected == again.counts.rejected_again == first.counts.rejected
    # not raised again for the same records — nor resolved while the runs still read them broken
    assert [(a["id"], a["message"]) for a in open_alerts(world.runtime.engine, kind="sync_degraded")] == \
        [(alert["id"], alert["message"])]
    with world.runtime.engine.connect() as conn:
        attempts = set(conn.execute(select(dead_letters.c.attempts).where(dead_letters.c.status == "open")).scalars())
    assert attempts == {2}
    good = [r for r in records if r.source_id not in {d for d in _open_letters(world)}]
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages(good)).status == "succeeded"
    assert not open_alerts(world.runtime.engine, kind="sync_degraded")  # the window holds no broken record now


def _open_letters(world) -> set[str]:
    with world.runtime.engine.connect() as conn:
        return set(conn.execute(select(dead_letters.c.source_id).where(dead_letters.c.status == "open")).scalars())


def test_a_system_almost_all_dead_letters_keeps_its_degraded_alert_through_full_reads(make_world) -> None:
    """A full read of a system most of whose records are dead letters already is no clean run: the degraded alert
    raised when they were first rejected stays open."""
    world = make_world(civil=20, estate=2)
    world.sandbox.set_faults("civil", malformed_rate=0.9)
    records = served_records(world)
    pages = MemoryPages(records)
    assert sync_system(world.runtime, "sd_civil", connector=pages).status == "degraded"
    for _ in range(2):
        report = sync_system(world.runtime, "sd_civil", connector=pages, full_refresh=True)
        assert report.status == "succeeded" and report.counts.rejected == report.counts.rejected_again >= 5
        assert open_alerts(world.runtime.engine, kind="sync_degraded")


def test_a_degraded_alert_says_how_it_clears_and_a_hand_resolve_holds_while_the_same_records_are_read(
        make_world) -> None:
    """A quiet system re-reading the same broken records keeps its degraded alert (they are still broken); the
    alert says how to clear it, and once an operator has, the runs that read the same records again do not
    raise it anew."""
    from gateway.ops.alerts import resolve_alerts

    world = make_world(civil=6, estate=2)
    world.sandbox.set_faults("civil", malformed_rate=0.5)
    pages = MemoryPages(served_records(world))
    assert sync_system(world.runtime, "sd_civil", connector=pages).status == "degraded"
    (alert,) = open_alerts(world.runtime.engine, kind="sync_degraded")
    assert "tongban alerts resolve sync_degraded sd_civil" in alert["message"]
    assert resolve_alerts(world.runtime.engine, "sync_degraded", ["sd_civil"]) == 1
    for _ in range(2):
        assert sync_system(world.runtime, "sd_civil", connector=pages).status == "succeeded"
        assert not open_alerts(world.runtime.engine, kind="sync_degraded")


def test_a_record_kept_with_a_mapping_flag_reconciles_as_matched(make_world) -> None:
    """A channel code the mapping flags (on_unknown: flag) keeps the record in the sync; the reconciliation reads
    it the same way — not as a rejection without a dead letter, not as a case that differs."""
    world = make_world(civil=4, estate=2)
    records = served_records(world)
    first = records[0]
    records[0] = RawRecord(first.source_id, first.cursor, {**first.payload, "applyChannel": "99"})
    report = sync_system(world.runtime, "sd_civil", connector=MemoryPages(records))
    assert report.counts.rejected == 0 and report.counts.inserted == len(records)
    result = reconcile_system(world.runtime, "sd_civil", connector=MemoryPages(records), store=False)
    totals = result.totals()
    assert totals.get("unrecorded_rejections", 0) == 0 and totals.get("rejected", 0) == 0
    assert {p["problem"] for day in result.days for p in day.problems} <= {"queued_for_hall"}  # not pushed yet


def _broken_id(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The same record with its applicant's ID number failing its checksum (a rejection, not a flag)."""
    number = payload["applicant"]["certNo"]
    wrong = next(d for d in "0123456789X" if d != number[-1])
    return {**payload, "applicant": {**payload["applicant"], "certNo": number[:-1] + wrong}}


@pytest.mark.parametrize("held", [True, False], ids=["run-holds-open-letters", "database-asked"])
def test_a_newer_version_rejected_stays_a_dead_letter_when_an_older_one_maps_again(make_world, monkeypatch,
                                                                                    held: bool) -> None:
    """The department edits a record and the new version is rejected: the ledger keeps the older good version and
    the dead letter holds the newer one, the watermark already past it. A remap (the older payload mapped again) or
    an older copy read again (a lookback, a late page) is no answer to that dead letter: resolving it lost the
    change silently (and a purge would later delete its raw payload). The fixed newer version resolves it."""
    if not held:
        monkeypatch.setattr(engine_module, "_OPEN_DEAD_LETTERS_HELD", 0)
    world = make_world(civil=4, estate=2)
    records = served_records(world)
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages(records)).counts.inserted == 4
    first = records[0]
    later = first.cursor + timedelta(days=1)
    edited = {**first.payload, "updateTime": later.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
              "areaCode": "370102" if first.payload.get("areaCode") != "370102" else "370103"}
    broken = RawRecord(first.source_id, later, _broken_id(edited))
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages([broken])).counts.rejected == 1
    assert _open_letters(world) == {first.source_id}

    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages(records)).status != "failed"
    assert _open_letters(world) == {first.source_id}  # the older copy read again: the newer one is still not in
    remap_system(world.runtime, "sd_civil")
    assert _open_letters(world) == {first.source_id}  # nor is it after a remap of what the ledger holds

    fixed = RawRecord(first.source_id, later + timedelta(minutes=1), edited)
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages([fixed])).counts.updated == 1
    assert _open_letters(world) == set()  # the newer version, fixed at the source, answers it


def test_an_older_version_rejected_again_never_replaces_the_newer_ones_dead_letter(make_world, monkeypatch) -> None:
    """The newer version is rejected (its dead letter holds the only copy of it); a release tightens a rule and the
    remap the mapping_changed alert asks for rejects the older version the ledger holds too. The dead letter kept the
    older payload and change time: the newer change was gone, and a replay would replay the older one."""
    import gateway.sync.ingest as ingest

    world = make_world(civil=4, estate=2)
    records = served_records(world)
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages(records)).counts.inserted == 4
    first = records[0]
    later = first.cursor + timedelta(days=1)
    edited = {**first.payload, "updateTime": later.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")}
    broken = RawRecord(first.source_id, later, _broken_id(edited))
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages([broken])).counts.rejected == 1

    real = ingest.map_record

    def stricter(inbound: Any, payload: Any) -> Any:  # the new release's rule rejects the older version too
        canonical, issues = real(inbound, payload)
        if isinstance(payload, dict) and payload.get("id") == first.source_id:
            issues = [*issues, ("applicant.phone", "mapping.required", "a rule this release added")]
        return canonical, issues

    monkeypatch.setattr(ingest, "map_record", stricter)
    assert remap_system(world.runtime, "sd_civil").counts.rejected == 1
    with world.runtime.engine.connect() as conn:
        (letter,) = conn.execute(select(dead_letters.c.cursor, dead_letters.c.raw, dead_letters.c.status)).all()
    assert letter.cursor == later and letter.status == "open"
    assert ledger.loads(letter.raw)["updateTime"] == edited["updateTime"]  # still the newer version's payload


def test_a_dead_letter_of_a_version_dated_past_the_horizon_is_answered_by_the_fix(make_world) -> None:
    """A version rejected with a typo'd change time (2062 for 2026), then the department's fix dated today: the fix
    is in the ledger, and its dead letter must not wait for a version later than the typo, which never comes."""
    world = make_world(civil=4, estate=2)
    records = served_records(world)
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages(records)).counts.inserted == 4
    first = records[0]
    typo = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365 * 36)
    now = datetime.now(UTC).replace(microsecond=0)

    def at(moment: datetime, payload: dict[str, Any]) -> dict[str, Any]:
        return {**payload, "updateTime": moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")}

    broken = RawRecord(first.source_id, typo, _broken_id(at(typo, first.payload)))
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages([broken])).counts.rejected == 1
    area = "370102" if first.payload.get("areaCode") != "370102" else "370103"
    fixed = RawRecord(first.source_id, now, {**at(now, first.payload), "areaCode": area})
    assert sync_system(world.runtime, "sd_civil", connector=MemoryPages([fixed])).counts.updated == 1
    assert _open_letters(world) == set()
