"""End-to-end fixtures: the sandbox systems over real HTTP on 127.0.0.1, a systems file pointing at them, and a
runtime on a fresh ledger (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from gateway.config import load_systems
from gateway.runtime import Runtime
from gateway.store import ledger
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import source_records
from sandbox.server import start_all

REPO = Path(__file__).resolve().parents[2]
REST_SYSTEMS = ("sd_civil", "jn_estate", "sd_hall")
SANDBOX_NAME = {"sd_civil": "civil", "jn_estate": "estate", "sd_hall": "hall"}
SANDBOX_ENV = {
    "TONGBAN_SD_CIVIL_API_KEY": "civil-demo-key",
    "TONGBAN_JN_ESTATE_APP_ID": "estate-demo",
    "TONGBAN_JN_ESTATE_APP_SECRET": "estate-demo-secret",
    "TONGBAN_SD_HALL_CLIENT_ID": "tongban",
    "TONGBAN_SD_HALL_CLIENT_SECRET": "hall-demo-secret",
}


@dataclass
class World:
    """A running sandbox, a systems file for it, and a ledger: everything one end-to-end test touches."""

    sandbox: Any
    systems_path: Path
    database_url: str
    runtime: Runtime
    env: dict[str, str]

    def admin(self, system: str, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, self.sandbox.admin_urls[SANDBOX_NAME.get(system, system)] + path,
                                    timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def source_records(self, system: str) -> dict[str, dict[str, Any]]:
        """The sandbox's current records, by the connector's primary key."""
        key = {"sd_civil": "id", "jn_estate": "ywh", "sd_hall": "fd_id"}[system]
        text = requests.get(self.sandbox.admin_urls[SANDBOX_NAME[system]] + "/_sandbox/records", timeout=60).text
        return {str(r[key]): r for r in map(json.loads, filter(None, text.splitlines()))}

    def ledger_records(self, system: str) -> dict[str, dict[str, Any]]:
        c = source_records.c
        with self.runtime.engine.connect() as conn:
            rows = conn.execute(source_records.select().where(c.system == system)).mappings().all()
        return {r["source_id"]: ledger.loads(r["raw"]) for r in rows}

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gateway", *args, "--systems", str(self.systems_path),
                "--database-url", self.database_url]


def write_systems(path: Path, *, mappings: dict[str, Path] | None = None) -> Path:
    """The repository's systems file, restricted to the REST systems, with mapping overrides."""
    data = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
    data["systems"] = {k: v for k, v in data["systems"].items() if k in REST_SYSTEMS}
    for name, entry in data["systems"].items():
        entry["connector_config"] = str(REPO / "config" / entry["connector_config"])
        entry["mapping"] = str((mappings or {}).get(name) or (REPO / "config" / entry["mapping"]).resolve())
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def make_world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    worlds: list[World] = []

    def make(*, civil: int = 400, estate: int = 300, seed: int = 7, mappings: dict[str, Path] | None = None,
             token_ttl: int = 300) -> World:
        sandbox = start_all(seed=seed, records={"civil": civil, "estate": estate}, token_ttl=token_ttl)
        env = dict(SANDBOX_ENV)
        env.update(TONGBAN_SD_CIVIL_URL=sandbox.urls["civil"], TONGBAN_JN_ESTATE_URL=sandbox.urls["estate"],
                   TONGBAN_SD_HALL_URL=sandbox.urls["hall"])
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        systems_path = write_systems(tmp_path / "systems.yaml", mappings=mappings)
        engine = make_engine(database_url)
        upgrade(engine)
        world = World(sandbox, systems_path, database_url, Runtime(load_systems(systems_path), engine),
                      {**os.environ, **env})
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.runtime.close()
        world.sandbox.stop()
