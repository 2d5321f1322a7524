"""welfare — 济南市医疗保障局 case exchange: SOAP 1.1 document/literal, Java (JAX-WS) style, GBK answers.

Conventions that no other sandbox system uses: a Java-published WSDL with the schema inline and unqualified
parameters, one operation ``queryYwxx(kssj, ym, mys)`` with pinyin parameter names, HTTP Basic auth in front of
the service (Tomcat realm), answers encoded in GBK (characters GBK lacks as numeric character references), an
in-band return code (``fhdm`` "1" success, "2" no data, "-1" failure + ``fhxx``), upper-case pinyin record
fields, Chinese ID-type names, ``SCBZ`` "是"/"否", the strings "NULL" and "无" for missing values, numbers as
strings, the busy fault ``soap:Server.Busy`` (dotted subcode), and the rule-breaking mix of ``flatcase``.

``generate(seed, i)`` is base record ``i`` (pure); ``quirks(record)`` names the rules a record breaks;
``WelfareApp`` serves them. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import Any
from xml.sax.saxutils import escape

from .app import Request, Response, SoapFault, nginx_page, soap_request_root
from .clock import fmt_dash, parse_dash
from .flatcase import Catalogue, FlatCase, FlatCaseApp, Spelling, malformed, rule_breaks, token
from .vocab import Item
from .welfare_wsdl import RECORD_FIELDS, SERVICE_PATH, TNS, wsdl

__all__ = [
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "DEPT",
    "ITEMS",
    "NULL_TOKENS",
    "REALM",
    "RECORD_FIELDS",
    "RESULT_CODES",
    "SERVICE_PATH",
    "TNS",
    "ZJLX",
    "WelfareApp",
    "fate",
    "generate",
    "is_null",
    "quirks",
    "soft_deleted",
    "timeline",
]

DEPT = {"name": "济南市医疗保障局", "code": "11370100MB28559180", "division": "370100"}
CASE_NO_SYSTEM = "6"
"""办件编号 = division + apply date + this system's digit + serial: national numbers never collide across systems."""
DEFAULT_USERNAME = "tongban"
DEFAULT_PASSWORD = "welfare-demo-secret"
REALM = "ybj"
MAX_PAGE_SIZE = 500
NULL_TOKENS = ("NULL", "无")
STAFF = ("宋雅琴", "朱立国", "韩冬梅", "曹俊", "魏晓峰", "丁慧", "任志远")
ITEMS = (
    Item("基本医疗保险参保登记", "000119001000", "1", 0, 5, None, "person",
         ("参保登记表", "居民身份证"), 4),
    Item("异地就医备案", "000119002000", "1", 0, 5, "异地就医备案表", "person",
         ("异地就医备案登记表", "居民身份证", "异地居住证明"), 6),
    Item("门诊慢特病待遇认定", "000119003000", "2", 15, 20, "门诊慢特病待遇资格认定通知书", "person",
         ("门诊慢特病申请表", "病历资料", "检查报告"), 5),
    Item("医疗保障关系转移接续", "000119004000", "2", 15, 45, None, "person",
         ("转移接续申请表", "参保凭证"), 3),
    Item("零星医疗费用报销", "000119005000", "2", 20, 30, None, "person",
         ("报销申请表", "医疗费用发票", "费用明细清单", "出院记录"), 3),
    Item("定点医药机构确定", "000119006000", "2", 20, 90, "医疗保障定点服务协议", "company",
         ("定点申请表", "营业执照", "医疗机构执业许可证", "信息系统建设情况说明"), 2),
    Item("单位医疗保险参保登记", "000119007000", "1", 0, 5, None, "company",
         ("单位参保登记表", "营业执照"), 2),
)
REASONS = {
    "denied": ("不符合门诊慢特病认定标准", "未达到定点医药机构评估要求", "超出报销范围"),
    "returned": ("材料不全，请补充后重新申报", "发票信息与明细不符，退回"),
    "not_accepted": ("未在本统筹区参保，不予受理", "已办理备案，无需重复申请"),
}
# BJJG: 1 办结（准予）, 2 不予办理, 3 退回, 4 不予受理 ("7" 撤回 only under the unknown_code malformation).
RESULT_CODES = {"issued": "1", "denied": "2", "returned": "3", "not_accepted": "4"}
# ZJLX: the ID type by name, as the system's drop-down stores it.
ZJLX = {"111": "居民身份证", "516": "港澳居民来往内地通行证", "511": "台湾居民来往大陆通行证", "414": "护照",
        "001": "统一社会信用代码"}

_CAT = Catalogue(0x7E10, ITEMS, STAFF, REASONS)
_SPELLING = Spelling(
    number="YWBH", catalog="JBBM", result="BJJG", finished="BJSJ", reason="BJYY",
    cert_name="ZZMC", cert_no="ZZBH", applied="SQSJ", accepted="SLSJ", id_type="ZJLX", id_no="ZJHM",
    phone="LXDH", flag="SCBZ", changed="GXSJ",
    codes=RESULT_CODES, resident_id=ZJLX["111"], org_id=ZJLX["001"], nulls=NULL_TOKENS,
    flag_styles=(("是", "否"),), deleted_values=("是",), stamp=fmt_dash,
)
_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

