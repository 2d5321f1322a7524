"""tax — 国家税务总局济南市税务局 新办纳税人“套餐式”服务 (涉税信息确认): REST, JSON in a head/body envelope, epoch
milliseconds, its own status codes.

It receives the tax part of a company-opening (开办企业) from Tongban and confirms the new taxpayer's information
against the business licence, which it fetches through Tongban's certificate gateway with the company's consent
token instead of asking for a copy (see :mod:`sandbox.backoffice`).

API (``Authorization: Bearer <token>``, default ``tax-demo-token``):

- ``GET /tax/openapi/v1/xbnsr/list?xgsjQ=<epoch ms>&pageNum=1&pageSize=50`` — 申请 whose ``xgsj`` ≥ ``xgsjQ``, by
  (``xgsj``, ``sqbh``): ``{"head": {"rtnCode": "000", "rtnMsg"}, "body": {"total", "list"}}``.
- ``POST /tax/openapi/v1/xbnsr/submit`` (``Idempotency-Key``) — ``{"sqbh", "sxbm", "sxmc", "nsrmc", "nsrsbh",
  "scjydz", "lxdh", "sqnr", "sqsj" (yyyyMMddHHmmss), "swjg": {"swjgmc", "swjgdm"}, "xzqhdm",
  "zlqd": [{"zlmc", "tjfs", "zlbh", "zzbh", "sqpz"}]}``; answers ``{"head", "body": {"sqbh", "sfcf"}}``.

Codes: ``blzt`` 01 已接收 02 已受理 05 挂起待补正 09 办结 10 不予办理; ``tjfs`` 1 上传 2 纸质 3 共享调取. ``blgc`` holds
its steps (``hjmc``, ``kssj``, ``jssj`` in epoch ms, ``blry``, ``blyj``), ``gqjl`` its holds (``kssj``, ``yy``,
``jssj``). A finished 申请 carries ``wsh`` (税务文书号).
"""

from __future__ import annotations

import hmac
from typing import Any

from .app import BadRequest, Request, Response, json_response
from .backoffice import ReuseBackOffice
from .certgate import LicenceCheck

__all__ = ["TaxApp", "DEFAULT_TOKEN", "OFFICE"]

DEFAULT_TOKEN = "tax-demo-token"
OFFICE = {"swjgmc": "国家税务总局济南市税务局", "swjgdm": "11370100MB1702531G"}
_STAFF = "郑税源"


def _head(code: str = "000", message: str = "成功") -> dict[str, str]:
    return {"rtnCode": code, "rtnMsg": message}


