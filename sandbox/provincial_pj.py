"""provincial_pj — 山东省政务服务"好差评"系统 (the provincial 好差评 system): SOAP 1.1, its own codes.

Districts report every rating here, report the callback (回访) and rectification (整改) of each bad one, and
appeal (申诉) a rating they think mistaken — first to the city (市级), then, if the city rejects it, to the
province (省级). This system only receives and answers; it never pushes. It counts what it received per key,
so a test can ask whether each item arrived exactly once (``GET /_sandbox/received``).

Conventions no other sandbox system uses: one endpoint ``POST /hcp/services/PjService`` with an
``<hcp:auth appId=".." appKey=".."/>`` SOAP header; pinyin-initial element names; grades as codes where
**01 is the best** (01 非常满意, 02 满意, 03 基本满意, 04 不满意, 05 非常不满意); channels as digits (1 PC端, 2 移动端,
3 二维码, 4 评价器, 5 短信); times ``yyyyMMddHHmmss``; every answer carries ``<fhdm>`` (0000 accepted, 1001
already received — the first answer stands, 2001 a field is wrong, with ``<fhxx>`` naming it).

Operations (namespace ``http://hcp.sd.gov.cn/pj``):

- ``sbPj`` (上报评价): ``pjbh bjbh pjdj pjqd pjsj xzqh jgdm pjnr`` → ``fhdm fhxx``; key ``pjbh`` (the same
  fields again: 1001; other fields under a known ``pjbh``: the rating revised at its collection point, replaced).
- ``sbHf`` (上报回访/整改): ``pjbh lx`` (1 回访, 2 整改) ``wcsj jg`` → key (``pjbh``, ``lx``).
- ``tjSs`` (提交申诉): ``pjbh sscj`` (3 市级, 2 省级) ``ssly tjsj`` → key (``pjbh``, ``sscj``).
- ``cxSs`` (查询申诉): ``pjbh sscj`` → ``zt`` (0 待审核, 1 申诉成立, 2 驳回) ``shyj``.

Admin (``/_sandbox/``): ``GET received`` → ``{"ratings": {pjbh: times}, "callbacks": {"pjbh:lx": times},
"appeals": {"pjbh:sscj": times}, "records": {pjbh: fields}}``; ``POST decide`` ``{"pjbh", "sscj", "zt",
"shyj"}`` decides an appeal; plus ``stats`` and ``faults``.
"""

from __future__ import annotations

import hmac
import random
import threading
import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import escape

from .app import BadRequest, Request, Response, SoapFault, SystemApp, json_response, soap_request_root
from .clock import OverlayClock
from .table import LazyTable

__all__ = ["ProvincialPjApp", "DEFAULT_APP_ID", "DEFAULT_APP_KEY", "NS", "SERVICE_PATH", "GRADES", "CHANNELS"]

DEFAULT_APP_ID = "qx370102"
DEFAULT_APP_KEY = "pj-demo-key"
NS = "http://hcp.sd.gov.cn/pj"
SERVICE_PATH = "/hcp/services/PjService"
_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
GRADES = {"01": "非常满意", "02": "满意", "03": "基本满意", "04": "不满意", "05": "非常不满意"}
CHANNELS = {"1": "PC端", "2": "移动端", "3": "二维码", "4": "评价器", "5": "短信"}
_REQUIRED = {"sbPj": ("pjbh", "bjbh", "pjdj", "pjqd", "pjsj", "xzqh"), "sbHf": ("pjbh", "lx", "wcsj"),
             "tjSs": ("pjbh", "sscj", "ssly", "tjsj"), "cxSs": ("pjbh", "sscj")}


def _envelope(body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="{_SOAP11}"><soap:Body>{body}'
            f"</soap:Body></soap:Envelope>").encode("utf-8")


def _answer(op: str, fields: dict[str, str]) -> Response:
    inner = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items())
    return Response(200, _envelope(f'<ns:{op}Response xmlns:ns="{NS}">{inner}</ns:{op}Response>'), {},
                    "text/xml; charset=utf-8")


