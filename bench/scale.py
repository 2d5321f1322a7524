"""A ledger of a million cases: what each recurring job costs there, against what it must read.

    python bench/scale.py                                    # 1,000,000 cases, SQLite
    python bench/scale.py --cases 200000 --postgres postgresql://postgres@127.0.0.1:5432/postgres
    python bench/scale.py --workdir /tmp/scale --keep        # build the ledger once, measure it again later

No network: the cases come from the sandbox civil system's generator as page files (``bench/write_path.py``'s
connector), and go through ``sync_system`` — the function ``tongban sync`` runs, every validation and the PII
sealing on. A fifth of them are open cases accepted over the last 40 days (their clocks run: green, yellow, red);
the rest are finished. Then, on that ledger, each recurring job once or a few times, printing what it costs and
the target it has (issue 16, item 4):

- **build**: the 1M-record sync itself — records/s and the process's peak RSS (target < 300 MB: the pages are
  streamed, never held twice);
- **no-change sync**: an incremental run whose source has nothing new (target < 1 s), and one whose lookback
  window re-reads the last 1,000 records unchanged (skipped by raw hash before mapping);
- **deadline scan**: the first scan (reads every open case once, to file their next due instants), then a scan
  with nothing changed, then one after 5,000 cases changed (more than one of the scan's batches of 2,000) —
  printing the cases each read (target: only what changed or fell due, not every live case; the run fails if
  the scan read fewer than the cases that changed);
- **reconcile one day**: one Beijing day against a source answering "changed since the day began" (prepared
  outside the timing), and the ledger rows of the day it read;
- **status and console overview**: median and worst of 5 (target < 200 ms);
- **certificate query**: p50/p99 of the library reads behind a gateway query (a holder's certificates by blind
  index, then one by identifier) at 10,000 and at ``--certificates`` (default: as many as ``--cases``)
  certificates, rows bulk-inserted outside the timing (target: p99 unchanged).

Absolute figures are for information only (shared machine); counts of rows read are exact.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import write_path as wp  # noqa: E402 - the page-file connector, the scratch database and the RSS helpers

SEED = 20261203
SYSTEM = wp.SYSTEM
BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=BEIJING)
"""The bench's 'now': the clocks are read at this instant (a working Thursday)."""
OPEN_SHARE = 5  # one case in five is open
_KEEP = wp._SMALL_KEEP + ("acceptTime", "promiseDays", "promiseTime")


