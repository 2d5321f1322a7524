"""social — 济南市人力资源和社会保障局 case system: REST, JSON, snake_case pinyin, a ``retCode`` envelope.

Conventions that no other sandbox system uses, each common in Chinese department systems: every answer is
HTTP 200 and the outcome is a string code in the envelope (``{"retCode": "0000", "retMsg": "成功", "result": …}``;
"4040 查询无数据" means "no records", not an error); HMAC-SHA256 over ``METHOD\\nPATH\\nTIMESTAMP_MS`` (path
without the query string, timestamp in milliseconds); page-number paging in a POST body whose numbers are
strings; numbers as strings in records; a soft-delete flag whose type changes from record to record; the
strings "null", "NULL", "-", "无", "" and "0000-00-00 00:00:00" for missing values; and the legitimate
rule-breaking data mix of ``flatcase``.

``generate(seed, i)`` is base record ``i`` (pure); ``quirks(record)`` names the rules a record breaks;
``SocialApp`` serves them. Standard library only.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from typing import Any

from .app import BadRequest, Request, Response, json_response, nginx_page
from .clock import fmt_compact, fmt_dash
from .flatcase import Catalogue, FlatCase, FlatCaseApp, Spelling, malformed, rule_breaks, token
from .vocab import Item

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_SECRET",
    "DEPT",
    "ITEMS",
    "NULL_TOKENS",
    "QUERY_PATH",
    "RESULT_CODES",
    "ZERO_DATE",
    "ZJLX",
    "SocialApp",
    "fate",
    "generate",
    "is_deleted",
    "is_null",
    "quirks",
    "sign",
    "soft_deleted",
    "timeline",
]

DEPT = {"name": "济南市人力资源和社会保障局", "code": "11370100004301273M", "division": "370100"}
CASE_NO_SYSTEM = "5"
"""办件编号 = division + apply date + this system's digit + serial: national numbers never collide across systems."""
DEFAULT_APP_KEY = "social-demo"
DEFAULT_SECRET = "social-demo-secret"
QUERY_PATH = "/api/case/query"
SKEW_MS = 300_000
MAX_PAGE_SIZE = 500
NULL_TOKENS = ("null", "NULL", "-", "无", "")
ZERO_DATE = "0000-00-00 00:00:00"
STAFF = ("高建平", "孙丽华", "王振宇", "刘倩", "张海鹰", "李秀梅", "赵文斌", "马骁")
ITEMS = (
    Item("失业保险金申领", "000118001000", "1", 0, 5, None, "person",
         ("失业保险金申领登记表", "解除劳动合同证明"), 5),
    Item("就业创业证申领", "000118002000", "1", 0, 5, "就业创业证", "person",
         ("就业创业证申领登记表", "居民身份证"), 5),
    Item("社会保障卡补领换领", "000118003000", "2", 5, 10, "社会保障卡", "person",
         ("社会保障卡补换申请表", "居民身份证", "近期免冠照片"), 5),
    Item("职业技能等级证书补发", "000118004000", "2", 15, 20, "职业技能等级证书", "person",
         ("证书补发申请表", "原证书遗失声明"), 2),
    Item("职工正常退休申请", "000118005000", "2", 20, 30, "退休证", "person",
         ("职工退休审批表", "居民身份证", "人事档案"), 3),
    Item("单位参保登记", "000118006000", "1", 0, 5, None, "company",
         ("社会保险登记表", "营业执照", "法定代表人身份证明"), 3),
    Item("人力资源服务许可", "000118007000", "2", 15, 20, "人力资源服务许可证", "company",
         ("人力资源服务许可申请书", "营业执照", "场所使用证明", "工作人员学历证明"), 2),
    Item("劳务派遣经营许可", "000118008000", "2", 15, 20, "劳务派遣经营许可证", "company",
         ("劳务派遣经营许可申请书", "营业执照", "验资报告", "劳务派遣协议样本"), 1),
)
FEES = {"000118003000": "20.00"}  # 社会保障卡工本费; every other item is free ("0.00")
REASONS = {
    "denied": ("不符合申领条件，不予许可", "缴费年限不足，不予办理", "申请材料不真实，不予许可"),
    "returned": ("材料不齐全，退回补正", "信息填写有误，予以退回"),
    "not_accepted": ("不属于本部门受理范围，不予受理", "已在其他统筹区办理，不予受理"),
}
# bjjg: 01 准予（办结）, 02 不予许可, 03 退回, 04 不予受理 ("07" 撤回 only under the unknown_code malformation).
RESULT_CODES = {"issued": "01", "denied": "02", "returned": "03", "not_accepted": "04"}
# zjlx: the 人社 ID-type table (AAC058 style): 1 居民身份证, 4 港澳居民来往内地通行证, 6 台湾居民来往大陆通行证,
# 8 外国人护照; organisations: 91 统一社会信用代码.
ZJLX = {"111": "1", "516": "4", "511": "6", "414": "8", "001": "91"}
# sfsc styles, (deleted, live): the same column holds all four across records.
SFSC_STYLES: tuple[tuple[Any, Any], ...] = (("1", "0"), (1, 0), (True, False), ("Y", "N"))
_SFSC_WEIGHTS = (8, 5, 4, 3)  # of 20
_TRUTHY = ("1", 1, True, "Y", "y", "true", "TRUE")

