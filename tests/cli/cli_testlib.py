"""Helpers of the CLI tests (imported by name: several test folders have a conftest module)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def tongban(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m gateway ARGS`` in ``cwd``, as an operator's shell runs it: none of the test run's ``TONGBAN_*``
    variables, only ``env``'s."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=300)
