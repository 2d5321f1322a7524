"""Helpers of the catalogue tests: a catalogue world (the sandbox's provincial catalogue over real HTTP, its
catalogues config, a ledger) and cases planted so that exactly the sandbox's dormant entries look unused."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import Engine

from gateway.catalogue import harvest_catalogue, load_catalogues
from gateway.kernel.config import SystemConfig
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases
from sandbox.server import start_all


@dataclass
class CatalogueWorld:
    sandbox: Any
    engine: Engine
    config: SystemConfig

    def planted(self) -> list[dict[str, Any]]:
        url = self.sandbox.admin_urls["catalogue"] + "/_sandbox/planted"
        return requests.get(url, timeout=30).json()["planted"]

    def admin(self, path: str, body: Any) -> Any:
        response = requests.post(self.sandbox.admin_urls["catalogue"] + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    def harvest(self, **kwargs: Any) -> Any:
        return harvest_catalogue(self.engine, self.config, **kwargs)

    def plant_cases(self, item_codes: dict[str, datetime]) -> None:
        """One live case per 实施编码, last changed at the given time (all the audit reads of a case)."""
        now = datetime.now(timezone.utc)
        rows = [{"case_no": f"K{n:08d}", "version": 1, "content_hash": "x" * 32, "data": "{}",
                 "origin_system": "test", "origin_source_id": f"K{n:08d}", "source_updated_at": at,
                 "dept_code": None, "item_code": code, "deleted": False, "updated_at": now}
                for n, (code, at) in enumerate(sorted(item_codes.items()))]
        with self.engine.begin() as conn:
            conn.execute(cases.insert(), rows)


def records_in_use(world: CatalogueWorld, now: datetime) -> dict[str, datetime]:
    """A recent case for every entry the sandbox did not plant as dormant, and an old one for half the dormant."""
    dormant = sorted(p["item_code"] for p in world.planted() if p["kind"] == "dormant")
    text = requests.get(world.sandbox.admin_urls["catalogue"] + "/_sandbox/records", timeout=60).text
    codes = {json.loads(line)["SSBM"] for line in text.splitlines() if line}
    recent = {c: now - timedelta(days=20) for c in codes if c not in dormant}
    recent.update({c: now - timedelta(days=800) for c in dormant[::2]})
    return recent


def catalogue_world_fixture(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CatalogueWorld]:
    sandbox = start_all(seed=42, records={"catalogue": 3000}, systems=["catalogue"])
    try:
        monkeypatch.setenv("TONGBAN_SD_CATALOGUE_URL", sandbox.urls["catalogue"])
        monkeypatch.setenv("TONGBAN_SD_CATALOGUE_TOKEN", sandbox.credentials["catalogue"]["token"])
        engine = make_engine(database_url)
        upgrade(engine)
        yield CatalogueWorld(sandbox, engine, load_catalogues()["sd_catalogue"])
        engine.dispose()
    finally:
        sandbox.stop()


class ServedCatalogue:
    """A catalogue system's search API on 127.0.0.1 as the shipped connector reads it (``start``/``rows`` paging,
    ``gxsjStart`` for changes since), serving ``docs`` (a list the test may change between harvests)."""

    def __init__(self, docs: list[dict[str, Any]] | None = None) -> None:
        self.docs: list[dict[str, Any]] = docs if docs is not None else []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server hook
                query = parse_qs(urlsplit(self.path).query)
                since = query.get("gxsjStart", [None])[0]
                chosen = sorted((d for d in served.docs if since is None or d["GXSJ"] >= since),
                                key=lambda d: (d["GXSJ"], d["SXID"]))
                start, rows = int(query.get("start", ["0"])[0]), int(query.get("rows", ["500"])[0])
                body = json.dumps({"status": "OK", "numFound": len(chosen),
                                   "docs": chosen[start:start + rows]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
