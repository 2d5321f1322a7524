"""licences — the market-supervision administration's electronic licence registry (电子证照库): REST, JSON.

A second system of 济南市市场监督管理局 beside its SOAP approval system: the registry where the licences it
issues (营业执照, 个体工商户营业执照, 食品经营许可证) are kept as electronic certificates after GB/T 36903, each
with a GB/T 36904 identifier, a small OFD-like file and the issuer's Ed25519 signature over that file. The
issuer's public key is published at ``/.well-known/issuer-keys`` so that a consumer's operator can register
it. Stdlib only (``sandbox.ed25519`` signs).

API (header ``X-Api-Key``, default ``licences-demo-key``):

- ``GET /api/v1/licences?updatedSince=<epoch ms>&pageNo=1&pageSize=100`` — licences whose ``gxsj`` (change
  time, epoch milliseconds) is ``>= updatedSince``, ordered by (``gxsj``, ``id``); page-number paging like the
  civil system, ``{"code": 0, "msg": "success", "data": {"total", "pageNo", "pageSize", "rows"}}``.
- ``GET /.well-known/issuer-keys`` (no auth) — ``{"keys": [{"kid", "alg", "issuer_code", "issuer_name",
  "public_key"}]}`` (raw 32-byte key, base64).

Record::

    {"id": "ZZ00000001", "zzbs": "1.2.156.3005.2.…", "zzmc": "营业执照", "zzlxdm": "11100000MB0143028R001",
     "zzbh": "91370100…", "bfjg": {"mc": "济南市市场监督管理局", "dm": "11370100004301265T"},
     "bfrq": "2024-03-05", "czzt": [{"mc": "济南某某有限公司", "zjlx": "001", "zjhm": "9137…"}],
     "yxqq": "2024-03-05", "yxqz": null, "sdbm": "370100", "zzzt": "1", "xzzbs": null,
     "wj": {"lx": "ofd", "nr": "<base64>", "zy": "<sha256 hex>"},
     "qm": {"sf": "Ed25519", "kid": "…", "z": "<base64>", "qmr": "…", "qmsj": "2024-03-05 10:00:00"},
     "gxsj": 1709605860000}

``zzzt`` (the registry's own status table): 1 有效, 2 注销, 3 吊销, 4 撤销, 5 暂扣, 6 已换发 (renewed: ``xzzbs``
names the new licence). Older licences (about one in twelve of the base ones) carry a pre-standard local
identifier (``370100-YYZZ-2019-000123``) instead of a GB/T 36904 one.

Admin (``/_sandbox/``): ``POST issue`` ``{"type": "营业执照", "holder": {"name", "idType", "id"}}`` → the new
record; ``POST revoke`` ``{"ids": [zzbs…], "status": "3"}``; ``POST renew`` ``{"id": zzbs}`` → the new
record; ``POST bad-signature`` ``{"holder": {…}}`` → a licence whose file was changed after signing;
``GET issuer-keys``; plus every system's ``records``, ``stats``, ``mutate``, ``delete``, ``faults``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import random
import threading
import time
from typing import Any
from xml.sax.saxutils import escape

from . import ed25519
from .app import BadRequest, Request, Response, SystemApp, json_response
from .clock import OverlayClock
from .identifiers import USCC_ALPHABET, make_uscc
from .pools import people
from .prng import mix
from .table import Entry, LazyTable, Row

__all__ = ["LicenceApp", "ISSUER", "TYPES", "DEFAULT_API_KEY", "start_licences", "iso7064_mod37_36"]

DEFAULT_API_KEY = "licences-demo-key"
ISSUER = {"name": "济南市市场监督管理局", "code": "11370100004301265T", "division": "370100"}
_DEFINER = "11100000MB0143028R"  # 国家市场监督管理总局 (the body that defines these certificate types)
TYPES = {
    "营业执照": _DEFINER + "001",
    "个体工商户营业执照": _DEFINER + "002",
    "食品经营许可证": _DEFINER + "003",
}
_PREFIX = "1.2.156.3005.2"
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_STATUS_NAMES = {"1": "有效", "2": "注销", "3": "吊销", "4": "撤销", "5": "暂扣", "6": "已换发"}


def iso7064_mod37_36(text: str) -> str:
    """ISO 7064 MOD 37,36 check character (the GB/T 36904 identifier's last part)."""
    modulus = 36
    check = modulus // 2
    for ch in text:
        check = (((check or modulus) * 2) % (modulus + 1) + _ALNUM.index(ch)) % modulus
    return _ALNUM[(1 - ((check or modulus) * 2) % (modulus + 1)) % modulus]


def identifier(type_code: str, issuer_code: str, serial: str, version: int) -> str:
    ver = f"{version:03d}"
    return f"{_PREFIX}.{type_code}.{issuer_code}.{serial}.{ver}.{iso7064_mod37_36(type_code + issuer_code + serial + ver)}"


def _ymd(sec: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(sec + 8 * 3600))


def _ymdhms(sec: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec + 8 * 3600))


