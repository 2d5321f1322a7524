"""DESIGN.md's data path, steps 2–5, on one page at a time: the rules of the ledger, on both backends.

Records come from the sandbox's own generators (what the civil system would send); the end-to-end tests in
``tests/e2e`` run the same path over real HTTP.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import String, func, select

from gateway.contract.connector import RawRecord
from gateway.contract.errors import SkippableSyncError
from gateway.kernel.config import load_systems
from gateway.mapping.mapper import Mapper
from gateway.store import ledger
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases, dead_letters, outbox
from gateway.sync.ingest import IngestContext, ingest_page
from sandbox import civil, hall

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(database_url: str):
    engine = make_engine(database_url)
    upgrade(engine)
    systems = load_systems(REPO / "config" / "systems.yaml")

    def ctx(name: str) -> IngestContext:
        system = systems.get(name)
        return IngestContext(system=system, systems=systems, mapper=Mapper.from_file(system.mapping_path),
                             stream=system.stream)

    yield engine, ctx
    engine.dispose()


def raw(record: dict, key: str = "id", cursor_field: str = "updateTime") -> RawRecord:
    from datetime import datetime

    from gateway.models import BEIJING

    cursor = datetime.strptime(record[cursor_field], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    return RawRecord(source_id=record[key], cursor=cursor, payload=record)


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def case_summary(engine) -> str:
    """The summary of the one case the ledger holds."""
    with engine.connect() as conn:
        return ledger.loads(conn.execute(select(cases.c.data)).scalar_one())["summary"]


def ingest(engine, context, records, rejects=()):
    with engine.begin() as conn:
        return ingest_page(conn, context, records, rejects)


def test_a_page_lands_once_and_a_second_read_changes_nothing(env) -> None:
    engine, ctx = env
    context = ctx("sd_civil")
    records = [raw(civil.generate(7, i)) for i in range(200)]
    first = ingest(engine, context, records)
    assert (first.inserted, first.updated, first.rejected) == (200, 0, 0)
    live = sum(1 for r in records if not (r.payload["isDeleted"] or r.payload["result"] in ("2", "3")))
    assert count(engine, cases) == 200
    assert count(engine, outbox, outbox.c.target_system == "sd_hall") == live  # first seen deleted: nothing to send
    assert count(engine, outbox, outbox.c.target_system == "sd_civil") == 0  # never back to the origin
    second = ingest(engine, context, records)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 200)
    assert count(engine, outbox) == live


def test_an_older_copy_never_overwrites_a_newer_one(env) -> None:
    engine, ctx = env
    context = ctx("sd_civil")
    base = civil.generate(7, 1)
    newer = copy.deepcopy(base)
    newer["summary"] = "更新后的办理摘要"
    newer_raw = raw(newer)
    newer_raw = RawRecord(newer_raw.source_id, newer_raw.cursor + timedelta(minutes=5), newer)
    ingest(engine, context, [newer_raw])
    result = ingest(engine, context, [raw(base)])
    assert result.updated == 0 and result.unchanged == 1
    assert case_summary(engine) == "更新后的办理摘要"


def test_bad_records_go_to_dead_letters_naming_field_and_rule_and_the_batch_goes_on(env) -> None:
    engine, ctx = env
    context = ctx("sd_civil")
    good = [raw(civil.generate(7, i)) for i in range(10)]
    bad_checksum = copy.deepcopy(civil.generate(7, 11))
    bad_checksum["applicant"].update(certType="111", certNo="370102198506011235")
    bad_date = copy.deepcopy(civil.generate(7, 12))
    bad_date["applyTime"] = "05.03.2024"
    undecodable = SkippableSyncError("invalid UTF-8 in record", source_id="MZ-broken", raw="\\xff\\xfe")
    result = ingest(engine, context, [*good, raw(bad_checksum), raw(bad_date)], [undecodable])
    assert result.inserted == 10 and result.rejected == 3
    with engine.connect() as conn:
        rows = {r.source_id: r for r in conn.execute(select(dead_letters))}
    assert "applicant.id_number" in rows[bad_checksum["id"]].reason
    assert "resident_id.checksum" in rows[bad_checksum["id"]].reason
    assert f"sd_civil:{bad_checksum['id']}" in rows[bad_checksum["id"]].reason
    assert "applied_at" in rows[bad_date["id"]].reason and "mapping.date_format" in rows[bad_date["id"]].reason
    assert ledger.loads(rows[bad_date["id"]].raw)["applyTime"] == "05.03.2024"  # the raw payload is kept
    assert rows["MZ-broken"].reason.endswith("[decode]")
    # the same bad record again is the same dead letter, one more attempt
    ingest(engine, context, [raw(bad_date)])
    assert count(engine, dead_letters, dead_letters.c.source_id == bad_date["id"]) == 1


def test_a_run_that_holds_its_open_dead_letters_resolves_a_record_fixed_on_a_later_page(env) -> None:
    """The engine hands a run the ids of its stream's open dead letters; a page's new dead letters join them, so a
    record rejected on one page and arriving fixed on a later one is resolved, and an id never rejected is not
    sent at all."""
    engine, ctx = env
    context = ctx("sd_civil")
    context.open_dead_letters = set()
    fixed = civil.generate(7, 21)
    broken = copy.deepcopy(fixed)
    broken["applyTime"] = "05.03.2024"
    ingest(engine, context, [raw(civil.generate(7, 20)), raw(broken)])
    assert context.open_dead_letters == {fixed["id"]}
    assert count(engine, dead_letters, dead_letters.c.status == "open") == 1
    fixed["updateTime"] = (raw(fixed).cursor + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    ingest(engine, context, [raw(civil.generate(7, 22)), raw(fixed)])
    assert context.open_dead_letters == set()
    assert count(engine, dead_letters, dead_letters.c.status == "open") == 0
    assert count(engine, dead_letters, dead_letters.c.status == "resolved", dead_letters.c.source_id == fixed["id"]) == 1


def test_cases_are_stored_without_their_defaults_and_read_whole_after_insert_and_update(env) -> None:
    from gateway.models.stored import DEFAULTS, compact_case_json

    engine, ctx = env
    context = ctx("sd_civil")
    record = civil.generate(7, 31)
    ingest(engine, context, [raw(record)])
    changed = {**record, "areaCode": "370102" if record.get("areaCode") != "370102" else "370103"}
    changed["updateTime"] = (raw(record).cursor + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    for page in ([raw(record)], [raw(changed)]):
        ingest(engine, context, page)
        with engine.connect() as conn:
            (on_disk,) = conn.execute(select(func.cast(cases.c.data, String))).scalars()  # as stored
            (whole,) = conn.execute(select(cases.c.data)).scalars()  # as every reader gets it
        assert compact_case_json(on_disk) == on_disk and len(on_disk) < len(whole)
        assert set(DEFAULTS) <= set(ledger.loads(whole)) and ledger.loads(whole)["case_no"] == record["projectNo"]


def test_a_void_at_the_source_becomes_a_tombstone_that_propagates(env) -> None:
    engine, ctx = env
    context = ctx("sd_civil")
    record = civil.generate(7, 3)
    record.update(isDeleted=0, result=None, finishTime=None, certName=None, certNo=None, resultReason=None)
    ingest(engine, context, [raw(record)])
    voided = copy.deepcopy(record)
    voided.update(result="2", finishTime=record["updateTime"], resultReason="申请人撤回")
    voided_raw = raw(voided)
    voided_raw = RawRecord(voided_raw.source_id, voided_raw.cursor + timedelta(minutes=1), voided)
    result = ingest(engine, context, [voided_raw])
    assert result.deleted == 1
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.version, outbox.c.operation).order_by(outbox.c.id)).all()
        assert conn.execute(select(cases.c.deleted)).scalar_one() is True
    assert [tuple(r) for r in rows] == [(1, "upsert"), (2, "delete")]


def test_a_front_desk_case_goes_to_its_department_only(env) -> None:
    engine, ctx = env
    context = ctx("sd_hall")
    from datetime import datetime

    record = next(r for r in (hall.generate(42, i) for i in range(50)) if r["dept_code"] == "113701000042183922")

    rr = RawRecord(record["fd_id"], datetime.fromisoformat(record["updated_at"]), record)
    result = ingest(engine, context, [rr])
    assert result.inserted == 1, result
    with engine.connect() as conn:
        targets = [r.target_system for r in conn.execute(select(outbox.c.target_system))]
    assert targets == ["jn_estate"]  # not the civil-affairs system, not back to the hall


def test_over_long_keys_cost_one_dead_letter_each_never_the_page(env) -> None:
    """A source may send a case number or a record key longer than any column: on PostgreSQL that failed the whole
    page's transaction (and every later run of the system) while the dead letter was written."""
    engine, ctx = env
    context = ctx("sd_civil")
    good = [raw(civil.generate(7, i)) for i in range(5)]
    long_case = copy.deepcopy(civil.generate(7, 21))
    long_case["projectNo"] = "P" * 300
    long_key = copy.deepcopy(civil.generate(7, 22))
    long_key["id"] = "K" * 300
    for _ in range(2):  # the same records again are the same dead letters
        result = ingest(engine, context, [*good, raw(long_case), raw(long_key)])
        assert result.rejected == 2
    assert count(engine, cases) == 5 and count(engine, dead_letters) == 2
    with engine.connect() as conn:
        rows = {r.source_id: r for r in conn.execute(select(dead_letters))}
    keyed = next(r for sid, r in rows.items() if sid.startswith("KKK"))
    assert len(keyed.source_id) == 128 and "source_id.length" in keyed.reason and keyed.attempts == 2
    assert ledger.loads(keyed.raw)["id"] == "K" * 300  # the full key is kept in the raw payload
    cased = rows[long_case["id"]]
    assert len(cased.case_no) <= 64 and "case_no" in cased.reason


