"""Defects an outside review of the process scans found, each on a fresh ledger of each backend: one front-desk
case with an over-long office code failed every hand-off scan on PostgreSQL (no case registered, handed or
deemed in the district); a case the scan cannot register stopped the others; an office code typed full width was
refused (不予受理) at routing; a deferred material's long name failed the deadline scan's batch on PostgreSQL,
and two materials of one name were one alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from handoff_ledger_testlib import (
    CALENDAR,
    CATALOGUE,
    case_doc,
    handoff_row,
    ledger,
    pending_handoff,
    put_case,
    systems_with_intake,
)

from gateway.ops.alerts import open_alerts
from gateway.ops.deadlines.scan import scan_deadlines
from gateway.process import handoff, scan_handoffs

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Beijing
APPLIED = NOW - timedelta(hours=1)


def _world(database_url: str, tmp_path: Path) -> tuple[Any, Any]:
    engine = ledger(database_url)
    put_case(engine, case_doc("B0002", applied_at=APPLIED), frontdesk=True)  # a sound case after the bad one
    put_case(engine, case_doc("C0003", applied_at=APPLIED), origin="sd_civil")  # handed, its window over
    pending_handoff(engine, "C0003", handed=NOW - timedelta(minutes=30))
    return engine, systems_with_intake(tmp_path, "handoff")


def test_an_office_code_longer_than_the_hand_off_row_holds_is_refused_alone(database_url: str,
                                                                            tmp_path: Path) -> None:
    engine, systems = _world(database_url, tmp_path)
    long_code = "济南市历下区泉城路街道便民服务中心综合受理窗口" * 3 + "-01"  # a window's name mapped into the code
    put_case(engine, case_doc("A0001", applied_at=APPLIED, office={"code": long_code, "division": "370102"}),
             frontdesk=True)
    report = scan_handoffs(engine, systems, CATALOGUE, now=NOW, calendar=CALENDAR)
    assert (report.registered, report.refused_routing, report.deemed, report.errors) == (1, 1, 1, {})
    bad = handoff_row(engine, "A0001")
    assert bad["state"] == "refused_routing" and len(bad["office_code"]) == 64 and long_code in bad["reason"]
    assert handoff_row(engine, "B0002")["state"] == "awaiting_delivery"
    assert handoff_row(engine, "C0003")["state"] == "deemed"
    again = scan_handoffs(engine, systems, CATALOGUE, now=NOW + timedelta(minutes=1), calendar=CALENDAR)
    assert (again.registered, again.refused_routing, again.errors) == (0, 0, {})


def test_a_case_the_scan_cannot_register_is_alerted_and_the_others_go_on(database_url: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever one case's trouble (here an unforeseen failure written into the registration), it is that case's:
    alerted (``handoff_scan``), the rest registered, handed and deemed; a scan that registers it resolves it."""
    engine, systems = _world(database_url, tmp_path)
    put_case(engine, case_doc("A0001", applied_at=APPLIED), frontdesk=True)
    real = handoff._register_one

    def failing(engine: Any, row: dict[str, Any], *args: Any) -> None:
        if row["case_no"] == "A0001":
            raise ValueError("what this case holds cannot be registered")
        real(engine, row, *args)

    monkeypatch.setattr(handoff, "_register_one", failing)
    report = scan_handoffs(engine, systems, CATALOGUE, now=NOW, calendar=CALENDAR)
    assert list(report.errors) == ["A0001"] and "cannot be registered" in report.errors["A0001"]
    assert (report.registered, report.deemed) == (1, 1)
    assert handoff_row(engine, "B0002")["state"] == "awaiting_delivery"
    (alert,) = open_alerts(engine, kind=handoff.SCAN_ALERT)
    assert alert["key"] == "A0001" and alert["level"] == "error" and "cannot be registered" in alert["message"]

    monkeypatch.setattr(handoff, "_register_one", real)
    report = scan_handoffs(engine, systems, CATALOGUE, now=NOW + timedelta(minutes=1), calendar=CALENDAR)
    assert report.errors == {} and report.registered == 1
    assert open_alerts(engine, kind=handoff.SCAN_ALERT) == []


@pytest.mark.parametrize("code", ["ＪＮ３７０１０２－ＱＣＬ", "jn370102-qcl", " JN370102-QCL "])
def test_an_office_code_typed_full_width_or_in_lower_case_is_the_registered_office(code: str, database_url: str,
                                                                                   tmp_path: Path) -> None:
    engine, systems = _world(database_url, tmp_path)
    put_case(engine, case_doc("A0001", applied_at=APPLIED, office={"code": code, "division": "370102"}),
             frontdesk=True)
    report = scan_handoffs(engine, systems, CATALOGUE, now=NOW, calendar=CALENDAR)
    assert report.refused_routing == 0
    assert handoff_row(engine, "A0001")["state"] == "awaiting_delivery"


def _material(name: str) -> dict[str, Any]:
    return {"name": name, "kind": "tolerated", "due_at": (NOW - timedelta(days=2)).isoformat(), "received_at": None,
            "certificate_type": None}


