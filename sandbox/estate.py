"""estate — the city real-estate registry (市不动产登记中心): REST, JSON, pinyin field names, HMAC auth.

``generate(seed, i)`` is base record ``i``; ``EstateApp`` serves the API in README.md: HMAC-SHA256 signed
requests with timestamp and nonce, keyset (cursor) paging over ``modified_after`` in epoch milliseconds,
idempotent writes by ``bjbh``, deletions as ``czlx: "D"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import re
import threading
import time
from bisect import bisect_right
from collections import OrderedDict
from typing import Any

from .app import BadRequest, Request, Response, SystemApp, json_response
from .clock import OverlayClock, Timeline, timeline_of, fmt_compact, fmt_date
from .identifiers import break_check
from .lifecycle import Story, build_story, promise_time
from .people import Party, bank, company, mobile, person
from .pools import PEOPLE_AT, PEOPLE_SLOTS, STORY_SLOTS, StoryPool, people
from .prng import FateTable, between, draw_fate, mix, pick, unit
from .table import LazyTable
from .vocab import DEPARTMENTS, ESTATE_ITEMS, ESTATE_STAFF, JINAN_DISTRICTS, Item

_RECORD_NUMBER = re.compile(r".{4}BDC(?P<n>\d{7})")
_CASE_NUMBER = re.compile(r"\d{14}(?P<n>\d{7})")  # 办件编号: region, date, serial

__all__ = ["generate", "EstateApp", "DEPT", "DEFAULT_APP_ID", "DEFAULT_SECRET", "sign", "timeline"]

DEPT = DEPARTMENTS["estate"]
DEFAULT_APP_ID = "estate-demo"
DEFAULT_SECRET = "estate-demo-secret"
_SALT_TIME, _SALT_REC, _SALT_FATE, _SALT_DEL = 0xE1, 0xE2, 0xE3, 0xE4
_RESULT = {"issued": "6", "returned": "1", "timeout_rejected": "5"}
_ZJZL = {"111": "1", "516": "2", "511": "3", "414": "4", "113": "6", "001": "7"}
_CHAIN = (("承办", "CB", "经审核，权属来源清楚，建议登簿"), ("审核", "SH", "同意登簿"), ("批准", "PZ", "准予登记"))
_ITEMS_BY_CATALOG = {it.catalog: it for it in ESTATE_ITEMS}
_CUM_WEIGHTS: list[int] = []
for _it in ESTATE_ITEMS:
    _CUM_WEIGHTS.append((_CUM_WEIGHTS[-1] if _CUM_WEIGHTS else 0) + _it.weight)
_NONCE_TTL = 600
_SKEW = 300


_FATES: FateTable = ((0.12, None), (0.18, "returned"), (0.21, "timeout_rejected"))


def timeline(seed: int) -> Timeline:
    """Base change times in milliseconds (``gxsj_ms``)."""
    return timeline_of(seed, _SALT_TIME, 1000)


def fate(seed: int, i: int) -> str | None:
    return draw_fate(seed, i, _SALT_FATE, _FATES)


def op_deleted(seed: int, i: int) -> bool:
    return unit(seed, i, _SALT_DEL) < 0.01


def task_code(item: Item) -> str:
    """实施编码 in the registry's style: department USCC + "3" + basic code's first nine digits + "00"."""
    return DEPT["code"] + "3" + item.catalog[:9] + "00"


def cert_no(item: Item, year: int, seq: int) -> str:
    kind = "不动产权" if item.cert == "不动产权证书" else "不动产证明"
    if item.cert and "查询" in item.cert:
        return f"济不动产查〔{year}〕{seq:07d}号"
    return f"鲁({year})济南市{kind}第{seq:07d}号"


def _holders(item: Item, rng: random.Random, at: int) -> list[Party]:
    if item.applicants == "company":
        return [company(rng)]
    if item.applicants == "mortgage":
        return [person(rng, at), bank(rng)]
    if rng.random() < 0.05:
        return [company(rng)]
    return [person(rng, at) for _ in range(1 if rng.random() < 0.6 else 2)]


def _qlr(p: Party) -> dict[str, Any]:
    return {"xm": p.name, "lx": p.kind, "zjzl": _ZJZL.get(p.cert_type, "99"), "zjhm": p.cert_no, "dh": p.mobile}


def render_story(s: Story, d: int, holders: list[Party], ywh: str, bjbh: str, xzqh: str, zsbh: str | None,
                 czlx: str, gxsj_ms: int) -> dict[str, Any]:
    """The registry record of story ``s`` shifted by ``d`` seconds."""
    hj = [(st.start, st.name, st.action, st.end, st.handler, st.opinion) for st in s.steps]
    if s.specials:
        hj += [(p.start, p.type, "BZ", p.end, s.handler, p.reason + (f"；{p.result}" if p.result else ""))
               for p in s.specials]
        hj.sort(key=lambda h: h[0])
    accept = s.accept + d
    return {
        "ywh": ywh, "bjbh": bjbh, "ssbm": task_code(s.item), "jbbm": s.item.catalog, "sxmc": s.item.name,
        "bllx": s.item.case_type, "qlr": [_qlr(p) for p in holders],
        "sqsj": fmt_compact(s.apply + d), "slsj": fmt_compact(accept),
        "cnbjsj": fmt_compact(promise_time(accept, s.item.promise_days)),
        "cnsx": s.item.promise_days, "slbm": {"mc": DEPT["name"], "dm": DEPT["code"]}, "slry": s.handler,
        "xzqh": xzqh, "bjsj": fmt_compact(s.finish + d) if s.finish is not None else None,
        "bjjg": _RESULT[s.outcome] if s.outcome else None, "bjyy": s.reason,
        "zsmc": s.cert_name if zsbh else None, "zsbh": zsbh,
        "hj": [{"xh": k + 1, "hjmc": h[1], "dz": h[2], "kssj": fmt_compact(h[0] + d),
                "jssj": fmt_compact(h[3] + d) if h[3] is not None else None, "blr": h[4], "yj": h[5]}
               for k, h in enumerate(hj)],
        "czlx": czlx, "gxsj_ms": gxsj_ms,
    }


def _template(rng: random.Random, outcome: str | None) -> Story:
    item = ESTATE_ITEMS[bisect_right(_CUM_WEIGHTS, rng.random() * _CUM_WEIGHTS[-1])]
    return build_story(rng, 0, item, _holders(item, rng, PEOPLE_AT), outcome, 0, ESTATE_STAFF, lambda r, k: "-")


_STORIES = StoryPool(_SALT_REC, _template)


def generate(seed: int, i: int) -> dict[str, Any]:
    """Base record ``i`` of the registry, exactly as the API serves it (before any change or fault)."""
    ms = timeline(seed).time(i)
    u = ms // 1000
    h = mix(seed, i, _SALT_REC)
    s = _STORIES.get(seed, fate(seed, i), h % STORY_SLOTS)
    pool = people(seed)
    holders = [pool[(h >> (10 + 12 * k)) % PEOPLE_SLOTS] if p.kind == "1" else p for k, p in enumerate(s.parties)]
    apply = s.apply + u
    zsbh = cert_no(s.item, _year(u), i % 10_000_000 + 1) if s.cert_name else None
    czlx = "D" if op_deleted(seed, i) else "I" if s.outcome is None and len(s.steps) == 1 else "U"
    return render_story(s, u, holders, f"{_year(apply)}BDC{i + 1:07d}",
                        DEPT["division"] + fmt_date(apply) + f"{i + 1:07d}",
                        JINAN_DISTRICTS[(h >> 40) % len(JINAN_DISTRICTS)][0], zsbh, czlx, ms)


def _year(sec: int) -> int:
    return int(fmt_date(sec)[:4])


def _malform(rec: dict[str, Any], kind: str) -> dict[str, Any]:
    rec = dict(rec)
    if kind == "bad_checksum":
        first = dict(rec["qlr"][0])
        if first.get("zjzl") not in ("1", "7"):
            first["zjzl"] = "1"
        first["zjhm"] = break_check(str(first.get("zjhm", "")))
        rec["qlr"] = [first] + list(rec["qlr"][1:])
    elif kind == "impossible_date":
        rec["sqsj"] = rec["sqsj"][:4] + "0230" + rec["sqsj"][8:]
    elif kind == "alt_date_format":
        s = rec["sqsj"]
        rec["sqsj"] = f"{s[:4]}-{s[4:6]}-{s[6:8]} {s[8:10]}:{s[10:12]}:{s[12:14]}"
    elif kind == "unknown_code":
        last = max(h["jssj"] or h["kssj"] for h in rec["hj"]) if rec.get("hj") else rec["slsj"]
        rec.update(bjjg="7", bjyy="申请人撤回申请", zsmc=None, zsbh=None, bjsj=rec.get("bjsj") or last)
    return rec


def sign(secret: str, method: str, target: str, timestamp: str, nonce: str, body: bytes = b"") -> str:
    """The registry's request signature (README): HMAC-SHA256 over method, target, timestamp, nonce, body hash."""
    text = "\n".join((method.upper(), target, timestamp, nonce, hashlib.sha256(body).hexdigest()))
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _encode_cursor(since: int | None, pos: tuple[Any, ...]) -> str:
    raw = json.dumps({"m": since, "p": list(pos)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int | None, tuple[Any, ...]]:
    try:
        obj = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        pos = tuple(obj["p"])
        if pos[0] not in ("b", "o"):
            raise ValueError
        return obj["m"], pos
    except Exception:
        raise BadRequest("invalid cursor") from None


class EstateApp(SystemApp):
    """The registry's HTTP API and admin hooks."""

    name = "estate"
    deletion_modes = ("op", "flag", "void")

    def __init__(self, seed: int = 42, records: int = 1000, app_id: str = DEFAULT_APP_ID,
                 secret: str = DEFAULT_SECRET) -> None:
        tl = timeline(seed)
        table = LazyTable(records, tl.time, tl.first_at_or_after, lambda i: generate(seed, i))
        super().__init__(seed, table, OverlayClock(1000))
        self.credentials = {app_id: secret}
        self._nonces: OrderedDict[str, float] = OrderedDict()
        self._nonce_lock = threading.Lock()
        self._by_bjbh: dict[str, str] = {}
        self._new_ids = 0

    # -- record hooks --------------------------------------------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["ywh"])

    def base_index(self, rid: str) -> int | None:
        return self.numbered_index(rid, _RECORD_NUMBER, lambda i: self.table.current(i).record["ywh"])

    def _bjbh_index(self, bjbh: str) -> int | None:
        return self.numbered_index(bjbh, _CASE_NUMBER, lambda i: generate(self.seed, i)["bjbh"])

    def broken(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        return _malform(record, kind)

    def base_is_deleted(self, index: int) -> bool:
        return op_deleted(self.seed, index)

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return record.get("czlx") == "D"

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        now = fmt_compact(t // 1000)
        hj = rec["hj"] = list(rec.get("hj") or [])  # a record written without steps (a PUT) holds null here
        pending = [h for h in hj if h.get("jssj") is None]
        if rec.get("bjjg") is None:
            if pending:
                pending[0].update(jssj=now, yj=(pending[0].get("yj") or "") + "；申请人已补正材料")
            else:
                done = {h.get("dz") for h in hj}
                nxt = next((c for c in _CHAIN if c[1] not in done), None)
                if nxt is None:
                    item = _ITEMS_BY_CATALOG.get(str(rec.get("jbbm")))
                    year = time.gmtime(t // 1000 + 8 * 3600).tm_year
                    rec.update(bjjg="6", bjsj=now, bjyy=None)
                    if item is not None and item.cert:
                        rec.update(zsmc=item.cert, zsbh=cert_no(item, year, 9_000_000 + between(rng, 1, 999_999)))
                else:
                    hj.append({"xh": len(hj) + 1, "hjmc": nxt[0], "dz": nxt[1], "kssj": now, "jssj": now,
                               "blr": pick(rng, ESTATE_STAFF), "yj": nxt[2]})
        else:
            qlr = [dict(q) for q in rec.get("qlr") or []]
            if qlr:
                qlr[0]["dh"] = mobile(rng)
            rec["qlr"] = qlr
        if rec.get("czlx") != "D":
            rec["czlx"] = "U"
        rec["gxsj_ms"] = t
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        rec.update(czlx="D", gxsj_ms=t)
        return rec

    # -- API -------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"success": False, "error": message}, headers)

    def _authenticate(self, req: Request) -> str | None:
        h = req.headers
        app_id, ts, nonce, sig = (h.get("X-App-Id"), h.get("X-Timestamp"), h.get("X-Nonce"), h.get("X-Signature"))
        secret = self.credentials.get(app_id or "")
        if not (secret and ts and nonce and sig):
            return "signature mismatch"
        try:
            skew = abs(time.time() - int(ts))
        except ValueError:
            return "timestamp skew"
        if skew > _SKEW:
            return "timestamp skew"
        expected = sign(secret, req.method, req.target, ts, nonce, req.body)
        if not hmac.compare_digest(expected, sig.lower()):
            return "signature mismatch"
        now = time.monotonic()
        with self._nonce_lock:
            while self._nonces and now - next(iter(self._nonces.values())) > _NONCE_TTL:
                self._nonces.popitem(last=False)
            if nonce in self._nonces:
                return "nonce reused"
            self._nonces[nonce] = now
        return None

    def api(self, req: Request) -> Response:
        problem = self._authenticate(req)
        if problem:
            return self.error(403, problem)
        if req.path == "/open/v2/business" and req.method == "GET":
            return self._list(req)
        prefix = "/open/v2/business/"
        if req.path.startswith(prefix) and req.method == "PUT":
            return self._write(req, req.path[len(prefix):])
        return self.error(404, "not found")

    def _list(self, req: Request) -> Response:
        q = req.query
        try:
            since = int(q["modified_after"]) if q.get("modified_after") else None
            limit = int(q.get("limit", "200"))
        except ValueError:
            raise BadRequest("modified_after and limit must be integers") from None
        if not 1 <= limit <= 1000:
            raise BadRequest("limit must be between 1 and 1000")
        pos = None
        if q.get("cursor"):
            since, pos = _decode_cursor(q["cursor"])
        with self.table.lock:
            rows = self.table.after(since, pos, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = _encode_cursor(since, rows[-1].pos) if more else None
        resp = json_response(200, {"success": True, "items": [self.render(r) for r in rows], "next_cursor": nxt})
        self.after_page()
        return resp

    def _write(self, req: Request, bjbh: str) -> Response:
        key = req.headers.get("Idempotency-Key")
        if not key:
            raise BadRequest("missing Idempotency-Key")
        body = req.json()
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        if not bjbh or body.get("bjbh", bjbh) != bjbh:
            raise BadRequest("bjbh in body does not match the path")
        with self.table.lock:
            first = self.recall(key)
            if first is not None:
                return json_response(200, {**first, "duplicate": True})
            rid = self._by_bjbh.get(bjbh)
            index = None
            if rid is None:
                index = self._bjbh_index(bjbh)
                if index is not None:
                    rid = self.table.current(index).record["ywh"]
            created = rid is None
            t = self.clock.next()
            if rid is None:
                self._new_ids += 1
                rid = f"{time.gmtime(t // 1000 + 8 * 3600).tm_year}BDC{9_000_000 + self._new_ids:07d}"
            record = {k: v for k, v in body.items() if k not in ("ywh", "gxsj_ms", "czlx")}
            record.update(ywh=rid, bjbh=bjbh, czlx="I" if created else "U", gxsj_ms=t)
            self.table.put(rid, t, record, index, written=True)
            self._by_bjbh[bjbh] = rid
            answer = {"success": True, "ywh": rid, "created": created, "duplicate": False}
            self.remember(key, answer)
        return json_response(200, answer)
