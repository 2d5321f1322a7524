"""End to end over HTTP: the SOAP market-supervision system syncs into the ledger with the REST systems'
guarantees — two runs, updates during paging, an outage, dead letters and replay, lying charsets and
broken bytes, pushes to it, and kill-and-resume of the real ``tongban sync`` process."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import select

from gateway.contract.connector import RawRecord
from gateway.kernel.config import parse_systems
from gateway.kernel.runtime import Runtime
from gateway.store import ledger
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import dead_letters, outbox, watermarks
from gateway.sync.engine import SyncFailed, sync_system
from gateway.sync.ingest import IngestContext, ingest_page
from gateway.sync.push import push
from gateway.sync.reprocess import replay_dead_letters
from sandbox import market
from sandbox.server import start_all

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
SYSTEMS = ("sd_market", "sd_hall")


@dataclass
class MarketWorld:
    sandbox: Any
    runtime: Runtime
    systems_path: Path
    mapping_path: Path
    database_url: str
    env: dict[str, str]

    @property
    def admin(self) -> str:
        return self.sandbox.admin_urls["market"]

    def sandbox_records(self) -> dict[str, dict[str, Any]]:
        text = requests.get(self.admin + "/_sandbox/records", timeout=60).text
        return {r["YWLSH"]: r for r in map(json.loads, filter(None, text.splitlines()))}

    def ledger_records(self) -> dict[str, dict[str, Any]]:
        with self.runtime.engine.connect() as conn:
            return ledger.raw_payloads(conn, "sd_market", self.runtime.pii)

    def open_dead_letters(self) -> dict[str, str]:
        d = dead_letters.c
        with self.runtime.engine.connect() as conn:
            rows = conn.execute(select(d.source_id, d.reason).where(d.system == "sd_market", d.status == "open")).all()
        return {r.source_id: r.reason for r in rows}

    def watermark(self) -> Any:
        w = watermarks.c
        with self.runtime.engine.connect() as conn:
            return conn.execute(select(w.cursor).where(w.system == "sd_market")).scalar_one_or_none()

    def assert_ledger_matches_sandbox(self) -> None:
        """Every sandbox record is in the ledger exactly as served, or an open dead letter; nothing else."""
        source = self.sandbox_records()
        held = self.ledger_records()
        dead = self.open_dead_letters()
        missing = sorted(set(source) - set(held) - set(dead))
        assert not missing, f"{len(missing)} sandbox records neither in the ledger nor dead-lettered: {missing[:5]}"
        extra = sorted(set(held) - set(source))
        assert not extra, f"ledger holds records the sandbox does not have: {extra[:5]}"
        stale = [k for k in held if k not in dead and held[k] != source[k]]
        assert not stale, f"{len(stale)} ledger records differ from the sandbox, e.g. {stale[:3]}"


@pytest.fixture
def market_world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    made: list[MarketWorld] = []

    def make(records: int = 600, seed: int = 11) -> MarketWorld:
        sandbox = start_all(seed=seed, records={"market": records, "hall": 0}, systems=["market", "hall"])
        env = {
            "TONGBAN_SD_MARKET_URL": sandbox.urls["market"],
            "TONGBAN_SD_MARKET_USERNAME": "tongban",
            "TONGBAN_SD_MARKET_PASSWORD": "market-demo-secret",
            "TONGBAN_SD_HALL_URL": sandbox.urls["hall"],
            "TONGBAN_SD_HALL_CLIENT_ID": "tongban",
            "TONGBAN_SD_HALL_CLIENT_SECRET": "hall-demo-secret",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        mapping = tmp_path / "sd_market.yaml"
        shutil.copy(REPO / "mappings" / "sd_market.yaml", mapping)
        data = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
        data["systems"] = {k: v for k, v in data["systems"].items() if k in SYSTEMS}
        for name, entry in data["systems"].items():
            entry["connector_config"] = str(REPO / "config" / entry["connector_config"])
            entry["mapping"] = str(mapping if name == "sd_market" else (REPO / "config" / entry["mapping"]).resolve())
        systems_path = tmp_path / "systems.yaml"
        systems_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        engine = make_engine(database_url)
        upgrade(engine)
        systems = parse_systems(systems_path.read_text(encoding="utf-8"), base_dir=tmp_path)
        world = MarketWorld(sandbox, Runtime(systems, engine), systems_path, mapping, database_url,
                            {**os.environ, **env})
        made.append(world)
        return world

    yield make
    for world in made:
        world.runtime.close()
        world.sandbox.stop()


def test_two_runs_and_updates_while_paging(market_world: Any) -> None:
    w = market_world()
    first = sync_system(w.runtime, "sd_market")
    assert first.counts.read == 600 and first.counts.rejected == 0
    w.assert_ledger_matches_sandbox()
    second = sync_system(w.runtime, "sd_market")
    assert second.counts.inserted == 0 and second.counts.updated == 0  # only the lookback overlap, unchanged
    # records change while the connector pages: every page served moves 7 random records to the end
    requests.post(w.admin + "/_sandbox/mutate", json={"count": 40}, timeout=10).raise_for_status()
    w.sandbox.set_faults("market", mutate_per_page=7)
    try:
        third = sync_system(w.runtime, "sd_market", full_refresh=True)
    finally:
        w.sandbox.set_faults("market")
    assert third.counts.updated >= 40
    sync_system(w.runtime, "sd_market")  # picks up what changed after the last page was served
    w.assert_ledger_matches_sandbox()


def test_outage_fails_cleanly_and_the_watermark_stays(market_world: Any) -> None:
    w = market_world(records=300)
    sync_system(w.runtime, "sd_market")
    mark = w.watermark()
    requests.post(w.admin + "/_sandbox/mutate", json={"count": 5}, timeout=10).raise_for_status()
    w.sandbox.set_faults("market", outage="refuse")
    with pytest.raises(SyncFailed, match="connection refused|did not answer"):
        sync_system(w.runtime, "sd_market")
    assert w.watermark() == mark
    w.sandbox.set_faults("market", outage=True)  # IIS answers 503 with an HTML page
    with pytest.raises(SyncFailed, match="HTTP 503"):
        sync_system(w.runtime, "sd_market")
    w.sandbox.set_faults("market")
    sync_system(w.runtime, "sd_market")
    w.assert_ledger_matches_sandbox()


def test_dead_letters_then_replay_after_a_mapping_fix(market_world: Any) -> None:
    w = market_world(records=800)
    # the mapping before the fix: no alternative date format, no 撤回 code
    text = w.mapping_path.read_text(encoding="utf-8")
    w.mapping_path.write_text(
        text.replace('"6": not_accepted, "7": withdrawn}', '"6": not_accepted}')
        .replace('applied_at: {path: SQSJ, date: ["yyyyMMddHHmmss", "yyyy-MM-dd HH:mm:ss"]}',
                 'applied_at: {path: SQSJ, date: "yyyyMMddHHmmss"}'),
        encoding="utf-8",
    )
    w.runtime.reload_mapper("sd_market")
    w.sandbox.set_faults("market", malformed_rate=0.08)
    report = sync_system(w.runtime, "sd_market")
    kinds = {m["id"]: m["kind"] for m in requests.get(w.admin + "/_sandbox/malformed", timeout=10).json()}
    dead = w.open_dead_letters()
    assert report.counts.rejected == len(dead) == len(kinds) > 0
    assert set(dead) == set(kinds)
    some = next(k for k, v in kinds.items() if v == "impossible_date")
    assert "applied_at" in dead[some] and f"sd_market:{some}" in dead[some]
    w.mapping_path.write_text(text, encoding="utf-8")
    replayed = replay_dead_letters(w.runtime, system="sd_market")
    still = w.open_dead_letters()
    fixable = {k for k, v in kinds.items() if v in ("alt_date_format", "unknown_code")}
    assert fixable and not (fixable & set(still))
    assert set(still) == {k for k, v in kinds.items() if v in ("bad_checksum", "impossible_date")}
    assert replayed.resolved == len(fixable)
    w.assert_ledger_matches_sandbox()


def test_a_lying_charset_surrogate_references_and_broken_bytes(market_world: Any) -> None:
    w = market_world(records=1500, seed=3)
    source = w.sandbox_records()
    rare = [k for k, r in source.items() if any(ord(ch) > 0xFFFF for ch in (r.get("SQRMC") or ""))]
    assert rare, "the sandbox should generate some names outside the BMP"
    broken = sorted(source)[17]
    requests.post(w.admin + "/_sandbox/encoding", json={
        "charset_header": "utf-8", "declaration": "gb18030", "surrogate_refs": True, "broken_bytes": [broken],
    }, timeout=10).raise_for_status()
    report = sync_system(w.runtime, "sd_market")
    dead = w.open_dead_letters()
    assert list(dead) == [broken] and report.counts.rejected == 1
    assert "LXDZ" in dead[broken] and "gb18030" in dead[broken] and "[decode]" in dead[broken]
    held = w.ledger_records()
    assert all(held[k]["SQRMC"] == source[k]["SQRMC"] for k in rare)  # 𠮷 survived GB18030 + &#xD842;&#xDFB7;
    w.assert_ledger_matches_sandbox()


def test_cases_from_the_hall_are_pushed_to_the_market_system_once(market_world: Any) -> None:
    w = market_world(records=50)
    item = market.ITEMS[0]
    case = {
        "fd_id": "FD9000000001", "case_no": "370102202403050000777", "item_code": market.task_code(item),
        "item_name": item.name, "case_type": "promised",
        "applicant": {"name": "𠮷庆林", "kind": "person", "id_type": "111", "id_no": "370102198506011232"},
        "dept_code": market.DEPT["code"], "dept_name": market.DEPT["name"], "division": "370102",
        "status": "accepted", "applied_at": "2024-03-05T10:12:00+08:00", "accepted_at": "2024-03-05T10:30:00+08:00",
        "due_at": "2024-03-08T17:00:00+08:00", "finished_at": None, "result": None, "certificate": None,
        "version": 1, "origin": "window", "handler": "李娜", "deleted": False,
        "updated_at": "2024-03-05T10:30:00.000+08:00",
    }
    from datetime import datetime

    system = w.runtime.systems.get("sd_hall")
    ctx = IngestContext(system=system, systems=w.runtime.systems, mapper=w.runtime.mapper("sd_hall"),
                        stream=system.stream)
    with w.runtime.engine.begin() as conn:
        counts = ingest_page(conn, ctx, [RawRecord(case["fd_id"], datetime.fromisoformat(case["updated_at"]), case)])
    assert counts.inserted == 1, counts
    report = push(w.runtime, targets=["sd_market"])
    assert report.ok and report.targets[0].delivered == 1, report
    pushed = [r for r in w.sandbox_records().values() if r["BJBH"] == case["case_no"]]
    assert len(pushed) == 1 and pushed[0]["SQRMC"] == "𠮷庆林" and pushed[0]["SQSJ"] == "20240305101200"
    # the same version again (a crash before the outbox row was marked): the idempotency key makes it a duplicate
    with w.runtime.engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.target_system == "sd_market").values(status="pending"))
    again = push(w.runtime, targets=["sd_market"])
    assert again.targets[0].duplicates == 1
    stats = requests.get(w.admin + "/_sandbox/stats", timeout=10).json()
    assert stats["writes_applied"] == 1 and stats["duplicate_writes"] == 1


def test_kill_and_resume_of_the_sync_process(market_world: Any) -> None:
    w = market_world(records=8000, seed=5)
    requests.post(w.admin + "/_sandbox/faults", json={"latency_ms": 120}, timeout=10).raise_for_status()
    rng = random.Random(20240305)
    command = [sys.executable, "-m", "gateway", "sync", "sd_market", "--systems", str(w.systems_path),
               "--database-url", w.database_url]
    killed = 0
    for _ in range(4):
        before = len(w.ledger_records())
        process = subprocess.Popen(command, env=w.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Kill mid-run, not mid-start: wait (generously: a loaded machine starts Python slowly) until this run
        # has committed a page, then kill at a random moment after that.
        deadline = time.monotonic() + 180
        while process.poll() is None and len(w.ledger_records()) == before and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(rng.uniform(0.0, 2.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
        requests.post(w.admin + "/_sandbox/mutate", json={"count": 10}, timeout=10).raise_for_status()
    requests.post(w.admin + "/_sandbox/faults", json={}, timeout=10).raise_for_status()
    assert w.ledger_records(), "the killed runs committed nothing; resuming proved nothing"
    final = subprocess.run(command, env=w.env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert killed >= 1, "no run was killed mid-way; the kill-and-resume test proved nothing"
    w.assert_ledger_matches_sandbox()
    assert not w.open_dead_letters()
