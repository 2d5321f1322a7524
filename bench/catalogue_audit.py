"""How long the 八统一 audit takes over a generated provincial catalogue of 3,000 entries (issue 13: "in seconds").

One run, one process, a fresh SQLite ledger: the sandbox catalogue is harvested over HTTP (REST connector +
mapping), then audited three times (the first run writes every finding as new; later runs touch them as still
open). Printed: the harvest, the audit (load + compare + track, best of three), the comparison alone, and, as
the baseline measured in the same run, reading the stored entries' JSON documents — the floor any audit of the
store pays. The ratio audit / baseline is the figure to watch (these machines are shared; absolute times vary).

    .venv/bin/python bench/catalogue_audit.py [--entries 3000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import orjson  # noqa: E402

from gateway.catalogue import find, harvest_catalogue, load_catalogues, load_entries, run_audit  # noqa: E402
from gateway.store import catalogue as store  # noqa: E402
from gateway.store.db import make_engine  # noqa: E402
from gateway.store.migrate import upgrade  # noqa: E402
from sandbox.server import start_all  # noqa: E402


def _best(fn, rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sandbox = start_all(seed=42, records={"catalogue": args.entries}, systems=["catalogue"])
    try:
        os.environ["TONGBAN_SD_CATALOGUE_URL"] = sandbox.urls["catalogue"]
        os.environ["TONGBAN_SD_CATALOGUE_TOKEN"] = sandbox.credentials["catalogue"]["token"]
        with tempfile.TemporaryDirectory() as tmp:
            engine = make_engine(f"sqlite:///{tmp}/bench.db")
            upgrade(engine)
            started = time.perf_counter()
            harvested = harvest_catalogue(engine, load_catalogues()["sd_catalogue"])
            harvest_s = time.perf_counter() - started
            started = time.perf_counter()
            first = run_audit(engine)
            first_s = time.perf_counter() - started
            audit_s = _best(lambda: run_audit(engine))
            entries = load_entries(engine)
            compare_s = _best(lambda: find(entries))

            def baseline() -> None:
                with engine.connect() as conn:
                    for row in store.entry_documents(conn):
                        orjson.loads(row["data"])

            baseline_s = _best(baseline)
            engine.dispose()
    finally:
        sandbox.stop()
    result = {"entries": harvested.read, "findings": len(first.findings), "harvest_s": round(harvest_s, 3),
              "first_audit_s": round(first_s, 3), "audit_s": round(audit_s, 3), "compare_only_s": round(compare_s, 3),
              "baseline_read_documents_s": round(baseline_s, 4), "ratio_audit_to_baseline": round(audit_s / baseline_s, 1)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"catalogue audit over {result['entries']} entries ({result['findings']} findings)")
        print(f"  harvest over HTTP        {harvest_s:7.3f} s")
        print(f"  first audit (all new)    {first_s:7.3f} s")
        print(f"  audit (best of 3)        {audit_s:7.3f} s")
        print(f"  compare only             {compare_s:7.3f} s")
        print(f"  baseline: read the docs  {baseline_s:7.3f} s   audit / baseline = {result['ratio_audit_to_baseline']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