def test_deferred_materials_with_long_or_equal_names_are_each_alerted(database_url: str) -> None:
    engine = ledger(database_url)
    accepted = datetime(2026, 2, 23, 1, 0, tzinfo=UTC)
    long_name = ("申请人及共同申请人的身份证明材料（居民身份证、户口簿、港澳居民来往内地通行证、台湾居民来往大陆通行证或护照等"
                 "有效身份证件）复印件，须加盖公章并注明与原件一致，由申请人签字确认后提交") * 2
    put_case(engine, case_doc("A0001", applied_at=accepted, accepted_at=accepted.isoformat(), status="accepted",
                              promised_days=1))  # red on its own: its alert must be filed whatever the others hold
    put_case(engine, case_doc("B0002", applied_at=accepted, accepted_at=accepted.isoformat(), status="accepted",
                              deferred_materials=[_material(long_name), _material("身份证复印件"),
                                                  _material("身份证复印件")]))
    report = scan_deadlines(engine, CALENDAR, now=NOW, catalogue=CATALOGUE)
    assert report.materials_overdue == 3 and report.red == 1
    assert [a["case_no"] for a in open_alerts(engine, kind="deadline")] == ["A0001"]
    found = open_alerts(engine, kind="deferred_material")
    materials = sorted(a["details"]["material"] for a in found if a["case_no"] == "B0002")
    assert materials == sorted([long_name, "身份证复印件", "身份证复印件"])
    assert all(len(a["key"]) <= 160 for a in found)
    again = scan_deadlines(engine, CALENDAR, now=NOW + timedelta(minutes=10), catalogue=CATALOGUE)
    assert again.materials_overdue == 3 and again.new_alerts == 0


def test_bundles_list_finds_an_old_held_bundle_and_counts_every_bundle(database_url: str) -> None:
    """The list read the newest 200 bundles, then filtered and counted those: an older held bundle — the one a
    supervisor must chase — was not listed by ``--status held``, and the totals were the page's (in_progress:
    200, no held, no failed)."""
    import json

    from typer.testing import CliRunner

    from gateway.cli import app
    from gateway.store import bundles as bundle_store

    engine = ledger(database_url)
    t0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    def application(no: str, status: str, at: datetime) -> dict[str, Any]:
        return {"bundle_no": no, "bundle_code": "company_open", "reference": None, "submitted_by": "",
                "application_sha256": None, "applicant_name": "某某公司", "form": "{}", "consent": False,
                "status": status, "reason": None, "submitted_at": at, "due_at": at + timedelta(days=1),
                "updated_at": at}

    with engine.begin() as conn:
        bundle_store.insert_application(conn, application("YJS20260302HELD0001", "held", t0))
        bundle_store.insert_application(conn, application("YJS20260302FAIL0001", "failed", t0 + timedelta(minutes=1)))
        for i in range(205):
            bundle_store.insert_application(conn, application(f"YJS20260303{i:08d}", "in_progress",
                                                              t0 + timedelta(hours=1, minutes=i)))
    base = ["bundles", "list", "--database-url", database_url]
    held = json.loads(CliRunner().invoke(app, [*base, "--status", "held", "--json"]).stdout)
    assert [b["bundle_no"] for b in held["bundles"]] == ["YJS20260302HELD0001"]
    assert held["counts"] == {"held": 1, "failed": 1, "in_progress": 205} and held["total"] == 1
    shown = CliRunner().invoke(app, base)
    assert shown.exit_code == 0, shown.output
    assert "the newest 200 of 207 shown" in shown.stdout and "held: 1" in shown.stdout


def test_a_deemed_hand_off_is_read_again_only_when_its_case_changes(database_url: str, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every scan (each minute) read the case of every deemed hand-off of the last 180 days for a late answer —
    linear in half a year of history. A deemed hand-off whose case has not changed since a scan found no answer in
    it is not read again; the department's later answer (a new version) is read and recorded as before."""
    from gateway.store import process as process_store

    engine = ledger(database_url)
    systems = systems_with_intake(tmp_path, "handoff")
    handed = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Beijing
    put_case(engine, case_doc("C-L", applied_at=handed), version=1, origin="sd_hall")
    pending_handoff(engine, "C-L", handed=handed, forwarded_version=1)
    reads: list[str] = []
    real = process_store.read_case

    def counted(conn: Any, case_no: str) -> Any:
        reads.append(case_no)
        return real(conn, case_no)

    monkeypatch.setattr(process_store, "read_case", counted)
    at = handed + timedelta(minutes=11)
    assert scan_handoffs(engine, systems, CATALOGUE, now=at, calendar=CALENDAR).deemed == 1
    scan_handoffs(engine, systems, CATALOGUE, now=at + timedelta(minutes=1), calendar=CALENDAR)  # reads, marks
    reads.clear()
    for minute in (2, 3, 4):
        scan_handoffs(engine, systems, CATALOGUE, now=at + timedelta(minutes=minute), calendar=CALENDAR)
    assert reads == []  # nothing changed: nothing read
    with engine.begin() as conn:  # the department's refusal, dated after the window, arrives as a new version
        from sqlalchemy import update

        from gateway.store.tables import cases

        case = real(conn, "C-L")
        refused = {**case["data"], "status": "returned", "result": "not_accepted", "result_reason": "不符合条件",
                   "finished_at": (at + timedelta(minutes=4)).isoformat()}
        conn.execute(update(cases).where(cases.c.case_no == "C-L").values(
            version=case["version"] + 1, data=json.dumps(refused, ensure_ascii=False), origin_system="sd_civil",
            field_sources=None))
    report = scan_handoffs(engine, systems, CATALOGUE, now=at + timedelta(minutes=5), calendar=CALENDAR)
    assert report.late_answers == 1 and reads == ["C-L"]
    assert handoff_row(engine, "C-L")["late_decision"] == "refused"


def test_fitted_values_fit_their_column_however_narrow() -> None:
    from gateway.models.text import fitted

    assert fitted("3701021234567890", 12) == "370102123456"  # a division column: cut, no room for a digest
    long = fitted("济" * 100, 64)
    assert long is not None and len(long) == 64 and long == fitted("济" * 100, 64) != fitted("济" * 101, 64)
    assert fitted("短", 64) == "短" and fitted(None, 64) is None