def test_a_case_number_that_is_not_text_or_a_key_with_nul_is_one_dead_letter(env) -> None:
    """An object where the case number belongs, a NUL in a record's key: each was a crash of every run on
    PostgreSQL (the dead letter itself could not be written), the good records of the page lost with it."""
    engine, ctx = env
    context = ctx("sd_civil")
    good = [raw(civil.generate(7, i)) for i in range(3)]
    as_object = copy.deepcopy(civil.generate(7, 31))
    as_object["projectNo"] = {"no": "370000202101040009999"}
    as_list = copy.deepcopy(civil.generate(7, 32))
    as_list["projectNo"] = ["3700", "0020"]
    nul_key = copy.deepcopy(civil.generate(7, 33))
    nul_key["id"] = "MZ\x00BAD"
    result = ingest(engine, context, [*good, raw(as_object), raw(as_list), raw(nul_key)])
    assert (result.inserted, result.rejected) == (3, 3)
    with engine.connect() as conn:
        rows = {r.source_id: r for r in conn.execute(select(dead_letters))}
    assert rows[as_object["id"]].case_no is None and "case_no" in rows[as_object["id"]].reason
    assert rows[as_list["id"]].case_no is None
    assert "source_id.nul" in rows["MZ\ufffdBAD"].reason
    assert ledger.loads(rows["MZ\ufffdBAD"].raw)["id"] == "MZ\x00BAD"  # the raw payload keeps what was sent


