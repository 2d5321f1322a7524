"""``tongban bundles apply|status|list|scan`` as an operator or a hall's batch job runs them: the real CLI in a subprocess
over the company-opening world (market bureau, seal and tax back offices, the gateway API they fetch the licence
from), the steps between the commands being the ones the DAGs run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bundles_testlib import MATERIALS, CompanyWorld, application, company_world


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CompanyWorld]:
    made = company_world(sqlite_url, tmp_path, monkeypatch)
    yield made
    made.stop()


def tongban(world: CompanyWorld, *args: str, stdin: str | None = None, cwd: Path | None = None
            ) -> subprocess.CompletedProcess[str]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TONGBAN_")}, **world.env, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--systems", str(world.systems_path),
                           "--database-url", world.database_url], input=stdin, env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=180)


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_apply_a_file_then_follow_the_bundle_to_finished_by_reference_and_number(world: CompanyWorld,
                                                                                  tmp_path: Path) -> None:
    app = application("HALL-CLI-000001")
    # materials as files next to the application, the way a hall's batch export lays them out
    for entry in app["materials"]:
        (tmp_path / f"{entry['code']}.pdf").write_text(MATERIALS[entry["code"]], encoding="utf-8")
    app["materials"] = [{"code": code, "file": f"{code}.pdf", "media_type": "application/pdf"} for code in MATERIALS]
    app["bundle"] = "KBQY"
    path = tmp_path / "application.json"
    path.write_text(json.dumps(app, ensure_ascii=False), encoding="utf-8")

    applied = ok_json(tongban(world, "bundles", "apply", str(path), "--json"))
    bundle_no = applied["bundle_no"]
    assert applied["applied"] and applied["created"] and applied["released"] == ["licence"]
    assert applied["due_at"].endswith("T00:00:00+08:00")  # the close of 1 working day (开办企业), Beijing time
    assert {p["part"]: p["state"] for p in applied["parts"]} == {"licence": "released", "seal": "waiting",
                                                                 "tax": "waiting"}
    again = ok_json(tongban(world, "bundles", "apply", str(path), "--json"))  # the hall retrying its submission
    assert again["bundle_no"] == bundle_no and not again["created"]
    detail = world.detail(bundle_no)
    assert {m["code"]: m["size"] for m in detail["materials"]} == {c: len(t.encode()) for c, t in MATERIALS.items()}

    # the steps the DAGs run: licence pushed, issued, read back, harvested; seal and tax released, fetch it, finish
    world.push()
    licence_case = world.part(bundle_no, "licence")["case_no"]
    world.admin("sd_market", "POST", "/_sandbox/decide", json={"case_no": licence_case, "decision": "issue"})
    world.sync("sd_market")
    world.scan()
    waiting = ok_json(tongban(world, "bundles", "status", "HALL-CLI-000001", "--json"))
    assert waiting["bundle_no"] == bundle_no and waiting["status"] == "in_progress"
    assert "not in the certificate library yet" in waiting["reason"]
    world.harvest()
    scanned = ok_json(tongban(world, "bundles", "scan", "--json"))  # what the hand-off DAG's task runs
    assert scanned["released"] == 2 and scanned["live"] == 1
    assert ok_json(tongban(world, "bundles", "scan", "--json"))["released"] == 0  # nothing twice
    naive = tongban(world, "bundles", "scan", "--now", "2026-12-03 09:00")
    assert naive.returncode == 1 and "offset" in naive.stderr + naive.stdout
    world.push()
    for part in ("seal", "tax"):
        case_no = world.part(bundle_no, part)["case_no"]
        system = {"seal": "jn_seal", "tax": "jn_tax"}[part]
        (check,) = world.checked(system, case_no)["checks"]
        assert check["ok"]
        world.admin(system, "POST", "/_sandbox/decide", json={"case_no": case_no, "decision": "finish"})
    world.sync()
    world.scan()

    for ref in (bundle_no, "HALL-CLI-000001"):
        status = ok_json(tongban(world, "bundles", "status", ref, "--json"))
        assert status["bundle_no"] == bundle_no and status["status"] == "finished"
        assert {p["part"]: p["state"] for p in status["parts"]} == {"licence": "finished", "seal": "finished",
                                                                    "tax": "finished"}
        assert [e["step"] for e in status["events"]].count("bundle_finished") == 1
    human = tongban(world, "bundles", "status", bundle_no)
    assert human.returncode == 0, human.stderr
    assert f"{bundle_no}: finished" in human.stdout and "jn_seal" in human.stdout and "bundle_finished" in human.stdout

    listed = ok_json(tongban(world, "bundles", "list", "--json"))
    assert listed["counts"] == {"finished": 1} and [b["bundle_no"] for b in listed["bundles"]] == [bundle_no]
    assert ok_json(tongban(world, "bundles", "list", "--status", "failed", "--json"))["bundles"] == []
    table = tongban(world, "bundles", "list")
    assert table.returncode == 0 and bundle_no in table.stdout and "finished: 1" in table.stdout


def test_a_broken_application_on_stdin_names_the_application_field_and_rule_and_exits_1(world: CompanyWorld) -> None:
    app = application("HALL-CLI-000002", seal_kinds=["公章", "钢印"], phone="0531-1234")
    app["form"].pop("business_scope")
    app["materials"].pop()
    text = json.dumps(app, ensure_ascii=False)

    human = tongban(world, "bundles", "apply", "-", stdin=text)
    assert human.returncode == 1 and "Traceback" not in human.stderr, human.stderr
    lines = [" ".join(line.split()) for line in human.stderr.splitlines() if line.strip()]
    for field, rule in (("form.business_scope", "bundle.required"), ("form.seal_kinds", "bundle.choice"),
                        ("form.phone", "bundle.pattern"), ("materials.appointment", "bundle.material_missing")):
        assert any(line.startswith(f"error: HALL-CLI-000002: {field}:") and f"[{rule}]" in line for line in lines), \
            (field, lines)

    machine = tongban(world, "bundles", "apply", "-", "--json", stdin=text)
    assert machine.returncode == 1
    rejected = json.loads(machine.stdout)
    assert rejected["applied"] is False and rejected["record"] == "HALL-CLI-000002"
    assert {(i["field"], i["rule"]) for i in rejected["issues"]} == {
        ("form.business_scope", "bundle.required"), ("form.seal_kinds", "bundle.choice"),
        ("form.phone", "bundle.pattern"), ("materials.appointment", "bundle.material_missing")}
    assert ok_json(tongban(world, "bundles", "list", "--json"))["bundles"] == []  # nothing stored


def test_unknown_bundles_and_unreadable_inputs_are_one_line_and_exit_1(world: CompanyWorld, tmp_path: Path) -> None:
    missing = tongban(world, "bundles", "status", "YJS20260101NOPE")
    assert missing.returncode == 1 and "bundle YJS20260101NOPE: no such bundle" in " ".join(missing.stderr.split())
    unknown = tongban(world, "bundles", "apply", "-", "--bundle", "XXXX", stdin=json.dumps(application()))
    assert unknown.returncode == 1 and "unknown bundle 'XXXX'" in unknown.stderr and "KBQY" in unknown.stderr
    gone = tongban(world, "bundles", "apply", str(tmp_path / "nope.json"))
    assert gone.returncode == 1 and "cannot read" in gone.stderr and "Traceback" not in gone.stderr
    app = application("HALL-CLI-000003")
    app["materials"][0] = {"code": "id_proof", "file": "not-there.pdf"}
    (tmp_path / "a.json").write_text(json.dumps(app), encoding="utf-8")
    unread = tongban(world, "bundles", "apply", str(tmp_path / "a.json"))
    assert unread.returncode == 1
    assert "HALL-CLI-000003: materials.id_proof: cannot read" in " ".join(unread.stderr.split())
    assert "[bundle.material_file]" in unread.stderr
    bad = tongban(world, "bundles", "apply", "-", stdin="[1, 2")
    assert bad.returncode == 1 and "<stdin>: not valid YAML" in bad.stderr
