"""After the demo, a second shell in the same directory finds the demo's systems and ledger."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway.demo.handoff import MARKER, write_handoff
from gateway.kernel.config import load_systems
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[2]


def test_a_second_shell_reads_the_demo_ledger(tmp_path: Path) -> None:
    workdir = tmp_path / ".tongban"
    workdir.mkdir()
    url = f"sqlite:///{workdir / 'demo.db'}"
    upgrade(make_engine(url))
    systems = load_systems(REPO / "config" / "systems.yaml")
    written = write_handoff(systems, database_url=url, env={"TONGBAN_SD_CIVIL_API_KEY": "k", "PATH": "/bin"},
                            workdir=workdir, cwd=tmp_path)
    assert tmp_path / "tongban.yaml" in written and "PATH" not in (workdir / "demo.env").read_text()
    again = load_systems(tmp_path / "tongban.yaml")
    assert again.database_url == url and set(again.systems) == set(systems.systems)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    status = subprocess.run([sys.executable, "-m", "gateway", "status", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr  # the working directory's tongban.yaml, and its ledger
    assert not (tmp_path / "tongban.db").exists()


def test_a_tongban_yaml_the_demo_did_not_write_is_left_alone(tmp_path: Path) -> None:
    mine = tmp_path / "tongban.yaml"
    mine.write_text("systems: {}\n", encoding="utf-8")
    (tmp_path / ".tongban").mkdir()
    write_handoff(load_systems(REPO / "config" / "systems.yaml"), database_url="sqlite:///x.db", env={},
                  workdir=tmp_path / ".tongban", cwd=tmp_path)
    assert mine.read_text(encoding="utf-8") == "systems: {}\n"
    assert MARKER.startswith("# written by")


def test_the_demo_env_holding_the_sandbox_secrets_is_readable_by_its_user_only(tmp_path: Path) -> None:
    """Found by review: demo.env (every sandbox secret, the ledger's key) was written 0644."""
    import stat

    workdir = tmp_path / ".tongban"
    workdir.mkdir()
    (workdir / "demo.env").write_text("old\n", encoding="utf-8")
    os.chmod(workdir / "demo.env", 0o644)  # one an earlier demo wrote
    write_handoff(load_systems(REPO / "config" / "systems.yaml"), database_url="sqlite:///x.db",
                  env={"TONGBAN_SD_CIVIL_API_KEY": "k"}, workdir=workdir, cwd=tmp_path)
    env_file = workdir / "demo.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text(encoding="utf-8") == "export TONGBAN_SD_CIVIL_API_KEY=k\n"

