"""The three citizen-facing sandbox systems speak their own conventions and refuse what their real counterparts
would: the collection point (X-Api-Key, keyset-friendly ordering, a planted burst), the provincial 好差评 system
(SOAP, its own codes, counting each receipt) and the 12345 platform (signed POSTs, a settable clock)."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Iterator

import pytest
import requests

from sandbox import start_all
from sandbox.evaluator import generate
from sandbox.provincial_pj import NS, SERVICE_PATH, parse_answer

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@pytest.fixture(scope="module")
def sb() -> Iterator[Any]:
    handle = start_all(seed=5, records={"evaluator": 120, "hotline": 30},
                       systems=("evaluator", "provincial_pj", "hotline"))
    yield handle
    handle.stop()


def _soap(sb: Any, op: str, fields: dict[str, str], key: str = "pj-demo-key") -> requests.Response:
    inner = "".join(f"<p:{k}>{v}</p:{k}>" for k, v in fields.items())
    body = (f'<s:Envelope xmlns:s="{SOAP}" xmlns:p="{NS}"><s:Header><p:auth appId="qx370102" appKey="{key}"/>'
            f"</s:Header><s:Body><p:{op}>{inner}</p:{op}></s:Body></s:Envelope>")
    return requests.post(sb.urls["provincial_pj"] + SERVICE_PATH, data=body.encode(), timeout=10,
                         headers={"Content-Type": "text/xml; charset=utf-8"})


def _signed(sb: Any, path: str, data: dict[str, Any], secret: str = "hotline-demo-secret") -> dict[str, Any]:
    body = json.dumps(data).encode()
    stamp = str(int(time.time() * 1000))
    sign = hashlib.md5(b"qx370102" + stamp.encode() + secret.encode() + body).hexdigest()
    return requests.post(sb.urls["hotline"] + path, data=body, timeout=10,
                         headers={"X-Appid": "qx370102", "X-Timestamp": stamp, "X-Sign": sign}).json()


def test_the_collection_point_serves_ratings_in_change_order_with_a_planted_burst(sb: Any) -> None:
    url = sb.urls["evaluator"] + "/pj/api/v1/ratings"
    assert requests.get(url, timeout=10).status_code == 401
    items = requests.get(url, params={"limit": 500}, headers={"X-Api-Key": "evaluator-demo-key"}, timeout=10).json()
    keys = [(r["updateTime"], r["ratingId"]) for r in items["items"]]
    assert keys == sorted(keys) and items["total"] == len(keys)
    planted = requests.get(sb.admin_urls["evaluator"] + "/_sandbox/planted", timeout=10).json()
    burst = [r for r in items["items"] if r["ratingId"] in planted["ratings"]]
    assert len(burst) == 10 and {r["deviceSn"] for r in burst} == {planted["device"]}
    assert generate(5, 120).planted == planted["ratings"]  # a pure function of (seed, n)


def test_the_provincial_system_counts_each_receipt_and_answers_in_its_codes(sb: Any) -> None:
    fields = {"pjbh": "T1", "bjbh": "370102202609010001", "pjdj": "04", "pjqd": "4", "pjsj": "20260901093000",
              "xzqh": "370102"}
    assert parse_answer(_soap(sb, "sbPj", fields).content)["fhdm"] == "0000"
    assert parse_answer(_soap(sb, "sbPj", fields).content)["fhdm"] == "1001"  # already received
    bad = parse_answer(_soap(sb, "sbPj", {**fields, "pjbh": "T2", "pjdj": "6"}).content)
    assert bad["fhdm"] == "2001" and "pjdj" in bad["fhxx"]
    denied = _soap(sb, "sbPj", fields, key="wrong")
    assert denied.status_code == 500 and b"Client.Auth" in denied.content
    dtd = requests.post(sb.urls["provincial_pj"] + SERVICE_PATH, data=b'<!DOCTYPE x [<!ENTITY a "b">]><x/>',
                        timeout=10)
    assert dtd.status_code == 500 and "不允许 DTD".encode() in dtd.content
    upward = parse_answer(_soap(sb, "tjSs", {"pjbh": "T1", "sscj": "2", "ssly": "误评", "tjsj": "20260902090000"}
                                ).content)
    assert upward["fhdm"] == "2001"  # the province hears an appeal only after the city rejected it
    received = requests.get(sb.admin_urls["provincial_pj"] + "/_sandbox/received", timeout=10).json()
    assert received["ratings"] == {"T1": 2} and received["appeals"] == {}


def test_the_platform_checks_signatures_and_shows_orders_by_its_clock(sb: Any) -> None:
    assert _signed(sb, "/gd/api/query", {}, secret="wrong")["code"] == "E001"
    everything = _signed(sb, "/gd/api/query", {"pageSize": 200})["data"]
    assert everything["total"] == 30
    first = sorted(o["pdsj"] for o in everything["list"])[0]
    admin = sb.admin_urls["hotline"] + "/_sandbox/clock"
    try:
        requests.post(admin, json={"now": first}, timeout=10).raise_for_status()
        assert _signed(sb, "/gd/api/query", {"pageSize": 200})["data"]["total"] == 1
    finally:
        requests.post(admin, json={"now": None}, timeout=10)
    order = everything["list"][0]["gdbh"]
    zp = {"gdbh": order, "cbdw": "X1", "zpsj": "2026-09-01 09:00:00"}
    assert _signed(sb, "/gd/api/zp", zp)["data"] == {"duplicate": False}
    assert _signed(sb, "/gd/api/zp", zp)["data"] == {"duplicate": True}
    redo = _signed(sb, "/gd/api/df", {"gdbh": order, "cbdw": "X1", "dfnr": "x", "dfsj": "2026-09-01 10:00:00",
                                      "cblc": 1})
    assert redo["code"] == "E003"  # no redo was asked for
    reply = {"gdbh": order, "cbdw": "X1", "dfnr": "已处理", "dfsj": "2026-09-01 10:00:00", "cblc": 0}
    unsigned = _signed(sb, "/gd/api/df", reply)
    assert unsigned["code"] == "E003" and "未签收" in unsigned["msg"]  # 先签收，后答复
    assert _signed(sb, "/gd/api/qs", {"gdbh": order, "qssj": "2026-09-01 09:30:00"})["code"] == "0"
    assert _signed(sb, "/gd/api/df", reply)["code"] == "0"
    rated = next(o for o in _signed(sb, "/gd/api/query", {"pageSize": 200})["data"]["list"] if o["gdbh"] == order)
    assert rated["hfmyd"] in ("1", "2", "3") and rated["zt"] in ("已办结", "重办"), rated
