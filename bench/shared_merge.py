"""What a case held by two systems costs the write path: a hall page of shared cases against the same page unshared.

    python bench/shared_merge.py                       # 2,000 front-desk cases, SQLite, 3 interleaved repetitions
    python bench/shared_merge.py --cases 10000 --reps 5

The hall's front desk takes N cases (一窗受理). In the **unshared** ledger only the hall holds them; in the
**shared** one the civil department holds each too and has accepted it (its copy read by the civil sync: an
acceptance time, a step). Then the hall touches every record (a status refresh and an agent added at the window)
and its page is ingested — ``ingest_page``, the sync's own path, PII sealing on. In the unshared ledger each copy
replaces its case whole; in the shared one each is merged value by value (``gateway.sync.shared``): its previous
copy mapped again, the rules, one validation of the merged documents per page, who set each value.

Printed: µs per record of the hall's touch page on each ledger (median of the repetitions) and their ratio, and
of the civil department's first copies (the first merge of each shared case) against the hall's first page.
Absolute figures are for information only: these machines are shared. The run checks what the merge must keep
(the department's acceptance, the hall's agent) and exits 1 if a case lost either.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.contract.connector import RawRecord  # noqa: E402
from gateway.crypto.keys import GatewayKeys  # noqa: E402
from gateway.crypto.pii import PiiCodec  # noqa: E402
from gateway.kernel.config import load_systems  # noqa: E402
from gateway.mapping.mapper import Mapper  # noqa: E402
from gateway.models import BEIJING, Case  # noqa: E402
from gateway.store.db import make_engine  # noqa: E402
from gateway.store.migrate import upgrade  # noqa: E402
from gateway.store.tables import cases  # noqa: E402
from gateway.sync.ingest import IngestContext, ingest_page  # noqa: E402
from sandbox.clock import fmt_iso_ms  # noqa: E402
from sandbox.hall import frontdesk_case  # noqa: E402
from sandbox.prng import record_rng  # noqa: E402

CIVIL = "11370000004390448N"
PAGE = 1000
T0 = 1_796_000_000_000  # ms


class World:
    """The configured systems, their mappings (loaded once) and the run's PII keys."""

    def __init__(self) -> None:
        self.systems = load_systems(ROOT / "config" / "systems.yaml")
        self.mappers: dict[str, Mapper] = {}
        self.pii = PiiCodec(GatewayKeys.generate())

    def mapper(self, name: str) -> Mapper:
        if name not in self.mappers:
            self.mappers[name] = Mapper.from_file(self.systems.get(name).mapping_path, model=Case)
        return self.mappers[name]

    def context(self, name: str) -> IngestContext:
        config = self.systems.get(name)
        return IngestContext(system=config, systems=self.systems, mapper=self.mapper(name), stream=config.stream,
                             pii=self.pii, mapper_of=self.mapper)


def ingest(world: World, engine: Any, name: str, records: list[dict[str, Any]], key: str) -> float:
    """Seconds to ingest ``records`` as ``name``'s pages."""
    ctx = world.context(name)
    spent = 0.0
    for start in range(0, len(records), PAGE):
        page = [RawRecord(r[key], None, r) for r in records[start:start + PAGE]]
        began = time.perf_counter()
        with engine.begin() as conn:
            ingest_page(conn, ctx, page)
        spent += time.perf_counter() - began
    return spent


def civil_copies(world: World, engine: Any, hall: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The civil system's record of each case, as the push wrote it, accepted with one step a minute later."""
    mapper = world.mapper("sd_civil")
    with engine.connect() as conn:
        documents = {case_no: orjson.loads(data) for case_no, data in conn.execute(select(cases.c.case_no, cases.c.data))}
    accepted = datetime.fromtimestamp(T0 / 1000 + 60, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    changed = datetime.fromtimestamp(T0 / 1000 + 120, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    out = []
    for i, made in enumerate(hall):
        document = documents[made["case_no"]]
        number = document["applicant"]["id_number"]
        if world.pii.is_sealed(number):
            document["applicant"]["id_number"] = world.pii.open(number)
        record = mapper.outbound(document, version=1)
        record.update(id=f"C{i:08d}", acceptTime=accepted, updateTime=changed,
                      steps=[{"seq": 1, "name": "受理", "action": "0", "start": accepted, "end": accepted,
                              "handler": "张三", "opinion": "材料齐全，予以受理"}])
        out.append(record)
    return out


def touched(hall: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hall's records ten minutes later: a status refresh and an agent added at the window."""
    out = []
    for i, made in enumerate(hall):
        record = copy.deepcopy(made)
        record.update(status="processing", proxy={"name": "王芳", "kind": "代办", "letter_no": f"WT-{i}"},
                      updated_at=fmt_iso_ms(T0 + 600_000 + i))
        out.append(record)
    return out


def repetition(world: World, count: int, shared: bool) -> tuple[float, float, float, int]:
    """``(hall first page s, civil first copies s, hall touch s, cases that lost what the merge must keep)``."""
    folder = tempfile.mkdtemp(prefix="tongban-shared-")
    engine = make_engine(f"sqlite:///{folder}/ledger.db")
    upgrade(engine)
    hall = [frontdesk_case(record_rng(7, i, 0x43), CIVIL, T0 // 1000 - 600, 5_000_000 + i, f"FD{9_000_000_000 + i:010d}",
                           T0 + i, intake={"pending": True}) for i in range(count)]
    first = ingest(world, engine, "sd_hall", hall, "fd_id")
    civil = ingest(world, engine, "sd_civil", civil_copies(world, engine, hall), "id") if shared else 0.0
    touch = ingest(world, engine, "sd_hall", touched(hall), "fd_id")
    lost = 0
    with engine.connect() as conn:
        for (data,) in conn.execute(select(cases.c.data)):
            document = orjson.loads(data)
            if document.get("agent") is None or (shared and (document.get("accepted_at") is None
                                                             or len(document.get("events") or []) != 1)):
                lost += 1
    engine.dispose()
    return first, civil, touch, lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    world = World()
    runs: dict[bool, list[tuple[float, float, float, int]]] = {False: [], True: []}
    for rep in range(args.reps):
        for shared in ((False, True) if rep % 2 == 0 else (True, False)):  # interleaved, alternating order
            runs[shared].append(repetition(world, args.cases, shared))
    per = 1e6 / args.cases

    def median(shared: bool, index: int) -> float:
        return statistics.median(r[index] for r in runs[shared]) * per

    unshared_touch, shared_touch = median(False, 2), median(True, 2)
    print(f"{args.cases} front-desk cases, SQLite, {args.reps} repetitions (median, µs per record)")
    print(f"  hall touch page, the hall alone holds the cases:   {unshared_touch:8.1f}")
    print(f"  hall touch page, the department holds them too:    {shared_touch:8.1f}   "
          f"ratio shared / unshared {shared_touch / unshared_touch:.2f}")
    print(f"  hall first page (new cases):                       {median(False, 0):8.1f}")
    print(f"  civil first copies (the first merge of each case): {median(True, 1):8.1f}   "
          f"ratio / hall first page {median(True, 1) / median(False, 0):.2f}")
    lost = sum(r[3] for side in runs.values() for r in side)
    if lost:
        print(f"FAILED: {lost} case(s) lost the department's acceptance or the hall's agent")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