# timeline(seed): base change times (``GXSJ``); fate(seed, i); soft_deleted(seed, i).
timeline, fate, soft_deleted = _CAT.timeline, _CAT.fate, _CAT.deleted


def task_code(item: Item) -> str:
    """实施编码: department USCC + "6" + the basic code's first nine digits + "000"."""
    return DEPT["code"] + "6" + item.catalog[:9] + "000"


def cert_no(item: Item, i: int, day: str) -> str:
    n, year = i + 1, day[:4]
    return {
        "异地就医备案表": f"YDJY{day}{n:07d}",
        "门诊慢特病待遇资格认定通知书": f"济医保慢认〔{year}〕{n:07d}号",
        "医疗保障定点服务协议": f"JNYBXY{year}{n:07d}",
    }.get(item.cert or "", f"JNYB{year}{n:07d}")


def render(c: FlatCase) -> dict[str, str]:
    """The welfare system's record of case ``c``: every value a string."""
    b = c.bits
    nul = lambda slot: token(NULL_TOKENS, b, slot)
    a = c.party
    cert = c.cert_name
    return {
        "YWBH": f"JNYB{c.apply_day}{c.serial}",
        "BJBH": f"{DEPT['division']}{c.apply_day}{CASE_NO_SYSTEM}{c.serial}",
        "SXBM": task_code(c.item), "JBBM": c.item.catalog, "SXMC": c.item.name, "BLLX": c.item.case_type,
        "SQRXM": a.name, "SQRLX": "1" if a.kind == "1" else "2", "ZJLX": ZJLX.get(a.cert_type, "其他"),
        "ZJHM": a.cert_no, "LXDH": c.phone if c.phone is not None else nul(1),
        "SQSJ": fmt_dash(c.applied), "SLSJ": fmt_dash(c.accepted),
        "CNSX": str(c.item.promise_days), "CNBJSJ": fmt_dash(c.promised), "SFJE": "0.00",
        "BLBMMC": DEPT["name"], "BLBMDM": DEPT["code"], "SLRY": c.handler, "XZQH": c.division,
        "BJSJ": fmt_dash(c.finished) if c.finished is not None else nul(0),
        "BJJG": RESULT_CODES[c.result] if c.result else nul(2),
        "BJYY": c.reason if c.reason else nul(3),
        "ZZMC": cert if cert else nul(4),
        "ZZBH": cert_no(c.item, c.index, c.apply_day) if cert else nul(5),
        "SCBZ": "是" if c.deleted else "否",
        "GXSJ": fmt_dash(c.changed),
    }


def generate(seed: int, i: int) -> dict[str, str]:
    """Base record ``i`` exactly as the service sends it (before any change or fault)."""
    return render(_CAT.case(seed, i))


def is_null(value: Any) -> bool:
    return _SPELLING.is_null(value)


def quirks(record: dict[str, Any]) -> list[str]:
    """The business rules a record breaks although its data is legitimate (names as in ``social.quirks``)."""
    return rule_breaks(record, _SPELLING, _CAT)


def _malform(rec: dict[str, str], kind: str) -> dict[str, str]:
    rec = malformed(rec, kind, _SPELLING)
    if kind == "alt_date_format":
        s = rec["SQSJ"]
        rec["SQSJ"] = s[:4] + s[5:7] + s[8:10] + s[11:13] + s[14:16] + s[17:19]
    elif kind == "unknown_code":
        rec.update(BJJG="7", BJYY="申请人撤回申请", ZZMC="无", ZZBH="无",
                   BJSJ=rec["BJSJ"] if not is_null(rec.get("BJSJ")) else rec["GXSJ"])
    return rec


def _gbk(text: str) -> bytes:
    """The answer as the service's GBK writer produces it: characters GBK lacks become character references."""
    return ('<?xml version="1.0" encoding="GBK"?>' + text).encode("gbk", "xmlcharrefreplace")


def _envelope(body: str) -> str:
    return f'<soap:Envelope xmlns:soap="{_SOAP11}"><soap:Body>{body}</soap:Body></soap:Envelope>'


def _fault_xml(code: str, message: str) -> str:
    return (f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{escape(message)}</faultstring>"
            f"</soap:Fault>")


def _tomcat(status: int, title: str, message: str = "") -> Response:
    page = (f'<!doctype html><html lang="en"><head><title>HTTP Status {status} – {title}</title></head><body>'
            f"<h1>HTTP Status {status} – {title}</h1><hr class=\"line\" /><p><b>Type</b> Status Report</p>"
            f"<p><b>Message</b> {escape(message or title)}</p><hr class=\"line\" />"
            f"<h3>Apache Tomcat/8.5.59</h3></body></html>")
    return Response(status, page.encode("utf-8"), {}, "text/html;charset=utf-8")


