"""The console's KPI panel shows 办件量 with 不予受理 and 撤回 counted apart: a case the hand-off refused at routing is
neither a handled case nor a finished one, and it does not vanish either."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from gateway.console.app import create_console_app
from gateway.console.operators import OperatorBook
from gateway.kernel.config import load_systems
from gateway.kernel.runtime import Runtime
from gateway.models.datetimes import BEIJING
from gateway.ops.kpi import refresh_facts
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.store.tables import cases

REPO = Path(__file__).resolve().parents[2]
APPLIED = "2026-11-02T10:00:00+08:00"


def _put(engine: Engine, case_no: str, **data: object) -> None:
    doc = {"case_no": case_no, "item_code": "I1", "case_type": "promised", "applied_at": APPLIED, **data}
    at = datetime.now(UTC) - timedelta(minutes=30)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=case_no, version=1, content_hash="x" * 32, data=json.dumps(doc, ensure_ascii=False),
            origin_system="sd_hall", origin_source_id=case_no, source_updated_at=at, dept_code="D1", item_code="I1",
            deleted=False, updated_at=at))


def _cells(html: str, label: str) -> list[str]:
    """The cells of the KPI panel's row whose first cell starts with ``label`` (tags stripped)."""
    panel = html[html.index('data-testid="kpis"'):]
    for row in re.findall(r"<tr>(.*?)</tr>", panel, flags=re.DOTALL):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.DOTALL)]
        if cells and cells[0].startswith(label):
            return cells
    raise AssertionError(f"no KPI row {label}")


def _overview(engine: Engine, tmp_path: Path, **params: str) -> Any:
    """The console's overview page, as a viewer sees it after a KPI refresh."""
    refresh_facts(engine)
    book = OperatorBook(tmp_path / "ops.json")
    book.add("viewer", "viewer-pass-1", "viewer")
    client = TestClient(create_console_app(Runtime(load_systems(REPO / "config" / "systems.yaml"), engine), book),
                        follow_redirects=False)
    client.post("/console/login", data={"name": "viewer", "password": "viewer-pass-1"})
    return client.get("/console/", params=params)


def test_the_kpi_panel_counts_refused_and_withdrawn_cases_apart(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    _put(engine, "C-HANDLED", status="finished", result="issued", finished_at="2026-11-05T10:00:00+08:00")
    _put(engine, "C-OPEN", status="in_progress")
    _put(engine, "C-REFUSED", status="returned", result="not_accepted", result_reason="routing refused",
         finished_at=APPLIED)
    _put(engine, "C-WITHDRAWN", status="returned", result="withdrawn", finished_at=APPLIED)
    page = _overview(engine, tmp_path)

    assert page.status_code == 200
    overall = {label: _cells(page.text, label)[2] for label in ("办件量", "不予受理件", "撤回件", "办结率")}
    assert overall == {"办件量": "2", "不予受理件": "1", "撤回件": "1", "办结率": "50.00%"}
    # the heading says 办件量 of how many rows (it said "4 cases counted" over a table saying 办件量 2)
    heading = re.sub(r"<[^>]+>", "", page.text[page.text.index('id="kpis"'):page.text.index('data-testid="kpis"')])
    assert "办件量 2 of 4 case rows" in heading, heading


def test_the_kpi_panel_reports_the_month_and_the_month_of_a_case_asked_for(tmp_path: Path) -> None:
    """Review: the page showed only the current month against the previous one, by 申请时间."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    _put(engine, "C-NOV", status="finished", result="issued", finished_at="2026-11-05T10:00:00+08:00")
    _put(engine, "C-DEC", status="finished", result="issued", finished_at="2026-12-01T10:00:00+08:00")
    page = _overview(engine, tmp_path, kpi_period="2026-12", kpi_month_of="finished")
    assert page.status_code == 200
    cells = _cells(page.text, "办件量")
    assert cells[3:5] == ["1", "1"]  # finished in December, and in November (by 申请时间 both are November's)
    assert 'value="2026-12"' in page.text and '<option value="finished" selected>' in page.text
    assert _overview(engine, tmp_path, kpi_period="2026-13").status_code == 400
    assert _overview(engine, tmp_path, kpi_month_of="closed").status_code == 400


def test_the_kpi_panel_says_the_base_of_a_ratio_few_cases_carry(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    this_month = datetime.now(UTC).astimezone(BEIJING).replace(day=1, hour=12).isoformat()
    for n in range(10):  # 2 of 10 cases with a channel, 1 of them online
        _put(engine, f"C{n}", status="in_progress", applied_at=this_month,
             **({"channel": "2" if n == 0 else "1"} if n < 2 else {}))
    cells = _cells(_overview(engine, tmp_path).text, "网办率")

    assert cells[2:4] == ["50.00% (of 2 with a channel)"] * 2  # overall and this month: 2 cases, not the district's
    assert cells[4] == "—"
