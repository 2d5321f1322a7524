"""seal — 济南市公安局 印章治安管理信息系统 (刻章备案): REST, JSON, pinyin-initial field names, its own status codes.

It receives the seal part of a company-opening (开办企业) from Tongban and, before anyone engraves a seal, checks
the company's business licence — fetched through Tongban's certificate gateway with the company's consent token,
never asked of the company again (see :mod:`sandbox.backoffice`).

API (header ``X-Yzxt-Token``, default ``seal-demo-token``):

- ``GET /yzxt/api/v1/beian?gxsjq=<yyyy-MM-dd HH:mm:ss>&page=1&rows=50`` — 备案记录 whose ``gxsj`` ≥ ``gxsjq``, by
  (``gxsj``, ``ywbh``), in ``{"flag": true, "message": "成功", "total", "rows"}``.
- ``PUT /yzxt/api/v1/beian/{ywbh}`` (``X-Request-Id`` idempotent) — a part: ``{"ywbh", "sxbm", "sxmc", "dwmc",
  "tyshxydm", "dwdz", "lxr": {"xm", "dh"}, "sqnr", "sqsj", "blbm": {"mc", "dm"}, "xzqh", "cllist": [{"clmc",
  "lyfs", "clbh", "zzbh", "sqpz"}]}``; answers ``{"flag": true, "data": {"ywbh", "cf"}}``.

Codes: ``zt`` 0 待核验 1 已受理（制章中） 2 待补正（挂起） 3 已备案 4 不予备案; ``lyfs`` 01 纸质 02 电子 03 证照调取.
``hjlist`` holds its steps (``hjmc``, ``kssj``, ``jssj``, ``blr``, ``yj``), ``gqlist`` its holds (``gqsj``, ``gqyy``,
``jcsj``). A finished 备案 carries ``baxh`` (备案序号).
"""

from __future__ import annotations

import hmac
from typing import Any

from .app import BadRequest, Request, Response, json_response
from .backoffice import ReuseBackOffice
from .certgate import LicenceCheck
from .clock import fmt_dash, parse_dash

__all__ = ["SealApp", "DEFAULT_TOKEN", "DEPT"]

DEFAULT_TOKEN = "seal-demo-token"
DEPT = {"mc": "济南市公安局", "dm": "11370100004300853E", "xzqh": "370100"}
_CLERKS = ("周建国", "吴丽")


