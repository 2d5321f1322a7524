"""Helpers of the console tests (imported by name: several test folders have a conftest module)."""

from __future__ import annotations

import socket
from pathlib import Path

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
