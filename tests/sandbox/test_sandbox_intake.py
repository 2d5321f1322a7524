"""The sandbox's 一窗受理 pieces: street-office intake at the hall, the civil back office's acceptance behaviour
(fast, slow, never, refusals), and another province's hall with its own conventions."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
import requests

from sandbox import start_all

CIVIL = "11370000004390448N"
ELDERLY_TASK = "11370000004390448N4000105101001"


@pytest.fixture
def sb() -> Iterator[Any]:
    handle = start_all(seed=5, records={"civil": 10}, systems=("civil", "hall", "xhall"))
    yield handle
    handle.stop()


def _admin(sb: Any, system: str, path: str, body: Any = None) -> Any:
    url = sb.admin_urls[system] + path
    reply = requests.post(url, json=body, timeout=10) if body is not None else requests.get(url, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _push_pending(sb: Any, project_no: str, catalog: str = "000105101000") -> None:
    body = {"projectNo": project_no, "taskCode": ELDERLY_TASK, "catalogCode": catalog, "acceptTime": None,
            "result": None, "isDeleted": 0}
    reply = requests.put(f"{sb.urls['civil']}/api/v1/approvals/by-project/{project_no}", json=body, timeout=10,
                         headers={"X-Api-Key": sb.credentials["civil"]["api_key"], "X-Request-Id": project_no})
    assert reply.json()["code"] == 0


def _record(sb: Any, project_no: str) -> dict[str, Any]:
    import json

    text = requests.get(sb.admin_urls["civil"] + "/_sandbox/records", timeout=10).text
    return next(r for r in map(json.loads, filter(None, text.splitlines())) if r.get("projectNo") == project_no)


def test_street_office_intake_pending_with_channel_and_proxy(sb: Any) -> None:
    made = _admin(sb, "hall", "/_sandbox/frontdesk", {"count": 1, "dept_code": CIVIL, "pending": True,
                                                      "item": "000105101000", "office": "JN370105-BY",
                                                      "origin": "kiosk", "proxy": {"name": "赵强", "kind": "帮办"}})
    case = made["created"][0]
    assert case["status"] == "submitted" and case["accepted_at"] is None and case["item_name"] == "高龄老人津贴发放"
    assert case["intake_office"] == {"code": "JN370105-BY", "name": "天桥区北园街道便民服务中心", "area": "370105"}
    assert case["origin"] == "kiosk" and case["proxy"]["kind"] == "帮办"
    for bad in ({"office": "NOWHERE"}, {"origin": "pigeon"}, {"item": "999999999999"}):
        reply = requests.post(sb.admin_urls["hall"] + "/_sandbox/frontdesk",
                              json={"count": 1, "dept_code": CIVIL, **bad}, timeout=10)
        assert reply.status_code == 400


def test_the_back_office_answers_fast_slow_or_never(sb: Any) -> None:
    _push_pending(sb, "370102202612030000001")
    assert not _record(sb, "370102202612030000001").get("acceptTime")  # never: the default
    _admin(sb, "civil", "/_sandbox/acceptance", {"mode": "fast", "refuse": {"000117001000": "不属于本机关职权范围"}})
    _push_pending(sb, "370102202612030000002")
    assert _record(sb, "370102202612030000002")["acceptTime"]
    _push_pending(sb, "370102202612030000003", catalog="000117001000")
    refused = _record(sb, "370102202612030000003")
    assert (refused["result"], refused["resultReason"]) == ("6", "不属于本机关职权范围")
    _admin(sb, "civil", "/_sandbox/acceptance", {"mode": "slow", "delay_s": 0.3})
    _push_pending(sb, "370102202612030000004")
    assert not _record(sb, "370102202612030000004").get("acceptTime")
    time.sleep(0.8)
    assert _record(sb, "370102202612030000004")["acceptTime"]
    # an explicit answer, and what was decided
    _admin(sb, "civil", "/_sandbox/decide", {"projectNo": "370102202612030000001", "decision": "accept"})
    assert _record(sb, "370102202612030000001")["steps"][-1]["name"] == "受理"
    decided = _admin(sb, "civil", "/_sandbox/acceptance")["decisions"]
    assert [d["projectNo"][-1] for d in decided] == ["2", "3", "4", "1"]
    no_reason = requests.post(sb.admin_urls["civil"] + "/_sandbox/decide",
                              json={"projectNo": "370102202612030000001", "decision": "refuse"}, timeout=10)
    assert no_reason.status_code == 400


def test_another_provinces_hall_lists_its_intake_and_takes_results_once(sb: Any) -> None:
    taken = _admin(sb, "xhall", "/_sandbox/take", {"item_code": ELDERLY_TASK, "item_name": "高龄老人津贴发放",
                                                   "destination": "370102"})["created"][0]
    token = {"X-Access-Token": sb.credentials["xhall"]["token"]}
    assert requests.get(sb.urls["xhall"] + "/kszb/sj/list", timeout=10).status_code == 401
    page = requests.get(sb.urls["xhall"] + "/kszb/sj/list", headers=token, timeout=10).json()
    assert page["resultCode"] == "0000" and page["data"]["list"] == [taken]
    assert taken["slzt"] == "01" and taken["zjlx"] in ("10", "99") and len(taken["gxsj"]) == 14
    later = requests.get(sb.urls["xhall"] + "/kszb/sj/list", params={"kssj": "29991231000000"}, headers=token,
                         timeout=10).json()
    assert later["data"] == {"total": 0, "list": []}
    result = {"sblsh": taken["sblsh"], "slzt": "04", "bjjg": "1"}
    for _ in range(2):
        reply = requests.put(f"{sb.urls['xhall']}/kszb/bj/{taken['sblsh']}", json=result, timeout=10,
                             headers={**token, "X-Request-Id": f"{taken['sblsh']}:3"}).json()
        assert reply["resultCode"] == "0000"
    assert reply["data"]["cf"] is True  # the second write was a duplicate
    (held,) = _admin(sb, "xhall", "/_sandbox/cases")
    assert held["applied_writes"] == 1 and held["case"]["slzt"] == "04"
