"""market — the city market-supervision bureau's business-licence approval system (市场监管): SOAP, .NET style.

A legacy ASMX web service, as many department systems still are: WSDL at ``/ScjgService.asmx?WSDL``, SOAP 1.1
and 1.2, WS-Security UsernameToken (text or digest), GB18030 responses, page-number paging over an
inclusive ``startTime`` (``yyyyMMddHHmmss``), upper-case pinyin field names, the legacy 电子监察 result codes,
and one operation that answers a .NET DataSet (schema + diffgram). Overload errors come back as SOAP Faults
with HTTP 500; the injected outages and 503s come from "IIS" as HTML pages, like the real thing.

``generate(seed, i)`` is base record ``i``; ``MarketApp`` serves it. Standard library only.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import random
import re
import threading
import time
import xml.etree.ElementTree as ET
from bisect import bisect_right
from typing import Any
from xml.sax.saxutils import escape

from .app import BadRequest, Request, Response, SoapFault, SystemApp, json_response, soap_request_root
from .clock import OverlayClock, Timeline, timeline_of, fmt_compact, fmt_date
from .identifiers import USCC_ALPHABET, break_check, make_uscc
from .lifecycle import Story, build_story, promise_time
from .market_wsdl import ITEM_COLUMNS, RECORD_FIELDS, TNS, wsdl
from .people import Party, company, mobile, person
from .pools import PEOPLE_AT, PEOPLE_SLOTS, STORY_SLOTS, StoryPool, people
from .prng import FateTable, draw_fate, mix, pick
from .table import LazyTable
from .vocab import JINAN_DISTRICTS, Item

_RECORD_NUMBER = re.compile(r"SCJG\d{4}(?P<n>\d{7})")
_CASE_NUMBER = re.compile(r"\d{14}(?P<n>\d{7})")  # 办件编号: region, date, serial

__all__ = ["generate", "MarketApp", "DEPT", "DEFAULT_USERNAME", "DEFAULT_PASSWORD", "SERVICE_PATH", "ITEMS"]

DEPT = {"name": "济南市市场监督管理局", "code": "11370100004301265T", "division": "370100"}
DEFAULT_USERNAME = "tongban"
DEFAULT_PASSWORD = "market-demo-secret"
SERVICE_PATH = "/ScjgService.asmx"
STAFF = ("张立华", "王建军", "李晓燕", "刘海波", "陈静", "孙志勇", "赵敏")
ITEMS = (
    Item("有限责任公司设立登记", "000120001000", "2", 3, 15, "营业执照", "company",
         ("公司登记（备案）申请书", "公司章程", "股东主体资格证明", "法定代表人任职文件", "住所使用证明"), 6),
    Item("有限责任公司变更登记", "000120002000", "2", 3, 15, "营业执照", "company",
         ("公司变更登记申请书", "股东会决议", "修改后的公司章程"), 5),
    Item("企业注销登记", "000120003000", "2", 3, 20, "准予注销登记通知书", "company",
         ("注销登记申请书", "清算报告", "清税证明"), 2),
    Item("个体工商户设立登记", "000120005000", "1", 0, 15, "营业执照", "person",
         ("个体工商户登记申请书", "经营者身份证明", "经营场所使用证明"), 6),
    Item("食品经营许可", "000120101000", "2", 10, 20, "食品经营许可证", "company",
         ("食品经营许可申请书", "营业执照复印件", "食品安全管理制度", "经营场所平面图"), 3),
)
_ITEMS_BY_CATALOG = {it.catalog: it for it in ITEMS}
_CUM = []
_acc = 0
for _it in ITEMS:
    _acc += _it.weight
    _CUM.append(_acc)
# 电子监察 legacy result codes: 0 出证办结, 1 不予许可, 2 作废, 3 删除, 4 转报, 5 退件, 6 不予受理.
_RESULT = {"issued": "0", "denied": "1", "void": "2", "deleted": "3", "referred": "4", "returned": "5",
           "not_accepted": "6"}
_ACTION = {"SL": "0", "CB": "1", "SH": "2", "PZ": "3"}
_CHAIN = (("承办", "1", "经审查，申请材料齐全，符合法定形式，建议核准"), ("审核", "2", "同意承办意见"),
          ("批准", "3", "准予登记"))
_SALT_TIME, _SALT_REC, _SALT_FATE = 0x5C1, 0x5C2, 0x5C3
_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_LIST_TAGS = {"HJ", "CL"}


_FATES: FateTable = ((0.15, None), (0.80, "issued"), (0.85, "denied"), (0.89, "returned"), (0.92, "not_accepted"),
                     (0.93, "referred"), (0.945, "void"), (0.95, "deleted"))


def timeline(seed: int) -> Timeline:
    """Base change times, second precision (``GXSJ`` is ``yyyyMMddHHmmss``)."""
    return timeline_of(seed, _SALT_TIME, 1)


def fate(seed: int, i: int) -> str | None:
    return draw_fate(seed, i, _SALT_FATE, _FATES)


def task_code(item: Item) -> str:
    """实施编码: department USCC + "2" + the basic code's first nine digits + "000"."""
    return DEPT["code"] + "2" + item.catalog[:9] + "000"


