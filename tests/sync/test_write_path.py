"""The write path at scale (issue 16), on both backends: compact raw payloads that still read in every encoding,
unchanged records skipped by the hash of their raw bytes before mapping, and PostgreSQL's COPY path with
autovacuum off (no table statistics) keeping newer-wins, no loss and no duplicates."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from sqlalchemy import event, func, select, text, update

from gateway.contract.connector import RawRecord
from gateway.crypto.keys import GatewayKeys
from gateway.crypto.pii import PiiCodec
from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.mapping.mapper import Mapper
from gateway.models import BEIJING
from gateway.store import ledger, payloads
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.retention import reseal_all
from gateway.store.tables import cases, outbox, payload_dictionaries, source_records
from gateway.sync.ingest import IngestContext, ingest_page
from gateway.sync.reprocess import remap_system
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]


class CountingMapper:
    """The system's mapper, counting the records it maps (a skipped record is never mapped)."""

    def __init__(self, mapper: Mapper) -> None:
        self._mapper = mapper
        self.mapped = 0

    def __getattr__(self, name: str):
        return getattr(self._mapper, name)

    def inbound(self, payload, context):
        self.mapped += 1
        return self._mapper.inbound(payload, context)


@pytest.fixture
def env(database_url: str):
    engine = make_engine(database_url)
    upgrade(engine)
    systems = load_systems(REPO / "config" / "systems.yaml")

    def ctx(pii: PiiCodec | None = None, **options) -> IngestContext:
        system = systems.get("sd_civil")
        return IngestContext(system=system, systems=systems, mapper=CountingMapper(Mapper.from_file(system.mapping_path)),
                             stream=system.stream, pii=pii, **options)

    yield engine, ctx, systems
    engine.dispose()


def raw(record: dict, later: timedelta = timedelta(0)) -> RawRecord:
    cursor = datetime.strptime(record["updateTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING) + later
    return RawRecord(source_id=record["id"], cursor=cursor, payload=record)


def ingest(engine, context, records):
    with engine.begin() as conn:
        return ingest_page(conn, context, records)


def stored(engine, source_id: str):
    with engine.connect() as conn:
        return conn.execute(select(source_records).where(source_records.c.source_id == source_id)).mappings().one()


def test_payloads_round_trip_clear_and_sealed_with_and_without_a_dictionary() -> None:
    records = [civil.generate(7, i) for i in range(400)]
    samples = [orjson.dumps(r) for r in records[:300]]
    dictionary = payloads.train(samples)
    assert dictionary is not None and payloads.train(samples[:10]) is None  # too few to learn from
    did = payloads.register(dictionary)
    pii = PiiCodec(GatewayKeys.generate())
    for record in records[300:]:  # records the dictionary was not trained on
        data = orjson.dumps(record)
        bare, clear, sealed = payloads.pack(data), payloads.pack(data, None, did), payloads.pack(data, pii, did)
        assert clear[:1] == payloads.CLEAR and sealed[:1] == payloads.SEALED
        assert len(clear) < len(bare) < len(data) * 0.7 and len(clear) < len(data) * 0.35
        assert record["applicant"]["certNo"].encode() not in sealed
        assert orjson.loads(payloads.unpack(bare, None)) == record
        assert orjson.loads(payloads.unpack(clear, None)) == record
        assert orjson.loads(payloads.unpack(sealed, None, pii)) == record
    with pytest.raises(Exception, match="sealed"):
        payloads.unpack(sealed, None, None)
    # rows written before migration 0006: JSON text in ``raw``, clear or an encb: blob
    data = orjson.dumps(records[0])
    assert orjson.loads(payloads.unpack(None, data.decode())) == records[0]
    assert orjson.loads(payloads.unpack(None, pii.seal_blob(data.decode()), pii)) == records[0]


def test_a_dictionary_is_trained_once_per_system_and_read_back_by_a_fresh_process(env) -> None:
    engine, ctx, _ = env
    context = ctx()
    records = [raw(civil.generate(11, i)) for i in range(300)]
    ingest(engine, context, records)
    payload = stored(engine, records[0].source_id)["payload"]
    with engine.connect() as conn:
        dictionaries = conn.execute(select(payload_dictionaries.c.id, payload_dictionaries.c.system)).all()
        assert [d.system for d in dictionaries] == ["sd_civil"]
        assert bytes(payload)[1:9].hex() == dictionaries[0].id
        # a process that never saw the dictionary loads it from the ledger by the id the payload names
        payloads._compressors.pop(bytes.fromhex(dictionaries[0].id))
        payloads._decompressors.pop(bytes.fromhex(dictionaries[0].id))
        assert ledger.raw_payloads(conn, "sd_civil")[records[0].source_id] == records[0].payload
    ingest(engine, ctx(), [raw(civil.generate(11, i)) for i in range(300, 600)])  # a later run: the same one
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payload_dictionaries)).scalar_one() == 1