def _fault(status: int, code: str, message: str) -> Response:
    body = (f"<soap:Fault><faultcode>soap:{code}</faultcode><faultstring>{escape(message)}</faultstring>"
            f"</soap:Fault>")
    return Response(status, _envelope(body), {}, "text/xml; charset=utf-8")


def _valid_time(text: str) -> bool:
    return len(text) == 14 and text.isdigit() and "01" <= text[4:6] <= "12" and "01" <= text[6:8] <= "31"


class ProvincialPjApp(SystemApp):
    """The provincial system's SOAP endpoint and what it received."""

    name = "provincial_pj"

    def __init__(self, seed: int = 42, records: int = 0, app_id: str = DEFAULT_APP_ID,
                 app_key: str = DEFAULT_APP_KEY) -> None:
        super().__init__(seed, LazyTable(0, lambda i: 0, lambda t: 0, lambda i: {}), OverlayClock(1))
        self.app_id, self.app_key = app_id, app_key
        self._lock = threading.Lock()
        self.ratings: dict[str, int] = {}
        self.rating_records: dict[str, dict[str, str]] = {}
        self.callbacks: dict[str, int] = {}
        self.callback_records: dict[str, dict[str, str]] = {}
        self.appeals: dict[str, int] = {}
        self.decisions: dict[str, tuple[str, str]] = {}

    # -- record hooks: this system serves no records ------------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return ""

    def base_index(self, rid: str) -> int | None:
        return None

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return False

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        return rec

    # -- admin -------------------------------------------------------------------------------------------
    def admin_extra(self, req: Request) -> Response | None:
        if (req.method, req.path) == ("GET", "/_sandbox/received"):
            with self._lock:
                return json_response(200, {"ratings": dict(self.ratings), "callbacks": dict(self.callbacks),
                                           "appeals": dict(self.appeals), "records": dict(self.rating_records),
                                           "callback_records": dict(self.callback_records)})
        if (req.method, req.path) == ("POST", "/_sandbox/decide"):
            body = req.json() or {}
            zt = str(body.get("zt", ""))
            if zt not in ("0", "1", "2"):
                raise BadRequest("zt must be 0, 1 or 2")
            with self._lock:
                self.decisions[f"{body.get('pjbh')}:{body.get('sscj')}"] = (zt, str(body.get("shyj", "")))
            return json_response(200, {"decided": True})
        return None

    # -- API ---------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        resp = _fault(status if status >= 500 else 500, "Server.Busy" if status >= 429 else "Server", message)
        resp.headers.update(headers or {})
        return resp

    def api(self, req: Request) -> Response:
        if req.path != SERVICE_PATH:
            return _fault(404, "Client", "服务不存在")
        if req.method != "POST":
            return _fault(405, "Client", "仅支持 POST")
        try:
            root = soap_request_root(req.body, "报文无法解析：")
            body = root.find(f"{{{_SOAP11}}}Body")
            if root.tag != f"{{{_SOAP11}}}Envelope" or body is None or len(body) == 0:
                raise SoapFault("Client", "缺少 soap:Body")
            auth = root.find(f"{{{_SOAP11}}}Header/{{{NS}}}auth")
            if auth is None or auth.get("appId") != self.app_id or not hmac.compare_digest(
                    (auth.get("appKey") or "").encode(), self.app_key.encode()):
                raise SoapFault("Client.Auth", "接入认证失败")
            call = body[0]
            op = call.tag.removeprefix(f"{{{NS}}}")
            if op not in _REQUIRED:
                raise SoapFault("Client", f"未知操作 {call.tag}")
            fields = {child.tag.removeprefix(f"{{{NS}}}"): (child.text or "").strip() for child in call}
        except SoapFault as f:
            return _fault(500, f.code, str(f))
        missing = [k for k in _REQUIRED[op] if not fields.get(k)]
        if missing:
            return _answer(op, {"fhdm": "2001", "fhxx": f"{missing[0]} 不能为空"})
        return getattr(self, f"_{op}")(op, fields)

    def _counted(self, store: dict[str, int], key: str) -> bool:
        """Count one receipt of ``key``; True if it is the first."""
        with self._lock:
            store[key] = store.get(key, 0) + 1
            first = store[key] == 1
        with self._counter_lock:
            self.stats["writes_applied" if first else "duplicate_writes"] += 1
        return first

    def _sbPj(self, op: str, f: dict[str, str]) -> Response:
        if f["pjdj"] not in GRADES:
            return _answer(op, {"fhdm": "2001", "fhxx": f"pjdj 取值 {f['pjdj']} 不在 01-05"})
        if f["pjqd"] not in CHANNELS:
            return _answer(op, {"fhdm": "2001", "fhxx": f"pjqd 取值 {f['pjqd']} 不在 1-5"})
        if not _valid_time(f["pjsj"]):
            return _answer(op, {"fhdm": "2001", "fhxx": "pjsj 应为 yyyyMMddHHmmss"})
        with self._lock:
            known = self.rating_records.get(f["pjbh"])
            if known is not None and known == f:
                self.ratings[f["pjbh"]] += 1
                outcome = "duplicate"
            else:  # new, or the same rating revised at the collection point (another grade, a comment): replaced
                self.ratings[f["pjbh"]] = self.ratings.get(f["pjbh"], 0) + 1
                self.rating_records[f["pjbh"]] = f
                outcome = "new" if known is None else "revised"
        with self._counter_lock:
            counter = {"duplicate": "duplicate_writes", "new": "writes_applied", "revised": "revisions_applied"}[outcome]
            self.stats[counter] = self.stats.get(counter, 0) + 1
        return _answer(op, {"fhdm": "1001" if outcome == "duplicate" else "0000",
                            "fhxx": {"duplicate": "已接收过", "new": "接收成功", "revised": "更新成功"}[outcome]})

    def _sbHf(self, op: str, f: dict[str, str]) -> Response:
        if f["lx"] not in ("1", "2"):
            return _answer(op, {"fhdm": "2001", "fhxx": "lx 应为 1 或 2"})
        with self._lock:
            known = f["pjbh"] in self.ratings
        if not known:
            return _answer(op, {"fhdm": "2001", "fhxx": f"pjbh {f['pjbh']} 未上报"})
        first = self._counted(self.callbacks, f"{f['pjbh']}:{f['lx']}")
        if first:
            with self._lock:
                self.callback_records[f"{f['pjbh']}:{f['lx']}"] = f
        return _answer(op, {"fhdm": "0000" if first else "1001", "fhxx": "接收成功" if first else "已接收过"})

    def _tjSs(self, op: str, f: dict[str, str]) -> Response:
        if f["sscj"] not in ("3", "2"):
            return _answer(op, {"fhdm": "2001", "fhxx": "sscj 应为 3（市级）或 2（省级）"})
        with self._lock:
            known = f["pjbh"] in self.ratings
            below = self.decisions.get(f"{f['pjbh']}:3", ("0", ""))[0]
        if not known:
            return _answer(op, {"fhdm": "2001", "fhxx": f"pjbh {f['pjbh']} 未上报"})
        if f["sscj"] == "2" and below != "2":
            return _answer(op, {"fhdm": "2001", "fhxx": "sscj 省级申诉须先经市级驳回"})
        first = self._counted(self.appeals, f"{f['pjbh']}:{f['sscj']}")
        return _answer(op, {"fhdm": "0000" if first else "1001", "fhxx": "接收成功" if first else "已接收过"})

    def _cxSs(self, op: str, f: dict[str, str]) -> Response:
        with self._lock:
            filed = f"{f['pjbh']}:{f['sscj']}" in self.appeals
            zt, shyj = self.decisions.get(f"{f['pjbh']}:{f['sscj']}", ("0", ""))
        if not filed:
            return _answer(op, {"fhdm": "2001", "fhxx": "申诉不存在"})
        return _answer(op, {"fhdm": "0000", "fhxx": "查询成功", "zt": zt, "shyj": shyj})


def parse_answer(body: bytes) -> dict[str, str]:
    """The fields of an answer (for the sandbox's own tests)."""
    root = ET.fromstring(body)
    answer = root.find(f"{{{_SOAP11}}}Body")[0]  # type: ignore[index]
    return {c.tag: c.text or "" for c in answer}
