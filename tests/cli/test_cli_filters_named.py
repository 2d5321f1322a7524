"""Filters and keys an operator mistypes are named, not answered with an empty table (found by an outside review:
``handoff list --state bogus`` and ``dead-letters list --system nosuch`` exited 0 with nothing listed, as if there
were none; ``alerts resolve nosuch key`` said "no open nosuch alert with key"), and the hand-off drill speaks
Beijing time, as every other view does."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from gateway.store import alerts as alert_store
from gateway.store.db import make_engine
from gateway.store.ledger import add_dead_letters
from gateway.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]


def _systems_file(path: Path) -> Path:
    """The repository's systems file with its connector configs and mappings named by absolute path."""
    data = yaml.safe_load((REPO / "config" / "systems.yaml").read_text(encoding="utf-8"))
    for entry in data["systems"].values():
        for key in ("connector_config", "mapping"):
            if key in entry:
                entry[key] = str((REPO / "config" / entry[key]).resolve())
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _ledger(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        add_dead_letters(conn, [{"kind": "record", "system": "evaluator", "stream": "ratings", "source_id": "PJ-1",
                                 "reason": "bad rating [rating.code]", "created_at": now, "updated_at": now}])
        for key in ("C-1", "C-2"):
            alert_store.upsert_alert(conn, "routing", f"reroute:{key}", level="error", message="move it",
                                     details=None, system="sd_hall", case_no=key, now=now)
    engine.dispose()
    return url, _systems_file(tmp_path / "systems.yaml")


def _cli(url: str, systems: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--systems", str(systems), "--database-url", url],
                          capture_output=True, text=True, timeout=300)


def test_mistyped_filters_and_keys_are_named(tmp_path: Path) -> None:
    url, systems = _ledger(tmp_path)

    state = _cli(url, systems, "handoff", "list", "--state", "bogus")
    assert state.returncode == 1 and "--state 'bogus': not a hand-off state" in state.stderr
    assert "awaiting_delivery" in state.stderr and "refused_routing" in state.stderr
    assert _cli(url, systems, "handoff", "list", "--state", "pending").returncode == 0
    assert _cli(url, systems, "handoff", "list", "--limit", "-1").returncode == 2  # typer: -1 is not >= 1

    nosuch = _cli(url, systems, "dead-letters", "list", "--system", "nosuch")
    assert nosuch.returncode == 1 and "--system 'nosuch': no such system" in nosuch.stderr
    assert "sd_civil" in nosuch.stderr  # the configured ones are named
    evaluator = _cli(url, systems, "dead-letters", "list", "--system", "evaluator", "--records", "--json")
    assert evaluator.returncode == 0 and "PJ-1" in evaluator.stdout  # outside the systems file, with dead letters
    assert _cli(url, systems, "dead-letters", "list", "--system", "sd_civil").returncode == 0  # configured, none
    replay = _cli(url, systems, "dead-letters", "replay", "evaluator")  # the console names the command; so does this
    assert replay.returncode == 1 and "tongban evaluations replay" in replay.stderr

    kind = _cli(url, systems, "alerts", "resolve", "nosuch", "key")
    assert kind.returncode == 1 and "no alert of kind 'nosuch' is open (open kinds: routing)" in kind.stderr
    key = _cli(url, systems, "alerts", "resolve", "routing", "C-1")
    assert key.returncode == 1 and "open routing keys: 'reroute:C-1', 'reroute:C-2'" in key.stderr
    assert _cli(url, systems, "alerts", "resolve", "routing", "reroute:C-1").returncode == 0


def test_the_hand_off_drill_says_beijing_time(tmp_path: Path) -> None:
    url, systems = _ledger(tmp_path)
    drill = _cli(url, systems, "handoff", "scan", "--dry-run", "--now", "2026-12-05T02:30:00.123456+00:00", "--json")
    assert drill.returncode == 0, drill.stderr
    assert '"now": "2026-12-05T10:30:00+08:00"' in drill.stdout
