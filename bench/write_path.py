"""The write path against the raw floor: one process, interleaved repetitions, the same bytes on both sides.

    python bench/write_path.py                                   # 50,000 records of each size, SQLite, 3 reps
    python bench/write_path.py --records 200000 --postgres postgresql://postgres@127.0.0.1:5432/postgres

Two record shapes from the sandbox civil system's generator (1% broken the sandbox's ways): ``small`` (a case
summary: its numbers, item, applicant, department, result, certificate and times, ~540 B of JSON) and ``large`` (the whole case with them,
~1.7 KB). For each, two page files are written outside any timing: the insert round (every record once) and
the upsert round (the same records again, 10% of them changed with a newer change time).

Each repetition runs, on a fresh database, in alternating order:

- **raw floor**: ``orjson.loads`` of each page + one upsert per page of ONE NARROW row per record,
  ``(source_id, updated_at, payload)``, newer wins (``ON CONFLICT DO UPDATE ... WHERE excluded.updated_at >
  updated_at``). SQLite: one ``executemany``; PostgreSQL: ``COPY`` into a temporary table + one
  ``INSERT ... SELECT ... ON CONFLICT`` (the COPY baseline);
- **tongban**: the same page bytes through ``sync_system`` — the function ``tongban sync`` runs — with a
  connector that parses each page with ``orjson.loads``: lease, run bookkeeping, the compiled mapping, one
  validation call per page with every rule on, content hashes, newer-wins classification, merged cases, outbox
  rows, dead letters, watermark, PII sealing (ephemeral keys) — everything on.

Printed per backend and size: records/s of each round (median of the repetitions), the ratio tongban / floor
for both rounds (target ≥ 0.5, stretch 0.7), bytes on disk per record after the upsert round (and where they
go, per table and index), and the peak RSS of each side: the process's high-water mark, reset before each side
runs (``/proc/self/clear_refs``), and how far it rose above the RSS the side started from (what the side itself
needed: memory a previous side freed is not given back to the system, so the first figure includes it).
``--stages`` adds a run that times each stage of tongban's path (map, validate, hashing, payload packing,
lookups and writes per table, commits), in shares of the round and µs per record — to set beside the floor's
whole round in µs per record (1e6 / its records/s). Absolute figures are for information only: these machines are shared.
``--dlt`` adds a third side: **dlt** (``pip install -e ".[bench]"``), the same page bytes parsed with
``orjson.loads`` and loaded by one ``pipeline.run`` per round into the same kind of database through dlt's
SQLAlchemy destination — merge write disposition (``delete-insert``, the strategy that destination supports),
``id`` as primary key, created as a PRIMARY KEY constraint (``create_primary_keys``: without its index, dlt's
delete of the replaced rows scans the whole table per page and the upsert round ran at ~600 records/s), ``updateTime`` as the dedup sort (newer wins within a load); dlt's normaliser flattens the
nested applicant and splits lists into child tables, as it does for any user. Its bytes on disk count every
file or schema it writes (the dataset and its staging copy). Printed beside the others: tongban / dlt for both
rounds (the issue's optional target: ≥ 4).

The run fails (exit 1) if tongban rejects a different number of records than were generated broken.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SEED = 20261121
BROKEN_RATE = 0.01
CHANGED_SHARE = 0.10
SYSTEM = "sd_civil"
BEIJING = timezone(timedelta(hours=8))
_SMALL_KEEP = ("id", "projectNo", "taskCode", "itemName", "caseType", "applicant", "applyTime", "deptName", "deptCode",
               "areaCode", "finishTime", "result", "certName", "certNo", "isDeleted", "updateTime")
_SMALL_APPLICANT = ("name", "type", "certType", "certNo")


# -- the data, generated once per size outside any timing ----------------------------------------------


@dataclass
class Dataset:
    size: str
    records: int
    insert_pages: Path
    upsert_pages: Path
    json_bytes: int
    broken: int
    changed: int


def _shape(record: dict[str, Any], size: str) -> dict[str, Any]:
    if size == "small":
        record = {k: record[k] for k in _SMALL_KEEP if k in record}
        applicant = record.get("applicant")
        if isinstance(applicant, dict):
            record["applicant"] = {k: applicant[k] for k in _SMALL_APPLICANT if k in applicant}
    return record


def _changed(record: dict[str, Any]) -> dict[str, Any]:
    """The same case a day later, with a different handler note: a real change of content."""
    record = dict(record)
    stamp = datetime.strptime(record["updateTime"], "%Y-%m-%d %H:%M:%S") + timedelta(days=1)
    record["updateTime"] = stamp.strftime("%Y-%m-%d %H:%M:%S")
    record["areaCode"] = "370100" if record.get("areaCode") != "370100" else "370102"
    return record


def generate(workdir: Path, size: str, records: int, page_size: int) -> Dataset:
    from sandbox import civil
    from sandbox.faults import malformed_kind

    insert_path, upsert_path = workdir / f"{size}-insert.jsonl", workdir / f"{size}-upsert.jsonl"
    broken = changed = total = 0
    with insert_path.open("wb") as first, upsert_path.open("wb") as second:
        page: list[dict[str, Any]] = []
        again: list[dict[str, Any]] = []
        for i in range(records):
            record = civil.generate(SEED, i)
            kind = malformed_kind(SEED, i, BROKEN_RATE)
            if kind is not None:
                record = civil._malform(record, kind)
                broken += kind in ("bad_checksum", "impossible_date")  # the others are conventions it maps
            record = _shape(record, size)
            page.append(record)
            if (i * 7919) % 100 < CHANGED_SHARE * 100:
                again.append(_changed(record))
                changed += 1
            else:
                again.append(record)
            if len(page) == page_size or i == records - 1:
                line = orjson.dumps(page)
                total += len(line)
                first.write(line + b"\n")
                second.write(orjson.dumps(again) + b"\n")
                page, again = [], []
    return Dataset(size, records, insert_path, upsert_path, total, broken, changed)


def pages(path: Path) -> Iterator[bytes]:
    with path.open("rb") as lines:
        yield from lines


# -- peak RSS of one phase -------------------------------------------------------------------------------


def reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # Linux: reset VmHWM to the current RSS
    except OSError:
        pass


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """The process's peak RSS since the last :func:`reset_peak_rss`."""
    return _status_mb("VmHWM")


