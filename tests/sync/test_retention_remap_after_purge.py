"""A remap after retention purged deleted records' raw payloads: those rows have no payload to map again; the
remap must leave them (and their cases' tombstones) as they are, not dead-letter them as ``mapping.shape``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from gateway.store.retention import purge
from gateway.store.tables import cases, dead_letters, source_records
from gateway.sync.engine import sync_system
from gateway.sync.reprocess import remap_system


@pytest.mark.slow
def test_a_remap_leaves_a_purged_deleted_record_as_it_is(make_world) -> None:
    world = make_world(civil=0, estate=12)
    engine = world.runtime.engine
    sync_system(world.runtime, "jn_estate")
    with engine.connect() as conn:
        live = conn.execute(select(source_records.c.source_id).where(source_records.c.deleted.is_(False))
                            .order_by(source_records.c.source_id)).scalars().all()
    world.admin("jn_estate", "POST", "/_sandbox/delete", json={"ids": live[:2]})
    sync_system(world.runtime, "jn_estate")
    assert purge(engine, timedelta(days=1), now=datetime.now(timezone.utc) + timedelta(days=2))[
        "raw payloads of deleted records"] >= 2

    def held():
        with engine.connect() as conn:
            return (conn.execute(select(cases.c.case_no, cases.c.version, cases.c.deleted, cases.c.content_hash)
                                 .order_by(cases.c.case_no)).all(),
                    conn.execute(select(source_records).order_by(source_records.c.source_id)).all())

    before = held()
    report = remap_system(world.runtime, "jn_estate")
    assert (report.counts.rejected, report.counts.inserted, report.counts.updated) == (0, 0, 0)
    assert held() == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(dead_letters)).scalar_one() == 0