class TaxApp(ReuseBackOffice):
    name = "tax"

    def __init__(self, seed: int = 42, token: str = DEFAULT_TOKEN) -> None:
        super().__init__(seed, token, scale=1000)
        self._serial = 0

    # -- records -----------------------------------------------------------------------------------------------
    def case_no_of(self, record: dict[str, Any]) -> str:
        return str(record["sqbh"])

    @staticmethod
    def _taken(body: dict[str, Any]) -> dict[str, Any]:
        fields = ("sqbh", "sxbm", "sxmc", "nsrmc", "nsrsbh", "scjydz", "lxdh", "sqnr", "sqsj", "swjg",
                  "xzqhdm", "zlqd")
        taken = {k: body.get(k) for k in fields}
        taken["zlqd"] = [{k: v for k, v in z.items() if k != "sqpz"} for z in body.get("zlqd") or []]
        return taken

    def new_record(self, body: dict[str, Any], t: int) -> dict[str, Any]:
        record = self._taken(body)
        record.update(blzt="01", blztsm="已接收，待核验营业执照",
                      blgc=[{"hjmc": "接收", "kssj": t, "jssj": t, "blry": "系统", "blyj": "新办纳税人套餐申请已接收"}],
                      gqjl=[], wsh=None, bjsj=None, xgsj=t)
        return record

    def updated_record(self, record: dict[str, Any], body: dict[str, Any], t: int) -> dict[str, Any]:
        record.update(self._taken(body), xgsj=t)
        return record

    def licence_query(self, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        consent = next((z.get("sqpz") for z in body.get("zlqd") or [] if z.get("tjfs") == "3"), None)
        return {"holder_id": record.get("nsrsbh") or "", "item_code": record.get("sxbm") or "",
                "case_no": record["sqbh"], "consent": consent}

    def verified(self, record: dict[str, Any], check: LicenceCheck, t: int) -> dict[str, Any]:
        self._close_holds(record, t)
        record["blgc"].append({"hjmc": "受理", "kssj": t, "jssj": t, "blry": _STAFF,
                               "blyj": f"营业执照 {check.licence.get('number')} 经通办证照网关共享核验一致"})
        record.update(blzt="02", blztsm="已受理", xgsj=t)
        return record

    def held(self, record: dict[str, Any], reason: str, t: int) -> dict[str, Any]:
        if not any(h.get("jssj") is None for h in record["gqjl"]):
            record["gqjl"].append({"kssj": t, "yy": reason, "jssj": None})
        record.update(blzt="05", blztsm=reason, xgsj=t)
        return record

    def finished(self, record: dict[str, Any], t: int) -> dict[str, Any]:
        if record.get("blzt") in ("09", "10"):
            return record
        self._close_holds(record, t)
        self._serial += 1
        record["blgc"].append({"hjmc": "办结", "kssj": t, "jssj": t, "blry": _STAFF, "blyj": "涉税信息已确认"})
        record.update(blzt="09", blztsm="办结", wsh=f"济税信确〔{self._serial:06d}〕号", bjsj=t, xgsj=t)
        return record

    def refused(self, record: dict[str, Any], reason: str, t: int) -> dict[str, Any]:
        self._close_holds(record, t)
        record["blgc"].append({"hjmc": "不予办理", "kssj": t, "jssj": t, "blry": _STAFF, "blyj": reason})
        record.update(blzt="10", blztsm=reason, bjsj=t, xgsj=t)
        return record

    @staticmethod
    def _close_holds(record: dict[str, Any], t: int) -> None:
        for hold in record.get("gqjl") or []:
            if hold.get("jssj") is None:
                hold["jssj"] = t

    # -- API -----------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"head": _head(f"{status:03d}"[-3:], message), "body": None}, headers)

    def api(self, req: Request) -> Response:
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), self.token.encode()):
            return self.error(401, "无效的访问令牌")
        if req.path == "/tax/openapi/v1/xbnsr/list" and req.method == "GET":
            return self._list(req)
        if req.path == "/tax/openapi/v1/xbnsr/submit" and req.method == "POST":
            return self._submit(req)
        return self.error(404, "接口不存在")

    def _list(self, req: Request) -> Response:
        q = req.query
        try:
            since = int(q["xgsjQ"]) if q.get("xgsjQ") else None
            page, size = int(q.get("pageNum", "1")), int(q.get("pageSize", "50"))
        except ValueError:
            raise BadRequest("xgsjQ（毫秒）、pageNum、pageSize 应为整数") from None
        if page < 1 or not 1 <= size <= 200:
            raise BadRequest("pageNum >= 1, 1 <= pageSize <= 200")
        with self.table.lock:
            total = self.table.count(since)
            found = [self.render(r) for r in self.table.page(since, (page - 1) * size, size)]
        return json_response(200, {"head": _head(), "body": {"total": total, "list": found}})

    def _submit(self, req: Request) -> Response:
        key = req.headers.get("Idempotency-Key")
        if not key:
            raise BadRequest("缺少 Idempotency-Key")
        body = req.json()
        if not isinstance(body, dict) or not body.get("sqbh"):
            raise BadRequest("缺少申请编号 sqbh")
        if not body.get("nsrsbh") or not body.get("nsrmc"):
            raise BadRequest("新办纳税人须有纳税人名称 nsrmc 和纳税人识别号 nsrsbh")
        answer, duplicate = self.receive(key, str(body["sqbh"]), body)
        return json_response(200, {"head": _head(), "body": {"sqbh": answer["case_no"], "sfcf": duplicate}})
