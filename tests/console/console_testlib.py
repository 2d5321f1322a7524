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
