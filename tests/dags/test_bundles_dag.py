"""一件事 driven by Airflow (``dag.test()``): the company-opening bundle through the real DAGs — the sync DAGs, the
push, the certificate harvest and the ``scan_bundles`` task of ``tongban_handoff`` — over real HTTP, with the seal
and tax systems fetching the licence through the gateway; DAGs rebuilt mid-way (a scheduler restart) send nothing
twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bundles_testlib import CompanyWorld, application, company_world


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CompanyWorld]:
    made = company_world(sqlite_url, tmp_path, monkeypatch)
    yield made
    made.stop()


def _ok(dag: Any) -> dict[str, str]:
    run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state) == "success", (dag.dag_id, states)
    return states


def _round(dags: dict[str, Any]) -> None:
    """What the scheduler does over a minute or two: read every system, harvest, scan the bundles, push."""
    for name in ("sd_market", "jn_seal", "jn_tax"):
        _ok(dags[f"tongban_sync_{name}"])
    _ok(dags["tongban_certificates"])
    _ok(dags["tongban_handoff"])
    _ok(dags["tongban_push"])


def test_the_company_opening_bundle_runs_through_the_dags_and_finishes_once(world: CompanyWorld, dags_for) -> None:
    bundle_no = world.apply(application("HALL-DAG-000001")).bundle_no
    dags = dags_for(world)
    _round(dags)  # the licence part reaches the market bureau
    licence_case = world.part(bundle_no, "licence")["case_no"]
    licence_no = world.admin("sd_market", "POST", "/_sandbox/decide",
                             json={"case_no": licence_case, "decision": "issue"})["ZZBH"]
    _round(dags)  # licence read back and harvested; seal and tax released and pushed
    states = _ok(dags["tongban_handoff"])
    assert states["scan_bundles"] == "success" and states["publish_bundles"] == "skipped"  # nothing new to release
    seal_case, tax_case = world.part(bundle_no, "seal")["case_no"], world.part(bundle_no, "tax")["case_no"]
    for system, case_no in (("jn_seal", seal_case), ("jn_tax", tax_case)):
        (check,) = world.checked(system, case_no)["checks"]
        assert check["ok"] and check["licence"] == licence_no
        world.admin(system, "POST", "/_sandbox/decide", json={"case_no": case_no, "decision": "finish"})

    dags = dags_for(world)  # a restart: everything rebuilt from files and the ledger
    _round(dags)
    _round(dags)
    detail = world.detail(bundle_no)
    assert detail["status"] == "finished", detail
    assert [e["step"] for e in detail["events"]].count("bundle_finished") == 1
    market = world.admin("sd_market", "GET", "/_sandbox/received")
    assert [len(r["received"]) for r in market] == [1]
    for system, case_no in (("jn_seal", seal_case), ("jn_tax", tax_case)):
        (part,) = world.admin(system, "GET", "/_sandbox/cases", params={"case_no": case_no})
        assert part["applied_writes"] == 1 and len(part["checks"]) == 1