def rss_mb() -> float:
    return _status_mb("VmRSS")


# -- databases -------------------------------------------------------------------------------------------


class Database:
    """A fresh scratch database: SQLite file or a PostgreSQL database created on the server."""

    def __init__(self, backend: str, workdir: Path, server: str | None) -> None:
        self.backend = backend
        self._admin = None
        if backend == "sqlite":
            self.path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
            self.url = f"sqlite:///{self.path}"
        else:
            from sqlalchemy import create_engine, text

            admin_url = server.replace("postgresql://", "postgresql+psycopg://", 1)  # type: ignore[union-attr]
            self.name = f"tongban_bench_{uuid.uuid4().hex[:8]}"
            self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with self._admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = f"{admin_url.rpartition('/')[0]}/{self.name}"

    def drop(self) -> None:
        if self.backend == "sqlite":
            for p in self.path.parent.glob(self.path.stem + "*"):  # with -wal, -shm and dlt's datasets
                p.unlink(missing_ok=True)
            return
        from sqlalchemy import text

        assert self._admin is not None
        with self._admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


def _sqlite_file_size(path: Path) -> tuple[int, dict[str, int]]:
    import sqlite3

    raw = sqlite3.connect(path, isolation_level=None)
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        used = raw.execute("PRAGMA page_count").fetchone()[0] - raw.execute("PRAGMA freelist_count").fetchone()[0]
        try:
            parts = dict(raw.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
        except sqlite3.Error:  # dbstat not compiled in
            parts = {}
    finally:
        raw.close()
    return used * page_size, {k: int(v) for k, v in parts.items()}


def sizes_on_disk(engine: Any) -> tuple[int, dict[str, int]]:
    """Total bytes and bytes per table/index (SQLite: after a WAL checkpoint, from dbstat when compiled in; every
    database file beside it that shares its name, where dlt attaches its datasets; PostgreSQL: every user
    schema, where dlt puts its datasets)."""
    if engine.dialect.name == "sqlite":
        main = Path(engine.url.database)
        total, parts = 0, {}
        for path in [main] + sorted(main.parent.glob(main.stem + "__*.db")):
            size, file_parts = _sqlite_file_size(path)
            total += size
            prefix = "" if path == main else path.stem.partition("__")[2] + "."
            parts.update({prefix + k: v for k, v in file_parts.items()})
        return total, parts
    with engine.connect() as conn:
        parts = dict(conn.exec_driver_sql(
            "SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END, "
            "pg_relation_size(c.oid) + COALESCE(pg_total_relation_size(c.reltoastrelid), 0) "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
            "AND n.nspname !~ '^pg_(toast_)?temp_' "
            "AND c.relkind IN ('r', 'i')").all())
        return sum(int(v) for v in parts.values()), {k: int(v) for k, v in parts.items()}


# -- the raw floor ----------------------------------------------------------------------------------------


class RawFloor:
    """json.loads + one upsert per page of one narrow row per record, newer wins."""

    name = "floor"

    def __init__(self, url: str) -> None:
        from gateway.store.db import make_engine

        self.engine = make_engine(url)
        self.pg = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE raw_cases (source_id VARCHAR(128) PRIMARY KEY, "
                                 "updated_at VARCHAR(32) NOT NULL, payload TEXT NOT NULL)")

    def round(self, path: Path) -> int:
        count = 0
        upsert = ("ON CONFLICT (source_id) DO UPDATE SET updated_at = excluded.updated_at, "
                  "payload = excluded.payload WHERE excluded.updated_at > raw_cases.updated_at")
        for line in pages(path):
            page = orjson.loads(line)
            rows = [(r["id"], r["updateTime"], orjson.dumps(r).decode()) for r in page]
            with self.engine.begin() as conn:
                if self.pg:
                    raw = conn.connection.dbapi_connection
                    with raw.cursor() as cur:  # type: ignore[union-attr]
                        cur.execute("CREATE TEMP TABLE IF NOT EXISTS raw_page (source_id text, updated_at text, "
                                    "payload text) ON COMMIT DELETE ROWS")
                        with cur.copy("COPY raw_page (source_id, updated_at, payload) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                        cur.execute("INSERT INTO raw_cases SELECT DISTINCT ON (source_id) * FROM raw_page "
                                    "ORDER BY source_id, updated_at DESC " + upsert)
                else:
                    conn.exec_driver_sql("INSERT INTO raw_cases VALUES (?, ?, ?) " + upsert, rows)
            count += len(rows)
        return count

    def close(self) -> None:
        self.engine.dispose()


# -- dlt over the same bytes (--dlt) ---------------------------------------------------------------------


class Dlt:
    """dlt's own pipeline into the same kind of database: the tool the issue measured Tongban against."""

    name = "dlt"

    def __init__(self, url: str, workdir: Path) -> None:
        import dlt
        from sqlalchemy import create_engine

        self.engine = create_engine(url)
        self._pipes = workdir / f"dlt-{uuid.uuid4().hex[:8]}"
        self.pipeline = dlt.pipeline(pipeline_name="tongban_bench", pipelines_dir=str(self._pipes),
                                     destination=dlt.destinations.sqlalchemy(url, create_primary_keys=True),
                                     dataset_name="bench")

        @dlt.resource(name="cases", primary_key="id", columns={"updateTime": {"dedup_sort": "desc"}},
                      write_disposition={"disposition": "merge", "strategy": "delete-insert"})
        def cases(path: Path) -> Iterator[list[dict[str, Any]]]:
            for line in pages(path):
                yield orjson.loads(line)

        self._resource = cases

    def round(self, path: Path) -> int:
        info = self.pipeline.run(self._resource(path))
        info.raise_on_failed_jobs()
        counts = self.pipeline.last_trace.last_normalize_info.row_counts
        return int(counts.get("cases", 0))

    def close(self) -> None:
        import shutil

        self.engine.dispose()
        shutil.rmtree(self._pipes, ignore_errors=True)


# -- tongban: sync_system over the same bytes ------------------------------------------------------------


class Tongban:
    name = "tongban"

    def __init__(self, url: str, keys: Any) -> None:
        from gateway.crypto.pii import PiiCodec
        from gateway.kernel.config import load_systems
        from gateway.kernel.runtime import Runtime
        from gateway.store.db import make_engine
        from gateway.store.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
        self.runtime = Runtime(systems=load_systems(REPO / "config" / "systems.yaml"), engine=engine,
                               pii=PiiCodec(keys) if keys else None)
        self.engine = engine
        self.rejected = 0

    def round(self, path: Path) -> int:
        from gateway.sync.engine import sync_system

        report = sync_system(self.runtime, SYSTEM, connector=_PageFileConnector(path))
        self.rejected = report.counts.rejected
        return report.counts.read

    def explain_rejections(self) -> None:
        """The commonest reasons in the dead-letter store (when more was rejected than was broken)."""
        from gateway.store import queries

        with self.engine.connect() as conn:
            rows = queries.dead_letter_listing(conn, system=SYSTEM, include_resolved=True, limit=2000)
        reasons: dict[str, int] = {}
        for row in rows:
            reasons[row["reason"][:300]] = reasons.get(row["reason"][:300], 0) + 1
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:3]:
            print(f"  tongban rejected {self.rejected}: {count} of the first 2,000 dead letters say: {reason}",
                  flush=True)

    def close(self) -> None:
        self.runtime.close()


