"""A real browser for the page tests: Debian's Chromium driven by Playwright (``scripts/run-tests.sh`` installs it
with apt-get where it can). Tests use :func:`launch_chromium` through a fixture of their own and skip, with the
reason, on a machine without Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "no Chromium on this machine (apt-get install chromium; scripts/run-tests.sh installs it where it can)"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
WAIT_MS = 120_000  # a loaded machine: generous, and only ever waited on a condition


@contextmanager
def launch_chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=WAIT_MS)
        try:
            yield chromium
        finally:
            chromium.close()


def artefact_dir() -> Path:
    """Where browser tests keep their screenshots (``TONGBAN_TEST_ARTEFACTS``, default ``.artefacts/``)."""
    path = Path(os.environ.get("TONGBAN_TEST_ARTEFACTS") or Path(__file__).resolve().parents[1] / ".artefacts")
    path.mkdir(parents=True, exist_ok=True)
    return path
