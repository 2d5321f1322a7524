"""xhall — another province's hall (河北政务服务网 跨省通办专窗): REST, pinyin-initial field names, its own codes.

It takes applications for Shandong items on behalf of Shandong departments (跨省通办, 异地代收) and lists them for
the destination (``GET /kszb/sj/list``: page numbers over ``kssj`` ≥ change time, ``yyyyMMddHHmmss``), inside a
``{"resultCode": "0000", "resultMsg", "data": {"total", "list"}}`` envelope, authenticated by an ``X-Access-Token``
header. Results come back as ``PUT /kszb/bj/{sblsh}`` (``X-Request-Id`` makes a write idempotent); the admin port's
``/_sandbox/cases`` shows what it received and how often each write was applied.

Its conventions are not the Shandong hall's: 证件类型 ``10`` (居民身份证) / ``20`` (统一社会信用代码), 收件状态
``01`` 待受理 ``02`` 已受理 ``03`` 不予受理 ``04`` 办结, 申办渠道 ``01`` 窗口 ``02`` 网上 ``03`` 移动端 ``04`` 自助
``05`` 邮寄, and no department code of the competent Shandong department — only the item code and the place
(``mddxzqh``, 目的地行政区划) where the case is to be handled.
"""

from __future__ import annotations

import hmac
import random
import threading
from typing import Any

from .app import BadRequest, Request, Response, SystemApp, json_response
from .clock import OverlayClock, fmt_compact, fmt_date, timeline_of
from .people import person
from .prng import record_rng
from .table import LazyTable

__all__ = ["XHallApp", "DEFAULT_TOKEN", "OFFICE"]

DEFAULT_TOKEN = "xhall-demo-token"
OFFICE = {"dwbm": "11130000MB00000017", "dwmc": "河北政务服务网跨省通办专窗", "xzqh": "130102", "zdbm": "HB-ZWFW"}
_SALT_TIME, _SALT_NEW = 0x71, 0x72
_ID_TYPE = {"111": "10", "001": "20"}


class XHallApp(SystemApp):
    """The other province's hall: its intake list, the results it receives, admin hooks to take applications."""

    name = "xhall"
    deletion_modes = ("flag",)

    def __init__(self, seed: int = 42, token: str = DEFAULT_TOKEN) -> None:
        tl = timeline_of(seed, _SALT_TIME, 1)
        super().__init__(seed, LazyTable(0, tl.time, tl.first_at_or_after, lambda i: {}), OverlayClock(1))
        self.token = token
        self.results: dict[str, dict[str, Any]] = {}
        self._count = 0
        self._lock = threading.Lock()

    # -- record hooks ----------------------------------------------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["sblsh"])

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return record.get("sfsc") == "1"

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        rec.update(sfsc="1", gxsj=fmt_compact(t))
        return rec

    def take(self, item_code: str, item_name: str, destination: str, *, channel: str = "01") -> dict[str, Any]:
        """Take an application at the 专窗 now for a Shandong item to be handled in ``destination``."""
        with self.table.lock:
            self._count += 1
            n = self._count
            t = self.clock.next()
            rng: random.Random = record_rng(self.seed, n, _SALT_NEW)
            who = person(rng, t)
            rec = {
                "sblsh": f"130102{fmt_date(t)}{8_000_000 + n:07d}", "sxbm": item_code, "sxmc": item_name,
                "sqrlx": "1", "sqrxm": who.name, "zjlx": _ID_TYPE.get(who.cert_type, "99"), "zjhm": who.cert_no,
                "sqsj": fmt_compact(t - 300), "slzt": "01", "sjdw": dict(OFFICE), "mddxzqh": destination,
                "blqd": channel, "sfsc": "0", "gxsj": fmt_compact(t),
            }
            self.table.put(rec["sblsh"], t, rec)
        return rec

    # -- admin -------------------------------------------------------------------------------------------------
    def admin_extra(self, req: Request) -> Response | None:
        if (req.method, req.path) == ("POST", "/_sandbox/take"):
            body = req.json() or {}
            for field in ("item_code", "item_name", "destination"):
                if not body.get(field):
                    raise BadRequest(f"{field} is required")
            return json_response(200, {"created": [self.take(str(body["item_code"]), str(body["item_name"]),
                                                             str(body["destination"]),
                                                             channel=str(body.get("channel", "01")))]})
        if (req.method, req.path) == ("GET", "/_sandbox/cases"):
            with self._lock:
                rows = [{"case_no": k, **v} for k, v in sorted(self.results.items())]
            if req.query.get("case_no"):
                rows = [r for r in rows if r["case_no"] == req.query["case_no"]]
            return json_response(200, rows)
        return None

    # -- API ---------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"resultCode": str(status), "resultMsg": message}, headers)

    def api(self, req: Request) -> Response:
        token = req.headers.get("X-Access-Token") or ""
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return self.error(401, "令牌无效")
        if req.path == "/kszb/sj/list" and req.method == "GET":
            return self._list(req)
        if req.path.startswith("/kszb/bj/") and req.method == "PUT":
            return self._result(req, req.path[len("/kszb/bj/"):])
        return self.error(404, "接口不存在")

    def _list(self, req: Request) -> Response:
        q = req.query
        since = None
        if q.get("kssj"):
            try:
                since = _parse_compact(q["kssj"])
            except ValueError:
                raise BadRequest("kssj 格式应为 yyyyMMddHHmmss") from None
        try:
            page, size = int(q.get("pageNum", "1")), int(q.get("pageSize", "50"))
        except ValueError:
            raise BadRequest("pageNum/pageSize 应为整数") from None
        if page < 1 or not 1 <= size <= 200:
            raise BadRequest("pageNum >= 1, 1 <= pageSize <= 200")
        with self.table.lock:
            total = self.table.count(since)
            rows = self.table.page(since, (page - 1) * size, size)
        return json_response(200, {"resultCode": "0000", "resultMsg": "成功",
                                   "data": {"total": total, "list": [self.render(r) for r in rows]}})

    def _result(self, req: Request, sblsh: str) -> Response:
        key = req.headers.get("X-Request-Id")
        if not key:
            raise BadRequest("缺少 X-Request-Id")
        body = req.json()
        if not isinstance(body, dict) or body.get("sblsh", sblsh) != sblsh:
            raise BadRequest("sblsh 与路径不一致")
        with self._lock:
            first = self.recall(key)
            if first is not None:
                return json_response(200, {"resultCode": "0000", "resultMsg": "成功", "data": {**first, "cf": True}})
            held = self.results.get(sblsh)
            self.results[sblsh] = {"case": body, "applied_writes": (held["applied_writes"] if held else 0) + 1}
            answer = {"sblsh": sblsh, "cf": False}
            self.remember(key, answer)
        return json_response(200, {"resultCode": "0000", "resultMsg": "成功", "data": answer})


def _parse_compact(text: str) -> int:
    import calendar
    from datetime import datetime

    dt = datetime.strptime(text.strip(), "%Y%m%d%H%M%S")
    return calendar.timegm(dt.timetuple()) - 8 * 3600
