"""evaluator — 区政务服务好差评采集端: the district's collection point for 好差评 ratings, REST, JSON.

Every rating given for a district case arrives here first, whatever the channel: the hall's PC site, the app,
the QR code on the window, the evaluator device on the window (评价器), or an SMS reply. Each rating names the
case (办件编号); a window device also names its serial, the window and the staff number logged in.

The data is generated deterministically by seed: ``n`` finished cases (``GET /_sandbox/cases``, or
:func:`generate` without a server), about 80% of them rated, and one **planted** misuse burst — a member of
staff pressing the window device for a run of cases closed in quick succession, each rating seconds after the
case closed (``GET /_sandbox/planted``). ``POST /_sandbox/revise {"ratingId", "grade", "comment"}`` changes a
rating as a citizen does at the collection point (a newer ``updateTime``, the same ``ratingId``). Normal window ratings come 30 s to 15 min after the case closed, and
one device sees a case an hour at most, so a careful detector flags the burst and nothing else.

Conventions no other sandbox system uses: ``X-Api-Key``; camelCase English field names; grades 1–5 where 5 is
the best (非常满意); channels as words (``pc``, ``app``, ``qrcode``, ``device``, ``sms``); times as
``yyyy-MM-dd HH:mm:ss`` Beijing time, the change time ``updateTime`` in epoch milliseconds.

API (``X-Api-Key: <key>``, default ``evaluator-demo-key``):

- ``GET /pj/api/v1/ratings?updatedFrom=<epoch ms>&offset=0&limit=200`` — ratings changed at or after
  ``updatedFrom`` (inclusive, optional), ordered by (``updateTime``, ``ratingId``); ``limit`` 1–500. Answer:
  ``{"ok": true, "total": N, "items": [...]}``; errors ``{"ok": false, "reason": "…"}`` with the HTTP status.

Record::

    {"ratingId": "R0000001", "caseNo": "370102202609010001", "grade": 5, "channel": "device",
     "deviceSn": "PJQ-W03", "windowNo": "W03", "staffNo": "S0031", "orgCode": "11370102…", "areaCode": "370102",
     "ratedAt": "2026-09-01 09:31:22", "comment": "", "updateTime": 1788226282000}
"""

from __future__ import annotations

import copy
import hmac
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from .app import BadRequest, Request, Response, SystemApp, json_response
from .clock import BJ, OverlayClock, fmt_dash
from .identifiers import make_uscc
from .prng import between, pick, record_rng
from .table import LazyTable

__all__ = ["EvaluatorApp", "Generated", "generate", "DEFAULT_API_KEY", "QUERY_PATH", "CHANNELS", "WINDOWS",
           "DIVISION"]

DEFAULT_API_KEY = "evaluator-demo-key"
QUERY_PATH = "/pj/api/v1/ratings"
MAX_LIMIT = 500
DIVISION = "370102"
WINDOWS = tuple(f"W{n:02d}" for n in range(1, 9))
CHANNELS = (("device", 0.40), ("pc", 0.55), ("app", 0.75), ("qrcode", 0.90), ("sms", 1.0))
"""Cumulative shares of the channels."""
_GRADES = ((5, 0.70), (4, 0.88), (3, 0.95), (2, 0.98), (1, 1.0))
_COMMENTS = {1: ("窗口人员态度差", "材料反复要求补交"), 2: ("等候时间太长", "办理进度不透明"), 3: ("一般",),
             4: ("挺好",), 5: ("非常满意", "服务热情", "")}
_FIRST_DAY = date(2026, 9, 1)
_PER_DAY = 40
_BURST_WINDOW = "W07"
_BURST_SIZE = 10
_SALT_CASE, _SALT_RATING = 0xE501, 0xE502


@dataclass
class Generated:
    """Generated cases (what the ledger would hold), the ratings as served, and the planted burst's ids."""

    cases: list[dict[str, Any]]
    ratings: list[dict[str, Any]]
    planted: list[str]
    planted_device: str


def _working_days(start: date) -> Any:
    day = start
    while True:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def _epoch(day: date, seconds: int) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=BJ).timestamp()) + seconds


def _dept(window: str) -> str:
    return make_uscc("1", "1", DIVISION, f"{int(window[1:]):02d}{DIVISION[2:6]}3" + "0")[:18]