def test_an_unchanged_record_is_skipped_before_mapping_and_a_changed_one_is_not(env) -> None:
    engine, ctx, _ = env
    context = ctx()
    records = [raw(civil.generate(7, i)) for i in range(50)]
    first = ingest(engine, context, records)
    assert first.inserted == 50 and context.mapper.mapped == 50
    row = stored(engine, records[0].source_id)
    assert row["raw"] is None and row["payload"][:1] == payloads.CLEAR and len(row["raw_hash"]) == 32

    changed = copy.deepcopy(civil.generate(7, 3))
    changed["summary"] = "补正后的办理摘要"
    again = [*records[:3], raw(changed, timedelta(minutes=5)), *records[4:]]
    second = ingest(engine, context, again)
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 49)
    assert context.mapper.mapped == 51  # only the changed one was mapped again
    with engine.connect() as conn:
        assert ledger.raw_payloads(conn, "sd_civil")[changed["id"]]["summary"] == "补正后的办理摘要"
        assert conn.execute(select(func.count()).select_from(outbox)
                            .where(outbox.c.case_no == changed["projectNo"], outbox.c.version == 2)).scalar_one() >= 1

    # another mapping version maps everything again (and then skips again under it)
    other = ctx()
    other.mapper._mapper.version = "99"
    third = ingest(engine, other, again)
    assert other.mapper.mapped == 50 and third.unchanged == 50 and third.updated == 0
    assert stored(engine, records[0].source_id)["mapping_version"].startswith("99")
    ingest(engine, other, again)
    assert other.mapper.mapped == 50

    # an older copy with other bytes is still never written over a newer one
    older = copy.deepcopy(civil.generate(7, 3))
    older["summary"] = "旧的"
    ingest(engine, context, [raw(older, timedelta(minutes=-5))])
    with engine.connect() as conn:
        assert ledger.raw_payloads(conn, "sd_civil")[changed["id"]]["summary"] == "补正后的办理摘要"


def test_rows_written_before_0006_still_read_remap_and_are_compacted_when_seen_again(env) -> None:
    engine, ctx, systems = env
    keys = GatewayKeys.generate()
    pii = PiiCodec(keys)
    first, second = civil.generate(7, 1), civil.generate(7, 2)
    ingest(engine, ctx(pii), [raw(first), raw(second)])

    def make_old() -> None:  # the pre-0006 encoding: text in raw (clear, or an encb: blob), no payload, no hash
        with engine.begin() as conn:
            for record, text_form in ((first, orjson.dumps(first).decode()),
                                      (second, pii.seal_blob(orjson.dumps(second).decode()))):
                conn.execute(update(source_records).where(source_records.c.source_id == record["id"])
                             .values(raw=text_form, payload=None, raw_hash=None))

    def compact() -> bool:
        rows = [stored(engine, record["id"]) for record in (first, second)]
        return all(r["raw"] is None and r["payload"][:1] == payloads.SEALED and r["raw_hash"] for r in rows)

    make_old()
    with engine.connect() as conn:
        assert ledger.raw_payloads(conn, "sd_civil", pii) == {first["id"]: first, second["id"]: second}
    context = ctx(pii)
    result = ingest(engine, context, [raw(first), raw(second)])
    assert result.unchanged == 2 and context.mapper.mapped == 2  # no raw hash yet: mapped, then compacted
    assert compact()
    again = ctx(pii)
    ingest(engine, again, [raw(first), raw(second)])
    assert again.mapper.mapped == 0

    make_old()
    report = remap_system(Runtime(systems=systems, engine=engine, pii=pii), "sd_civil")
    assert report.counts.read == 2 and report.counts.rejected == 0 and report.counts.unchanged == 2
    assert compact()