class WelfareApp(FlatCaseApp):
    """The 医保 SOAP service; records, changes (``/_sandbox/delete`` sets ``SCBZ`` 是) and admin extras
    (``GET /_sandbox/records/{YWBH}``, ``GET /_sandbox/quirks``): ``FlatCaseApp``."""

    name = "welfare"
    catalogue, spelling, record_number = _CAT, _SPELLING, re.compile(r"JNYB\d{8}(?P<n>\d{7})")
    generate, cert_no = staticmethod(generate), staticmethod(cert_no)

    def __init__(self, seed: int = 42, records: int = 1000, username: str = DEFAULT_USERNAME,
                 password: str = DEFAULT_PASSWORD) -> None:
        super().__init__(seed, records)
        self.username, self.password = username, password

    def broken(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        return _malform(record, kind)

    # -- HTTP ----------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        """Outages come from the nginx in front; busy and rate-limited answers are SOAP Faults ``Server.Busy``."""
        if status == 503 and self.faults.faults.outage is True:
            return nginx_page(503, "Service Temporarily Unavailable", "text/html;charset=utf-8")
        if status in (429, 503):
            return self._soap(500, _fault_xml("Server.Busy", "系统繁忙，请稍后重试"), headers)
        return self._soap(500, _fault_xml("Client", message))

    def _soap(self, status: int, body: str, headers: dict[str, str] | None = None) -> Response:
        return Response(status, _gbk(_envelope(body)), dict(headers or {}), "text/xml;charset=GBK")

    def _authorized(self, req: Request) -> bool:
        auth = req.headers.get("Authorization") or ""
        if auth[:6].lower() != "basic ":
            return False
        try:
            user, _, password = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), self.username.encode()) and hmac.compare_digest(
            password.encode(), self.password.encode())

    def api(self, req: Request) -> Response:
        if req.path != SERVICE_PATH:
            return _tomcat(404, "Not Found", message=f"The requested resource [{req.path}] is not available")
        if req.method == "GET" and any(k.lower() == "wsdl" for k in req.query):
            return Response(200, wsdl(req.base_url + SERVICE_PATH).encode("utf-8"), {}, "text/xml;charset=utf-8")
        if not self._authorized(req):
            resp = _tomcat(401, "Unauthorized",
                           message="Full authentication is required to access this resource")
            resp.headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
            return resp
        if req.method != "POST":
            return _tomcat(405, "Method Not Allowed")
        try:
            params = self._parse(req.body)
            body = self._query(params)
        except SoapFault as f:
            return self._soap(500, _fault_xml(f.code, str(f)))
        return self._soap(200, body)

    def _parse(self, body: bytes) -> dict[str, str]:
        root = soap_request_root(body, "Unmarshalling Error: ")
        if root.tag == f"{{{_SOAP12}}}Envelope":
            raise SoapFault("VersionMismatch", "仅支持 SOAP 1.1")
        soap_body = root.find(f"{{{_SOAP11}}}Body")
        if root.tag != f"{{{_SOAP11}}}Envelope" or soap_body is None or len(soap_body) == 0:
            raise SoapFault("Client", "请求缺少 soap:Body")
        call = soap_body[0]
        if call.tag != f"{{{TNS}}}queryYwxx":
            raise SoapFault("Client", f"Cannot find dispatch method for {call.tag}")
        return {child.tag.rsplit("}", 1)[-1]: (child.text or "").strip() for child in call}

    def _query(self, params: dict[str, str]) -> str:
        kssj = params.get("kssj") or ""
        since = None
        if kssj and not is_null(kssj):
            try:
                since = parse_dash(kssj)
            except ValueError:
                return _result("-1", "参数错误：kssj 格式应为 yyyy-MM-dd HH:mm:ss")
        ym, mys = params.get("ym") or "1", params.get("mys") or "100"
        if not ym.isdigit() or not mys.isdigit():
            return _result("-1", "参数错误：ym、mys 应为数字")
        page, size = int(ym), int(mys)
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return _result("-1", f"参数错误：ym >= 1，1 <= mys <= {MAX_PAGE_SIZE}")
        with self.table.lock:
            total = self.table.count(since)
            rows = self.table.page(since, (page - 1) * size, size)
            records = [self.render(r) for r in rows]
        counts = {"zjls": str(total), "zys": str(-(-total // size)), "ym": str(page), "mys": str(size)}
        if not records:
            return _result("2", "无数据", counts)
        out = []
        for rec in records:
            out.append("<ywxx>" + "".join(f"<{k}>{escape(str(rec.get(k, 'NULL')))}</{k}>" for k in RECORD_FIELDS)
                       + "</ywxx>")
        body = _result("1", "成功", counts, "".join(out))
        self.after_page()
        return body


def _result(code: str, message: str, counts: dict[str, str] | None = None, records: str = "") -> str:
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in (counts or {}).items())
    return (f'<ns2:queryYwxxResponse xmlns:ns2="{TNS}"><return><fhdm>{code}</fhdm><fhxx>{escape(message)}</fhxx>'
            f"{fields}{records}</return></ns2:queryYwxxResponse>")
