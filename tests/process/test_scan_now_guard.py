"""A scan "as of" a later instant than this machine's clock writes what it decides, so it is refused: the bundle
scan takes "in force today" from ``now`` (a licence valid from next month would release parts), as the hand-off
scan deems windows closed from it. ``ahead_of_clock`` (a drill) is honoured only where ``TONGBAN_DRILL=1``."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.contract.errors import ConfigError
from gateway.process.asof import DRILL_FLAG, guard_as_of

REPO = Path(__file__).resolve().parents[2]
LATER = datetime.now(UTC) + timedelta(days=31)


def test_a_later_now_is_refused_unless_a_flagged_drill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DRILL_FLAG, raising=False)
    with pytest.raises(ConfigError, match="later than this machine's clock"):
        guard_as_of(LATER, name="now", hint="h")
    with pytest.raises(ConfigError, match="TONGBAN_DRILL=1 is not set"):
        guard_as_of(LATER, name="now", hint="h", ahead_of_clock=True)
    with pytest.raises(ConfigError, match="TONGBAN_DRILL=1 is not set"):  # the checkbox alone is refused
        guard_as_of(None, name="now", hint="h", ahead_of_clock=True)
    guard_as_of(datetime.now(UTC) - timedelta(days=1), name="now", hint="h")  # a catch-up runs
    monkeypatch.setenv(DRILL_FLAG, "1")
    guard_as_of(LATER, name="now", hint="h", ahead_of_clock=True)
    with pytest.raises(ConfigError, match="later than"):  # the flag alone skips nothing
        guard_as_of(LATER, name="now", hint="h")


def test_tongban_bundles_scan_refuses_a_later_now(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "gateway", "bundles", "scan", "--now", LATER.isoformat(),
                           "--database-url", f"sqlite:///{tmp_path / 'never.db'}"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 1
    out = done.stdout + done.stderr
    assert "later than this machine's clock" in out and "licences valid from a later day" in out, out
    assert "Traceback" not in out and not (tmp_path / "never.db").exists()  # refused before the ledger is opened