def render_file(rec: dict[str, Any]) -> bytes:
    """The licence file: a small OFD-like XML document whose custom data repeats the metadata it attests."""
    holders = ";".join(f"{h['zjlx']}:{h['zjhm']}" for h in rec["czzt"])
    names = ";".join(h["mc"] for h in rec["czzt"])
    data = [("证照标识", rec["zzbs"]), ("证照名称", rec["zzmc"]), ("证照类型代码", rec["zzlxdm"]),
            ("证照编号", rec["zzbh"]), ("颁发机构", rec["bfjg"]["mc"]), ("颁发机构代码", rec["bfjg"]["dm"]),
            ("颁发日期", rec["bfrq"]), ("持证主体", names), ("持证主体代码", holders),
            ("有效期起始日期", rec["yxqq"]), ("有效期截止日期", rec["yxqz"] or "长期")]
    custom = "".join(f'<ofd:CustomData Name="{escape(k)}">{escape(v)}</ofd:CustomData>' for k, v in data)
    text = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/2016" Version="1.1" DocType="OFD"><ofd:DocBody>'
            f'<ofd:DocInfo><ofd:DocID>{escape(rec["id"])}</ofd:DocID><ofd:Title>{escape(rec["zzmc"])}</ofd:Title>'
            f'<ofd:CustomDatas>{custom}</ofd:CustomDatas></ofd:DocInfo>'
            '<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
    return text.encode("utf-8")


