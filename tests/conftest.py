"""Shared fixtures: ledger databases (SQLite always, PostgreSQL when TONGBAN_TEST_POSTGRES_URL is set), and the
end-to-end world: the sandbox systems over real HTTP, a systems file pointing at them, a runtime on a fresh ledger.

Tests that need PostgreSQL use it for real; on a machine without it they skip with a visible reason while the
rest of the suite runs. ``.ci/run`` makes sure a server is up and sets the variable, so in CI they run.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import json
from dataclasses import dataclass
from typing import Any

import requests
import yaml

from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.store import ledger
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from sandbox.server import start_all

POSTGRES_URL = os.environ.get("TONGBAN_TEST_POSTGRES_URL")
REPO_ROOT = Path(__file__).resolve().parent.parent
REPO = REPO_ROOT


def _postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests skipped: TONGBAN_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    admin_url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"tongban_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a configured but unreachable server is a failure, not a skip
        raise RuntimeError(f"TONGBAN_TEST_POSTGRES_URL is set but the server refused: {exc}") from exc
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database URL, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


# -- the end-to-end world ---------------------------------------------------------------------------

REST_SYSTEMS = ("sd_civil", "jn_estate", "sd_hall")
"""The systems a world's systems file holds unless the test names others (``make_world(systems=...)``)."""
SANDBOX_NAME = {"sd_civil": "civil", "jn_estate": "estate", "sd_hall": "hall", "jn_social": "social",
                "jn_welfare": "welfare"}
SOURCE_KEY = {"sd_civil": "id", "jn_estate": "ywh", "sd_hall": "fd_id", "jn_social": "ywlsh", "jn_welfare": "YWBH"}
"""The connector's primary key of each system's records."""
SANDBOX_ENV = {
    "TONGBAN_SD_CIVIL_API_KEY": "civil-demo-key",
    "TONGBAN_JN_ESTATE_APP_ID": "estate-demo",
    "TONGBAN_JN_ESTATE_APP_SECRET": "estate-demo-secret",
    "TONGBAN_SD_HALL_CLIENT_ID": "tongban",
    "TONGBAN_SD_HALL_CLIENT_SECRET": "hall-demo-secret",
    "TONGBAN_JN_SOCIAL_APP_KEY": "social-demo",
    "TONGBAN_JN_SOCIAL_SECRET": "social-demo-secret",
    "TONGBAN_JN_WELFARE_USERNAME": "tongban",
    "TONGBAN_JN_WELFARE_PASSWORD": "welfare-demo-secret",
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
        key = SOURCE_KEY[system]
        text = requests.get(self.sandbox.admin_urls[SANDBOX_NAME[system]] + "/_sandbox/records", timeout=60).text
        return {str(r[key]): r for r in map(json.loads, filter(None, text.splitlines()))}

    def ledger_records(self, system: str) -> dict[str, dict[str, Any]]:
        with self.runtime.engine.connect() as conn:
            return ledger.raw_payloads(conn, system, self.runtime.pii)

    def cli(self, *args: str, ledger: bool = True) -> list[str]:
        """A ``tongban`` command line for this world (``ledger=False`` for commands without a ledger)."""
        return [sys.executable, "-m", "gateway", *args, "--systems", str(self.systems_path),
                *(["--database-url", self.database_url] if ledger else [])]


def write_systems(path: Path, *, mappings: dict[str, Path] | None = None,
                  systems: tuple[str, ...] = REST_SYSTEMS) -> Path:
    """The repository's systems file, restricted to ``systems`` (the REST systems by default), with mapping
    overrides."""
    data = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
    unknown = set(systems) - set(data["systems"])
    assert not unknown, f"not in config/systems.yaml: {sorted(unknown)}"
    data["systems"] = {k: v for k, v in data["systems"].items() if k in systems}
    for name, entry in data["systems"].items():
        entry["connector_config"] = str(REPO / "config" / entry["connector_config"])
        entry["mapping"] = str((mappings or {}).get(name) or (REPO / "config" / entry["mapping"]).resolve())
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def make_world(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    worlds: list[World] = []

    def make(*, civil: int = 400, estate: int = 300, social: int = 300, welfare: int = 300, seed: int = 7,
             mappings: dict[str, Path] | None = None, token_ttl: int = 300,
             systems: tuple[str, ...] = REST_SYSTEMS) -> World:
        sandbox = start_all(seed=seed, records={"civil": civil, "estate": estate, "social": social, "welfare": welfare},
                            token_ttl=token_ttl)
        env = dict(SANDBOX_ENV)
        env.update(TONGBAN_SD_CIVIL_URL=sandbox.urls["civil"], TONGBAN_JN_ESTATE_URL=sandbox.urls["estate"],
                   TONGBAN_SD_HALL_URL=sandbox.urls["hall"])
        env.update(TONGBAN_JN_SOCIAL_URL=sandbox.urls["social"], TONGBAN_JN_WELFARE_URL=sandbox.urls["welfare"])
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        systems_path = write_systems(tmp_path / "systems.yaml", mappings=mappings, systems=systems)
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
