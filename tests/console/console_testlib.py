"""Helpers of the console tests (imported by name: several test folders have a conftest module)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {"admin": "admin-pass-1", "viewer": "viewer-pass-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class BareLedger:
    """What the ``serve_console`` fixture needs of a world — a command line and an environment — on a ledger the
    test made itself (SQLite or PostgreSQL), with the repository's systems file."""

    def __init__(self, database_url: str) -> None:
        import os

        self.database_url = database_url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}

    def cli(self, *args: str) -> list[str]:
        import sys

        return [sys.executable, "-m", "gateway", *args, "--systems", str(REPO / "config" / "systems.yaml"),
                "--database-url", self.database_url]


def sqlite_ledger(tmp_path: Path) -> Any:
    """A fresh, migrated SQLite ledger in ``tmp_path``."""
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    return engine


def console_app(tmp_path: Path, engine: Any) -> Any:
    """A console on ``engine`` with the repository's systems file, as a test client (no redirects followed), its
    operators ``admin`` and ``viewer`` (:data:`PASSWORDS`) in ``tmp_path``."""
    from fastapi.testclient import TestClient

    from gateway.console.app import create_console_app
    from gateway.console.operators import OperatorBook
    from gateway.kernel.config import load_systems
    from gateway.kernel.runtime import Runtime

    book = OperatorBook(tmp_path / "ops.json")
    for who, password in PASSWORDS.items():
        if book.role_of(who, 0) is None:
            book.add(who, password, who)
    runtime = Runtime(load_systems(REPO / "config" / "systems.yaml"), engine)
    return TestClient(create_console_app(runtime, book), follow_redirects=False)


def logged_in(tmp_path: Path, engine: Any, who: str = "admin") -> Any:
    """:func:`console_app`, logged in as ``who``."""
    client = console_app(tmp_path, engine)
    assert client.post("/console/login", data={"name": who, "password": PASSWORDS[who]}).status_code == 303
    return client
