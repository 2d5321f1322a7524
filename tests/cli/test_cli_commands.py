"""The ``tongban`` command as operators use it: real processes, a real sandbox, --json output, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(world, *args: str, check: bool = True, ledger: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(world.cli(*args, ledger=ledger), env=world.env, capture_output=True, text=True,
                            timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture
def world(make_world):
    return make_world(civil=120, estate=80)


def test_db_upgrade_sync_status_and_dead_letters(world, sqlite_url: str) -> None:
    upgraded = subprocess.run([sys.executable, "-m", "gateway", "db", "upgrade", "--json", "--database-url",
                               world.database_url], env=world.env, capture_output=True, text=True, timeout=120)
    assert upgraded.returncode == 0 and json.loads(upgraded.stdout)["revision"]
    sync = json.loads(run(world, "sync", "sd_civil", "--json").stdout)
    assert sync["status"] == "succeeded" and sync["inserted"] == 120
    status = {row["system"]: row for row in json.loads(run(world, "status", "--json").stdout)["systems"]}
    assert status["sd_civil"]["last_run"]["inserted"] == 120
    assert status["sd_hall"]["pending_outbox"] > 0 and status["jn_estate"]["last_run"] is None  # queued for the hall
    human = run(world, "status").stdout
    assert "sd_civil" in human and "succeeded" in human
    assert json.loads(run(world, "dead-letters", "list", "--json").stdout) == []
    pushed = json.loads(run(world, "push", "--json").stdout)
    assert pushed["ok"] and {t["target"]: t for t in pushed["targets"]}["sd_hall"]["pending"] == 0


def test_unknown_system_is_one_clear_line_and_exit_code_1(world) -> None:
    result = run(world, "sync", "nope", check=False)
    assert result.returncode == 1
    assert "unknown system 'nope'" in result.stderr and "Traceback" not in result.stderr


def test_mapping_check_on_the_live_system_and_on_a_sample(world, tmp_path: Path) -> None:
    live = json.loads(run(world, "mapping", "check", "sd_civil", "--json", "--limit", "50", ledger=False).stdout)
    assert live["records"] == 50 and live["rejected"] == 0
    coverage = {f["field"]: f for f in live["fields"]}
    assert coverage["applicant.id_number"]["coverage"] == 1.0 and coverage["case_no"]["failures"] == 0
    sample = tmp_path / "sample.json"
    sample.write_text(json.dumps([{"id": "X1", "projectNo": "P1", "applyTime": "2024/13/45"}]), encoding="utf-8")
    result = run(world, "mapping", "check", "sd_civil", "--json", "--sample", str(sample), check=False, ledger=False)
    assert result.returncode == 1  # a sample with rejected records fails the check
    checked = json.loads(result.stdout)
    assert checked["rejected"] == 1
    assert any("mapping.required" in f["rules"] for f in checked["fields"] if f["field"] == "item_code")


def test_connector_list_and_check(world) -> None:
    listed = json.loads(run(world, "connector", "list", "--json", ledger=False).stdout)
    assert listed["kinds"]["rest"] == "connectors.rest:RestConnector"
    assert {s["name"] for s in listed["systems"]} >= {"sd_civil", "jn_estate", "sd_hall"}
    checked = json.loads(run(world, "connector", "check", "sd_hall", "--json", ledger=False).stdout)
    assert checked["ok"] is True


def _demo_env(path: Path) -> dict[str, str]:
    """The variables ``demo.env`` exports (``export NAME=value`` lines, shell-quoted)."""
    import shlex

    pairs = (shlex.split(line.removeprefix("export "))[0] for line in path.read_text(encoding="utf-8").splitlines()
             if line.startswith("export "))
    return dict(pair.split("=", 1) for pair in pairs)


def test_the_readme_demo_runs_both_directions_and_checks_itself(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--once", "--json", "--records", "60", "--frontdesk", "4",
         "--workdir", str(tmp_path / "demo")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["ok"] is True, summary
    assert summary["checks"]["ok: the hall holds every department case"] is True
    assert summary["checks"]["front-desk cases accepted at the hall"] == 4
    assert summary["checks"]["ok: every DAG run succeeded"] is True
    assert {r["dag_id"] for r in summary["dag_runs"]} >= {"tongban_push", "tongban_sync_sd_civil", "tongban_deadlines"}
    # issue 15's flows: deemed acceptance, a 跨省通办 case there and back, a company opening through the gateway
    flows = {k: v for k, v in summary["checks"].items() if k.startswith(("ok: 一窗受理", "ok: 跨省通办", "ok: 一件事"))}
    assert len(flows) == 4 and all(v is True for v in flows.values()), flows
    assert [r["conf"]["now"] for r in summary["dag_runs"] if r.get("conf")]  # the hand-off scanned as of its due time
    # a second shell in the same directory finds the demo's systems and ledger (tongban.yaml the demo wrote)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}
    status = subprocess.run([sys.executable, "-m", "gateway", "status", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0, status.stderr
    synced = {r["system"]: r for r in json.loads(status.stdout)["systems"]}
    assert synced["sd_civil"]["last_run"]["status"] == "succeeded"
    # the steps the human summary ends with name the file that holds the key a console or replay needs
    from gateway.cli.commands import demo_next_steps

    steps = demo_next_steps(tmp_path / "demo")
    sourced = subprocess.run(["bash", "-c", steps.split("To look at it:\n")[1].splitlines()[0].split("#")[0]
                              + "; env"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert sourced.returncode == 0 and "TONGBAN_KEY_FILE=" in sourced.stdout, (steps, sourced.stderr)
    # the summary and the KPIs describe the end state: the hand-off the second act deemed accepted is counted,
    # and the catalogue DAG's KPI refresh ran last, so a second shell's kpi adds nothing it had not counted
    assert summary["checks"]["hand-offs (一窗受理) by state"].get("deemed", 0) >= 1, summary["checks"]
    assert summary["dag_runs"][-1]["dag_id"] == "tongban_catalogue_kpi"
    kpi = subprocess.run([sys.executable, "-m", "gateway", "kpi", "--json"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert kpi.returncode == 0, kpi.stderr
    assert json.loads(kpi.stdout)["refresh"]["read"] == 0, kpi.stdout[:2000]
    # citizens rated cases the departments finished (not only the collection point's own generated cases), so
    # 好差评 coverage is of the ledger's finished cases
    ratings = subprocess.run([sys.executable, "-m", "gateway", "evaluations", "summary", "--json"], cwd=tmp_path,
                             env={**env, **_demo_env(tmp_path / "demo" / "demo.env")}, capture_output=True,
                             text=True, timeout=120)
    assert ratings.returncode == 0, ratings.stderr
    summary_of_ratings = json.loads(ratings.stdout)
    assert summary_of_ratings["evaluated_cases"] > 0 and summary_of_ratings["coverage"] > 0.5, summary_of_ratings