def _licence_no(item: Item, h: int, index: int, who: Party) -> str:
    """营业执照 carries the business's own USCC (a new one for an 个体工商户); a food licence its JY number;
    a deregistration notice a 注准字 number."""
    if item.cert == "营业执照":
        if who.cert_type == "001":
            return who.cert_no
        org8 = "".join(USCC_ALPHABET[(h >> (5 * k + 12)) % 31] for k in range(8))
        return make_uscc("9", "2", DEPT["division"], org8)
    if item.cert == "食品经营许可证":
        return f"JY1{DEPT['division']}{index + 1:08d}"
    return f"济市监注准字{DEPT['division']}{index + 1:08d}号"


def _template(rng: random.Random, outcome: str | None) -> Story:
    item = ITEMS[bisect_right(_CUM, rng.random() * _acc)]
    who = company(rng) if item.applicants == "company" else person(rng, PEOPLE_AT)
    return build_story(rng, 0, item, [who], outcome, 0, STAFF, lambda r, k: "-")


_STORIES = StoryPool(_SALT_REC, _template)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def render_story(s: Story, d: int, a: Party, ywlsh: str, bjbh: str, zzbh: str | None, update: int,
                 division: str) -> dict[str, Any]:
    """The 业务信息 record of story ``s`` shifted by ``d`` seconds; every value a string or None (XML text)."""
    accept = s.accept + d
    steps = [{"XH": str(k + 1), "HJMC": st.name, "DZ": _ACTION[st.action], "KSSJ": fmt_compact(st.start + d),
              "JSSJ": fmt_compact(st.end + d), "BLR": st.handler, "YJ": st.opinion}
             for k, st in enumerate(s.steps)]
    return {
        "YWLSH": ywlsh, "BJBH": bjbh, "SSBM": task_code(s.item), "JBBM": s.item.catalog, "SXMC": s.item.name,
        "BLLX": s.item.case_type, "SQRMC": a.name, "SQRLX": a.kind, "ZJLX": a.cert_type, "ZJHM": a.cert_no,
        "LXDH": a.mobile, "LXDZ": a.address, "SQSJ": fmt_compact(s.apply + d), "SLSJ": fmt_compact(accept),
        "CNBJSJ": fmt_compact(promise_time(accept, s.item.promise_days)), "CNSX": str(s.item.promise_days),
        "SLBMMC": DEPT["name"], "SLBMDM": DEPT["code"], "SLRY": s.handler, "XZQH": division,
        "BJSJ": fmt_compact(s.finish + d) if s.finish is not None else None,
        "BJJG": _RESULT[s.outcome] if s.outcome else None, "BJYY": s.reason,
        "ZZMC": s.cert_name if zzbh else None, "ZZBH": zzbh, "HJLIST": {"HJ": steps},
        "GXSJ": fmt_compact(update),
    }