def _page_file_connector_class() -> type:
    from connectors.common.cursors import CursorCodec
    from gateway.contract.connector import CheckResult, Connector, Page, RawRecord, StreamInfo

    codec = CursorCodec("%Y-%m-%d %H:%M:%S", BEIJING)

    class PageFileConnector(Connector):
        """A source that answers with pages of JSON from a file (what a REST connector hands the engine)."""

        kind = "bench-pages"

        def __init__(self, path: Path) -> None:
            super().__init__({})
            self.path = path

        def check(self) -> CheckResult:
            return CheckResult(ok=True, message="pages from a file")

        def streams(self) -> list[StreamInfo]:
            return [StreamInfo(name="cases", ordered=False)]

        def read(self, stream: str, *, since: datetime | None = None, mode: str = "incremental",
                 checkpoint: Mapping[str, Any] | None = None) -> Iterator[Page]:
            for line in pages(self.path):
                yield Page(records=[RawRecord(r["id"], codec.parse(r["updateTime"]), r) for r in orjson.loads(line)])

    return PageFileConnector


def _PageFileConnector(path: Path) -> Any:  # noqa: N802 - a class built lazily (imports after sys.path)
    global _CONNECTOR
    if _CONNECTOR is None:
        _CONNECTOR = _page_file_connector_class()
    return _CONNECTOR(path)