def _fmt(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def scale_record(i: int) -> dict[str, Any]:
    """Case ``i`` of the civil generator, small shape; open cases accepted 0–40 days before ``NOW``."""
    from sandbox import civil

    record = civil.generate(SEED, i)
    record = {k: record[k] for k in _KEEP if k in record}
    applicant = record.get("applicant")
    if isinstance(applicant, dict):
        record["applicant"] = {k: applicant[k] for k in wp._SMALL_APPLICANT if k in applicant}
    if i % OPEN_SHARE == 0:
        accepted = NOW - timedelta(days=(i // OPEN_SHARE) % 40, minutes=(i * 37) % 600 + 5)
        record.update(acceptTime=_fmt(accepted), applyTime=_fmt(accepted - timedelta(hours=2)),
                      updateTime=_fmt(accepted), promiseDays=20, finishTime=None, result=None, certNo=None,
                      certName=None)
        record.pop("promiseTime", None)
    return record


def write_pages(path: Path, indexes: Iterator[int], page_size: int,
                change: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> int:
    count = 0
    with path.open("wb") as out:
        page: list[dict[str, Any]] = []
        for i in indexes:
            record = scale_record(i)
            page.append(change(record) if change else record)
            count += 1
            if len(page) == page_size:
                out.write(orjson.dumps(page) + b"\n")
                page = []
        if page:
            out.write(orjson.dumps(page) + b"\n")
    return count


def touched(record: dict[str, Any]) -> dict[str, Any]:
    """The same case changed now: a new handler note and change time."""
    record = dict(record)
    record["updateTime"] = _fmt(NOW - timedelta(minutes=1))
    record["areaCode"] = "370100" if record.get("areaCode") != "370100" else "370102"
    return record


# -- timing helpers ---------------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def repeat(fn: Callable[[], Any], times: int) -> tuple[float, float]:
    """(median, worst) seconds of ``times`` calls."""
    seconds = [timed(fn)[0] for _ in range(times)]
    return statistics.median(seconds), max(seconds)


# -- the phases -------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, url: str, keys: Any) -> None:
        self.tongban = wp.Tongban(url, keys)
        self.runtime = self.tongban.runtime
        self.engine = self.runtime.engine

    def sync(self, path: Path | None) -> Any:
        from gateway.sync.engine import sync_system

        connector = wp._PageFileConnector(path) if path is not None else _EmptySource()
        return sync_system(self.runtime, SYSTEM, connector=connector)


class _EmptySource:
    """An incremental read that finds nothing new."""

    def __new__(cls) -> Any:
        base = wp._page_file_connector_class()

        class Empty(base):  # type: ignore[misc, valid-type]
            def read(self, stream: str, *, since: datetime | None = None, mode: str = "incremental",
                     checkpoint: Any = None) -> Iterator[Any]:
                return iter(())

        return Empty(Path(os.devnull))


def build(bench: Bench, workdir: Path, cases: int, page_size: int) -> None:
    path = workdir / "build.jsonl"
    started = time.perf_counter()
    write_pages(path, iter(range(cases)), page_size)
    print(f"generated {cases:,} records in {time.perf_counter() - started:.0f} s "
          f"({path.stat().st_size / cases:,.0f} B each)", flush=True)
    gc.collect()
    wp.reset_peak_rss()
    before = wp.rss_mb()
    seconds, report = timed(lambda: bench.sync(path))
    peak = wp.peak_rss_mb()
    print(f"build: {report.counts.read:,} records in {seconds:.0f} s, {report.counts.read / seconds:,.0f} rec/s, "
          f"{report.counts.rejected} rejected; peak RSS {peak:,.0f} MB (+{peak - before:,.0f} MB during the sync; "
          f"target < 300 MB)", flush=True)


def no_change(bench: Bench, workdir: Path, cases: int, page_size: int) -> None:
    median, worst = repeat(lambda: bench.sync(None), 3)
    print(f"no-change incremental sync: median {median * 1000:,.0f} ms, worst {worst * 1000:,.0f} ms (target < 1 s)")
    path = workdir / "lookback.jsonl"
    write_pages(path, iter(range(max(0, cases - 1000), cases)), page_size)
    seconds, report = timed(lambda: bench.sync(path))
    print(f"lookback re-read of 1,000 unchanged records: {seconds * 1000:,.0f} ms "
          f"({report.counts.unchanged} unchanged, {report.counts.updated} updated)")


def deadline_scans(bench: Bench, workdir: Path, cases: int, page_size: int) -> None:
    from gateway.ops.deadlines import WorkCalendar, scan_deadlines

    calendar = WorkCalendar.load()
    now = NOW.astimezone(timezone.utc)

    def scan(at: datetime, full: bool | None = None) -> Any:
        return scan_deadlines(bench.engine, calendar, now=at, full=full)

    for label, at, full in (("first scan (every clock)", now, True), ("nothing changed", now + timedelta(minutes=5),
                                                                      None)):
        seconds, report = timed(lambda: scan(at, full))
        print(f"deadline scan, {label}: {seconds:,.1f} s, {report.checked:,} cases read, {report.running:,} clocks "
              f"running, {report.yellow:,} yellow, {report.red:,} red, {report.new_alerts:,} alerts opened")
    path = workdir / "changed.jsonl"
    rng = random.Random(SEED)
    chosen = sorted(rng.sample(range(0, cases, OPEN_SHARE), min(5000, cases // OPEN_SHARE)))
    write_pages(path, iter(chosen), page_size, change=touched)
    bench.sync(path)
    seconds, report = timed(lambda: scan(now + timedelta(minutes=10)))
    print(f"deadline scan after {len(chosen):,} open cases changed: {seconds:,.2f} s, {report.checked:,} cases read")
    if report.checked < len(chosen):
        raise SystemExit(f"FAILED: the scan read {report.checked:,} cases, fewer than the {len(chosen):,} that changed")
    seconds, report = timed(lambda: scan(now + timedelta(days=1)))
    print(f"deadline scan a day later: {seconds:,.2f} s, {report.checked:,} cases read (those whose level changed "
          f"overnight), {report.new_alerts:,} alerts opened")


def reconcile_day(bench: Bench, workdir: Path) -> None:
    """One Beijing day reconciled against a source that answers "changed since" (prepared outside the timing)."""
    from connectors.common.cursors import CursorCodec
    from gateway.sync.reconcile import reconcile_system

    day = (NOW - timedelta(days=3)).date()
    start = datetime.combine(day, datetime.min.time(), BEIJING)
    codec = CursorCodec("%Y-%m-%d %H:%M:%S", BEIJING)
    newer: dict[str, dict[str, Any]] = {}  # the source now: the build's records with the later changes over them
    for name in ("changed.jsonl", "lookback.jsonl"):
        if (workdir / name).exists():
            for line in wp.pages(workdir / name):
                newer.update((r["id"], r) for r in orjson.loads(line))
    changed = workdir / "since.jsonl"
    with changed.open("wb") as out:
        for line in wp.pages(workdir / "build.jsonl"):
            page = [r for r in (newer.get(r["id"], r) for r in orjson.loads(line))
                    if codec.parse(r["updateTime"]) >= start]
            if page:
                out.write(orjson.dumps(page) + b"\n")
    source = wp._PageFileConnector(changed)
    seconds, report = timed(lambda: reconcile_system(bench.runtime, SYSTEM, connector=source, day=day, store=False))
    totals = report.totals()
    print(f"reconcile {day} (one day): {seconds:,.2f} s; the source answered {_lines(changed):,} records changed "
          f"since, {totals['source_count']:,} of that day, the ledger read {totals['ledger_count']:,} rows of it; "
          f"{'agrees' if report.ok else 'differences: ' + str(totals)}")


def _lines(path: Path) -> int:
    return sum(len(orjson.loads(line)) for line in wp.pages(path))


def certificate_reads(bench: Bench, total: int) -> None:
    """p50/p99 of the library reads behind a certificate query (the holder's certificates by blind index, then one
    by identifier) at 10,000 certificates and at ``total`` — rows inserted in bulk outside the timing."""
    from gateway.sharing.certificates.library import find_for_holder, get_certificate
    from gateway.store.ledger import bulk_write
    from gateway.store.tables import certificate_holders, certificates

    created = NOW.astimezone(timezone.utc)
    document = orjson.dumps({"name": "营业执照",
                             "fields": {"注册资本": "100万元", "住所": "山东省济南市历下区" * 3}}).decode()

    def add(first: int, last: int) -> None:
        for lo in range(first, last, 5000):
            hi = min(last, lo + 5000)
            with bench.engine.begin() as conn:
                bulk_write(conn, certificates, [{
                    "identifier": f"1.2.156.3005.2.11100000MB0143028R001.{i:012d}", "legacy_identifier": None,
                    "source_system": "sd_licences", "source_id": str(i), "type_code": "11100000MB0143028R001",
                    "name": "营业执照", "number": f"N{i:012d}", "issuer_code": "11370100004301265T",
                    "status": "valid", "valid_until": "2036-12-31", "content_hash": f"{i:064x}",
                    "document": document, "file": "UEsDBBQ" * 40, "renewed_as": None, "warnings": None,
                    "version": 1, "source_changed_at": created, "created_at": created, "updated_at": created}
                    for i in range(lo, hi)])
                bulk_write(conn, certificate_holders, [
                    {"identifier": f"1.2.156.3005.2.11100000MB0143028R001.{i:012d}", "holder_bidx": f"h{i:015d}",
                     "type_code": "11100000MB0143028R001"} for i in range(lo, hi)])

    def measure(held: int) -> tuple[float, float]:
        rng = random.Random(held)
        samples = []
        with bench.engine.connect() as conn:
            for _ in range(3000):
                i = rng.randrange(held)
                started = time.perf_counter()
                found = find_for_holder(conn, f"h{i:015d}", ["11100000MB0143028R001"])
                get_certificate(conn, found[0].identifier)
                samples.append(time.perf_counter() - started)
        samples.sort()
        return samples[len(samples) // 2] * 1000, samples[int(len(samples) * 0.99)] * 1000

    small = 10_000
    add(0, small)
    p50_small, p99_small = measure(small)
    add(small, total)
    with bench.engine.begin() as conn:
        from gateway.store import ledger

        ledger.refresh_statistics(conn, total)
    p50, p99 = measure(total)
    print(f"certificate reads: at {small:,} p50 {p50_small:.2f} ms p99 {p99_small:.2f} ms; at {total:,} "
          f"p50 {p50:.2f} ms p99 {p99:.2f} ms (p99 ratio {p99 / p99_small:.2f}; target: unchanged)")


def console_reads(bench: Bench) -> None:
    """``tongban status`` and the console's overview on a ledger in its steady state: the KPI facts refreshed
    (the nightly DAG's job, timed here for information) and the outbox drained (the push's job, not timed)."""
    from sqlalchemy import update

    from gateway.console.overview import console_overview
    from gateway.ops.kpi import refresh_facts
    from gateway.ops.status import system_status
    from gateway.store.tables import outbox

    seconds, report = timed(lambda: refresh_facts(bench.engine))
    print(f"KPI facts refreshed: {report.written:,} cases in {seconds:,.0f} s (the nightly DAG; ∝ changes after)")
    seconds, report = timed(lambda: refresh_facts(bench.engine))
    print(f"KPI facts refreshed again, nothing changed: {report.read:,} cases read in {seconds * 1000:,.0f} ms")
    seconds, report = timed(lambda: refresh_facts(bench.engine, sweep=True))
    print(f"KPI sweep (hourly: every case's version against its row's, whatever updated_at says): "
          f"{report.read:,} cases read in {seconds * 1000:,.0f} ms")
    with bench.engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.status == "pending")
                     .values(status="delivered", delivered_at=NOW.astimezone(timezone.utc)))
        if conn.dialect.name == "sqlite":  # the statistics of a drained queue (taken while a million were pending,
            conn.exec_driver_sql("ANALYZE outbox")  # they keep SQLite's planner off the status index)

    def measure(when: str) -> None:
        median, worst = repeat(lambda: system_status(bench.engine, bench.runtime.systems), 5)
        print(f"status{when}: median {median * 1000:,.0f} ms, worst {worst * 1000:,.0f} ms (target < 200 ms)")
        median, worst = repeat(lambda: console_overview(bench.runtime), 5)
        print(f"console overview{when}: median {median * 1000:,.0f} ms, worst {worst * 1000:,.0f} ms "
              "(target < 200 ms)")

    if bench.engine.dialect.name != "postgresql":
        measure("")
        return
    # PostgreSQL: the counts are index-only scans, which read the heap for every row the visibility map does not
    # yet mark all-visible — right after a million rows changed (the drain above, the first scan's alerts) that is
    # every row, until (auto)vacuum's next pass. Both are printed: the worst moment, and the steady state.
    measure(" right after a million rows changed")
    with bench.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("outbox", "alerts", "cases"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    measure(" after (auto)vacuum's pass")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--postgres", default=None, help="PostgreSQL server URL (a scratch database is created)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--ledger", default=None, help="a ledger a previous run built (with --workdir and its page "
                        "files; leave 'build' out of --phases): measured, never dropped")
    parser.add_argument("--certificates", type=int, default=None, help="certificates in the library (default --cases)")
    parser.add_argument("--phases", default="build,nochange,deadlines,reconcile,console,certificates",
                        help="comma-separated: build, nochange, deadlines, reconcile, console, certificates")
    args = parser.parse_args()
    phases = set(args.phases.split(","))

    from gateway.crypto.keys import GatewayKeys

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tongban-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    backend = "postgres" if args.postgres else "sqlite"
    db = None if args.ledger else wp.Database(backend, workdir, args.postgres)
    bench = Bench(args.ledger or db.url, GatewayKeys.generate())  # type: ignore[union-attr]
    try:
        print(f"{backend}, {args.cases:,} cases, now = {NOW:%Y-%m-%d %H:%M} Beijing", flush=True)
        if "build" in phases:
            build(bench, workdir, args.cases, args.page_size)
        if "nochange" in phases:
            no_change(bench, workdir, args.cases, args.page_size)
        if "deadlines" in phases:
            deadline_scans(bench, workdir, args.cases, args.page_size)
        if "reconcile" in phases:
            reconcile_day(bench, workdir)
        if "console" in phases:
            console_reads(bench)
        if "certificates" in phases:
            certificate_reads(bench, args.certificates or args.cases)
    finally:
        bench.tongban.close()
        if db is not None:
            db.drop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TONGBAN_LOG_LEVEL", "WARNING")
    raise SystemExit(main())