class LicenceApp(SystemApp):
    """The licence registry's HTTP API and admin hooks. Every licence lives in the overlay (no lazy base)."""

    name = "licences"
    deletion_modes = ("cancel",)

    def __init__(self, seed: int = 42, records: int = 24, api_key: str = DEFAULT_API_KEY) -> None:
        table = LazyTable(0, lambda i: 0, lambda since: 0, lambda i: {})
        super().__init__(seed, table, OverlayClock(1000))
        self.api_key = api_key
        self.secret = hashlib.sha256(f"sandbox-licences-issuer|{seed}".encode()).digest()
        self.public_key = ed25519.public_key(self.secret)
        self.kid = "jnsj-" + hashlib.sha256(self.public_key).hexdigest()[:12]
        self._seq = 0
        self._by_ident: dict[str, str] = {}
        self._lock = threading.Lock()
        rng = random.Random(mix(seed, 7, 0x11CE))
        persons = [p for p in people(seed)[:200] if p.cert_type == "111"]
        for k in range(records):
            kind = ("营业执照", "个体工商户营业执照", "食品经营许可证")[k % 3]
            if kind == "个体工商户营业执照":
                p = persons[k % len(persons)]
                holder = {"mc": p.name, "zjlx": "111", "zjhm": p.cert_no}
            else:
                holder = self._company(rng)
            self._issue(kind, holder, legacy=(k % 12 == 5), issued=time.time() - (400 + 37 * k) * 86400)

    # -- generation ----------------------------------------------------------------------------------------
    @staticmethod
    def _company(rng: random.Random) -> dict[str, str]:
        org8 = "MA" + "".join(USCC_ALPHABET[rng.randrange(31)] for _ in range(6))
        words = ("泉城", "舜耕", "历山", "趵突", "鹊华", "千佛", "大明", "华山")
        trades = ("商贸", "科技", "餐饮", "建材", "物流", "文化传媒")
        name = f"济南{rng.choice(words)}{rng.choice(trades)}有限公司"
        return {"mc": name, "zjlx": "001", "zjhm": make_uscc("9", "1", "370100", org8)}

    def _next_id(self) -> str:
        with self._lock:
            self._seq += 1
            return f"ZZ{self._seq:08d}"

    def _sign(self, rec: dict[str, Any], *, corrupt: bool = False) -> dict[str, Any]:
        content = render_file(rec)
        signature = ed25519.sign(self.secret, content)
        if corrupt:  # the file changed after it was signed: what a forged or damaged licence looks like
            content = content.replace("</ofd:Title>".encode(), "（副本）</ofd:Title>".encode())
        rec["wj"] = {"lx": "ofd", "nr": base64.b64encode(content).decode(), "zy": hashlib.sha256(content).hexdigest()}
        rec["qm"] = {"sf": "Ed25519", "kid": self.kid, "z": base64.b64encode(signature).decode(),
                     "qmr": ISSUER["name"], "qmsj": _ymdhms(time.time())}
        return rec

    def _issue(self, kind: str, holder: dict[str, str], *, legacy: bool = False, issued: float | None = None,
               version: int = 1, serial: str | None = None, corrupt: bool = False) -> dict[str, Any]:
        if kind not in TYPES:
            raise BadRequest(f"type must be one of {sorted(TYPES)}")
        rid = self._next_id()
        issued = time.time() if issued is None else issued
        serial = serial or f"{int(rid[2:]):08d}"
        number = holder["zjhm"] if kind != "食品经营许可证" else f"JY1370100{int(rid[2:]):08d}"
        if kind == "个体工商户营业执照":
            number = f"92370100MA{int(rid[2:]):07d}"[:17]
            number = number + _uscc_check(number)
        ident = (f"370100-{'YYZZ' if '营业' in kind else 'SPJY'}-{_ymd(issued)[:4]}-{serial[-6:]}" if legacy
                 else identifier(TYPES[kind], ISSUER["code"], serial, version))
        until = None if kind == "营业执照" else _ymd(issued + 5 * 365 * 86400)
        rec: dict[str, Any] = {
            "id": rid, "zzbs": ident, "zzmc": kind, "zzlxdm": TYPES[kind], "zzbh": number,
            "bfjg": {"mc": ISSUER["name"], "dm": ISSUER["code"]}, "bfrq": _ymd(issued),
            "czzt": [dict(holder)], "yxqq": _ymd(issued), "yxqz": until, "sdbm": ISSUER["division"],
            "zzzt": "1", "xzzbs": None,
        }
        self._sign(rec, corrupt=corrupt)
        self._put(rec)
        return rec

    def file_issued(self, kind: str, holder_name: str, holder_uscc: str) -> dict[str, Any]:
        """A licence the bureau's approval system just issued (``sandbox.market``'s ``/_sandbox/decide``), filed
        here as a signed electronic certificate of the company."""
        return self._issue(kind, {"mc": holder_name, "zjlx": "001", "zjhm": holder_uscc})

    def _put(self, rec: dict[str, Any]) -> None:
        with self.table.lock:
            t = self.clock.next()
            rec["gxsj"] = t
            self.table.put(rec["id"], t, rec)
            self._by_ident[rec["zzbs"]] = rec["id"]

    def _find(self, ident: str) -> dict[str, Any] | None:
        rid = self._by_ident.get(ident, ident)
        entry = self.table.get(rid)
        return copy.deepcopy(entry.record) if entry is not None else None

    # -- SystemApp hooks -----------------------------------------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["id"])

    def base_index(self, rid: str) -> int | None:
        return None

    def render(self, row: Row | Entry) -> dict[str, Any]:
        return row.record

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return record.get("zzzt") == "2"

    def mutated(self, record: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        record["gxsj"] = t  # a metadata touch (re-indexed by the registry): content and signature unchanged
        return record

    def deleted(self, record: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        record.update(zzzt="2", gxsj=t)
        return record

    def _change(self, entry: Entry, fn: Any) -> str:
        rid = super()._change(entry, fn)
        rec = self.table.get(rid)
        if rec is not None:
            rec.record["gxsj"] = rec.time
        return rid

    # -- API -----------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"code": status, "msg": message}, headers)

    def keys(self) -> dict[str, Any]:
        return {"keys": [{"kid": self.kid, "alg": "Ed25519", "issuer_code": ISSUER["code"],
                          "issuer_name": ISSUER["name"], "public_key": base64.b64encode(self.public_key).decode()}]}

    def handle(self, req: Request) -> Response:
        if req.path == "/.well-known/issuer-keys" and req.method == "GET":
            return json_response(200, self.keys())
        return super().handle(req)

    def api(self, req: Request) -> Response:
        key = req.headers.get("X-Api-Key") or ""
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return self.error(401, "invalid api key")
        if req.path == "/api/v1/licences" and req.method == "GET":
            return self._list(req)
        return self.error(404, "not found")

    def _list(self, req: Request) -> Response:
        q = req.query
        try:
            since = int(q["updatedSince"]) if q.get("updatedSince") else None
            page_no = int(q.get("pageNo", "1"))
            page_size = int(q.get("pageSize", "100"))
        except ValueError:
            raise BadRequest("updatedSince (epoch ms), pageNo and pageSize must be integers") from None
        if page_no < 1 or not 1 <= page_size <= 500:
            raise BadRequest("pageNo >= 1 and 1 <= pageSize <= 500")
        with self.table.lock:
            total = self.table.count(since)
            rows = self.table.page(since, (page_no - 1) * page_size, page_size)
            data = {"total": total, "pageNo": page_no, "pageSize": page_size,
                    "rows": [copy.deepcopy(self.render(r)) for r in rows]}
        resp = json_response(200, {"code": 0, "msg": "success", "data": data})
        self.after_page()
        return resp

    # -- admin ---------------------------------------------------------------------------------------------
    def admin_extra(self, req: Request) -> Response | None:
        route = (req.method, req.path)
        body = (req.json() or {}) if req.method == "POST" else {}
        if route == ("GET", "/_sandbox/issuer-keys"):
            return json_response(200, self.keys())
        if route == ("POST", "/_sandbox/issue"):
            return json_response(200, self._issue(str(body.get("type", "营业执照")), self._holder(body)))
        if route == ("POST", "/_sandbox/bad-signature"):
            return json_response(200, self._issue(str(body.get("type", "营业执照")), self._holder(body),
                                                  corrupt=True))
        if route == ("POST", "/_sandbox/revoke"):
            status = str(body.get("status", "3"))
            if status not in _STATUS_NAMES or status in ("1", "6"):
                raise BadRequest("status must be 2, 3, 4 or 5")
            done, unknown = [], []
            for ident in body.get("ids", []):
                rec = self._find(str(ident))
                if rec is None:
                    unknown.append(ident)
                    continue
                rec["zzzt"] = status
                self._put(rec)
                done.append(rec["zzbs"])
            return json_response(200, {"revoked": done, "unknown": unknown})
        if route == ("POST", "/_sandbox/renew"):
            old = self._find(str(body.get("id", "")))
            if old is None:
                return json_response(404, {"error": "unknown licence"})
            kind = old["zzmc"]
            parts = old["zzbs"].split(".")
            version = int(parts[-2]) + 1 if old["zzbs"].startswith(_PREFIX) else 1
            serial = parts[-3] if old["zzbs"].startswith(_PREFIX) else None
            new = self._issue(kind, old["czzt"][0], version=version, serial=serial)
            old.update(zzzt="6", xzzbs=new["zzbs"])
            self._put(old)
            return json_response(200, new)
        return None

    @staticmethod
    def _holder(body: dict[str, Any]) -> dict[str, str]:
        h = body.get("holder")
        if not isinstance(h, dict) or not h.get("id") or not h.get("name"):
            raise BadRequest("holder {name, idType, id} is required")
        return {"mc": str(h["name"]), "zjlx": str(h.get("idType", "001")), "zjhm": str(h["id"])}


def _uscc_check(first17: str) -> str:
    from .identifiers import uscc_check_char

    return uscc_check_char(first17)


def start_licences(seed: int = 42, records: int = 24, host: str = "127.0.0.1", port: int = 0,
                   admin_port: int = 0, api_key: str = DEFAULT_API_KEY) -> Any:
    """Start the licence registry alone (API + admin listener); returns a handle with ``url``, ``admin_url``,
    ``app`` and ``stop()``. Tests and the demo use this beside ``start_all``."""
    from .harness import Listener

    app = LicenceApp(seed, records, api_key)
    api, admin = Listener(app, host, port), Listener(app, host, admin_port, admin_only=True)
    api.start()
    admin.start()

    class _Handle:
        def __init__(self) -> None:
            self.app, self.api, self.admin = app, api, admin

        @property
        def url(self) -> str:
            return api.url

        @property
        def admin_url(self) -> str:
            return admin.url

        def stop(self) -> None:
            api.stop()
            admin.stop()

        def __enter__(self) -> Any:
            return self

        def __exit__(self, *exc: object) -> None:
            self.stop()

    return _Handle()
