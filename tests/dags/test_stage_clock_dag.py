"""The subsidy flow's stage clocks driven by Airflow (``dag.test()`` of ``tongban_deadlines`` with its ``now``
parameter): the review stage begun before National Day 2026 turns yellow at 09:36 on 9 October and red at midnight;
the finance stage counts the 调休 Saturday 10 October and not the Sunday."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from gateway.store.tables import alerts, cases

CASE_NO = "370102202609290000007"


def _stage_levels(engine: Any) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(alerts.c.key, alerts.c.level, alerts.c.details)
                            .where(alerts.c.kind == "deadline", alerts.c.status == "open")).all()
    return {json.loads(r.details)["stage"]: r.level for r in rows if r.key.startswith(f"{CASE_NO}/stage/")}


def test_stage_alerts_at_pinned_working_day_instants(make_world, dags_for) -> None:
    world = make_world(civil=5, estate=0)
    engine = world.runtime.engine
    case = {"case_no": CASE_NO, "item_code": "BIZ-SUBSIDY-001", "item_name": "企业扶持资金兑付",
            "dept_name": "济南市工业和信息化局", "status": "in_progress", "accepted_at": "2026-09-28T09:00:00+08:00",
            "promised_days": 35, "events": [],
            "stages": [{"name": "转办", "started_at": "2026-09-28T09:00:00+08:00", "ended_at": "2026-09-28T15:00:00+08:00"},
                       {"name": "部门审核", "started_at": "2026-09-29T10:00:00+08:00"},
                       {"name": "财政审核", "started_at": "2026-10-09T15:00:00+08:00"}]}
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        conn.execute(cases.insert().values(
            case_no=CASE_NO, version=1, content_hash="x" * 32, data=json.dumps(case, ensure_ascii=False),
            origin_system="sd_civil", origin_source_id="MZ7", source_updated_at=now, dept_code=None,
            item_code=case["item_code"], deleted=False, updated_at=now))
    deadlines = dags_for(world)["tongban_deadlines"]

    def at(moment: str) -> dict[str, str]:
        run = deadlines.test(run_conf={"now": moment})
        assert str(run.state) == "success"
        return _stage_levels(engine)

    assert at("2026-10-09T09:35:00+08:00") == {}                        # 部门审核: 2.39 of 3 working days
    assert at("2026-10-09T09:36:00+08:00") == {"部门审核": "yellow"}      # 80%: 30 Sep, 8 Oct, 0.4 of 9 Oct
    assert at("2026-10-10T00:00:00+08:00") == {"部门审核": "red"}
    assert at("2026-10-14T23:59:00+08:00") == {"部门审核": "red"}        # 财政审核: 10 Oct (调休), 12, 13, 14 < 4
    assert at("2026-10-15T00:00:00+08:00") == {"部门审核": "red", "财政审核": "yellow"}
    assert at("2026-10-16T00:00:00+08:00") == {"部门审核": "red", "财政审核": "red"}