def _cumulative(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    u = rng.random()
    return next(value for value, limit in table if u < limit)


def generate(seed: int = 42, n: int = 1000) -> Generated:
    """``n`` finished cases and their ratings; a pure function of (seed, n). The burst needs ``n`` >= 60."""
    cases: list[dict[str, Any]] = []
    ratings: list[dict[str, Any]] = []
    planted: list[str] = []
    days = _working_days(_FIRST_DAY)
    burst_at = n // 2 if n >= 60 else None
    i = 0
    day = next(days)
    slot = 0
    while i < n:
        if slot >= _PER_DAY:
            day, slot = next(days), 0
        rng = record_rng(seed, i, _SALT_CASE)
        window = WINDOWS[i % len(WINDOWS)]
        staff = f"S{int(window[1:]) * 10 + between(rng, 0, 2):04d}"
        in_burst = burst_at is not None and burst_at <= i < burst_at + _BURST_SIZE
        if in_burst:
            window, staff = _BURST_WINDOW, "S0070"
            finished = _epoch(day, 16 * 3600 + 30 * 60) + (i - burst_at) * between(rng, 20, 40)  # type: ignore[operator]
        else:
            finished = _epoch(day, 9 * 3600 + slot * 720 + between(rng, 0, 600))
        case_no = f"{DIVISION}{day:%Y%m%d}{slot + 1:04d}"
        if in_burst:
            case_no = f"{DIVISION}{day:%Y%m%d}{9000 + i - burst_at:04d}"  # type: ignore[operator]
        else:
            slot += 1
        case = {"case_no": case_no, "finished_at": fmt_dash(finished), "window": window, "staff": staff,
                "dept_code": _dept(window), "division": DIVISION,
                "channel": "1" if window else "2", "office": {"code": f"{DIVISION}-HALL", "division": DIVISION}}
        cases.append(case)
        rrng = record_rng(seed, i, _SALT_RATING)
        if in_burst:
            channel, grade, delay = "device", 5, between(rrng, 2, 4)
        elif rrng.random() < 0.8:
            channel = _cumulative(rrng, CHANNELS)
            grade = _cumulative(rrng, _GRADES)
            delay = between(rrng, 30, 900) if channel == "device" else between(rrng, 600, 3 * 86400)
        else:
            i += 1
            continue
        rid = f"R{len(ratings) + 1:07d}"
        rated = finished + delay
        ratings.append({
            "ratingId": rid, "caseNo": case_no, "grade": grade, "channel": channel,
            "deviceSn": f"PJQ-{window}" if channel == "device" else None,
            "windowNo": window if channel in ("device", "qrcode") else None,
            "staffNo": staff if channel in ("device", "qrcode") else None,
            "orgCode": case["dept_code"], "areaCode": DIVISION, "ratedAt": fmt_dash(rated),
            "comment": pick(rrng, _COMMENTS[grade]), "updateTime": rated * 1000,
        })
        if in_burst:
            planted.append(rid)
        i += 1
    ratings.sort(key=lambda r: (r["updateTime"], r["ratingId"]))
    return Generated(cases, ratings, planted, f"PJQ-{_BURST_WINDOW}")


class EvaluatorApp(SystemApp):
    """The collection point's HTTP API; every rating is generated up front (a few thousand)."""

    name = "evaluator"

    def __init__(self, seed: int = 42, records: int = 1000, api_key: str = DEFAULT_API_KEY) -> None:
        self.generated = generate(seed, records)
        data = self.generated.ratings
        times = [r["updateTime"] for r in data]

        def first_at(t: int) -> int:
            from bisect import bisect_left

            return bisect_left(times, t)

        table = LazyTable(len(data), lambda i: times[i], first_at, lambda i: copy.deepcopy(data[i]))
        super().__init__(seed, table, OverlayClock(1000))
        self.api_key = api_key

    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["ratingId"])

    def base_index(self, rid: str) -> int | None:
        for i, r in enumerate(self.generated.ratings):
            if r["ratingId"] == rid:
                return i
        return None

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return bool(record.get("revoked"))

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        rec["comment"] = (rec.get("comment") or "") + "（追评）"
        rec["updateTime"] = t
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        rec.update(revoked=True, updateTime=t)
        return rec

    def broken(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        rec = copy.deepcopy(record)
        if kind == "unknown_code":
            rec["grade"] = 7
        elif kind == "impossible_date":
            rec["ratedAt"] = "2026-02-30 09:00:00"
        elif kind == "alt_date_format":
            rec["channel"] = "wechat"
        else:
            rec["caseNo"] = None
        return rec

    def admin_extra(self, req: Request) -> Response | None:
        if (req.method, req.path) == ("GET", "/_sandbox/planted"):
            return json_response(200, {"device": self.generated.planted_device, "ratings": self.generated.planted})
        if (req.method, req.path) == ("GET", "/_sandbox/cases"):
            return json_response(200, {"cases": self.generated.cases})
        if (req.method, req.path) == ("POST", "/_sandbox/revise"):
            return self._revise(req.json() or {})
        if (req.method, req.path) == ("POST", "/_sandbox/rate"):
            return self._rate(req.json() or {})
        return None

    def _rate(self, body: dict[str, Any]) -> Response:
        """Citizens rate cases another system finished (the demo rates the cases its ledger holds, so 好差评 coverage
        means something): ``{"cases": [{"case_no", "finished_at" ("yyyy-MM-dd HH:mm:ss" Beijing), "dept_code",
        "division"}], "share": 0.8}``. About ``share`` of them get a rating — channel and grade drawn as for the
        generated ones, seeded by the case number — rated after the case finished and no later than now, with a
        change time of now. Answers ``{"ok": true, "rated": [ratingId, ...]}``."""
        cases = body.get("cases")
        share = body.get("share", 0.8)
        if not isinstance(cases, list) or not all(isinstance(c, dict) and c.get("case_no") for c in cases):
            raise BadRequest("cases must be a list of {case_no, finished_at, dept_code, division}")
        if not isinstance(share, int | float) or isinstance(share, bool) or not 0 <= share <= 1:
            raise BadRequest("share must be a number from 0 to 1")
        rated: list[str] = []
        now = int(time.time())
        with self.table.lock:
            for case in cases:
                rng = random.Random(f"{self.seed}:{case['case_no']}")
                if rng.random() >= share:
                    continue
                try:
                    finished = int(datetime.strptime(str(case.get("finished_at")), "%Y-%m-%d %H:%M:%S")
                                   .replace(tzinfo=BJ).timestamp())
                except ValueError:
                    raise BadRequest(f"case {case['case_no']}: finished_at is not yyyy-MM-dd HH:mm:ss") from None
                channel = _cumulative(rng, CHANNELS)
                grade = _cumulative(rng, _GRADES)
                rated_at = min(now, finished + between(rng, 30, 900 if channel == "device" else 3 * 86400))
                rid = f"RD{len(self.generated.ratings) + self.table.extra_count + 1:07d}"
                t = self.clock.next()
                record = {"ratingId": rid, "caseNo": str(case["case_no"]), "grade": grade, "channel": channel,
                          "deviceSn": None, "windowNo": None, "staffNo": None,
                          "orgCode": case.get("dept_code"), "areaCode": case.get("division") or DIVISION,
                          "ratedAt": fmt_dash(rated_at), "comment": pick(rng, _COMMENTS[grade]), "updateTime": t}
                self.table.put(rid, t, record)
                rated.append(rid)
        return json_response(200, {"ok": True, "rated": rated})

    def _revise(self, body: dict[str, Any]) -> Response:
        """The citizen changes a rating at the collection point (another grade, a comment): the same ``ratingId``,
        a newer ``updateTime``. ``{"ratingId": ..., "grade": 1-5, "comment": ...}``."""
        grade = body.get("grade")
        if grade is not None and (not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 5):
            raise BadRequest("grade must be 1-5")
        with self.table.lock:
            entry = self._locate(str(body.get("ratingId") or ""))
            if entry is None:
                return json_response(404, {"ok": False, "reason": f"no rating {body.get('ratingId')!r}"})

            def revise(rec: dict[str, Any], t: int) -> dict[str, Any]:
                if grade is not None:
                    rec["grade"] = grade
                if isinstance(body.get("comment"), str):
                    rec["comment"] = body["comment"]
                rec["updateTime"] = t
                return rec

            rid = self._change(entry, revise)
            record = self.table.get(rid)
        return json_response(200, {"ok": True, "rating": record.record if record is not None else None})

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"ok": False, "reason": message}, headers)

    def api(self, req: Request) -> Response:
        key = req.headers.get("X-Api-Key") or ""
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return self.error(401, "bad api key")
        if req.method == "GET" and req.path == QUERY_PATH:
            return self._list(req)
        return self.error(404, "no such endpoint")

    def _list(self, req: Request) -> Response:
        q = req.query
        try:
            since = int(q["updatedFrom"]) if q.get("updatedFrom") else None
            offset, limit = int(q.get("offset", "0")), int(q.get("limit", "100"))
        except ValueError:
            raise BadRequest("updatedFrom, offset and limit must be integers") from None
        if offset < 0 or not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"offset >= 0 and 1 <= limit <= {MAX_LIMIT}")
        with self.table.lock:
            total = self.table.count(since)
            page = self.table.page(since, offset, limit)
        resp = json_response(200, {"ok": True, "total": total, "items": [self.render(r) for r in page]})
        self.after_page()
        return resp
