"""Sync throughput: N civil-affairs records through map → validate → upsert, against a baseline in the same run.

Its baseline writes Tongban's own rows, so its ratio hides what the ledger's layout costs: for the honest
comparison against one narrow newer-wins row per record (and COPY on PostgreSQL), bytes on disk and both rounds,
run ``bench/write_path.py`` (issue 16). This one stays as the map/validate overhead check and the 1M-record RSS run.

    python bench/sync_throughput.py                      # 200,000 records, SQLite (+ PostgreSQL if configured)
    python bench/sync_throughput.py --million            # 1,000,000 records: peak RSS must stay under 300 MB
    python bench/sync_throughput.py --postgres postgresql://postgres@127.0.0.1:5432/postgres

The records are generated once (the sandbox civil system's own generator, 1% of them broken the sandbox's
ways) into a file of JSON pages, outside any timing. Then, each in a fresh process (for an honest peak RSS):

- baseline: ``json.loads`` each page + driver-level ``executemany`` inserts of the rows the ledger ends up with
  (raw payloads, merged cases, outbox rows), shaped beforehand outside the timing — the same bulk writer the
  ledger itself uses; and the floor: the raw rows alone (reported for information);
- tongban: ``json.loads`` each page + the real ingest path (compiled mapping, one pydantic validation call per
  page with every rule on, content hash, classification, upsert, merged cases, outbox, dead letters).

Prints records/s for both, the ratio (target >= 0.35, stretch 0.5) and peak RSS. Broken records must be
caught: the run fails if the rejected count differs from the number of broken records generated.
Absolute figures are for information only; these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

BROKEN_RATE = 0.01
SEED = 20261121


def generate(path: Path, records: int, page_size: int) -> dict[str, int]:
    from sandbox import civil
    from sandbox.faults import malformed_kind

    broken: dict[str, int] = {}
    with path.open("w", encoding="utf-8") as out:
        page = []
        for i in range(records):
            record = civil.generate(SEED, i)
            kind = malformed_kind(SEED, i, BROKEN_RATE)
            if kind is not None:
                record = civil._malform(record, kind)
                broken[kind] = broken.get(kind, 0) + 1
            page.append(record)
            if len(page) == page_size:
                out.write(json.dumps(page, ensure_ascii=False) + "\n")
                page = []
        if page:
            out.write(json.dumps(page, ensure_ascii=False) + "\n")
    return broken


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_baseline(data: Path, url: str, *, ledger_rows: bool = True) -> dict[str, float]:
    """Parse each page and bulk-insert rows shaped beforehand (untimed).

    With ``ledger_rows`` the rows are exactly those the ledger ends up holding — raw payloads, merged cases
    with their canonical JSON, outbox rows — so the ratio measures what mapping, validation, hashing and
    classification add over the irreducible parse-and-write. Without, only the raw payloads are written
    (the floor, reported for information).
    """
    import orjson

    from gateway.kernel.config import load_systems
    from gateway.mapping.mapper import Mapper
    from gateway.models import case_document, validate_cases
    from gateway.store.db import make_engine
    from gateway.store.ledger import bulk_write
    from gateway.store.migrate import upgrade
    from gateway.store.tables import cases, outbox, source_records

    engine = make_engine(url)
    upgrade(engine)
    mapper = Mapper.from_file(load_systems(REPO / "config" / "systems.yaml").get("sd_civil").mapping_path)
    count = 0
    seconds = 0.0
    with data.open("r", encoding="utf-8") as pages:
        for line in pages:
            page = json.loads(line)  # shaping, untimed
            canonical = {}
            if ledger_rows:
                mapped = [mapper.map(r)[0] for r in page]
                for i, case in validate_cases(mapped, [str(i) for i in range(len(mapped))]).valid:
                    canonical[page[i]["id"]] = (case, *case_document(case))
            src_rows = [
                {"system": "sd_civil", "source_id": r["id"], "stream": "cases", "case_no": r["projectNo"],
                 "cursor": _NOW, "content_hash": None, "raw": orjson.dumps(r).decode(),
                 "mapping_version": "baseline", "deleted": False, "first_seen_at": _NOW, "updated_at": _NOW}
                for r in page
            ]
            case_rows = [
                {"case_no": case.case_no, "version": 1, "content_hash": digest, "data": doc,
                 "origin_system": "sd_civil", "origin_source_id": sid, "source_updated_at": case.updated_at,
                 "dept_code": case.dept_code, "item_code": case.item_code, "deleted": case.deleted,
                 "updated_at": _NOW}
                for sid, (case, doc, digest) in canonical.items()
            ]
            outbox_rows = [
                {"case_no": row["case_no"], "version": 1, "target_system": "sd_hall", "operation": "upsert",
                 "status": "pending", "attempts": 0, "next_attempt_at": _NOW, "created_at": _NOW}
                for row in case_rows if not row["deleted"]
            ]
            started = time.perf_counter()
            json.loads(line)
            with engine.begin() as conn:
                bulk_write(conn, source_records, src_rows)
                bulk_write(conn, cases, case_rows)
                bulk_write(conn, outbox, outbox_rows)
            seconds += time.perf_counter() - started
            count += len(src_rows)
    engine.dispose()
    return {"records": count, "seconds": seconds, "rejected": 0, "peak_rss_mb": _peak_rss_mb()}


def child_tongban(data: Path, url: str) -> dict[str, float]:
    from datetime import timedelta, timezone

    from gateway.contract.connector import RawRecord
    from connectors.common.cursors import CursorCodec
    from gateway.kernel.config import load_systems
    from gateway.mapping.mapper import Mapper
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from gateway.sync.ingest import IngestContext, IngestCounts, ingest_page

    engine = make_engine(url)
    upgrade(engine)
    systems = load_systems(REPO / "config" / "systems.yaml")
    system = systems.get("sd_civil")
    from gateway.crypto.keys import GatewayKeys
    from gateway.crypto.pii import PiiCodec

    keys = GatewayKeys.from_env()  # --seal-pii: raw payloads and applicant ID numbers sealed at rest
    ctx = IngestContext(system=system, systems=systems, mapper=Mapper.from_file(system.mapping_path),
                        stream=system.stream, check_dead_letters=False, pii=PiiCodec(keys) if keys else None)
    codec = CursorCodec("%Y-%m-%d %H:%M:%S", timezone(timedelta(hours=8)))
    totals = IngestCounts()
    started = time.perf_counter()
    with data.open("r", encoding="utf-8") as pages:
        for line in pages:
            page = json.loads(line)
            records = [RawRecord(r["id"], codec.parse(r["updateTime"]), r) for r in page]
            with engine.begin() as conn:
                totals.add(ingest_page(conn, ctx, records))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"records": totals.read, "seconds": seconds, "rejected": totals.rejected, "inserted": totals.inserted,
            "peak_rss_mb": _peak_rss_mb()}


def _fresh_database(kind: str, postgres: str | None, workdir: Path) -> tuple[str, object]:
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        return f"sqlite:///{path}", lambda: [p.unlink(missing_ok=True) for p in workdir.glob(path.name + "*")]
    from sqlalchemy import create_engine, text

    admin_url = postgres.replace("postgresql://", "postgresql+psycopg://", 1)  # type: ignore[union-attr]
    name = f"tongban_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return f"{admin_url.rpartition('/')[0]}/{name}", drop


def run_child(mode: str, data: Path, url: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--data", str(data), "--url", url],
        capture_output=True, text=True, check=False, cwd=REPO,
    )
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 records")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("TONGBAN_TEST_POSTGRES_URL"),
                        help="PostgreSQL server URL (a scratch database is created and dropped)")
    parser.add_argument("--seal-pii", action="store_true",
                        help="seal raw payloads and ID numbers at rest (AES-GCM, ephemeral keys) in the tongban run")
    parser.add_argument("--child", choices=["floor", "baseline", "tongban"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        if args.child == "tongban":
            result = child_tongban(args.data, args.url)
        else:
            result = child_baseline(args.data, args.url, ledger_rows=args.child == "baseline")
        print(json.dumps(result))
        return 0

    records = 1_000_000 if args.million else args.records
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    failed = False
    with tempfile.TemporaryDirectory(prefix="tongban-bench-") as tmp:
        workdir = Path(tmp)
        if args.seal_pii:
            from gateway.crypto.keys import GatewayKeys

            os.environ["TONGBAN_KEY_FILE"] = str(GatewayKeys.generate().write(workdir / "keys.json"))
            print("PII sealing on: raw payloads and applicant ID numbers sealed (AES-GCM) in the tongban run")
        data = workdir / "pages.jsonl"
        started = time.perf_counter()
        broken = generate(data, records, args.page_size)
        # Broken data must be rejected; the other kinds are conventions the shipped mapping has learnt.
        expected_rejects = broken.get("bad_checksum", 0) + broken.get("impossible_date", 0)
        print(f"generated {records:,} records ({expected_rejects} broken: {broken}) in "
              f"{time.perf_counter() - started:.1f} s, {data.stat().st_size / 2**20:.0f} MiB of JSON")
        for backend in backends:
            results = {}
            for mode in ("floor", "baseline", "tongban"):
                url, cleanup = _fresh_database(backend, args.postgres, workdir)
                try:
                    results[mode] = run_child(mode, data, url)
                finally:
                    cleanup()  # type: ignore[operator]
            floor, base, ours = results["floor"], results["baseline"], results["tongban"]
            floor_rps = floor["records"] / floor["seconds"]
            base_rps = base["records"] / base["seconds"]
            our_rps = ours["records"] / ours["seconds"]
            ratio = our_rps / base_rps
            print(f"\n[{backend}] floor    (json.loads + executemany of the raw rows only): {floor_rps:,.0f} records/s"
                  f" (tongban at {our_rps / floor_rps:.2f} of it, for information)")
            print(f"[{backend}] baseline (json.loads + executemany of the same ledger rows, pre-shaped): "
                  f"{base_rps:,.0f} records/s, peak RSS {base['peak_rss_mb']:.0f} MB")
            print(f"[{backend}] tongban  (map + validate + upsert):   {our_rps:,.0f} records/s, "
                  f"peak RSS {ours['peak_rss_mb']:.0f} MB, rejected {ours['rejected']:.0f}")
            verdict = "stretch met" if ratio >= 0.5 else "target met" if ratio >= 0.35 else "BELOW TARGET"
            print(f"[{backend}] ratio {ratio:.2f} (target 0.35, stretch 0.5): {verdict}")
            if ours["rejected"] != expected_rejects:  # broken data; learnable conventions map fine
                print(f"[{backend}] FAIL: {ours['rejected']:.0f} rejected, {expected_rejects} broken records generated")
                failed = True
            if records >= 1_000_000:
                rss_ok = ours["peak_rss_mb"] < 300
                print(f"[{backend}] peak RSS {ours['peak_rss_mb']:.0f} MB for {records:,} records "
                      f"(target < 300 MB): {'ok' if rss_ok else 'OVER'}")
                failed |= not rss_ok
            failed |= ratio < 0.35
    return 1 if failed else 0


from datetime import datetime, timezone  # noqa: E402  (the baseline rows' timestamps)

_NOW = datetime.now(timezone.utc)

if __name__ == "__main__":
    raise SystemExit(main())
