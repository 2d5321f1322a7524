"""A field renamed at the source leaves its canonical field empty; validation says what an empty field breaks
(``dept_code: Input should be a valid string``). The dead letter now also says that the record has no value at
the path the mapping reads, which is what the engineer has to fix."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from gateway.contract.connector import RawRecord
from gateway.kernel.config import load_systems
from gateway.mapping.mapper import Mapper
from gateway.models import BEIJING
from gateway.store import ledger
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import dead_letters
from gateway.sync.ingest import IngestContext, ingest_page
from sandbox import civil

REPO = Path(__file__).resolve().parents[2]


def test_a_dead_letter_says_which_source_paths_the_record_lacks(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    systems = load_systems(REPO / "config" / "systems.yaml")
    system = systems.get("sd_civil")
    ctx = IngestContext(system=system, systems=systems, mapper=Mapper.from_file(system.mapping_path),
                        stream=system.stream)
    renamed = civil.generate(7, 1)
    renamed["deptCodeNew"] = renamed.pop("deptCode")  # renamed at the source
    typed_wrong = civil.generate(7, 2)
    typed_wrong["deptCode"] = {"code": typed_wrong["deptCode"]}  # present, but not what the field can take
    cursor = datetime(2026, 12, 1, 9, tzinfo=BEIJING)
    with engine.begin() as conn:
        counts = ingest_page(conn, ctx, [RawRecord(r["id"], cursor, r) for r in (renamed, typed_wrong)])
    assert counts.rejected == 2
    with engine.connect() as conn:
        letters = {r.source_id: (r.reason, ledger.loads(r.issues)) for r in conn.execute(
            select(dead_letters.c.source_id, dead_letters.c.reason, dead_letters.c.issues))}
    reason, issues = letters[renamed["id"]]
    assert "the source record has no value at deptCode" in reason
    assert any(i["field"] == "dept_code" and "no value at deptCode" in i["message"] for i in issues)
    assert "no value at" not in letters[typed_wrong["id"]][0]  # there, the value is the problem