def generate(seed: int, i: int) -> dict[str, Any]:
    """Base record ``i``, exactly as the service sends it (before any change or fault)."""
    u = timeline(seed).time(i)
    h = mix(seed, i, _SALT_REC)
    s = _STORIES.get(seed, fate(seed, i), h % STORY_SLOTS)
    a = s.parties[0]
    if a.kind == "1":
        a = people(seed)[(h >> 10) % PEOPLE_SLOTS]
    apply = s.apply + u
    year = fmt_date(apply)[:4]
    zzbh = _licence_no(s.item, h, i, a) if s.cert_name else None
    division = JINAN_DISTRICTS[(h >> 30) % len(JINAN_DISTRICTS)][0]
    return render_story(s, u, a, f"SCJG{year}{i + 1:07d}", DEPT["division"] + fmt_date(apply) + f"{i + 1:07d}",
                        zzbh, u, division)


def _malform(rec: dict[str, Any], kind: str) -> dict[str, Any]:
    rec = dict(rec)
    if kind == "bad_checksum":
        rec.update(ZJLX="111" if rec.get("ZJLX") not in ("111", "001") else rec["ZJLX"],
                   ZJHM=break_check(str(rec.get("ZJHM") or "")))
    elif kind == "impossible_date":
        rec["SQSJ"] = rec["SQSJ"][:4] + "0230" + rec["SQSJ"][8:]
    elif kind == "alt_date_format":
        s = rec["SQSJ"]
        rec["SQSJ"] = f"{s[:4]}-{s[4:6]}-{s[6:8]} {s[8:10]}:{s[10:12]}:{s[12:14]}"
    elif kind == "unknown_code":
        rec.update(BJJG="7", BJYY="申请人撤回申请", ZZMC=None, ZZBH=None, BJSJ=rec.get("BJSJ") or rec["GXSJ"])
    return rec


# -- XML out ---------------------------------------------------------------------------------------------------