_CAT = Catalogue(0x50C0, ITEMS, STAFF, REASONS)
_SPELLING = Spelling(
    number="ywlsh", catalog="jbbm", result="bjjg", finished="bjsj", reason="bjyy",
    cert_name="zzmc", cert_no="zzbh", applied="sqsj", accepted="slsj", id_type="zjlx", id_no="zjhm",
    phone="lxdh", flag="sfsc", changed="gxsj",
    codes=RESULT_CODES, resident_id=ZJLX["111"], org_id=ZJLX["001"], nulls=NULL_TOKENS + (ZERO_DATE,),
    flag_styles=SFSC_STYLES, deleted_values=_TRUTHY, stamp=fmt_compact,
)

# timeline(seed): base change times (``gxsj``); fate(seed, i); soft_deleted(seed, i).
timeline, fate, soft_deleted = _CAT.timeline, _CAT.fate, _CAT.deleted


def task_code(item: Item) -> str:
    """实施编码: department USCC + "5" + the basic code's first nine digits + "001"."""
    return DEPT["code"] + "5" + item.catalog[:9] + "001"


def cert_no(item: Item, i: int, day: str) -> str:
    n, year = i + 1, day[:4]
    return {
        "就业创业证": f"3701{year}{n:08d}",
        "社会保障卡": f"JN{n:08d}",
        "职业技能等级证书": f"S{year}370100{n:07d}",
        "退休证": f"济退字{year}{n:07d}号",
        "人力资源服务许可证": f"鲁人服证字〔{year}〕第{n:07d}号",
        "劳务派遣经营许可证": f"370100{year}{n:06d}",
    }.get(item.cert or "", f"JNRS{year}{n:07d}")


def _style(bits: int) -> int:
    k, acc = (bits >> 30) % 20, 0
    for style, w in enumerate(_SFSC_WEIGHTS):
        acc += w
        if k < acc:
            return style
    return 0


def render(c: FlatCase) -> dict[str, Any]:
    """The social system's record of case ``c``."""
    b = c.bits
    nul = lambda slot: token(NULL_TOKENS, b, slot)
    unset_date = ZERO_DATE if (b >> 58) % 5 else nul(0)
    cert = c.cert_name
    finished = c.finished is not None
    a = c.party
    return {
        "ywlsh": f"JNRS{c.apply_day}{c.serial}",
        "bjbh": f"{DEPT['division']}{c.apply_day}{CASE_NO_SYSTEM}{c.serial}",
        "sxbm": task_code(c.item), "jbbm": c.item.catalog, "sxmc": c.item.name, "bllx": c.item.case_type,
        "sqrxm": a.name, "sqrlx": "1" if a.kind == "1" else "2", "zjlx": ZJLX.get(a.cert_type, "99"),
        "zjhm": a.cert_no, "lxdh": c.phone if c.phone is not None else nul(1),
        "sqsj": fmt_dash(c.applied), "slsj": fmt_dash(c.accepted),
        "cnsx": str(c.item.promise_days), "cnbjsj": fmt_dash(c.promised),
        "sfje": FEES.get(c.item.catalog, "0.00"),
        "slbm": DEPT["name"], "slbmdm": DEPT["code"], "slr": c.handler, "xzqh": c.division,
        "bjsj": fmt_dash(c.finished) if finished else unset_date,
        "bjjg": RESULT_CODES[c.result] if c.result else nul(2),
        "bjyy": c.reason if c.reason else nul(3),
        "zzmc": cert if cert else nul(4),
        "zzbh": cert_no(c.item, c.index, c.apply_day) if cert else nul(5),
        "sfsc": SFSC_STYLES[_style(b)][0 if c.deleted else 1],
        "gxsj": fmt_compact(c.changed),
    }


def generate(seed: int, i: int) -> dict[str, Any]:
    """Base record ``i`` exactly as the API serves it (before any change or fault)."""
    return render(_CAT.case(seed, i))


def is_null(value: Any) -> bool:
    """Whether a value is one of the system's "no value" spellings (the zero date included)."""
    return _SPELLING.is_null(value)


def is_deleted(record: dict[str, Any]) -> bool:
    """``sfsc`` in any of its four styles ("1", 1, true, "Y" mean deleted)."""
    return _SPELLING.is_deleted(record)


def quirks(record: dict[str, Any]) -> list[str]:
    """The business rules a record breaks although its data is legitimate (``flatcase.rule_breaks``):
    ``no_certificate`` (finished 01 with a certificate item, none named), ``no_reason``,
    ``result_unfinished``, ``accepted_before_applied`` (``slsj`` < ``sqsj``), ``old_place_code``."""
    return rule_breaks(record, _SPELLING, _CAT)


