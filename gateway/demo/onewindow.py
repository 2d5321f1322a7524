"""The demo's 一窗受理 / 跨省通办 part (issue 15): a front-desk case the department never answers, deemed accepted by
the ``tongban_handoff`` DAG run as of its due time (the DAG's ``now`` parameter: the clock injected, as an operator
drills it), and an application taken at another province's hall (sandbox ``xhall``, connected as ``hb_xhall``)
routed by the 通办目录 to the competent department, its result returned to that hall.

The cross-province hall is not in ``config/systems.yaml`` (it is commented out there: a district connects it when it
joins the 跨省通办 scheme); the demo adds it to a copy of the systems file in its work directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
import yaml

from gateway.demo.handoff import portable_entry
from gateway.kernel.config import REPO_ROOT, SystemsConfig, load_systems
from gateway.kernel.yamlfile import read_yaml
from gateway.models.datetimes import BEIJING

__all__ = ["CROSS_PROVINCE_HALL", "OneWindow", "with_cross_province_hall"]

CROSS_PROVINCE_HALL = "hb_xhall"
_XHALL_ENTRY = {
    "title": "河北政务服务网 跨省通办专窗", "role": "hall", "intake": "handoff", "receives": "own", "connector": "rest",
    "connector_config": str(REPO_ROOT / "config" / "connectors" / "hb_xhall.yaml"),
    "mapping": str(REPO_ROOT / "mappings" / "hb_xhall.yaml"), "stream": "intake",
    "endpoint": "${TONGBAN_HB_XHALL_URL:-http://127.0.0.1:8112}", "secrets": {"token": "TONGBAN_HB_XHALL_TOKEN"},
    "push": {"stream": "results"},
}
ELDERLY_ALLOWANCE = "000105101000"                      # 高龄老人津贴发放 (basic code)
ELDERLY_ALLOWANCE_ITEM = "11370000004390448N4000105101001"  # its 实施编码, in the 跨省通办 目录
DEEMED_OFFICE = "JN370103-DG"                           # 市中区大观园街道便民服务中心
CIVIL_DEPT_NAME = "山东省民政厅"


def with_cross_province_hall(systems: SystemsConfig, workdir: Path) -> SystemsConfig:
    """``systems`` plus the other province's hall, written to ``workdir/systems-demo.yaml`` (paths made absolute);
    unchanged when it is already connected or the systems file is not on disk."""
    if CROSS_PROVINCE_HALL in systems.systems or systems.path is None:
        return systems
    data = read_yaml(systems.path) or {}
    data["systems"] = {name: portable_entry(system) for name, system in systems.systems.items()}
    data["systems"][CROSS_PROVINCE_HALL] = dict(_XHALL_ENTRY)
    path = workdir / "systems-demo.yaml"
    path.write_text("# written by `tongban demo`: the systems file plus another province's hall (跨省通办)\n"
                    + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_systems(path)


@dataclass
class OneWindow:
    """What the scenario took and where: the street-office case to be deemed, the cross-province case."""

    hall_admin: str
    civil_admin: str
    civil_dept: str
    xhall_admin: str | None
    deemed_case: str = ""
    xhall_case: str = ""

    @classmethod
    def take(cls, world: Any) -> OneWindow | None:
        """Civil affairs stops answering on receipt (its clerk decides by hand from now on); one 高龄老人津贴 case
        taken at a street office pending its acceptance, one taken at the other province's hall."""
        civil = next((n for n in world.departments if world.wired.get(n) == "civil"), None)
        if civil is None or not world.front_desks:
            return None
        admin = world.handle.admin_urls
        hall = world.front_desks[0]
        xhall = admin.get("xhall") if CROSS_PROVINCE_HALL in world.wired else None
        me = cls(admin[world.wired[hall]], admin["civil"], world.systems.get(civil).departments[0], xhall)
        requests.post(f"{me.civil_admin}/_sandbox/acceptance", json={"mode": "never"}, timeout=30).raise_for_status()
        reply = requests.post(f"{me.hall_admin}/_sandbox/frontdesk", json={
            "count": 1, "dept_code": me.civil_dept, "pending": True, "item": ELDERLY_ALLOWANCE,
            "office": DEEMED_OFFICE, "origin": "window"}, timeout=30)
        reply.raise_for_status()
        me.deemed_case = reply.json()["created"][0]["case_no"]
        if xhall is not None:
            taken = requests.post(f"{xhall}/_sandbox/take", json={
                "item_code": ELDERLY_ALLOWANCE_ITEM, "item_name": "高龄老人津贴发放", "destination": "370102",
                "channel": "03"}, timeout=30)
            taken.raise_for_status()
            me.xhall_case = taken.json()["created"][0]["sblsh"]
        return me

    def decide_cross_province(self) -> None:
        """Civil affairs' clerk accepts the cross-province case and works it through to its result."""
        if not self.xhall_case:
            return
        record = self._civil_record(self.xhall_case)
        requests.post(f"{self.civil_admin}/_sandbox/decide", json={"projectNo": self.xhall_case, "decision": "accept"},
                      timeout=30).raise_for_status()
        for _ in range(4):  # 承办, 审核, 批准, then the result
            requests.post(f"{self.civil_admin}/_sandbox/mutate", json={"ids": [record["id"]]},
                          timeout=30).raise_for_status()

    def deemed_now(self, engine: Any) -> dict[str, Any]:
        """The hand-off DAG's ``now`` one minute past the unanswered case's due time (the clock injected: ahead of
        this machine's clock, which the DAG refuses unless told this is a drill — the sandbox's, here)."""
        from gateway.process import handoff_detail

        detail = handoff_detail(engine, self.deemed_case) or {}
        due = detail.get("due_at")
        if due is None:
            raise RuntimeError(f"{self.deemed_case}: not handed to the department (no due time): {detail}")
        moment = due if isinstance(due, datetime) else datetime.fromisoformat(str(due))
        from datetime import timedelta

        return {"now": (moment + timedelta(minutes=1)).isoformat(), "ahead_of_clock": True}

    def checks(self, engine: Any) -> dict[str, Any]:
        from gateway.process import handoff_detail

        out: dict[str, Any] = {}
        deemed = handoff_detail(engine, self.deemed_case) or {}
        due = _instant(deemed.get("due_at"))
        civil = self._civil_record(self.deemed_case)
        held = requests.get(f"{self.hall_admin}/_sandbox/cases", params={"case_no": self.deemed_case},
                            timeout=30).json()
        stamp = due.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if due else None
        out[f"一窗受理: {self.deemed_case} (street office {DEEMED_OFFICE}) unanswered by civil affairs"] = \
            f"{deemed.get('state')} at {due.astimezone(BEIJING).isoformat() if due else '-'}"
        out["ok: 一窗受理: deemed accepted at its due time, the clock started then, department and hall told once"] = (
            deemed.get("state") == "deemed" and deemed.get("decided_by") == "deemed" and due is not None
            and _instant(deemed.get("decided_at")) == due and civil.get("acceptTime") == stamp
            and len(held) == 1 and held[0]["applied_writes"] == 1 and held[0]["case"].get("status") == "accepted"
            and [e["step"] for e in deemed.get("events", [])].count("deemed") == 1)
        if self.xhall_case:
            routed = handoff_detail(engine, self.xhall_case) or {}
            (back,) = requests.get(f"{self.xhall_admin}/_sandbox/cases", params={"case_no": self.xhall_case},
                                   timeout=30).json() or [{}]
            record = self._civil_record(self.xhall_case)
            out[f"跨省通办: {self.xhall_case} from {CROSS_PROVINCE_HALL}"] = (
                f"{routed.get('hall_system')} → {routed.get('target_system')} ({record.get('deptName')}), result "
                f"back: 办理状态 {back.get('case', {}).get('slzt')}, 办结结果 {back.get('case', {}).get('bjjg')}")
            out["ok: 跨省通办: the other province's case reached the competent department and its result went back"] = (
                routed.get("hall_system") == CROSS_PROVINCE_HALL and routed.get("target_system") == "sd_civil"
                and record.get("deptName") == CIVIL_DEPT_NAME and record.get("acceptOrgCode") == "HB-ZWFW"
                and back.get("case", {}).get("slzt") == "04" and back.get("case", {}).get("bjjg") == "1"
                and [c["case_no"] for c in requests.get(f"{self.xhall_admin}/_sandbox/cases", timeout=30).json()]
                == [self.xhall_case])
        return out

    def _civil_record(self, case_no: str) -> dict[str, Any]:
        text = requests.get(f"{self.civil_admin}/_sandbox/records", timeout=60).text
        found = [r for r in map(json.loads, filter(None, text.splitlines())) if r.get("projectNo") == case_no]
        return found[0] if len(found) == 1 else {}


def _instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
