"""welfare (济南市医保局) over HTTP, written from sandbox/README.md with plain requests + lxml: a Java-style
SOAP 1.1 document/literal service with an inline-schema WSDL, HTTP Basic auth, GBK answers, in-band ``fhdm``
codes, ``soap:Server.Busy`` faults, upper-case pinyin records with "NULL"/"无" tokens and "是"/"否" flags."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import requests
from lxml import etree
from sandbox_testlib import check_identifiers, check_rule_breaking_shares, flat_fixtures

from sandbox import welfare

AUTH = ("tongban", "welfare-demo-secret")
TNS = "http://ybj.jinan.gov.cn/ws"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XSD = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
N = 1000
NULLS = {"NULL", "无"}
DASH = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
FIELDS = ("YWBH", "BJBH", "SXBM", "JBBM", "SXMC", "BLLX", "SQRXM", "SQRLX", "ZJLX", "ZJHM", "LXDH", "SQSJ", "SLSJ",
          "CNSX", "CNBJSJ", "SFJE", "BLBMMC", "BLBMDM", "SLRY", "XZQH", "BJSJ", "BJJG", "BJYY", "ZZMC", "ZZBH", "SCBZ",
          "GXSJ")


def envelope(kssj: str | None = None, ym: str | None = "1", mys: str | None = "100", op: str = "queryYwxx",
             soap_ns: str = SOAP) -> bytes:
    params = "".join(f"<{k}>{v}</{k}>" for k, v in (("kssj", kssj), ("ym", ym), ("mys", mys)) if v is not None)
    return (f'<soapenv:Envelope xmlns:soapenv="{soap_ns}" xmlns:ws="{TNS}"><soapenv:Header/><soapenv:Body>'
            f"<ws:{op}>{params}</ws:{op}></soapenv:Body></soapenv:Envelope>").encode()


def call(url: str, body: bytes, auth: Any = AUTH) -> requests.Response:
    return requests.post(url + "/ws/ybj", data=body, auth=auth, timeout=10,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def answer(r: requests.Response) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(return fields, records) of a queryYwxx answer."""
    assert r.status_code == 200, r.content[:300]
    root = etree.fromstring(r.content)
    resp = root.find(f"{{{SOAP}}}Body/{{{TNS}}}queryYwxxResponse")
    ret = resp.find("return")  # unqualified
    head = {c.tag: c.text or "" for c in ret if c.tag != "ywxx"}
    recs = [{c.tag: c.text for c in rec} for rec in ret.findall("ywxx")]
    return head, recs


def query(url: str, **kw: Any) -> tuple[dict[str, str], list[dict[str, str]]]:
    return answer(call(url, envelope(**kw)))


def read_all(url: str, size: int = 97, kssj: str | None = None) -> list[dict[str, str]]:
    out, page = [], 1
    while True:
        head, recs = query(url, kssj=kssj, ym=str(page), mys=str(size))
        if head["fhdm"] == "2":
            assert not recs
            return out
        assert head["fhdm"] == "1"
        out += recs
        page += 1


def is_null(v: str | None) -> bool:
    return v in NULLS


sb, fresh, source = flat_fixtures("welfare", welfare.generate, N)


