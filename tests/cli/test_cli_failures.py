"""Every expected failure of the CLI is one clear line and exit code 1, never a traceback (TONGBAN_DEBUG=1 shows
it): the cases operators met — a postgres:// URL, a PostgreSQL that is down, a bad URL, a missing mapping file,
a bad --sample, a bad USCC, a malformed systems file, status before any ledger exists."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_testlib import tongban

REPO = Path(__file__).resolve().parents[2]


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 3, result.stderr  # one message (Rich may wrap a long line)
    return " ".join(line.strip() for line in lines)


def test_a_postgres_scheme_url_is_understood(tmp_path: Path) -> None:
    from gateway.store.db import database_url

    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


def test_a_postgresql_that_is_down(tmp_path: Path) -> None:
    message = one_line(tongban("db", "upgrade", "--database-url", "postgresql://postgres@127.0.0.1:1/none",
                               cwd=tmp_path))
    assert "cannot use the ledger database" in message and "running" in message


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "not a url"])
def test_a_bad_database_url(tmp_path: Path, url: str) -> None:
    message = one_line(tongban("db", "upgrade", "--database-url", url, cwd=tmp_path))
    assert "not sqlite:///PATH or postgresql://" in message


def test_a_missing_mapping_file(tmp_path: Path) -> None:
    systems = tmp_path / "tongban.yaml"
    systems.write_text((REPO / "config" / "systems.yaml").read_text(encoding="utf-8")
                       .replace("../mappings/sd_civil.yaml", "../mappings/nope.yaml")
                       .replace("connectors/", str(REPO / "config" / "connectors") + "/"), encoding="utf-8")
    sample = tmp_path / "s.json"
    sample.write_text("[]", encoding="utf-8")
    message = one_line(tongban("mapping", "check", "sd_civil", "--sample", str(sample), "--systems", str(systems),
                               cwd=tmp_path))
    assert "nope.yaml" in message


def test_a_bad_sample(tmp_path: Path) -> None:
    sample = tmp_path / "s.json"
    sample.write_text("{not json\n", encoding="utf-8")
    message = one_line(tongban("mapping", "check", "sd_civil", "--sample", str(sample), "--systems",
                               str(REPO / "config" / "systems.yaml"), cwd=tmp_path))
    assert "--sample" in message and "neither JSON nor NDJSON" in message


def test_a_bad_uscc_in_clients_add(tmp_path: Path) -> None:
    message = one_line(tongban("clients", "add", "x", "--department", "91370100MA3C7B8X2N", "--database-url",
                               f"sqlite:///{tmp_path / 'l.db'}", cwd=tmp_path))
    assert "uscc" in message.lower()


def test_a_malformed_systems_file_says_where(tmp_path: Path) -> None:
    bad = tmp_path / "tongban.yaml"
    bad.write_text("systems:\n  sd_civil: [unclosed\n", encoding="utf-8")
    result = tongban("sync", "sd_civil", "--systems", str(bad), cwd=tmp_path)
    message = one_line(result)
    assert "tongban.yaml" in message and "not valid YAML" in message and "line" in message


def test_status_before_any_ledger_is_an_error_not_an_empty_file(tmp_path: Path) -> None:
    message = one_line(tongban("status", "--systems", str(REPO / "config" / "systems.yaml"), cwd=tmp_path))
    assert "no ledger at" in message and not (tmp_path / "tongban.db").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = tongban("db", "upgrade", "--database-url", "postgresql://postgres@127.0.0.1:1/none", cwd=tmp_path,
                     env={"TONGBAN_DEBUG": "1"})
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_debug_flag_shows_the_traceback(tmp_path: Path) -> None:
    result = tongban("--debug", "db", "upgrade", "--database-url", "postgresql://postgres@127.0.0.1:1/none",
                     cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" in result.stderr
    plain = tongban("db", "upgrade", "--database-url", "postgresql://postgres@127.0.0.1:1/none", cwd=tmp_path)
    assert plain.returncode == 1 and "Traceback" not in plain.stderr and len(plain.stderr.strip().splitlines()) == 1


def test_sandbox_serve_help_lists_the_sandboxs_options(tmp_path: Path) -> None:
    """``--help`` reaches the sandbox's own parser (it listed no options: the pass-through swallowed them)."""
    result = tongban("sandbox", "serve", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "--civil-records" in result.stdout and "--seed" in result.stdout