def test_rotation_reseals_compact_payloads(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    systems = load_systems(REPO / "config" / "systems.yaml")
    system = systems.get("sd_civil")
    old_keys = GatewayKeys.generate()
    context = IngestContext(system=system, systems=systems, mapper=Mapper.from_file(system.mapping_path),
                            stream=system.stream, pii=PiiCodec(old_keys))
    record = civil.generate(7, 4)
    ingest(engine, context, [raw(record)])
    new = PiiCodec(old_keys.rotated())
    assert reseal_all(engine, new)["source_records.payload"] == 1
    payload = stored(engine, record["id"])["payload"]
    assert payloads.is_sealed_with(payload, new.current, new)
    assert orjson.loads(payloads.unpack(payload, None, new)) == record
    assert reseal_all(engine, new)["source_records.payload"] == 0
    engine.dispose()


@pytest.mark.postgres
def test_postgres_copy_path_without_statistics_keeps_newer_wins_and_loses_nothing(env, monkeypatch) -> None:
    engine, ctx, _ = env
    if engine.dialect.name != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    with engine.begin() as conn:
        for table in ("source_records", "cases", "outbox", "dead_letters"):
            conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    driver_rows = ledger._driver_rows  # the hot lookups go straight to the driver: record them too

    def recorded(conn, sql, params):  # type: ignore[no-untyped-def]
        statements.append(sql)
        return driver_rows(conn, sql, params)

    monkeypatch.setattr(ledger, "_driver_rows", recorded)
    context = ctx(PiiCodec(GatewayKeys.generate()))
    page = [raw(civil.generate(9, i)) for i in range(2500)]
    first = ingest(engine, context, page)
    assert first.inserted + first.rejected == 2500
    changed = [raw({**r.payload, "areaCode": "370102"}, timedelta(days=1)) if i % 10 == 0 else r
               for i, r in enumerate(page)]
    older = [raw({**r.payload, "areaCode": "370199"}, timedelta(days=-1)) for r in page[:100]]
    second = ingest(engine, context, changed + older)  # the older copies lose against the newer ones of the page
    written = list(statements)
    kept_ids = _kept(engine)
    assert second.updated == sum(1 for i in range(0, 2500, 10) if page[i].source_id in kept_ids)
    with engine.connect() as conn:
        kept = ledger.raw_payloads(conn, "sd_civil", context.pii)
        assert conn.execute(select(func.count()).select_from(source_records)).scalar_one() == first.inserted
        duplicates = conn.execute(text("SELECT count(*) FROM (SELECT case_no, version, target_system FROM outbox "
                                       "GROUP BY 1, 2, 3 HAVING count(*) > 1) d")).scalar_one()
        versions = dict(conn.execute(select(cases.c.case_no, cases.c.version)).all())
    assert duplicates == 0
    for i in range(0, 2500, 10):
        if page[i].source_id in kept:
            assert kept[page[i].source_id]["areaCode"] == "370102"
            assert versions[page[i].payload["projectNo"]] == 2
    assert all(kept[r.source_id]["areaCode"] != "370199" for r in page[:100] if r.source_id in kept)
    # no lookup spells out its ids as a parameter list: one array parameter, whatever the page size
    lookups = [s for s in written if "WHERE" in s and ("FROM source_records" in s or "FROM cases" in s)]
    assert lookups and all(" IN (" not in s and "ANY" in s for s in lookups)


def _kept(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(source_records.c.source_id)).scalars())