def test_wsdl_is_java_style_with_inline_schema(sb: Any) -> None:
    url = sb.urls["welfare"]
    for q in ("wsdl", "WSDL"):
        r = requests.get(f"{url}/ws/ybj?{q}", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(r.content)
    assert root.tag == f"{{{WSDL}}}definitions" and root.get("targetNamespace") == TNS
    assert not root.xpath("//*[local-name()='import' or local-name()='include']")
    schema = root.find(f"{{{WSDL}}}types/{{{XSD}}}schema")
    assert schema is not None and schema.get("targetNamespace") == TNS
    assert schema.get("elementFormDefault") in (None, "unqualified")
    req = schema.find(f"{{{XSD}}}complexType[@name='queryYwxx']")
    assert [e.get("name") for e in req.iter(f"{{{XSD}}}element")] == ["kssj", "ym", "mys"]
    record = schema.find(f"{{{XSD}}}complexType[@name='ywxx']")
    assert tuple(e.get("name") for e in record.iter(f"{{{XSD}}}element")) == FIELDS
    assert {e.get("type") for e in schema.iter(f"{{{XSD}}}element") if e.get("name") in FIELDS} == {"xsd:string"}
    binding = root.find(f"{{{WSDL}}}binding")
    assert binding.find(f"{{{WSDL_SOAP}}}binding").get("style") == "document"
    assert {b.get("use") for b in binding.iter(f"{{{WSDL_SOAP}}}body")} == {"literal"}
    assert root.find(f".//{{{WSDL_SOAP}}}address").get("location") == url + "/ws/ybj"


def test_basic_auth(sb: Any) -> None:
    url = sb.urls["welfare"]
    assert sb.credentials["welfare"] == {"username": AUTH[0], "password": AUTH[1]}
    for auth in (None, ("tongban", "wrong"), ("other", AUTH[1])):
        r = call(url, envelope(), auth)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="ybj"'
    assert call(url, envelope()).status_code == 200


def test_answers_are_gbk_bytes(sb: Any) -> None:
    r = call(sb.urls["welfare"], envelope(mys="5"))
    assert r.content.startswith(b'<?xml version="1.0" encoding="GBK"?>')
    assert r.headers["Content-Type"].replace(" ", "").lower() == "text/xml;charset=gbk"
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    assert "成功" in r.content.decode("gbk")
    head, _ = answer(r)
    assert head == {"fhdm": "1", "fhxx": "成功", "zjls": str(N), "zys": "200", "ym": "1", "mys": "5"}


def test_characters_outside_gbk_arrive_as_references(sb: Any, source: list[dict[str, str]]) -> None:
    rare = [i for i, r in enumerate(source) if any(ch.encode("gbk", "replace") == b"?" for ch in r["SQRXM"])]
    assert rare, "seed 42 has applicants named with 𠮷/䶮"
    url = sb.urls["welfare"]
    for i in rare:
        r = call(url, envelope(kssj=source[i]["GXSJ"], mys="1"))
        assert b"&#" in r.content
        assert answer(r)[1] == [source[i]]


def test_first_page_full_read_order_and_windows(sb: Any, source: list[dict[str, str]]) -> None:
    url = sb.urls["welfare"]
    head, recs = query(url, ym="1", mys="100")
    assert recs == source[:100] and head["zjls"] == str(N) and head["zys"] == "10"
    rows = read_all(url)
    admin = requests.get(sb.admin_urls["welfare"] + "/_sandbox/records", timeout=30)
    assert rows == [json.loads(line) for line in admin.text.splitlines() if line] == source
    keys = [(r["GXSJ"], r["YWBH"]) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == N
    head, recs = query(url, ym="11", mys="100")
    assert head["fhdm"] == "2" and head["fhxx"] == "无数据" and not recs
    t = source[600]["GXSJ"]
    head, recs = query(url, kssj=t, ym="1", mys="10")
    assert head["zjls"] == str(N - 600) and recs[0] == source[600]
    assert read_all(url, 100, kssj=t) == source[600:]
    head, recs = query(url, kssj="2099-01-01 00:00:00")
    assert head["fhdm"] == "2" and not recs
    assert query(url, kssj="NULL", mys="3")[1] == source[:3]  # "no start time" spelled the system's way
    assert query(url, ym=None, mys=None)[1] == source[:100]  # defaults


@pytest.mark.parametrize("kw", [{"kssj": "20240305101200"}, {"ym": "0"}, {"mys": "501"}, {"ym": "x"}])
def test_bad_parameters_are_fhdm_minus_one(sb: Any, kw: dict[str, str]) -> None:
    head, recs = query(sb.urls["welfare"], **kw)
    assert head["fhdm"] == "-1" and head["fhxx"].startswith("参数错误") and not recs


def test_faults(sb: Any) -> None:
    url = sb.urls["welfare"]

    def faultcode(r: requests.Response) -> tuple[str, str]:
        assert r.status_code == 500 and r.content.startswith(b'<?xml version="1.0" encoding="GBK"?>')
        el = etree.fromstring(r.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault/faultcode")
        prefix, _, local = el.text.partition(":")
        return el.nsmap[prefix], local

    assert faultcode(call(url, envelope(op="queryOther"))) == (SOAP, "Client")
    assert faultcode(call(url, b"<not-xml")) == (SOAP, "Client")
    assert faultcode(call(url, envelope(soap_ns="http://www.w3.org/2003/05/soap-envelope"))) == (
        SOAP, "VersionMismatch")
    try:
        sb.set_faults("welfare", error_rate=1.0)
        r = call(url, envelope())
        assert faultcode(r) == (SOAP, "Server.Busy")
        assert "系统繁忙" in r.content.decode("gbk")
        sb.set_faults("welfare", rate_limit=1)
        codes = [call(url, envelope(mys="1")).status_code for _ in range(4)]
        assert 500 in codes and 200 in codes
        sb.set_faults("welfare", outage=True)
        r = call(url, envelope())
        assert r.status_code == 503 and "nginx" in r.text
    finally:
        sb.set_faults("welfare")
    assert call(url, envelope(mys="1")).status_code == 200


def test_record_conventions(source: list[dict[str, str]]) -> None:
    tokens: set[str] = set()
    for r in source:
        assert tuple(r) == FIELDS and all(isinstance(v, str) and v != "" for v in r.values())
        tokens |= {v for v in r.values() if v in NULLS}
        assert r["SCBZ"] in ("是", "否")
        assert r["CNSX"].isdigit() and r["SFJE"] == "0.00"
        for k in ("SQSJ", "SLSJ", "CNBJSJ", "GXSJ"):
            assert DASH.fullmatch(r[k])
        assert DASH.fullmatch(r["BJSJ"]) or is_null(r["BJSJ"])
        assert r["ZJLX"] in ("居民身份证", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "护照", "统一社会信用代码")
        assert r["BJJG"] in ("1", "2", "3", "4") or is_null(r["BJJG"])
    assert tokens == NULLS
    assert {r["SCBZ"] for r in source} == {"是", "否"}


def test_rule_breaking_shares(source: list[dict[str, str]]) -> None:
    _, _, unfinished = check_rule_breaking_shares(source, "1", ("2", "3", "4"), is_null)
    assert sum("result_unfinished" in welfare.quirks(r) for r in source) == len(unfinished)


def test_identifiers_are_valid(source: list[dict[str, str]]) -> None:
    check_identifiers(source, welfare.DEPT["code"], dept_field="blbmdm", number_field="ywbh",
                      number_prefix="JNYB", resident="居民身份证", org="统一社会信用代码")


def test_generate_is_pure_and_by_seed() -> None:
    assert welfare.generate(42, 654_321) == welfare.generate(42, 654_321)
    assert welfare.generate(42, 77) != welfare.generate(43, 77)


def test_mutate_and_delete(fresh: Any) -> None:
    url, admin = fresh.urls["welfare"], fresh.admin_urls["welfare"]
    src = [welfare.generate(5, i) for i in range(200)]
    open_case = next(r for r in src if is_null(r["BJSJ"]))
    live = next(r for r in src if r["SCBZ"] == "否" and r is not open_case)
    before = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600 - 1))
    assert requests.post(admin + "/_sandbox/mutate", json={"ids": [open_case["YWBH"]]}, timeout=10).json() == {
        "mutated": [open_case["YWBH"]], "unknown": []}
    assert requests.post(admin + "/_sandbox/delete", json={"ids": [live["YWBH"]]}, timeout=10).json() == {
        "deleted": [live["YWBH"]], "unknown": []}
    changed = read_all(url, 50, kssj=before)
    assert [r["YWBH"] for r in changed] == [open_case["YWBH"], live["YWBH"]]
    assert changed[0]["BJJG"] == "1" and DASH.fullmatch(changed[0]["BJSJ"]) and changed[0]["GXSJ"] >= before
    assert changed[1]["SCBZ"] == "是" and changed[1] == {**live, "SCBZ": "是", "GXSJ": changed[1]["GXSJ"]}
    one = requests.get(f"{admin}/_sandbox/records/{live['YWBH']}", timeout=10).json()
    assert one == changed[1]
    body = requests.get(admin + "/_sandbox/quirks", timeout=30).json()
    assert sum(body["counts"].values()) == sum(len(q["quirks"]) for q in body["records"])