def sign(secret: str, method: str, path: str, timestamp_ms: str) -> str:
    """X-Signature: lower-case hex HMAC-SHA256 over ``METHOD\\nPATH\\nTIMESTAMP_MS`` (path without query)."""
    text = f"{method.upper()}\n{path}\n{timestamp_ms}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _malform(rec: dict[str, Any], kind: str) -> dict[str, Any]:
    rec = malformed(rec, kind, _SPELLING)
    if kind == "alt_date_format":
        rec["sqsj"] = rec["sqsj"].replace("-", "/")
    elif kind == "unknown_code":
        rec.update(bjjg="07", bjyy="申请人撤回申请", zzmc="无", zzbh="无",
                   bjsj=rec["bjsj"] if not is_null(rec.get("bjsj")) else fmt_dash(_compact_sec(rec["gxsj"])))
    return rec


def _compact_sec(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y%m%d%H%M%S")) - 8 * 3600


def _envelope(code: str, msg: str, result: Any = None) -> Response:
    return json_response(200, {"retCode": code, "retMsg": msg, "result": result})


class SocialApp(FlatCaseApp):
    """The 人社 case system's HTTP API. Records, changes (``/_sandbox/delete`` sets ``sfsc`` in the record's
    own style) and admin extras (``GET /_sandbox/records/{ywlsh}``, ``GET /_sandbox/quirks``) come from
    ``FlatCaseApp``."""

    name = "social"
    catalogue, spelling, record_number = _CAT, _SPELLING, re.compile(r"JNRS\d{8}(?P<n>\d{7})")
    generate, cert_no = staticmethod(generate), staticmethod(cert_no)

    def __init__(self, seed: int = 42, records: int = 1000, app_key: str = DEFAULT_APP_KEY,
                 secret: str = DEFAULT_SECRET) -> None:
        super().__init__(seed, records)
        self.app_key, self.secret = app_key, secret

    def broken(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        return _malform(record, kind)

    # -- API ---------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        """Injected outages come from the nginx in front; busy/rate-limited and bad requests are envelopes."""
        if status == 503 and self.faults.faults.outage is True:
            return nginx_page(503, "Service Temporarily Unavailable")
        if status in (429, 503):
            return _envelope("5003", "系统繁忙，请稍后重试")
        return _envelope("9999", message if message.startswith("参数错误") else f"参数错误：{message}")

    def _authenticate(self, req: Request) -> tuple[str, str] | None:
        key = req.headers.get("X-App-Key") or ""
        ts = req.headers.get("X-Timestamp") or ""
        sig = req.headers.get("X-Signature") or ""
        if not key or not ts or not sig:
            return "4011", "签名验证失败：缺少 X-App-Key、X-Timestamp 或 X-Signature"
        if not hmac.compare_digest(key.encode(), self.app_key.encode()):
            return "4011", "签名验证失败：appKey 无效"
        if not ts.isdigit():
            return "4011", "签名验证失败：X-Timestamp 应为毫秒时间戳"
        if abs(time.time() * 1000 - int(ts)) > SKEW_MS:
            return "4012", "时间戳已过期"
        if not hmac.compare_digest(sig.encode(), sign(self.secret, req.method, req.path, ts).encode()):
            return "4011", "签名验证失败"
        return None

    def api(self, req: Request) -> Response:
        refused = self._authenticate(req)
        if refused is not None:
            return _envelope(*refused)
        if req.path != QUERY_PATH:
            return _envelope("9999", f"接口不存在：{req.path}")
        if req.method == "POST":
            params = req.json()
            if params is None:
                params = {}
            if not isinstance(params, dict):
                raise BadRequest("请求体应为 JSON 对象")
        elif req.method == "GET":
            params = req.query
        else:
            return _envelope("9999", f"不支持的请求方法：{req.method}")
        return self._query(params)

    def _query(self, params: dict[str, Any]) -> Response:
        begin = _param(params, "beginTime")
        since = None
        if begin:
            if len(begin) != 14 or not begin.isdigit():
                raise BadRequest("参数错误：beginTime 格式应为 yyyyMMddHHmmss")
            try:
                since = _compact_sec(begin)
            except ValueError:
                raise BadRequest("参数错误：beginTime 格式应为 yyyyMMddHHmmss") from None
        page_num, page_size = _param(params, "pageNum") or "1", _param(params, "pageSize") or "100"
        if not page_num.isdigit() or not page_size.isdigit():
            raise BadRequest("参数错误：pageNum、pageSize 应为数字")
        num, size = int(page_num), int(page_size)
        if num < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise BadRequest(f"参数错误：pageNum >= 1，1 <= pageSize <= {MAX_PAGE_SIZE}")
        with self.table.lock:
            total = self.table.count(since)
            rows = self.table.page(since, (num - 1) * size, size)
            records = [self.render(r) for r in rows]
        if not records:
            return _envelope("4040", "查询无数据")
        result = {"total": str(total), "pages": str(-(-total // size)), "pageNum": str(num), "pageSize": str(size),
                  "list": records}
        resp = _envelope("0000", "成功", result)
        self.after_page()
        return resp


def _param(params: dict[str, Any], name: str) -> str | None:
    """A request parameter as text: strings as sent (trimmed), JSON numbers accepted as their digits."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest(f"参数错误：{name} 应为字符串")
    return str(value).strip()