def _xml_value(name: str, value: Any, out: list[str]) -> None:
    if value is None:
        out.append(f'<{name} xsi:nil="true" />')
    elif isinstance(value, dict):
        out.append(f"<{name}>")
        for k, v in value.items():
            if isinstance(v, list):
                for item in v:
                    _xml_value(k, item, out)
            else:
                _xml_value(k, v, out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{escape(str(value))}</{name}>")


def _record_xml(rec: dict[str, Any], out: list[str]) -> None:
    ordered = {k: rec.get(k) for k in RECORD_FIELDS}
    _xml_value("YWXX", ordered, out)


def _envelope(body: str, soap12: bool) -> str:
    ns = _SOAP12 if soap12 else _SOAP11
    return (f'<soap:Envelope xmlns:soap="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>{body}</soap:Body></soap:Envelope>')


def _fault(code: str, message: str, soap12: bool) -> str:
    if soap12:
        value = "soap:Sender" if code == "Client" else "soap:Receiver"
        return (f"<soap:Fault><soap:Code><soap:Value>{value}</soap:Value></soap:Code><soap:Reason>"
                f'<soap:Text xml:lang="zh-CN">{escape(message)}</soap:Text></soap:Reason><soap:Detail /></soap:Fault>')
    return (f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{escape(message)}</faultstring>"
            f"<detail /></soap:Fault>")


# -- the app -----------------------------------------------------------------------------------------------------

class MarketApp(SystemApp):
    """The market-supervision SOAP service and its admin hooks (``POST /_sandbox/encoding`` sets the
    response-encoding quirks: ``charset_header``, ``declaration``, ``surrogate_refs``, ``broken_bytes``)."""

    name = "market"
    deletion_modes = ("void", "op")

    def __init__(self, seed: int = 42, records: int = 1000, username: str = DEFAULT_USERNAME,
                 password: str = DEFAULT_PASSWORD) -> None:
        tl = timeline(seed)
        table = LazyTable(records, tl.time, tl.first_at_or_after, lambda i: generate(seed, i))
        super().__init__(seed, table, OverlayClock(1))
        self.username, self.password = username, password
        self._by_case: dict[str, str] = {}
        self._new_ids = 0
        self._id_lock = threading.Lock()
        self._nonces: dict[str, float] = {}
        self.encoding = {"charset_header": "gb18030", "declaration": "gb18030", "surrogate_refs": False,
                         "broken_bytes": []}
        self.received: dict[str, list[dict[str, Any]]] = {}
        """办件编号 → every business submitted for it, as sent (materials included): what a test asserts on."""
        self.on_issued: Any = None
        """Called with the record of a licence this bureau issues (``/_sandbox/decide``): the bureau's licence
        registry (``sandbox.licences``) files it as an electronic certificate."""

    # -- record hooks ----------------------------------------------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["YWLSH"])

    def base_index(self, rid: str) -> int | None:
        return self.numbered_index(rid, _RECORD_NUMBER, lambda i: self.table.current(i).record["YWLSH"])

    def _case_index(self, bjbh: str) -> int | None:
        return self.numbered_index(bjbh, _CASE_NUMBER, lambda i: generate(self.seed, i)["BJBH"])

    def broken(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        return _malform(record, kind)

    def base_is_deleted(self, index: int) -> bool:
        return fate(self.seed, index) in ("void", "deleted")

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return record.get("BJJG") in ("2", "3")

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        now = fmt_compact(t)
        hjlist = rec.get("HJLIST") if isinstance(rec.get("HJLIST"), dict) else {"HJ": []}
        steps = list(hjlist.get("HJ") or [])
        if rec.get("BJJG") is None:
            done = {s.get("DZ") for s in steps}
            nxt = next((c for c in _CHAIN if c[1] not in done), None)
            if nxt is None:
                item = _ITEMS_BY_CATALOG.get(str(rec.get("JBBM")))
                rec.update(BJJG="0", BJSJ=now, BJYY=None)
                if item is not None and item.cert:
                    party = Party(str(rec.get("SQRMC")), str(rec.get("SQRLX")), str(rec.get("ZJLX")),
                                  str(rec.get("ZJHM")), "", "")
                    rec.update(ZZMC=item.cert, ZZBH=_licence_no(item, rng.getrandbits(64), 9_000_000 + t % 10**6,
                                                                party))
            else:
                name, action, opinion = nxt
                steps.append({"XH": str(len(steps) + 1), "HJMC": name, "DZ": action, "KSSJ": now, "JSSJ": now,
                              "BLR": pick(rng, STAFF), "YJ": opinion})
        else:
            rec["LXDH"] = mobile(rng)
        rec["HJLIST"] = {"HJ": steps}
        rec["GXSJ"] = now
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        now = fmt_compact(t)
        rec.update(BJJG="2" if how == "void" else "3", BJSJ=rec.get("BJSJ") or now,
                   BJYY="作废处理" if how == "void" else "删除", ZZMC=None, ZZBH=None, GXSJ=now)
        return rec

    def admin_extra(self, req: Request) -> Response | None:
        if (req.method, req.path) == ("GET", "/_sandbox/received"):
            with self.table.lock:
                rows = [{"case_no": k, "received": v} for k, v in sorted(self.received.items())]
            return json_response(200, [r for r in rows if r["case_no"] == req.query.get("case_no", r["case_no"])])
        if (req.method, req.path) == ("POST", "/_sandbox/decide"):
            return self._decide(req.json() or {})
        if (req.method, req.path) == ("GET", "/_sandbox/encoding"):
            return json_response(200, self.encoding)
        if (req.method, req.path) == ("POST", "/_sandbox/encoding"):
            body = req.json() or {}
            unknown = set(body) - set(self.encoding)
            if unknown:
                raise BadRequest(f"unknown encoding option(s): {sorted(unknown)}")
            if body.get("charset_header", "gb18030") not in ("gb18030", "gbk", "utf-8", "none"):
                raise BadRequest("charset_header must be gb18030, gbk, utf-8 or none")
            if body.get("declaration", "gb18030") not in ("gb18030", "gbk", "utf-8", "none"):
                raise BadRequest("declaration must be gb18030, gbk, utf-8 or none")
            self.encoding = {"charset_header": "gb18030", "declaration": "gb18030", "surrogate_refs": False,
                             "broken_bytes": [], **body}
            return json_response(200, self.encoding)
        return None

    # -- HTTP ----------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        """Injected faults come from IIS in front of the service: an HTML page, not a SOAP Fault."""
        if status == 400:
            return self._soap(500, _fault("Client", message, False), False)
        title = {503: "Service Unavailable", 429: "Too Many Requests"}.get(status, "Server Error")
        page = (f'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">'
                f"<HTML><HEAD><TITLE>{title}</TITLE><META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; "
                f"charset=us-ascii\"></HEAD><BODY><h2>{title}</h2><hr><p>HTTP Error {status}. {escape(message)}</p>"
                f"</BODY></HTML>")
        return Response(status, page.encode("ascii", "xmlcharrefreplace"), dict(headers or {}),
                        "text/html; charset=us-ascii")

    def api(self, req: Request) -> Response:
        if req.path != SERVICE_PATH:
            return self.error(404, "The resource cannot be found.")
        if req.method == "GET" and {k.lower() for k in req.query} & {"wsdl"}:
            text = wsdl(req.base_url + SERVICE_PATH)
            return Response(200, text.encode("utf-8"), {}, "text/xml; charset=utf-8")
        if req.method != "POST":
            return self.error(405, "Method not allowed")
        soap12 = "application/soap+xml" in (req.headers.get("Content-Type") or "")
        try:
            op, params, header = self._parse(req.body, soap12)
            self._authenticate(header)
            body = self._dispatch(op, params)
        except SoapFault as f:
            return self._soap(500, _fault(f.code, str(f), soap12), soap12)
        return self._soap(200, body, soap12)

    def _soap(self, status: int, body: str, soap12: bool) -> Response:
        enc = self.encoding
        decl_name = enc["declaration"]
        text = _envelope(body, soap12)
        data = text.encode("gb18030")
        if enc["surrogate_refs"]:
            data = _surrogate_refs(text).encode("gb18030")
        for rid in enc["broken_bytes"]:
            # A stray byte that is not GB18030, inside this record's address (what a broken export looks like).
            marker = f"<YWLSH>{rid}</YWLSH>".encode("gb18030")
            at = data.find(marker)
            if at >= 0:
                tag = data.find(b"<LXDZ>", at)
                if tag >= 0:
                    data = data[: tag + 6] + b"\xff" + data[tag + 6:]
        decl = b"" if decl_name == "none" else f'<?xml version="1.0" encoding="{decl_name}"?>'.encode()
        mime = "application/soap+xml" if soap12 else "text/xml"
        header = enc["charset_header"]
        content_type = mime if header == "none" else f"{mime}; charset={header}"
        return Response(status, decl + data, {"Cache-Control": "private"}, content_type)

    def _parse(self, body: bytes, soap12: bool) -> tuple[str, dict[str, Any], ET.Element | None]:
        root = soap_request_root(body, "请求格式错误: ")
        ns = _SOAP12 if soap12 else _SOAP11
        header = root.find(f"{{{ns}}}Header")
        soap_body = root.find(f"{{{ns}}}Body")
        if soap_body is None or len(soap_body) == 0:
            raise SoapFault("Client", "请求缺少 soap:Body（SOAP 版本与 Content-Type 不符？）")
        call = soap_body[0]
        if not call.tag.startswith(f"{{{TNS}}}"):
            raise SoapFault("Client", f"服务器无法识别请求元素 {call.tag}")
        return call.tag[len(TNS) + 2:], _element_dict(call), header

    def _authenticate(self, header: ET.Element | None) -> None:
        token = header.find(f"{{{_WSSE}}}Security/{{{_WSSE}}}UsernameToken") if header is not None else None
        if token is None:
            raise SoapFault("Client", "身份验证失败：缺少 WS-Security UsernameToken")
        user = token.findtext(f"{{{_WSSE}}}Username") or ""
        pw = token.find(f"{{{_WSSE}}}Password")
        given = pw.text or "" if pw is not None else ""
        if pw is not None and pw.get("Type") == _DIGEST:
            nonce = token.findtext(f"{{{_WSSE}}}Nonce") or ""
            created = token.findtext(f"{{{_WSU}}}Created") or ""
            try:
                raw_nonce = base64.b64decode(nonce, validate=True)
                when = calendar.timegm(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S"))
            except (ValueError, TypeError):
                raise SoapFault("Client", "身份验证失败：Nonce 或 Created 格式错误") from None
            if abs(time.time() - when) > 300:
                raise SoapFault("Client", "身份验证失败：Created 时间超出允许范围")
            expected = base64.b64encode(hashlib.sha1(raw_nonce + created.encode() + self.password.encode())
                                        .digest()).decode()
            ok = hmac.compare_digest(user, self.username) and hmac.compare_digest(given, expected)
            if ok:
                with self._counter_lock:
                    now = time.time()
                    self._nonces = {k: v for k, v in self._nonces.items() if now - v < 600}
                    if nonce in self._nonces:
                        raise SoapFault("Client", "身份验证失败：Nonce 重复使用")
                    self._nonces[nonce] = now
        else:
            ok = hmac.compare_digest(user, self.username) and hmac.compare_digest(given, self.password)
        if not ok:
            raise SoapFault("Client", "身份验证失败：用户名或密码错误")

    def _dispatch(self, op: str, params: dict[str, Any]) -> str:
        if op == "GetBusinessList":
            return self._list(params)
        if op == "GetItemCatalog":
            return self._catalog()
        if op == "SubmitBusiness":
            return self._submit(params)
        if op == "CancelBusiness":
            return self._cancel(params)
        raise SoapFault("Client", f"服务器未能识别 HTTP 头 SOAPAction 的值: {TNS}{op}")

    def _list(self, params: dict[str, Any]) -> str:
        since = None
        start = params.get("startTime")
        if start:
            try:
                since = calendar.timegm(time.strptime(start, "%Y%m%d%H%M%S")) - 8 * 3600
            except ValueError:
                raise SoapFault("Client", "参数错误：startTime 格式应为 yyyyMMddHHmmss") from None
        try:
            page_index = int(params.get("pageIndex") or 1)
            page_size = int(params.get("pageSize") or 100)
        except ValueError:
            raise SoapFault("Client", "参数错误：pageIndex、pageSize 必须为整数") from None
        if page_index < 1 or not 1 <= page_size <= 500:
            raise SoapFault("Client", "参数错误：pageIndex >= 1，1 <= pageSize <= 500")
        with self.table.lock:
            total = self.table.count(since)
            rows = self.table.page(since, (page_index - 1) * page_size, page_size)
            out: list[str] = []
            for row in rows:
                _record_xml(self.render(row), out)
        self.after_page()
        return (f'<GetBusinessListResponse xmlns="{TNS}"><GetBusinessListResult><CODE>0</CODE><MSG>成功</MSG>'
                f"<TOTAL>{total}</TOTAL><PAGEINDEX>{page_index}</PAGEINDEX><PAGESIZE>{page_size}</PAGESIZE>"
                f"<RECORDS>{''.join(out)}</RECORDS></GetBusinessListResult></GetBusinessListResponse>")

    def _catalog(self) -> str:
        cols = "".join(f'<xs:element name="{c}" type="xs:string" minOccurs="0" />' for c in ITEM_COLUMNS)
        schema = ('<xs:schema id="NewDataSet" xmlns="" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                  'xmlns:msdata="urn:schemas-microsoft-com:xml-msdata"><xs:element name="NewDataSet" '
                  'msdata:IsDataSet="true" msdata:UseCurrentLocale="true"><xs:complexType><xs:choice minOccurs="0" '
                  'maxOccurs="unbounded"><xs:element name="SXML"><xs:complexType><xs:sequence>'
                  f"{cols}</xs:sequence></xs:complexType></xs:element></xs:choice></xs:complexType></xs:element>"
                  "</xs:schema>")
        rows = []
        for k, item in enumerate(ITEMS):
            values = {"SXBM": task_code(item), "SXMC": item.name, "BLLX": item.case_type,
                      "CNSX": str(item.promise_days), "FDSX": str(item.legal_days), "ZZMC": item.cert}
            cells = "".join(f"<{c}>{escape(v)}</{c}>" for c, v in values.items() if v is not None)
            rows.append(f'<SXML diffgr:id="SXML{k + 1}" msdata:rowOrder="{k}">{cells}</SXML>')
        diffgram = ('<diffgr:diffgram xmlns:msdata="urn:schemas-microsoft-com:xml-msdata" '
                    'xmlns:diffgr="urn:schemas-microsoft-com:xml-diffgram-v1"><NewDataSet xmlns="">'
                    f"{''.join(rows)}</NewDataSet></diffgr:diffgram>")
        return (f'<GetItemCatalogResponse xmlns="{TNS}"><GetItemCatalogResult>{schema}{diffgram}'
                f"</GetItemCatalogResult></GetItemCatalogResponse>")

    def _write_result(self, op: str, answer: dict[str, Any]) -> str:
        fields = "".join(f"<{k}>{escape(str(v).lower() if isinstance(v, bool) else str(v))}</{k}>"
                         for k, v in answer.items())
        return f'<{op}Response xmlns="{TNS}"><{op}Result>{fields}</{op}Result></{op}Response>'

    def _submit(self, params: dict[str, Any]) -> str:
        key = params.get("requestId")
        business = params.get("business")
        if not key:
            raise SoapFault("Client", "参数错误：缺少 requestId")
        if not isinstance(business, dict) or not business.get("BJBH"):
            raise SoapFault("Client", "参数错误：business 缺少办件编号 BJBH")
        bjbh = str(business["BJBH"])
        with self.table.lock:
            first = self.recall(key)
            if first is not None:
                return self._write_result("SubmitBusiness", {**first, "DUPLICATE": True})
            rid = self._by_case.get(bjbh)
            index = None
            if rid is None:
                index = self._case_index(bjbh)
                if index is not None:
                    rid = self.table.current(index).record["YWLSH"]
            created = rid is None
            t = self.clock.next()
            if rid is None:
                with self._id_lock:
                    self._new_ids += 1
                    rid = f"SCJG{time.gmtime(t + 8 * 3600).tm_year}{9_000_000 + self._new_ids:07d}"
            self.received.setdefault(bjbh, []).append(business)
            record = {k: business.get(k) for k in RECORD_FIELDS}
            if not isinstance(record.get("HJLIST"), dict):
                record["HJLIST"] = {"HJ": []}
            record.update(YWLSH=rid, BJBH=bjbh, GXSJ=fmt_compact(t))
            self.table.put(rid, t, record, index, written=True)
            self._by_case[bjbh] = rid
            answer = {"CODE": "0", "MSG": "成功", "YWLSH": rid, "CREATED": created, "DUPLICATE": False}
            self.remember(key, answer)
        return self._write_result("SubmitBusiness", answer)

    def _decide(self, body: dict[str, Any]) -> Response:
        """A clerk's decision on a case submitted here: ``issue`` (approved; a 营业执照 gets a new USCC and goes to
        the licence registry) or ``refuse`` (不予许可, with the reason)."""
        bjbh, decision = str(body.get("case_no") or ""), body.get("decision")
        if decision not in ("issue", "refuse"):
            raise BadRequest("decision must be issue or refuse")
        if decision == "refuse" and not body.get("reason"):
            raise BadRequest("a refusal needs a reason")
        with self.table.lock:
            rid = self._by_case.get(bjbh)
            entry = self.table.get(rid) if rid is not None else None
            if entry is None:
                return json_response(404, {"error": f"no case {bjbh} submitted here"})
            if entry.record.get("BJJG") is not None:
                return json_response(409, {"error": f"case {bjbh} is already decided ({entry.record['BJJG']})"})
            rid = self._change(entry, lambda r, t: self._decided(r, t, decision, str(body.get("reason") or "")))
            record = dict(self.table.get(rid).record)  # type: ignore[union-attr]
        if decision == "issue" and record.get("ZZMC") == "营业执照" and self.on_issued is not None:
            self.on_issued(record)
        return json_response(200, {"case_no": bjbh, "BJJG": record["BJJG"], "ZZBH": record.get("ZZBH")})

    def _decided(self, rec: dict[str, Any], t: int, decision: str, reason: str) -> dict[str, Any]:
        now = fmt_compact(t)
        steps = list((rec.get("HJLIST") or {}).get("HJ") or [])
        done = {s.get("DZ") for s in steps}
        for name, action, opinion in _CHAIN:
            if action not in done and (decision == "issue" or action == "1"):
                steps.append({"XH": str(len(steps) + 1), "HJMC": name, "DZ": action, "KSSJ": now, "JSSJ": now,
                              "BLR": STAFF[len(steps) % len(STAFF)], "YJ": opinion if decision == "issue" else reason})
        rec.update(HJLIST={"HJ": steps}, BJSJ=now, GXSJ=now, SLSJ=rec.get("SLSJ") or now)
        if decision == "refuse":
            rec.update(BJJG=_RESULT["denied"], BJYY=reason, ZZMC=None, ZZBH=None)
            return rec
        item = _ITEMS_BY_CATALOG.get(str(rec.get("JBBM")))
        cert = item.cert if item is not None else None
        number = None
        if cert == "营业执照":
            digest = hashlib.sha256(str(rec.get("BJBH")).encode()).digest()
            number = make_uscc("9", "1", DEPT["division"], "MA" + "".join(USCC_ALPHABET[b % 31] for b in digest[:6]))
        rec.update(BJJG=_RESULT["issued"], BJYY=None, ZZMC=cert, ZZBH=number)
        return rec

    def _cancel(self, params: dict[str, Any]) -> str:
        key, bjbh = params.get("requestId"), params.get("BJBH")
        if not key or not bjbh:
            raise SoapFault("Client", "参数错误：缺少 requestId 或 BJBH")
        with self.table.lock:
            first = self.recall(key)
            if first is not None:
                return self._write_result("CancelBusiness", {**first, "DUPLICATE": True})
            rid = self._by_case.get(bjbh)
            index = self._case_index(bjbh) if rid is None else None
            entry = self.table.get(rid) if rid is not None else (
                self.table.current(index) if index is not None else None)
            if entry is None:
                answer = {"CODE": "404", "MSG": f"办件 {bjbh} 不存在", "YWLSH": "", "CREATED": False,
                          "DUPLICATE": False}
                return self._write_result("CancelBusiness", answer)
            reason = params.get("reason") or "作废处理"
            rid = self._change(entry, lambda r, t: {**self.deleted(r, t, "void"), "BJYY": reason})
            self._by_case[bjbh] = rid
            answer = {"CODE": "0", "MSG": "成功", "YWLSH": rid, "CREATED": False, "DUPLICATE": False}
            self.remember(key, answer)
        return self._write_result("CancelBusiness", answer)


def _element_dict(el: ET.Element) -> dict[str, Any]:
    """A request element as a dict by local name: nil -> None, empty -> "", repeated ``HJ`` -> a list."""
    out: dict[str, Any] = {}
    for child in el:
        name = child.tag.rsplit("}", 1)[-1]
        if child.get(_XSI_NIL) in ("true", "1"):
            value: Any = None
        elif len(child) or name == "HJLIST":
            value = _element_dict(child)
        else:
            value = child.text or ""
        if name in _LIST_TAGS:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    if el.tag.endswith("}HJLIST") and "HJ" not in out:
        out["HJ"] = []
    return out


def _surrogate_refs(text: str) -> str:
    """Characters outside the BMP as numeric references to UTF-16 surrogate halves (old Java stacks)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp > 0xFFFF:
            v = cp - 0x10000
            out.append(f"&#x{0xD800 + (v >> 10):X};&#x{0xDC00 + (v & 0x3FF):X};")
        else:
            out.append(ch)
    return "".join(out)