def test_a_change_time_far_in_the_future_does_not_win_every_merge_after_it(env) -> None:
    """A copy of a case changed "in 2612" (a clerk's typo, a yyyyMMddHHmmss read as Unix milliseconds) merged
    with that change time, and every real change of the case from any other copy lost to it for good. Beyond the
    clock skew a source may have, the change counts as made now: it merges (flagged), and later changes win."""
    engine, ctx = env
    context = ctx("sd_civil")
    typo = copy.deepcopy(civil.generate(7, 41))
    typo["updateTime"] = "2612-01-19 20:45:23"
    typo["summary"] = "未来时间的副本"
    later = copy.deepcopy(civil.generate(7, 41))
    later["id"] = later["id"] + "-B"  # another copy of the same case (same 办件编号)
    later["summary"] = "真正的最新修改"
    from datetime import datetime

    from gateway.models import BEIJING

    # a real change made after the typo copy was read (within the clock skew a source may have)
    later["updateTime"] = (datetime.now(BEIJING) + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
    first = ingest(engine, context, [raw(typo)])
    assert first.inserted == 1
    flags = context.quality.flag_counts()
    assert flags.get("merge.future_change_time") == 1, flags
    with engine.connect() as conn:
        stored = conn.execute(select(cases.c.source_updated_at)).scalar_one()
    assert stored.year < 2100  # counted as changed when it was read
    second = ingest(engine, context, [raw(later)])
    assert second.inserted == 1  # the second copy's own source record
    assert case_summary(engine) == "真正的最新修改"


def test_a_record_fixed_after_a_future_change_time_is_taken(env) -> None:
    """A record stored with a change time "in 2612" (a typo at the source) and then fixed there — its change time
    now a real one, earlier than 2612 — was "an older copy" of itself for good: never taken, the fix never
    reached the case. A stored change time past the horizon is no evidence that anything is newer."""
    engine, ctx = env
    context = ctx("sd_civil")
    typo = copy.deepcopy(civil.generate(7, 42))
    typo["updateTime"] = "2612-01-19 20:45:23"
    typo["summary"] = "未来时间"
    assert ingest(engine, context, [raw(typo)]).inserted == 1
    fixed = copy.deepcopy(typo)
    from datetime import datetime

    from gateway.models import BEIJING

    fixed["updateTime"] = datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    fixed["summary"] = "已更正"
    assert ingest(engine, context, [raw(fixed)]).updated == 1
    assert case_summary(engine) == "已更正"


def test_a_case_stored_with_a_future_change_time_before_the_clamp_still_takes_later_changes(env) -> None:
    """Cases merged before the merge clamped change times beyond the clock skew kept their "2612": every copy
    from another system lost to it. Such a stored time is not believed either."""
    from sqlalchemy import update

    engine, ctx = env
    context = ctx("sd_civil")
    first = copy.deepcopy(civil.generate(7, 43))
    assert ingest(engine, context, [raw(first)]).inserted == 1
    from datetime import UTC, datetime

    with engine.begin() as conn:  # what such a ledger holds
        conn.execute(update(cases).values(source_updated_at=datetime(2612, 1, 19, 12, 45, 23, tzinfo=UTC)))
    other = copy.deepcopy(first)
    other["id"] = other["id"] + "-B"
    other["summary"] = "另一副本的修改"
    assert ingest(engine, context, [raw(other)]).inserted == 1
    assert case_summary(engine) == "另一副本的修改"


def test_a_source_whose_clock_runs_hours_ahead_still_never_has_a_newer_copy_overwritten(env) -> None:
    """Found by review: with the stored change time past the horizon (a source whose clock runs 90 minutes ahead,
    or Beijing time read as UTC), the older-copy guard was off: a late page's older copy overwrote the newer one,
    and every run after swapped them again, two versions and two pushes a run."""
    engine, ctx = env
    context = ctx("sd_civil")
    from datetime import datetime

    from gateway.models import BEIJING

    ahead = datetime.now(BEIJING) + timedelta(minutes=90)
    newer = copy.deepcopy(civil.generate(7, 44))
    newer["summary"] = "新版本"
    newer["updateTime"] = ahead.strftime("%Y-%m-%d %H:%M:%S")
    older = copy.deepcopy(newer)
    older["summary"] = "旧版本"
    older["updateTime"] = (ahead - timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M:%S")
    assert ingest(engine, context, [raw(newer)]).inserted == 1
    for _ in range(2):
        assert ingest(engine, context, [raw(older)]).unchanged == 1
    assert case_summary(engine) == "新版本"
    assert count(engine, outbox) == 1
