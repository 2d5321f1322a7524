"""Retention as an operator review found it: ``tongban purge --older-than 6m`` purged everything older than six
MINUTES (``parse_duration``'s ``m``) and said "older than 0 days"; ``0d`` purged at once; ``1y``, ``180``, ``-5d``
and ``abc`` ended in a traceback. And the purge deleted the whole ``source_records`` row of a deleted record:
the reconciliation then counted it ``missing_in_ledger`` (an error alert, "found again", the next night) and a
full refresh wrote it back. A retention is whole days or longer now (``parse_retention``), and the purge drops
only the deleted record's raw payload, keeping the row the sync and the reconciliation know it by."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.contract.errors import ConfigError
from gateway.ops.alerts import open_alerts
from gateway.sharing.settings import parse_gateway_settings
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.retention import purge
from gateway.store.tables import cases, dead_letters, outbox, source_records
from gateway.sync.engine import sync_system
from gateway.sync.reconcile import reconcile_system
from gateway.sync.reprocess import remap_system

OPTION_REFUSALS = [
    ("6m", "'6m' is ambiguous (minutes or months?): write the retention in days, e.g. 180d"),
    ("0d", "'0d' is under the shortest retention, 1 day"),
    ("12h", "'12h': a retention is whole days or longer, not hours"),
    ("180", "'180' has no unit: a retention is days, weeks or years, e.g. 180d"),
    ("-5d", "'-5d' is not a retention: write a whole number of days, weeks or years, e.g. 180d"),
    ("abc", "'abc' is not a retention: write a whole number of days, weeks or years, e.g. 180d"),
    ("99999y", "'99999y' is longer than 100 years"),
]


def _purge_cli(url: str, *args: str) -> object:
    from gateway.cli import app

    return CliRunner().invoke(app, ["purge", "--dry-run", "--database-url", url, *args])


@pytest.mark.parametrize(("value", "said"), OPTION_REFUSALS)
def test_purge_refuses_a_retention_that_is_not_whole_days_in_one_line(sqlite_url: str, value: str,
                                                                       said: str) -> None:
    upgrade(make_engine(sqlite_url))
    result = _purge_cli(sqlite_url, "--older-than", value, "--json")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert f"--older-than: {said}" in line


@pytest.mark.parametrize(("value", "days"), [("180d", 180), ("26w", 182), ("1y", 365), ("1d", 1), ("2Y", 730)])
def test_purge_takes_days_weeks_and_years(sqlite_url: str, value: str, days: int) -> None:
    upgrade(make_engine(sqlite_url))
    result = _purge_cli(sqlite_url, "--older-than", value, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["retention_days"] == days
    shown = _purge_cli(sqlite_url, "--older-than", value)
    assert shown.exit_code == 0 and f"purge (older than {days} days) — dry run" in shown.output


def test_the_gateway_files_retention_reads_as_the_option_does() -> None:
    def read(text: str):
        return parse_gateway_settings(text, base_dir=Path("."), where="gateway.yaml")

    assert read("retention: 26w\n").retention == timedelta(days=182)
    assert read("retention: 1y\n").retention == timedelta(days=365)
    assert read("{}\n").retention == timedelta(days=180)
    for value, said in [("6m", "'6m' is ambiguous (minutes or months?)"), ("180", "'180' has no unit"),
                        ("0d", "'0d' is under the shortest retention, 1 day"), ("3h", "not hours")]:
        with pytest.raises(ConfigError) as refused:
            read(f"retention: {value}\n")
        assert str(refused.value).startswith("gateway.yaml: retention: ") and said in str(refused.value)
        assert "\n" not in str(refused.value)
    # the other durations keep their meaning: 30m is thirty minutes
    assert read("consent_ttl: 30m\ncheckpoint_every: 90\n").consent_ttl == timedelta(minutes=30)


def test_purge_of_a_deleted_record_keeps_its_row_and_drops_its_payload(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    long_ago = datetime.now(UTC) - timedelta(days=400)
    cursor = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
    common = {"system": "s", "stream": "cases", "mapping_version": "v7", "first_seen_at": long_ago,
              "updated_at": long_ago, "cursor": cursor, "content_hash": "c" * 64, "raw_hash": "r" * 32}
    with engine.begin() as conn:
        conn.execute(source_records.insert(), [
            {**common, "source_id": "gone", "case_no": "N-1", "deleted": True, "raw": None, "payload": b"\x00zz"},
            {**common, "source_id": "old-text", "case_no": "N-2", "deleted": True, "raw": "{}", "payload": None},
            {**common, "source_id": "live", "case_no": "N-3", "deleted": False, "raw": None, "payload": b"\x00aa"},
        ])
    assert purge(engine, timedelta(days=180), dry_run=True)["raw payloads of deleted records"] == 2
    assert purge(engine, timedelta(days=180))["raw payloads of deleted records"] == 2
    s = source_records.c
    with engine.connect() as conn:
        rows = {r.source_id: r for r in conn.execute(select(source_records))}
    assert set(rows) == {"gone", "old-text", "live"}
    for source_id, case_no in (("gone", "N-1"), ("old-text", "N-2")):
        row = rows[source_id]
        assert (row.raw, row.payload) == (None, None)
        assert (row.case_no, row.deleted, row.cursor, row.content_hash, row.raw_hash, row.mapping_version,
                row.stream) == (case_no, True, cursor, "c" * 64, "r" * 32, "v7", "cases")
    assert bytes(rows["live"].payload) == b"\x00aa"
    # purged once: nothing left to purge, nothing counted again
    assert purge(engine, timedelta(days=180), dry_run=True)["raw payloads of deleted records"] == 0
    assert purge(engine, timedelta(days=180))["raw payloads of deleted records"] == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(source_records).where(s.system == "s")).scalar_one() == 3


def _estate_with_two_deleted(make_world) -> tuple[Any, list[str]]:
    """A world whose jn_estate deleted two of its live records, synced before and after: ``(world, live ids)``."""
    world = make_world(civil=0, estate=12)
    sync_system(world.runtime, "jn_estate")
    with world.runtime.engine.connect() as conn:
        live = conn.execute(select(source_records.c.source_id).where(
            source_records.c.system == "jn_estate", source_records.c.deleted.is_(False))
            .order_by(source_records.c.source_id)).scalars().all()
    world.admin("jn_estate", "POST", "/_sandbox/delete", json={"ids": live[:2]})
    sync_system(world.runtime, "jn_estate")
    return world, list(live)


@pytest.mark.slow
def test_reconcile_and_a_full_refresh_know_a_purged_deleted_record(make_world) -> None:
    world, live = _estate_with_two_deleted(make_world)
    engine = world.runtime.engine
    assert reconcile_system(world.runtime, "jn_estate").totals()["missing_in_ledger"] == 0

    def state() -> dict[str, tuple]:
        with engine.connect() as conn:
            return {r.source_id: (r.case_no, r.cursor, r.content_hash, r.raw_hash, r.deleted, r.mapping_version)
                    for r in conn.execute(select(source_records).where(source_records.c.system == "jn_estate"))}

    before = state()
    deleted = sorted(k for k, v in before.items() if v[4])
    assert set(live[:2]) <= set(deleted)
    with engine.connect() as conn:
        queued = conn.execute(select(func.count()).select_from(outbox)).scalar_one()

    counts = purge(engine, timedelta(days=1), now=datetime.now(UTC) + timedelta(days=2))
    assert counts["raw payloads of deleted records"] == len(deleted)
    assert state() == before
    with engine.connect() as conn:
        assert conn.execute(select(source_records.c.source_id).where(
            source_records.c.system == "jn_estate", source_records.c.payload.is_(None),
            source_records.c.raw.is_(None))).scalars().all() == deleted

    for _night in range(2):  # the second run is where a "found again" error alert came from
        totals = reconcile_system(world.runtime, "jn_estate").totals()
        assert (totals["missing_in_ledger"], totals["divergent"], totals["extra_in_ledger"]) == (0, 0, 0)
        assert totals["matched"] == totals["source_count"] == len(before)
    assert not open_alerts(engine, kind="reconcile")

    report = sync_system(world.runtime, "jn_estate", full_refresh=True)
    assert (report.counts.inserted, report.counts.updated) == (0, 0)
    assert state() == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == queued
        assert conn.execute(select(func.count()).select_from(source_records).where(
            source_records.c.system == "jn_estate", source_records.c.payload.is_(None),
            source_records.c.raw.is_(None))).scalar_one() == len(deleted)


@pytest.mark.slow
def test_a_remap_leaves_a_purged_deleted_record_as_it_is(make_world) -> None:
    """A remap after retention purged deleted records' raw payloads: those rows have no payload to map again; the
    remap leaves them (and their cases' tombstones) as they are, and does not dead-letter them as ``mapping.shape``."""
    world, _ = _estate_with_two_deleted(make_world)
    engine = world.runtime.engine
    assert purge(engine, timedelta(days=1), now=datetime.now(UTC) + timedelta(days=2))[
        "raw payloads of deleted records"] >= 2

    def held() -> tuple[Any, Any]:
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