def test_timestamps_written_by_the_bulk_path_read_back_as_written(env) -> None:
    engine, ctx, _ = env
    record = civil.generate(7, 8)
    ingest(engine, ctx(), [raw(record)])
    row = stored(engine, record["id"])
    cursor = datetime.strptime(record["updateTime"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    assert row["cursor"] == cursor.astimezone(timezone.utc)
    assert row["first_seen_at"] == row["updated_at"]


class _ListConnector:
    """A source answering with fixed pages (what a connector hands the engine)."""

    def __init__(self, pages: list[list[RawRecord]]) -> None:
        self.pages = pages

    def streams(self):
        from gateway.contract.connector import StreamInfo

        return [StreamInfo(name="cases")]

    def read(self, stream, *, since=None, mode="incremental", checkpoint=None):
        from gateway.contract.connector import Page

        for records in self.pages:
            yield Page(records=records)

    def close(self) -> None:
        pass


def test_a_bulk_load_refreshes_the_planner_statistics(env, monkeypatch) -> None:
    engine, _, systems = env
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("source_records", "cases", "outbox"):
                conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
    from gateway.sync.engine import sync_system

    monkeypatch.setattr(ledger, "ANALYZE_AFTER", 100)
    runtime = Runtime(systems=systems, engine=engine)
    pages = [[raw(civil.generate(13, i)) for i in range(start, start + 100)] for start in (0, 100)]
    report = sync_system(runtime, "sd_civil", connector=_ListConnector(pages))
    assert report.status == "succeeded" and report.counts.inserted + report.counts.rejected == 200
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            tuples = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'cases'")).scalar_one()
        assert tuples >= report.counts.inserted * 0.9  # ANALYZE ran: without it, never analysed (-1)
        with engine.begin() as conn:  # a routine run on an analysed ledger does not pay for sampling it again
            assert ledger.refresh_statistics(conn, 10) == []
            assert ledger.refresh_statistics(conn, 10_000) == ["source_records", "cases", "outbox"]


def test_a_ledger_at_0005_upgrades_and_its_rows_still_read(database_url: str) -> None:
    """Migration 0006 on a populated ledger: the text payloads written before stay readable and re-mappable."""
    from gateway.store.migrate import head_revision

    engine = make_engine(database_url)
    upgrade(engine, "0005_run_quality")
    record = civil.generate(7, 21)
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO source_records (system, source_id, stream, case_no, cursor, content_hash, raw, "
            "mapping_version, deleted, first_seen_at, updated_at) VALUES (:system, :sid, 'cases', :case_no, :now, "
            "NULL, :raw, '1', false, :now, :now)"),
            {"system": "sd_civil", "sid": record["id"], "case_no": record["projectNo"], "raw": orjson.dumps(record).decode(),
             "now": now.replace(tzinfo=None)})
    assert upgrade(engine) == head_revision()
    with engine.connect() as conn:
        assert ledger.raw_payloads(conn, "sd_civil") == {record["id"]: record}
    systems = load_systems(REPO / "config" / "systems.yaml")
    report = remap_system(Runtime(systems=systems, engine=engine), "sd_civil")
    assert report.counts.read == 1 and report.counts.rejected == 0
    row = stored(engine, record["id"])
    assert row["raw"] is None and row["payload"] is not None and row["raw_hash"]
    engine.dispose()


def test_a_changed_case_is_written_once_marked_due_and_guarded_by_its_version(env) -> None:
    """The sync's UPDATE of a changed case marks it due for the deadline scan itself (what migration 0011's
    trigger does for other writers), holds the expected version as its guard (a case changed under the run rolls
    the page back, nothing half-written), and reads back the whole document."""
    engine, ctx, _ = env
    records = [raw(civil.generate(5, i)) for i in range(20)]
    ingest(engine, ctx(), records)
    case_no = records[2].payload["projectNo"]
    future = datetime(2030, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as conn:  # the deadline scan filed every clock's next check
        conn.execute(update(cases).values(clock_due_at=future))

    changed = copy.deepcopy(records[2].payload)
    changed["summary"] = "补正后的办理摘要"
    report = ingest(engine, ctx(), [raw(changed, timedelta(minutes=5))])
    assert report.updated == 1
    with engine.connect() as conn:
        rows = {r.case_no: r for r in conn.execute(select(cases.c.case_no, cases.c.version, cases.c.clock_due_at,
                                                            cases.c.data))}
    assert rows[case_no].version == 2 and rows[case_no].clock_due_at == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert orjson.loads(rows[case_no].data)["summary"] == "补正后的办理摘要"
    assert all(r.clock_due_at == future for n, r in rows.items() if n != case_no)  # the others were not touched

    # another writer bumps the version between the page's read and its write: the page is refused whole
    again = copy.deepcopy(changed)
    again["summary"] = "再次补正"
    state = ledger.case_state

    def bumped(conn, case_nos):
        found = state(conn, case_nos)
        conn.execute(update(cases).where(cases.c.case_no == case_no).values(version=cases.c.version + 1))
        return found

    import gateway.store.ledger as ledger_module
    ledger_module.case_state = bumped
    try:
        with pytest.raises(RuntimeError, match="changed under this run"):
            ingest(engine, ctx(), [raw(again, timedelta(minutes=10))])
    finally:
        ledger_module.case_state = state
    with engine.connect() as conn:
        row = conn.execute(select(cases.c.version, cases.c.data).where(cases.c.case_no == case_no)).one()
    source = stored(engine, records[2].source_id)
    assert row.version == 2 and orjson.loads(row.data)["summary"] == "补正后的办理摘要"
    assert source["cursor"] == records[2].cursor + timedelta(minutes=5)  # the refused page's source row rolled back


def test_a_record_that_fails_again_is_the_same_dead_letter_one_more_attempt(env) -> None:
    """A rejected record read again refreshes its dead letter (newest reason, one more attempt), and two copies
    of one undecodable payload in a page are one dead letter (PostgreSQL refuses a statement that touches a row
    twice)."""
    engine, ctx, _ = env
    from gateway.contract.errors import SkippableSyncError
    from gateway.store.tables import dead_letters

    broken = copy.deepcopy(civil.generate(9, 1))
    broken["projectNo"] = ""
    garbage = [SkippableSyncError("not JSON", raw=b"\xff\xfe<html>"), SkippableSyncError("not JSON", raw=b"\xff\xfe<html>")]
    with engine.begin() as conn:
        first = ingest_page(conn, ctx(), [raw(broken)], garbage)
    assert first.rejected == 3
    broken["applicant"]["certNo"] = "not-an-id"
    with engine.begin() as conn:
        ingest_page(conn, ctx(), [raw(broken, timedelta(minutes=1))], garbage[:1])
    with engine.connect() as conn:
        rows = {r.source_id: r for r in conn.execute(select(dead_letters).where(dead_letters.c.kind == "record"))}
    assert len(rows) == 2 and {r.status for r in rows.values()} == {"open"}
    record = rows[broken["id"]]
    assert record.attempts == 2 and record.cursor == raw(broken, timedelta(minutes=1)).cursor
    assert "projectNo" in record.reason or "case_no" in record.reason
    undecodable = next(r for k, r in rows.items() if k.startswith("undecodable:"))
    assert undecodable.attempts == 2 and "not JSON" in undecodable.reason
