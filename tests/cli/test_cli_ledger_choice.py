"""Every command opens the same ledger: ``--database-url``, else ``TONGBAN_DATABASE_URL``, else the systems file's
``database_url`` (``tongban.yaml`` in the working directory), else ``sqlite:///tongban.db``. Before, the clients,
audit, catalogue, 好差评/12345 and ``db upgrade`` commands skipped the systems file and silently made an empty
``./tongban.db`` (a client list with nobody, an audit chain of "0 entries", KPIs of nothing). A file named
explicitly must exist: it never falls through to another one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_testlib import tongban


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "tongban.yaml").write_text(f"database_url: sqlite:///{tmp_path / 'chosen.db'}\nsystems: {{}}\n",
                                           encoding="utf-8")
    return tmp_path


def test_every_command_uses_the_ledger_the_systems_file_names(workdir: Path) -> None:
    upgraded = tongban("db", "upgrade", "--json", cwd=workdir)
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["database"].endswith("chosen.db")
    added = tongban("clients", "add", "sd_civil", "--json", cwd=workdir)
    assert added.returncode == 0, added.stderr
    listed = tongban("clients", "list", "--json", cwd=workdir)
    assert listed.returncode == 0, listed.stderr
    assert [c["name"] for c in json.loads(listed.stdout)] == ["sd_civil"]
    for command in (["kpi", "--json"], ["evaluations", "summary", "--json"], ["workorders", "summary", "--json"],
                    ["catalogue", "findings", "--json"], ["audit", "verify", "--json"]):
        answered = tongban(*command, cwd=workdir)
        assert answered.returncode == 0, (command, answered.stderr)
    assert not (workdir / "tongban.db").exists()


def test_a_read_only_command_on_a_missing_ledger_says_so(tmp_path: Path) -> None:
    for command in (["clients", "list"], ["kpi"], ["audit", "verify"], ["evaluations", "summary"]):
        answered = tongban(*command, "--database-url", f"sqlite:///{tmp_path / 'nowhere.db'}", cwd=tmp_path)
        assert answered.returncode == 1 and "no ledger at" in answered.stderr, (command, answered.stderr)
    assert not (tmp_path / "nowhere.db").exists()


def test_a_systems_file_named_explicitly_must_exist(workdir: Path) -> None:
    other = workdir / "other.yaml"
    other.write_text("systems: {}\n", encoding="utf-8")
    missing = tongban("kpi", "--systems", str(workdir / "missing.yaml"), cwd=workdir, env={"TONGBAN_SYSTEMS": str(other)})
    assert missing.returncode == 1 and "missing.yaml" in missing.stderr and "command line" in missing.stderr
    by_env = tongban("status", cwd=workdir, env={"TONGBAN_SYSTEMS": str(workdir / "gone.yaml")})
    assert by_env.returncode == 1 and "gone.yaml" in by_env.stderr and "TONGBAN_SYSTEMS" in by_env.stderr
