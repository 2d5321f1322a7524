"""A record changed "in 9999" (a clerk's typo, a source whose clock is wrong) must not move the watermark past
every change still to come: before, one such record — even one rejected by the mapping — made every later
incremental run read nothing new, and a full refresh did not repair it. A real HTTP source on 127.0.0.1 that
speaks the civil system's API, the real connector and mapping, the real sync engine, on each backend."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from http_testlib import Answer, ScriptedServer, Seen, json_answer

from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.store import ledger
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.sync.engine import SyncFailed, sync_system
from sandbox import civil


class CivilSource(ScriptedServer):
    """The civil system's GET /api/v1/approvals over ``rows`` (updatedSince inclusive, pageNo/pageSize)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        super().__init__(self._page)

    def _page(self, request: Seen) -> Answer:
        query = request.query
        since = query.get("updatedSince")
        rows = sorted((r for r in self.rows if since is None or r["updateTime"] >= since),
                      key=lambda r: (r["updateTime"], r["id"]))
        number, size = int(query.get("pageNo", 1)), int(query.get("pageSize", 100))
        return json_answer(json.dumps({"code": 0, "msg": "success", "data": {
            "total": len(rows), "rows": rows[(number - 1) * size:number * size]}}).encode())


@pytest.fixture
def world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, CivilSource]]:
    rows = [civil.generate(11, i) for i in range(5)]
    for n, row in enumerate(rows):
        row["updateTime"] = f"2026-01-0{n + 1} 10:00:00"
    source = CivilSource(rows).start()
    monkeypatch.setenv("TONGBAN_SD_CIVIL_URL", source.url)
    monkeypatch.setenv("TONGBAN_SD_CIVIL_API_KEY", "civil-demo-key")
    engine = make_engine(database_url)
    upgrade(engine)
    runtime = Runtime(load_systems(_systems_file(tmp_path / "systems.yaml")), engine)
    yield runtime, source
    source.stop()
    runtime.close()


def _systems_file(path: Path) -> Path:
    """The repository's systems file with only the civil system and the hall, its paths made absolute."""
    config = Path(__file__).resolve().parents[2] / "config"
    data = yaml.safe_load((config / "systems.yaml").read_text(encoding="utf-8"))
    data["systems"] = {k: v for k, v in data["systems"].items() if k in ("sd_civil", "sd_hall")}
    for entry in data["systems"].values():
        entry["connector_config"] = str(config / entry["connector_config"])
        entry["mapping"] = str((config / entry["mapping"]).resolve())
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _sync(runtime: Runtime) -> Any:
    try:
        return sync_system(runtime, "sd_civil")
    except SyncFailed as failed:
        return failed.report


def _watermark(runtime: Runtime) -> Any:
    with runtime.engine.connect() as conn:
        return ledger.get_watermark(conn, "sd_civil", "cases")


def test_a_change_dated_in_the_far_future_does_not_hide_the_changes_after_it(
        world: tuple[Runtime, CivilSource]) -> None:
    runtime, source = world
    assert _sync(runtime).counts.inserted == 5
    before = _watermark(runtime)
    typo = copy.deepcopy(civil.generate(11, 40))
    typo.update(updateTime="9999-12-31 23:59:59")
    source.rows.append(typo)
    second = _sync(runtime)
    assert second.counts.inserted == 1 and _watermark(runtime) == before  # read, kept, the watermark stays
    assert second.warnings.get("cursor.future") == 1
    later = copy.deepcopy(civil.generate(11, 41))
    later.update(updateTime="2026-01-09 10:00:00")
    source.rows.append(later)
    third = _sync(runtime)
    assert third.counts.inserted == 1  # the change after the typo is read
    assert third.counts.unchanged >= 1  # the typo again: its raw bytes unchanged, skipped
    # the watermark moves on, never to the typo: on an ordered stream to where the page's order proves the rest of
    # a read starts (the lower of its last two change times: a last record out of place promises nothing)
    assert before < _watermark(runtime) <= datetime(2026, 1, 9, 2, 0, tzinfo=timezone.utc)
