"""The KPI code (gateway/ops/kpi.py) reads ``channel`` and ``office: {code, division}``: canonical cases mapped from
the hall's street-office and the other province's records light up 网办率, 全城通办 and 跨省通办."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path

from gateway.mapping.mapper import Mapper
from gateway.models import Case
from gateway.ops.kpi import case_fact
from sandbox.hall import frontdesk_case

REPO = Path(__file__).resolve().parents[2]
CIVIL = "11370000004390448N"


def _fact(mapping: str, raw: dict) -> dict:
    data, issues = Mapper.from_file(REPO / "mappings" / mapping).map(raw)
    assert issues == []
    case = Case.model_validate(data).model_dump(mode="json")
    return case_fact(case["case_no"], 1, case, deleted=False, dept_code=case["dept_code"], item_code=case["item_code"],
                     now=datetime.now(timezone.utc))


def test_a_street_office_case_by_app_counts_online_and_city_wide() -> None:
    raw = frontdesk_case(random.Random(1), CIVIL, 1_790_000_000, 5_000_001, "FD1", 1_790_000_000_000,
                         catalog="000105101000", intake={"office": "JN370102-QCL", "origin": "app"})
    fact = _fact("sd_hall.yaml", raw)
    assert (fact["office_code"], fact["office_division"], fact["channel"]) == ("JN370102-QCL", "370102", "mobile")
    assert fact["online"] is True and fact["cross_province"] is False


def test_a_window_case_without_an_office_counts_offline_and_names_no_office() -> None:
    fact = _fact("sd_hall.yaml", frontdesk_case(random.Random(2), CIVIL, 1_790_000_000, 5_000_002, "FD2",
                                                1_790_000_000_000))
    assert fact["channel"] == "window" and fact["online"] is False and fact["office_code"] is None


def test_a_case_from_the_other_provinces_hall_counts_cross_province() -> None:
    raw = {"sblsh": "130102202612038000001", "sxbm": "11370000004390448N4000105101001", "sxmc": "高龄老人津贴发放",
           "sqrlx": "1", "sqrxm": "王芳", "zjlx": "10", "zjhm": "370102193801011232", "sqsj": "20261203100000",
           "slzt": "01", "sjdw": {"dwbm": "11130000MB00000017", "dwmc": "河北政务服务网跨省通办专窗", "xzqh": "130102",
                                  "zdbm": "HB-ZWFW"}, "mddxzqh": "370102", "blqd": "02", "sfsc": "0",
           "gxsj": "20261203100500"}
    fact = _fact("hb_xhall.yaml", raw)
    assert fact["office_division"] == "130102" and fact["cross_province"] is True and fact["online"] is True
