"""hotline — 12345政务服务便民热线 工单平台 (the city's 12345 hotline platform): REST over POST, signed, JSON.

The platform takes citizens' calls 7×24 and hands each work order (工单) for the district to the district's
gateway, which must pass it on to the competent department within 15 minutes (转派), or send it back (退回)
with a reason when it is none of the district's business (涉法涉诉, 涉密, 警情/火情/病情). The department signs
for it (签收) and replies (答复); the platform then calls the citizen back (回访) and records a rating. An
unsatisfied rating sends the order back once for a redo (重办, ``cbcs`` 1); after the redo the rating stands.

Orders are generated deterministically by seed (``pdsj`` from 2026-09-01, about one every 7 hours, 7×24).
``POST /_sandbox/clock {"now": "yyyy-MM-dd HH:mm:ss"}`` sets the platform's clock: only orders handed out by
then are visible, and changes are stamped with it (``null`` goes back to real time, where every generated
order is visible). The platform's callback rating is a pure function of (seed, order, round), or set with
``POST /_sandbox/rate``. ``POST /_sandbox/new {"count", "ywfl"?, "blsx"?}`` hands out new orders now (``blsx`` 0:
a same-day order). ``GET /_sandbox/orders`` is the platform's own view (every order, every round, every
receipt count), which a test counts independently of Tongban.

Conventions no other sandbox system uses: every call is ``POST`` with a JSON body; headers ``X-Appid``,
``X-Timestamp`` (epoch ms) and ``X-Sign`` = md5(appid + timestamp + secret + body) in lower-case hex; answers
are HTTP 200 with ``{"code": "0", "msg": "成功", "data": …}`` — a refusal is a non-zero ``code`` (E001 signature,
E002 field, E003 state) with HTTP 200 too; times ``yyyy-MM-dd HH:mm:ss`` Beijing time; pinyin-initial names.

API:

- ``/gd/api/query`` ``{"gxsjStart": "…", "pageNo": 1, "pageSize": 100}`` → ``{"total", "list"}``, orders changed
  at or after ``gxsjStart`` ordered by (``gxsj``, ``gdbh``); ``pageSize`` 1–200.
- ``/gd/api/zp`` ``{"gdbh", "cbdw", "cbdwmc", "zpsj"}`` 转派; ``/gd/api/qs`` ``{"gdbh", "qssj"}`` 签收;
  ``/gd/api/th`` ``{"gdbh", "thyy", "thsj"}`` 退回; ``/gd/api/df`` ``{"gdbh", "cbdw", "dfnr", "dfsj", "cblc"}``
  答复 (``cblc`` 0 first reply, only once signed for: 先签收后答复; 1 the redo). The same call again answers ``code`` 0
  with ``"duplicate": true``.

Order::

    {"gdbh": "123452026090100001", "gdlx": "3", "ywfl": "市场监管", "qhdm": "370102", "sqr": "张**",
     "nr": "…", "glbjbh": null, "pdsj": "2026-09-01 08:10:00", "blsx": 5, "zt": "待转派", "cbdw": null,
     "zpsj": null, "qssj": null, "dfsj": null, "hfmyd": null, "hfsj": null, "cbcs": 0, "thyy": null,
     "gxsj": "2026-09-01 08:10:00"}
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import random
import threading
from datetime import datetime
from typing import Any

from .app import BadRequest, Request, Response, SystemApp, json_response
from .clock import BJ, OverlayClock, fmt_dash, parse_dash
from .prng import between, mix, pick, record_rng, unit
from .table import LazyTable

__all__ = ["HotlineApp", "generate", "sign", "DEFAULT_APPID", "DEFAULT_SECRET", "MATTER_TYPES", "CATEGORIES",
           "OUT_OF_SCOPE", "DIVISIONS"]

DEFAULT_APPID = "qx370102"
DEFAULT_SECRET = "hotline-demo-secret"
MATTER_TYPES = {"1": ("咨询", 1), "2": ("求助", 3), "3": ("投诉", 5), "4": ("举报", 5), "5": ("建议", 5),
                "6": ("表扬", 1)}
"""gdlx → (name, 办理时限 in working days as the platform sets it)."""
CATEGORIES = ("市场监管", "不动产登记", "社会保障", "民政", "医疗保障", "住房公积金")
OUT_OF_SCOPE = ("涉法涉诉", "涉密", "警情", "火情", "病情")
DIVISIONS = ("370102", "370103", "370104")
_SURNAMES = "张王李赵刘陈杨黄周吴"
_T0 = int(datetime(2026, 9, 1, 8, 0, tzinfo=BJ).timestamp())
_STEP = 7 * 3600
_SALT_ORDER, _SALT_RATE = 0x1234_5001, 0x1234_5002


def sign(appid: str, timestamp: str, secret: str, body: bytes) -> str:
    return hashlib.md5(appid.encode() + timestamp.encode() + secret.encode() + body).hexdigest()


def _order(seed: int, i: int) -> dict[str, Any]:
    rng = record_rng(seed, i, _SALT_ORDER)
    t = _T0 + i * _STEP + between(rng, 0, _STEP - 60)
    gdlx = pick(rng, ("1", "1", "2", "3", "3", "3", "4", "5", "6"))
    category = pick(rng, OUT_OF_SCOPE) if rng.random() < 0.07 else pick(rng, CATEGORIES)
    case_no = f"370102{fmt_dash(t - between(rng, 5, 40) * 86400)[:10].replace('-', '')}{between(rng, 1, 40):04d}"
    named = rng.random() < 0.2
    content = f"{MATTER_TYPES[gdlx][0]}：关于{category}的诉求"
    if named:
        content += f"，办件编号：{case_no}"
    return {"gdbh": f"12345{fmt_dash(t)[:10].replace('-', '')}{i + 1:05d}", "gdlx": gdlx, "ywfl": category,
            "qhdm": pick(rng, DIVISIONS), "sqr": pick(rng, _SURNAMES) + "**", "nr": content,
            "glbjbh": case_no if named and rng.random() < 0.5 else None, "pdsj": fmt_dash(t),
            "blsx": MATTER_TYPES[gdlx][1], "zt": "待转派", "cbdw": None, "cbdwmc": None, "zpsj": None,
            "qssj": None, "dfsj": None, "dfnr": None, "hfmyd": None, "hfsj": None, "cbcs": 0, "thyy": None,
            "gxsj": fmt_dash(t)}


def generate(seed: int = 42, n: int = 300) -> list[dict[str, Any]]:
    """``n`` work orders as the platform hands them out; a pure function of (seed, n)."""
    return [_order(seed, i) for i in range(n)]


def _rating(seed: int, gdbh: str, round_: int) -> str:
    u = unit(seed, mix(seed, int(gdbh[5:]), round_), _SALT_RATE)
    return "1" if u < 0.65 else "2" if u < 0.80 else "3"


class HotlineApp(SystemApp):
    """The platform: orders by number, the virtual clock, receipts per call."""

    name = "hotline"

    def __init__(self, seed: int = 42, records: int = 300, appid: str = DEFAULT_APPID,
                 secret: str = DEFAULT_SECRET) -> None:
        super().__init__(seed, LazyTable(0, lambda i: 0, lambda t: 0, lambda i: {}), OverlayClock(1))
        self.appid, self.secret = appid, secret
        self.orders: dict[str, dict[str, Any]] = {o["gdbh"]: o for o in generate(seed, records)}
        self.rounds: dict[str, list[dict[str, Any]]] = {}
        self.received: dict[str, int] = {}
        self.virtual_now: int | None = None
        self._last_change = 0
        self._lock = threading.Lock()
        self._new = 0

    # -- record hooks: work orders are kept in ``orders`` ---------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return str(record.get("gdbh", ""))

    def base_index(self, rid: str) -> int | None:
        return None

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return False

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        return rec

    # -- time ------------------------------------------------------------------------------------------------
    def now(self) -> int:
        return self.virtual_now if self.virtual_now is not None else int(datetime.now(BJ).timestamp())

    def _stamp(self) -> int:
        """A change time: the platform's now, strictly after the last change (so paging by time loses none)."""
        self._last_change = max(self.now(), self._last_change + 1)
        return self._last_change

    def visible(self, order: dict[str, Any]) -> bool:
        return self.virtual_now is None or parse_dash(order["pdsj"]) <= self.virtual_now

    # -- admin -----------------------------------------------------------------------------------------------
    def admin_extra(self, req: Request) -> Response | None:
        route = (req.method, req.path)
        if route == ("GET", "/_sandbox/orders"):
            with self._lock:
                return json_response(200, {"orders": [copy.deepcopy(o) for o in self.orders.values()],
                                           "rounds": copy.deepcopy(self.rounds), "received": dict(self.received)})
        if route == ("POST", "/_sandbox/clock"):
            body = req.json() or {}
            with self._lock:
                try:
                    self.virtual_now = parse_dash(body["now"]) if body.get("now") else None
                except ValueError:
                    raise BadRequest("now must be yyyy-MM-dd HH:mm:ss") from None
            return json_response(200, {"now": fmt_dash(self.now())})
        if route == ("POST", "/_sandbox/new"):
            body = req.json() or {}
            count, limit = body.get("count", 1), body.get("blsx")
            if not isinstance(count, int) or count < 0:
                raise BadRequest("count must be a non-negative integer")
            if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
                raise BadRequest("blsx must be a non-negative integer (working days; 0 is 当日)")
            return json_response(200, {"created": self.new_orders(count, body.get("ywfl"), limit)})
        if route == ("POST", "/_sandbox/rate"):
            body = req.json() or {}
            if str(body.get("hfmyd")) not in ("1", "2", "3"):
                raise BadRequest("hfmyd must be 1, 2 or 3")
            with self._lock:
                order = self.orders.get(str(body.get("gdbh")))
                if order is None or order["dfsj"] is None:
                    raise BadRequest("no replied order with that gdbh")
                self._rate(order, str(body["hfmyd"]))
            return json_response(200, {"rated": True})
        return None

    def new_orders(self, count: int, category: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """``count`` new orders handed out now (at the platform's clock), of ``category`` and with the time limit
        ``limit`` (``blsx``, working days) when given."""
        out = []
        with self._lock:
            for _ in range(count):
                self._new += 1
                rec = _order(self.seed, 100_000 + self._new)
                t = self._stamp()  # may run ahead of the clock by a few seconds: the order is handed out now
                rec.update(gdbh=f"12345{fmt_dash(t)[:10].replace('-', '')}{90_000 + self._new:05d}",
                           pdsj=fmt_dash(self.now()), gxsj=fmt_dash(t))
                if category:
                    rec["ywfl"] = category
                if limit is not None:
                    rec["blsx"] = limit
                self.orders[rec["gdbh"]] = rec
                out.append(copy.deepcopy(rec))
        return out

    # -- API -------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"code": str(status), "msg": message, "data": None}, headers)

    def _refuse(self, code: str, message: str) -> Response:
        return json_response(200, {"code": code, "msg": message, "data": None})

    def api(self, req: Request) -> Response:
        if req.method != "POST":
            return self._refuse("E404", "仅支持 POST")
        appid, ts = req.headers.get("X-Appid") or "", req.headers.get("X-Timestamp") or ""
        expected = sign(self.appid, ts, self.secret, req.body)
        if appid != self.appid or not hmac.compare_digest((req.headers.get("X-Sign") or "").encode(),
                                                          expected.encode()):
            return self._refuse("E001", "签名校验失败")
        body = req.json()
        if not isinstance(body, dict):
            return self._refuse("E002", "请求体应为 JSON 对象")
        handler = {"/gd/api/query": self._query, "/gd/api/zp": self._zp, "/gd/api/qs": self._qs,
                   "/gd/api/th": self._th, "/gd/api/df": self._df}.get(req.path)
        if handler is None:
            return self._refuse("E404", "接口不存在")
        with self._lock:
            return handler(body)

    def _ok(self, data: Any) -> Response:
        return json_response(200, {"code": "0", "msg": "成功", "data": data})

    def _query(self, body: dict[str, Any]) -> Response:
        try:
            since = parse_dash(body["gxsjStart"]) if body.get("gxsjStart") else None
            page_no, size = int(body.get("pageNo", 1)), int(body.get("pageSize", 100))
        except (ValueError, TypeError):
            return self._refuse("E002", "gxsjStart 应为 yyyy-MM-dd HH:mm:ss，pageNo/pageSize 应为整数")
        if page_no < 1 or not 1 <= size <= 200:
            return self._refuse("E002", "pageNo >= 1, 1 <= pageSize <= 200")
        rows = sorted((o for o in self.orders.values()
                       if self.visible(o) and (since is None or parse_dash(o["gxsj"]) >= since)),
                      key=lambda o: (o["gxsj"], o["gdbh"]))
        page = rows[(page_no - 1) * size: page_no * size]
        return self._ok({"total": len(rows), "list": [copy.deepcopy(o) for o in page]})

    def _duplicate(self, key: str) -> bool:
        """Whether the call ``key`` was applied before (it is answered ``duplicate`` and changes nothing). A call
        the platform refused leaves no receipt: sent again once it can apply, it applies."""
        if key not in self.received:
            return False
        self.received[key] += 1
        with self._counter_lock:
            self.stats["duplicate_writes"] += 1
        return True

    def _applied(self, key: str) -> Response:
        self.received[key] = 1
        with self._counter_lock:
            self.stats["writes_applied"] += 1
        return self._ok({"duplicate": False})

    def _target(self, body: dict[str, Any], *fields: str) -> tuple[dict[str, Any] | None, Response | None]:
        missing = [f for f in ("gdbh", *fields) if body.get(f) in (None, "")]
        if missing:
            return None, self._refuse("E002", f"{missing[0]} 不能为空")
        order = self.orders.get(str(body["gdbh"]))
        if order is None or not self.visible(order):
            return None, self._refuse("E003", f"工单 {body['gdbh']} 不存在")
        return order, None

    def _zp(self, body: dict[str, Any]) -> Response:
        order, refusal = self._target(body, "cbdw", "zpsj")
        if refusal or order is None:
            return refusal  # type: ignore[return-value]
        if self._duplicate(f"zp:{order['gdbh']}"):
            return self._ok({"duplicate": True})
        if order["zt"] != "待转派":
            return self._refuse("E003", f"工单状态为{order['zt']}，不能转派")
        order.update(cbdw=body["cbdw"], cbdwmc=body.get("cbdwmc"), zpsj=body["zpsj"], zt="已转派",
                     gxsj=fmt_dash(self._stamp()))
        return self._applied(f"zp:{order['gdbh']}")

    def _qs(self, body: dict[str, Any]) -> Response:
        order, refusal = self._target(body, "qssj")
        if refusal or order is None:
            return refusal  # type: ignore[return-value]
        if self._duplicate(f"qs:{order['gdbh']}"):
            return self._ok({"duplicate": True})
        if order["zt"] != "已转派":
            return self._refuse("E003", f"工单状态为{order['zt']}，不能签收")
        order.update(qssj=body["qssj"], zt="已签收", gxsj=fmt_dash(self._stamp()))
        return self._applied(f"qs:{order['gdbh']}")

    def _th(self, body: dict[str, Any]) -> Response:
        order, refusal = self._target(body, "thyy", "thsj")
        if refusal or order is None:
            return refusal  # type: ignore[return-value]
        if self._duplicate(f"th:{order['gdbh']}"):
            return self._ok({"duplicate": True})
        if order["zt"] not in ("待转派", "已转派"):
            return self._refuse("E003", f"工单状态为{order['zt']}，不能退回")
        order.update(thyy=body["thyy"], zt="已退回", gxsj=fmt_dash(self._stamp()))
        return self._applied(f"th:{order['gdbh']}")

    def _df(self, body: dict[str, Any]) -> Response:
        order, refusal = self._target(body, "cbdw", "dfnr", "dfsj")
        if refusal or order is None:
            return refusal  # type: ignore[return-value]
        round_ = body.get("cblc", 0)
        if round_ not in (0, 1):
            return self._refuse("E002", "cblc 应为 0 或 1")
        if self._duplicate(f"df:{order['gdbh']}:{round_}"):
            return self._ok({"duplicate": True})
        if round_ == 0 and order["zt"] != "已签收":  # 先签收，后答复
            return self._refuse("E003", f"工单状态为{order['zt']}，未签收不能答复" if order["zt"] == "已转派"
                                else f"工单状态为{order['zt']}，不能答复")
        if round_ == 1 and order["zt"] != "重办":
            return self._refuse("E003", "工单无重办任务")
        order.update(cbdw=body["cbdw"], dfnr=body["dfnr"], dfsj=body["dfsj"], zt="已答复")
        self.rounds.setdefault(order["gdbh"], []).append({"cblc": round_, "cbdw": body["cbdw"],
                                                          "dfsj": body["dfsj"], "hfmyd": None})
        self._rate(order, _rating(self.seed, order["gdbh"], round_))
        return self._applied(f"df:{order['gdbh']}:{round_}")

    def _rate(self, order: dict[str, Any], rating: str) -> None:
        """The platform's callback (回访): the citizen's rating of the latest reply; unsatisfied once → 重办."""
        order.update(hfmyd=rating, hfsj=fmt_dash(parse_dash(order["dfsj"]) + 2 * 3600))
        if rating == "3" and order["cbcs"] == 0:
            order.update(zt="重办", cbcs=1)
        else:
            order["zt"] = "已办结"
        if self.rounds.get(order["gdbh"]):
            self.rounds[order["gdbh"]][-1]["hfmyd"] = rating
        order["gxsj"] = fmt_dash(self._stamp())