class SealApp(ReuseBackOffice):
    name = "seal"

    def __init__(self, seed: int = 42, token: str = DEFAULT_TOKEN) -> None:
        super().__init__(seed, token, scale=1)
        self._serial = 0

    # -- records -----------------------------------------------------------------------------------------------
    def case_no_of(self, record: dict[str, Any]) -> str:
        return str(record["ywbh"])

    def new_record(self, body: dict[str, Any], t: int) -> dict[str, Any]:
        record = self._taken(body)
        record.update(zt="0", ztsm="待核验营业执照", hjlist=[{"hjmc": "接收", "kssj": fmt_dash(t), "jssj": fmt_dash(t),
                                                          "blr": "系统", "yj": "收到开办企业刻章备案申请"}],
                      gqlist=[], baxh=None, bjsj=None, gxsj=fmt_dash(t))
        return record

    def updated_record(self, record: dict[str, Any], body: dict[str, Any], t: int) -> dict[str, Any]:
        record.update(self._taken(body), gxsj=fmt_dash(t))
        return record

    @staticmethod
    def _taken(body: dict[str, Any]) -> dict[str, Any]:
        fields = ("ywbh", "sxbm", "sxmc", "dwmc", "tyshxydm", "dwdz", "lxr", "sqnr", "sqsj", "blbm", "xzqh", "cllist")
        taken = {k: body.get(k) for k in fields}
        taken["cllist"] = [{k: v for k, v in m.items() if k != "sqpz"} for m in body.get("cllist") or []]
        return taken

    def licence_query(self, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        consent = next((m.get("sqpz") for m in body.get("cllist") or [] if m.get("lyfs") == "03"), None)
        return {"holder_id": record.get("tyshxydm") or "", "item_code": record.get("sxbm") or "",
                "case_no": record["ywbh"], "consent": consent}

    def verified(self, record: dict[str, Any], check: LicenceCheck, t: int) -> dict[str, Any]:
        self._close_holds(record, t)
        record["hjlist"].append({"hjmc": "受理", "kssj": fmt_dash(t), "jssj": fmt_dash(t), "blr": _CLERKS[0],
                                 "yj": f"经通办证照网关核验营业执照 {check.licence.get('number')}（审计序号 "
                                       f"{','.join(map(str, check.audit))}），准予制章"})
        record.update(zt="1", ztsm="制章中", gxsj=fmt_dash(t))
        return record

    def held(self, record: dict[str, Any], reason: str, t: int) -> dict[str, Any]:
        if not any(h.get("jcsj") is None for h in record["gqlist"]):
            record["gqlist"].append({"gqsj": fmt_dash(t), "gqyy": reason, "jcsj": None})
        record.update(zt="2", ztsm=reason, gxsj=fmt_dash(t))
        return record

    def finished(self, record: dict[str, Any], t: int) -> dict[str, Any]:
        if record.get("zt") in ("3", "4"):
            return record
        self._close_holds(record, t)
        self._serial += 1
        record["hjlist"].append({"hjmc": "备案", "kssj": fmt_dash(t), "jssj": fmt_dash(t), "blr": _CLERKS[1],
                                 "yj": "印章已刻制并备案"})
        record.update(zt="3", ztsm="已备案", baxh=f"3701{fmt_dash(t)[:4]}{self._serial:08d}", bjsj=fmt_dash(t),
                      gxsj=fmt_dash(t))
        return record

    def refused(self, record: dict[str, Any], reason: str, t: int) -> dict[str, Any]:
        self._close_holds(record, t)
        record["hjlist"].append({"hjmc": "不予备案", "kssj": fmt_dash(t), "jssj": fmt_dash(t), "blr": _CLERKS[1],
                                 "yj": reason})
        record.update(zt="4", ztsm=reason, bjsj=fmt_dash(t), gxsj=fmt_dash(t))
        return record

    @staticmethod
    def _close_holds(record: dict[str, Any], t: int) -> None:
        for hold in record.get("gqlist") or []:
            if hold.get("jcsj") is None:
                hold["jcsj"] = fmt_dash(t)

    # -- API -----------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"flag": False, "message": message}, headers)

    def api(self, req: Request) -> Response:
        token = req.headers.get("X-Yzxt-Token") or ""
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return self.error(401, "令牌无效")
        if req.path == "/yzxt/api/v1/beian" and req.method == "GET":
            return self._list(req)
        if req.path.startswith("/yzxt/api/v1/beian/") and req.method == "PUT":
            return self._put(req, req.path[len("/yzxt/api/v1/beian/"):])
        return self.error(404, "接口不存在")

    def _list(self, req: Request) -> Response:
        q = req.query
        try:
            since = parse_dash(q["gxsjq"]) if q.get("gxsjq") else None
        except ValueError:
            raise BadRequest("gxsjq 格式应为 yyyy-MM-dd HH:mm:ss") from None
        try:
            page, rows = int(q.get("page", "1")), int(q.get("rows", "50"))
        except ValueError:
            raise BadRequest("page/rows 应为整数") from None
        if page < 1 or not 1 <= rows <= 200:
            raise BadRequest("page >= 1, 1 <= rows <= 200")
        with self.table.lock:
            total = self.table.count(since)
            found = [self.render(r) for r in self.table.page(since, (page - 1) * rows, rows)]
        return json_response(200, {"flag": True, "message": "成功", "total": total, "rows": found})

    def _put(self, req: Request, ywbh: str) -> Response:
        key = req.headers.get("X-Request-Id")
        if not key:
            raise BadRequest("缺少 X-Request-Id")
        body = req.json()
        if not isinstance(body, dict) or body.get("ywbh", ywbh) != ywbh:
            raise BadRequest("ywbh 与路径不一致")
        if not body.get("tyshxydm") or not body.get("dwmc"):
            raise BadRequest("刻章备案须有单位名称 dwmc 和统一社会信用代码 tyshxydm")
        answer, duplicate = self.receive(key, ywbh, {**body, "ywbh": ywbh})
        return json_response(200, {"flag": True, "message": "成功", "data": {"ywbh": answer["case_no"],
                                                                           "cf": duplicate}})