_CONNECTOR: Any = None


# -- where tongban's time goes (--stages) -------------------------------------------------------------


class Stages:
    """Wall time per stage of the ingest path, by wrapping the functions it calls (one extra run, not timed
    with the others). What is left over is the engine, the connector's parse and the glue between stages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        seconds = self.seconds
        seconds.setdefault(label, 0.0)
        clock = time.perf_counter

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = clock()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] += clock() - started

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def undo(self) -> None:
        for step in reversed(self._undo):
            step()


def stage_breakdown(backend: str, workdir: Path, server: str | None, data: Dataset, keys: Any) -> None:
    from sqlalchemy.engine import Connection

    import gateway.models.quality as quality
    import gateway.sync.ingest as ingest
    from gateway.store import ledger

    db = Database(backend, workdir, server)
    try:
        writer = Tongban(db.url, keys)
        mapper = writer.runtime.mapper(SYSTEM)
        for label, path in (("insert", data.insert_pages), ("upsert", data.upsert_pages)):
            stages = Stages()
            stages.wrap(mapper, "inbound", "map (compiled mapping)")
            stages.wrap(type(mapper), "validate", "validate (pydantic + rules)")
            stages.wrap(quality.QualityTally, "add", "quality tally")
            stages.wrap(ingest, "case_document", "canonical JSON + hash")
            stages.wrap(ingest, "stored_case_json", "stored case JSON (no defaults)")
            stages.wrap(ingest, "raw_hash", "raw payload hash")
            stages.wrap(ingest, "pack", "raw payload: compress + seal")
            stages.wrap(ingest, "_seal_applicant", "seal the applicant's ID")
            stages.wrap(ledger, "source_state", "lookup source records")
            stages.wrap(ledger, "case_state", "lookup cases")
            stages.wrap(ledger, "insert_source_records", "write source records")
            stages.wrap(ledger, "update_source_records", "write source records")
            stages.wrap(ledger, "touch_source_records", "write source records")
            stages.wrap(ledger, "insert_cases", "write cases")
            stages.wrap(ledger, "update_cases", "write cases")
            stages.wrap(ledger, "add_outbox", "write outbox")
            stages.wrap(ledger, "resolve_dead_letters", "resolve dead letters")
            stages.wrap(Connection, "_commit_impl", "commit")
            started = time.perf_counter()
            writer.round(path)
            total = time.perf_counter() - started
            stages.undo()
            known = sum(stages.seconds.values())
            parts = sorted(stages.seconds.items(), key=lambda kv: -kv[1]) + [
                ("engine, parse, glue", total - known)]
            per = 1e6 / data.records
            print(f"  tongban {label} round, {total:.2f} s = {total * per:.0f} µs/record: "
                  + ", ".join(f"{name} {seconds / total:.0%} ({seconds * per:.1f} µs)" for name, seconds in parts))
        writer.close()
    finally:
        db.drop()


# -- the run ---------------------------------------------------------------------------------------------


@dataclass
class Sample:
    insert_rps: list[float] = field(default_factory=list)
    upsert_rps: list[float] = field(default_factory=list)
    bytes_total: list[int] = field(default_factory=list)
    parts: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: list[float] = field(default_factory=list)
    rss_growth_mb: list[float] = field(default_factory=list)
    rejected: int = 0


def run_side(side: Callable[[str], Any], backend: str, workdir: Path, server: str | None, data: Dataset,
             sample: Sample) -> None:
    db = Database(backend, workdir, server)
    try:
        gc.collect()
        reset_peak_rss()
        before = rss_mb()
        writer = side(db.url)
        try:
            for path, target in ((data.insert_pages, sample.insert_rps), (data.upsert_pages, sample.upsert_rps)):
                started = time.perf_counter()
                count = writer.round(path)
                seconds = time.perf_counter() - started
                if count != data.records:
                    raise SystemExit(f"{writer.name}: {count} records read, {data.records} sent")
                target.append(count / seconds)
            sample.peak_rss_mb.append(peak_rss_mb())
            sample.rss_growth_mb.append(peak_rss_mb() - before)
            total, parts = sizes_on_disk(writer.engine)
            sample.bytes_total.append(total)
            sample.parts = parts
            sample.rejected = getattr(writer, "rejected", 0)
            if writer.name == "tongban" and sample.rejected != data.broken:
                writer.explain_rejections()
        finally:
            writer.close()
    finally:
        db.drop()


def report(backend: str, data: Dataset, floor: Sample, ours: Sample, dlt: Sample | None = None) -> bool:
    med = statistics.median
    n = data.records
    ratio_insert = med(ours.insert_rps) / med(floor.insert_rps)
    ratio_upsert = med(ours.upsert_rps) / med(floor.upsert_rps)
    print(f"\n[{backend} / {data.size}] {n:,} records, {data.json_bytes / n:,.0f} B of JSON each, "
          f"{data.broken} broken, {data.changed} changed in the upsert round; {len(ours.insert_rps)} reps")
    for label, s in (("floor  ", floor), ("tongban", ours)) + ((("dlt    ", dlt),) if dlt else ()):
        print(f"  {label} insert {med(s.insert_rps):>8,.0f} rec/s   upsert {med(s.upsert_rps):>8,.0f} rec/s   "
              f"{med(s.bytes_total) / n:>6,.0f} B/record on disk   peak RSS {max(s.peak_rss_mb):,.0f} MB "
              f"(+{max(s.rss_growth_mb):,.0f} MB over the process before it)")
    bytes_ratio = med(ours.bytes_total) / med(floor.bytes_total)
    print(f"  ratio insert {ratio_insert:.2f}   upsert {ratio_upsert:.2f}   (target 0.5, stretch 0.7)   "
          f"bytes {bytes_ratio:.2f} x the raw rows (target <= 3)")
    if dlt:
        print(f"  tongban / dlt: insert {med(ours.insert_rps) / med(dlt.insert_rps):.1f}   "
              f"upsert {med(ours.upsert_rps) / med(dlt.upsert_rps):.1f}   (optional target >= 4); dlt's bytes "
              f"{med(dlt.bytes_total) / med(floor.bytes_total):.2f} x the raw rows")
    top = sorted(ours.parts.items(), key=lambda kv: -kv[1])[:10]
    print("  tongban bytes/record by table and index: "
          + ", ".join(f"{name} {size / n:,.0f}" for name, size in top if size / n >= 1))
    if ours.rejected != data.broken:
        print(f"  FAIL: tongban rejected {ours.rejected}, {data.broken} broken records were generated")
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--sizes", default="small,large", help="comma-separated: small (~400 B), large (~1.7 KB)")
    parser.add_argument("--postgres", default=None, help="PostgreSQL server URL (scratch databases are created)")
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--no-pii", action="store_true", help="leave raw payloads and ID numbers in clear")
    parser.add_argument("--stages", action="store_true", help="one more tongban run, timing each stage")
    parser.add_argument("--dlt", action="store_true", help='a third side: dlt 1.31 (pip install -e ".[bench]")')
    args = parser.parse_args()

    backends = (["sqlite"] if args.sqlite else []) + (["postgres"] if args.postgres else [])
    if args.dlt:
        try:
            import dlt  # noqa: F401
        except ImportError:
            parser.error('--dlt needs dlt: pip install -e ".[bench]" (dlt 1.31 with its SQLAlchemy destination)')
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    ok = True
    with tempfile.TemporaryDirectory(prefix="tongban-write-path-") as tmp:
        workdir = Path(tmp)
        keys = None
        if not args.no_pii:
            from gateway.crypto.keys import GatewayKeys

            keys = GatewayKeys.generate()
        print(f"PII sealing {'off' if args.no_pii else 'on (AES-GCM, ephemeral keys)'}; page size {args.page_size}")
        for size in args.sizes.split(","):
            started = time.perf_counter()
            data = generate(workdir, size, args.records, args.page_size)
            print(f"generated {args.records:,} {size} records in {time.perf_counter() - started:.1f} s")
            for backend in backends:
                floor, ours, theirs = Sample(), Sample(), Sample()
                sides: list[tuple[Callable[[str], Any], Sample]] = [
                    (RawFloor, floor), (lambda url: Tongban(url, keys), ours)]
                if args.dlt:
                    sides.append((lambda url: Dlt(url, workdir), theirs))
                for rep in range(args.reps):
                    for side, sample in (sides if rep % 2 == 0 else sides[::-1]):
                        run_side(side, backend, workdir, args.postgres, data, sample)
                ok &= report(backend, data, floor, ours, theirs if args.dlt else None)
                if args.stages:
                    stage_breakdown(backend, workdir, args.postgres, data, keys)
            data.insert_pages.unlink()
            data.upsert_pages.unlink()
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("TONGBAN_LOG_LEVEL", "WARNING")
    raise SystemExit(main())
