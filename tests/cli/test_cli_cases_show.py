"""``tongban cases show``: the engineer who added a system sees a synced case as the ledger holds it — the
canonical document with its characters and Beijing times, personal data masked, the source record it came from,
its pushes — without opening the database by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from sqlalchemy import select

from gateway.store.tables import cases, source_records


def _cli(world: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--systems", str(world.systems_path),
                           "--database-url", world.database_url], env={**world.env, "COLUMNS": "250"},
                          capture_output=True, text=True, timeout=300)


def _a_persons_case(conn: Any) -> tuple[str, str]:
    """A live case whose applicant is a person (a resident ID: masked; a company's credit code is public)."""
    rows = conn.execute(select(cases.c.case_no, cases.c.data).where(cases.c.deleted.is_(False))
                        .order_by(cases.c.case_no)).all()
    return next((r.case_no, r.data) for r in rows if json.loads(r.data)["applicant"].get("id_type") == "111")


def test_a_synced_case_is_shown_canonical_with_its_source_and_personal_data_masked(make_world: Any) -> None:
    world = make_world(civil=12, estate=0)
    assert _cli(world, "sync", "sd_civil").returncode in (0, 1)
    with world.runtime.engine.connect() as conn:
        case_no, data = _a_persons_case(conn)
        source_id = conn.execute(select(source_records.c.source_id)
                                 .where(source_records.c.case_no == case_no)).scalar_one()
    stored = json.loads(data)
    shown = _cli(world, "cases", "show", case_no, "--json")
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["case_no"] == case_no and view["version"] >= 1 and view["origin_system"] == "sd_civil"
    assert view["sources"] == [{"system": "sd_civil", "source_id": source_id, "updated_at": view["sources"][0][
        "updated_at"], "deleted": False}]
    document = view["document"]
    assert document["item_name"] == stored["item_name"]  # public text as stored, every character
    assert document["applied_at"] == stored["applied_at"] and stored["applied_at"].endswith("+08:00")
    number = document["applicant"]["id_number"]
    assert "*" in number and len(number) == 18  # masked: never in clear
    assert document["applicant"]["name"] != stored["applicant"]["name"] and "*" in document["applicant"]["name"]
    human = _cli(world, "cases", "show", case_no)
    assert human.returncode == 0 and "canonical document" in human.stdout and source_id in human.stdout


def test_a_case_the_ledger_does_not_hold_says_where_to_look(make_world: Any) -> None:
    world = make_world(civil=0, estate=0)
    missing = _cli(world, "cases", "show", "NO-SUCH-CASE")
    assert missing.returncode == 1 and "no case 'NO-SUCH-CASE'" in missing.stderr
    assert "dead-letters" in missing.stderr and "Traceback" not in missing.stderr


def test_an_id_number_sealed_at_rest_is_opened_then_masked(make_world: Any, tmp_path: Any) -> None:
    from gateway.crypto.keys import GatewayKeys

    key_file = GatewayKeys.generate().write(tmp_path / "keys.json")
    world = make_world(civil=12, estate=0)
    world.env["TONGBAN_KEY_FILE"] = str(key_file)
    assert _cli(world, "sync", "sd_civil").returncode in (0, 1)
    with world.runtime.engine.connect() as conn:
        case_no, data = _a_persons_case(conn)
    assert json.loads(data)["applicant"]["id_number"].startswith("enc")  # sealed at rest
    number = json.loads(_cli(world, "cases", "show", case_no, "--json").stdout)["document"]["applicant"]["id_number"]
    assert len(number) == 18 and "*" in number
    without_key = {k: v for k, v in world.env.items() if k != "TONGBAN_KEY_FILE"}
    shown = subprocess.run([sys.executable, "-m", "gateway", "cases", "show", case_no, "--json", "--systems",
                            str(world.systems_path), "--database-url", world.database_url], env=without_key,
                           capture_output=True, text=True, timeout=300)
    assert json.loads(shown.stdout)["document"]["applicant"]["id_number"].startswith("(sealed")
