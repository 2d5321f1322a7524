"""civil — the provincial civil-affairs approval system (省民政厅): REST, JSON, camelCase, legacy codes.

``generate(seed, i)`` is base record ``i`` (pure, no server needed: the benchmark uses it directly);
``CivilApp`` serves the API described in README.md: ``X-Api-Key`` auth, page-number paging over
``updatedSince``, idempotent writes by ``projectNo``.
"""

from __future__ import annotations

import hmac
import random
import re
import threading
import time
from bisect import bisect_right
from datetime import datetime
from typing import Any

from .app import BadRequest, Request, Response, SystemApp, json_response
from .clock import OverlayClock, Timeline, fmt_dash, fmt_date, parse_dash, timeline_of
from .identifiers import USCC_ALPHABET, break_check, make_uscc
from .lifecycle import Story, build_story, promise_time
from .people import Party, company, mobile, person, social_org
from .pools import PEOPLE_AT, PEOPLE_SLOTS, STORY_SLOTS, StoryPool, people
from .prng import FateTable, draw_fate, mix, pick, unit
from .table import LazyTable
from .vocab import CIVIL_ITEMS, CIVIL_STAFF, DEPARTMENTS, Item

_RECORD_NUMBER = re.compile(r"MZ\d{4}(?P<n>\d{7})")
_CASE_NUMBER = re.compile(r"\d{14}(?P<n>\d{7})")  # 办件编号: region, date, serial

__all__ = ["generate", "CivilApp", "DEPT", "DEFAULT_API_KEY", "timeline"]

DEPT = DEPARTMENTS["civil"]
DEFAULT_API_KEY = "civil-demo-key"
_SALT_TIME, _SALT_REC, _SALT_FATE, _SALT_FLAG, _SALT_QUIRK = 0xC1, 0xC2, 0xC3, 0xC4, 0xC5
_RESULT = {"issued": "0", "denied": "1", "void": "2", "deleted": "3", "referred": "4", "returned": "5",
           "not_accepted": "6"}
_ACTION = {"SL": "0", "CB": "1", "SH": "2", "PZ": "3"}
_CHAIN = (("承办", "1", "经审查，申请材料真实有效，建议予以办理"), ("审核", "2", "同意承办意见"),
          ("批准", "3", "同意，准予办理"))
_ITEMS_BY_CATALOG = {it.catalog: it for it in CIVIL_ITEMS}
_CUM_WEIGHTS = []
_acc = 0
for _it in CIVIL_ITEMS:
    _acc += _it.weight
    _CUM_WEIGHTS.append(_acc)
_FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


_FATES: FateTable = ((0.12, None), (0.74, "issued"), (0.80, "denied"), (0.85, "returned"), (0.89, "not_accepted"),
                     (0.90, "referred"), (0.915, "void"), (0.92, "deleted"))


def timeline(seed: int) -> Timeline:
    """Base change times, second precision (``updateTime`` has no milliseconds)."""
    return timeline_of(seed, _SALT_TIME, 1)


def fate(seed: int, i: int) -> str | None:
    """How base case ``i`` ends (None: still in progress) — a cheap hash, so deletions can be counted."""
    return draw_fate(seed, i, _SALT_FATE, _FATES)


def soft_deleted(seed: int, i: int) -> bool:
    return unit(seed, i, _SALT_FLAG) < 0.01


def task_code(item: Item) -> str:
    """实施编码: department USCC + "4" + the basic code's first nine digits + 办理项 "001"."""
    return DEPT["code"] + "4" + item.catalog[:9] + "001"


def _cert_no(item: Item, h: int, index: int, year: int) -> str:
    """A certificate number unique to the case: a new organisation's USCC for registrations."""
    if "登记证书" in (item.cert or ""):
        kind = "3" if "基金会" in item.name else "2" if "民办" in item.name else "1"
        org8 = "MA" + "".join(USCC_ALPHABET[(h >> (5 * k + 20)) % 31] for k in range(6))
        return make_uscc("5", kind, "370000", org8)
    return f"鲁民证〔{year}〕{index + 1:07d}号"


def _applicant(item: Item, rng: random.Random, at: int) -> Any:
    r = rng.random()
    if item.applicants == "company":
        return company(rng) if r < 0.6 else social_org(rng) if r < 0.9 else person(rng, at)
    return social_org(rng) if r < 0.6 else person(rng, at)


def _quirk(rec: dict[str, Any], kind: int) -> None:
    """Data-entry quirks in ~2% of records: full-width characters and stray spaces (valid after NFKC+strip)."""
    a = rec["applicant"]
    if kind == 0:
        a["certNo"] = a["certNo"].translate(_FULLWIDTH)
    elif kind == 1:
        a["name"] = a["name"][:1] + " " + a["name"][1:]
    elif kind == 2:
        a["name"] = a["name"][:1] + "\u3000" + a["name"][1:]
        a["certNo"] = a["certNo"] + " "
    else:
        a["mobile"] = a["mobile"].translate(_FULLWIDTH)
        a["certNo"] = " " + a["certNo"].translate(_FULLWIDTH)


def render_story(s: Story, d: int, a: Party, rid: str, project_no: str, cert_no: str | None,
                 deleted_flag: bool, update: int) -> dict[str, Any]:
    """The civil record of story ``s`` shifted by ``d`` seconds, for applicant ``a``."""
    accept = s.accept + d
    steps = [{"seq": k + 1, "name": st.name, "action": _ACTION[st.action], "start": fmt_dash(st.start + d),
              "end": fmt_dash(st.end + d), "handler": st.handler, "opinion": st.opinion}
             for k, st in enumerate(s.steps)]
    return {
        "id": rid, "projectNo": project_no, "taskCode": task_code(s.item), "catalogCode": s.item.catalog,
        "itemName": s.item.name, "itemVersion": str(len(s.item.materials) % 3 + 1),
        "summary": f"{a.name}申请{s.item.name}", "caseType": s.item.case_type,
        "applicant": {"name": a.name, "type": a.kind, "certType": a.cert_type, "certNo": a.cert_no,
                      "mobile": a.mobile, "address": a.address},
        "applyTime": fmt_dash(s.apply + d), "acceptTime": fmt_dash(accept),
        "promiseTime": fmt_dash(promise_time(accept, s.item.promise_days)),
        "promiseDays": s.item.promise_days, "deptName": DEPT["name"], "deptCode": DEPT["code"],
        "handler": s.handler, "areaCode": DEPT["division"],
        "finishTime": fmt_dash(s.finish + d) if s.finish is not None else None,
        "result": _RESULT[s.outcome] if s.outcome else None, "resultReason": s.reason,
        "certName": s.cert_name if cert_no else None, "certNo": cert_no, "steps": steps,
        "specials": [{"type": p.type, "reason": p.reason, "start": fmt_dash(p.start + d),
                      "end": fmt_dash(p.end + d) if p.end is not None else None, "result": p.result}
                     for p in s.specials],
        "materials": [{"name": n, "mode": m, "count": c} for n, m, c in s.materials],
        "isDeleted": 1 if deleted_flag else 0, "updateTime": fmt_dash(update),
    }


def _template(rng: random.Random, outcome: str | None) -> Story:
    item = CIVIL_ITEMS[bisect_right(_CUM_WEIGHTS, rng.random() * _acc)]
    return build_story(rng, 0, item, [_applicant(item, rng, PEOPLE_AT)], outcome, 0, CIVIL_STAFF, lambda r, k: "-")


_STORIES = StoryPool(_SALT_REC, _template)


def generate(seed: int, i: int) -> dict[str, Any]:
    """Base record ``i`` of the civil system, exactly as the API serves it (before any change or fault)."""
    u = timeline(seed).time(i)
    h = mix(seed, i, _SALT_REC)
    s = _STORIES.get(seed, fate(seed, i), h % STORY_SLOTS)
    a = s.parties[0]
    if a.kind == "1":
        a = people(seed)[(h >> 10) % PEOPLE_SLOTS]
    apply = s.apply + u
    cert = _cert_no(s.item, h, i, _year(u)) if s.cert_name else None
    rec = render_story(s, u, a, f"MZ{_year(apply)}{i + 1:07d}", DEPT["division"] + fmt_date(apply) + f"{i + 1:07d}",
                       cert, soft_deleted(seed, i), u)
    if unit(seed, i, _SALT_QUIRK) < 0.02:
        _quirk(rec, mix(seed, i, _SALT_QUIRK) % 4)
    return rec


def _year(sec: int) -> int:
    return int(fmt_date(sec)[:4])


def _malform(rec: dict[str, Any], kind: str) -> dict[str, Any]:
    rec = dict(rec)
    if kind == "bad_checksum":
        a = dict(rec["applicant"])
        if a.get("certType") not in ("111", "001"):
            a["certType"] = "111"
        a["certNo"] = break_check(str(a.get("certNo", "")).strip().translate({0xFF10 + d: 0x30 + d for d in range(10)}))
        rec["applicant"] = a
    elif kind == "impossible_date":
        rec["applyTime"] = rec["applyTime"][:4] + "-02-30" + rec["applyTime"][10:]
    elif kind == "alt_date_format":
        rec["applyTime"] = rec["applyTime"].replace("-", "/")
    elif kind == "unknown_code":
        rec.update(result="7", resultReason="申请人撤回申请", certName=None, certNo=None,
                   finishTime=rec.get("finishTime") or rec["updateTime"])
    return rec


class CivilApp(SystemApp):
    """The civil system's HTTP API and admin hooks."""

    name = "civil"
    deletion_modes = ("flag", "void", "op")

    def __init__(self, seed: int = 42, records: int = 1000, api_key: str = DEFAULT_API_KEY) -> None:
        tl = timeline(seed)
        table = LazyTable(records, tl.time, tl.first_at_or_after, lambda i: generate(seed, i))
        super().__init__(seed, table, OverlayClock(1))
        self.api_key = api_key
        self._by_project: dict[str, str] = {}
        self._new_ids = 0
        self._id_lock = threading.Lock()
        # How the back office answers a case pushed to it pending acceptance (no acceptTime, no result):
        # "fast" accepts on receipt, "slow" after delay_s seconds, "never" leaves it to /_sandbox/decide.
        # ``refuse`` maps a basic code (catalogCode) or task code to the reason it is refused (不予受理) instead.
        self.acceptance: dict[str, Any] = {"mode": "never", "delay_s": 30.0, "refuse": {}}
        self.decisions: list[dict[str, Any]] = []

    # -- record hooks --------------------------------------------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["id"])

    def base_index(self, rid: str) -> int | None:
        return self.numbered_index(rid, _RECORD_NUMBER, lambda i: self.table.current(i).record["id"])

    def _project_index(self, project_no: str) -> int | None:
        return self.numbered_index(project_no, _CASE_NUMBER, lambda i: generate(self.seed, i)["projectNo"])

    def broken(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        return _malform(record, kind)

    def base_is_deleted(self, index: int) -> bool:
        return soft_deleted(self.seed, index) or fate(self.seed, index) in ("void", "deleted")

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return record.get("isDeleted") in (1, "1") or record.get("result") in ("2", "3")

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        now = fmt_dash(t)
        steps = rec["steps"] = rec.get("steps") or []  # a record written without steps keeps the one added
        pending = [p for p in rec.get("specials") or [] if p.get("end") is None]
        if rec.get("result") is None:
            if pending:
                pending[0].update(end=now, result="申请人已补正材料")
            else:
                done = {s.get("action") for s in steps}
                nxt = next((c for c in _CHAIN if c[1] not in done), None)
                if nxt is None:
                    item = _ITEMS_BY_CATALOG.get(str(rec.get("catalogCode")))
                    rec.update(result="0", finishTime=now, resultReason=None)
                    if item is not None and item.cert:
                        rec.update(certName=item.cert, certNo=_cert_no(item, rng.getrandbits(64), 9_000_000 + t % 10**6,
                                                                       _year(t)))
                else:
                    name, action, opinion = nxt
                    steps.append({"seq": len(steps) + 1, "name": name, "action": action, "start": now,
                                  "end": now, "handler": pick(rng, CIVIL_STAFF), "opinion": opinion})
        else:
            applicant = dict(rec.get("applicant") or {})
            applicant["mobile"] = mobile(rng)
            rec["applicant"] = applicant
        rec["updateTime"] = now
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        now = fmt_dash(t)
        if how == "flag":
            rec["isDeleted"] = 1
        else:
            rec.update(result="2" if how == "void" else "3", finishTime=rec.get("finishTime") or now,
                       resultReason="作废处理" if how == "void" else "删除", certName=None, certNo=None)
        rec["updateTime"] = now
        return rec

    # -- acceptance (一窗受理: the back office answers a front-desk case) ------------------------------------------
    def admin_extra(self, req: Request) -> Response | None:
        if (req.method, req.path) == ("GET", "/_sandbox/acceptance"):
            return json_response(200, {**self.acceptance, "decisions": self.decisions})
        if (req.method, req.path) == ("POST", "/_sandbox/acceptance"):
            body = req.json() or {}
            mode = body.get("mode", self.acceptance["mode"])
            if mode not in ("fast", "slow", "never"):
                raise BadRequest("mode must be fast, slow or never")
            refuse = body.get("refuse", self.acceptance["refuse"])
            if not isinstance(refuse, dict):
                raise BadRequest("refuse must map basic codes to reasons")
            self.acceptance = {"mode": mode, "delay_s": float(body.get("delay_s", self.acceptance["delay_s"])),
                               "refuse": {str(k): str(v) for k, v in refuse.items()}}
            return json_response(200, self.acceptance)
        if (req.method, req.path) == ("POST", "/_sandbox/decide"):
            body = req.json() or {}
            decision = body.get("decision")
            if decision not in ("accept", "refuse"):
                raise BadRequest("decision must be accept or refuse")
            if decision == "refuse" and not body.get("reason"):
                raise BadRequest("a refusal needs a reason")
            decided_at = None
            if body.get("at") is not None:  # a drill's decision time (a late answer in a test): ISO 8601 with offset
                try:
                    stamp = datetime.fromisoformat(str(body["at"]))
                except ValueError:
                    raise BadRequest("at must be an ISO 8601 instant") from None
                if stamp.tzinfo is None:
                    raise BadRequest("at needs its offset (+08:00)")
                decided_at = int(stamp.timestamp())
            done = self.decide(str(body.get("projectNo", "")), decision, body.get("reason"), at=decided_at)
            if done is None:
                return json_response(404, {"error": f"no case {body.get('projectNo')!r} here"})
            return json_response(200, done)
        return None

    def decide(self, project_no: str, decision: str, reason: str | None, *, at: int | None = None
               ) -> dict[str, Any] | None:
        """Accept (受理: acceptTime now) or refuse (不予受理: result 6 with the reason) a case held here. ``at``
        (epoch seconds) dates the decision itself at another instant; the change time stays the clock's."""
        with self.table.lock:
            rid = self._by_project.get(project_no)
            entry = self._locate(rid) if rid else None
            if entry is None:
                return None

            def apply(rec: dict[str, Any], t: int) -> dict[str, Any]:
                now = fmt_dash(t if at is None else at)
                if decision == "accept":
                    rec.update(acceptTime=now)
                    rec["steps"] = [*(rec.get("steps") or []), {"seq": len(rec.get("steps") or []) + 1, "name": "受理",
                                    "action": "0", "start": now, "end": now, "handler": CIVIL_STAFF[0],
                                    "opinion": "材料齐全，予以受理"}]
                else:
                    rec.update(result="6", resultReason=reason, finishTime=now)
                rec["updateTime"] = fmt_dash(t)
                return rec

            rid = self._change(entry, apply)
            at = self.table.get(rid)
            answer = {"projectNo": project_no, "decision": decision, "reason": reason,
                      "at": at.record.get("updateTime") if at is not None else None}
            self.decisions.append(answer)
        return answer

    def _on_pending(self, project_no: str, record: dict[str, Any]) -> None:
        """A case arrived pending acceptance: answer it as the acceptance behaviour says."""
        mode = self.acceptance["mode"]
        refuse = self.acceptance["refuse"]
        reason = refuse.get(str(record.get("catalogCode") or "")) or refuse.get(str(record.get("taskCode") or ""))
        decision = "refuse" if reason else "accept"
        if mode == "fast":
            self.decide(project_no, decision, reason)
        elif mode == "slow":
            timer = threading.Timer(self.acceptance["delay_s"], self.decide, (project_no, decision, reason))
            timer.daemon = True
            timer.start()

    # -- API -------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"code": status, "msg": message}, headers)

    def api(self, req: Request) -> Response:
        key = req.headers.get("X-Api-Key") or ""
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            return self.error(401, "invalid api key")
        if req.path == "/api/v1/approvals" and req.method == "GET":
            return self._list(req)
        prefix = "/api/v1/approvals/by-project/"
        if req.path.startswith(prefix) and req.method == "PUT":
            return self._write(req, req.path[len(prefix):])
        return self.error(404, "not found")

    def _list(self, req: Request) -> Response:
        q = req.query
        since = None
        if q.get("updatedSince"):
            try:
                since = parse_dash(q["updatedSince"])
            except ValueError:
                raise BadRequest("invalid updatedSince, expected yyyy-MM-dd HH:mm:ss") from None
        try:
            page_no = int(q.get("pageNo", "1"))
            page_size = int(q.get("pageSize", "100"))
        except ValueError:
            raise BadRequest("pageNo and pageSize must be integers") from None
        if page_no < 1 or not 1 <= page_size <= 500:
            raise BadRequest("pageNo >= 1 and 1 <= pageSize <= 500")
        with self.table.lock:
            total = self.table.count(since)
            rows = self.table.page(since, (page_no - 1) * page_size, page_size)
        data = {"total": total, "pageNo": page_no, "pageSize": page_size, "rows": [self.render(r) for r in rows]}
        resp = json_response(200, {"code": 0, "msg": "success", "data": data})
        self.after_page()
        return resp

    def _write(self, req: Request, project_no: str) -> Response:
        key = req.headers.get("X-Request-Id")
        if not key:
            raise BadRequest("missing X-Request-Id")
        body = req.json()
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        if not project_no or body.get("projectNo", project_no) != project_no:
            raise BadRequest("projectNo in body does not match the path")
        with self.table.lock:
            first = self.recall(key)
            if first is not None:
                return json_response(200, {"code": 0, "msg": "success", "data": {**first, "duplicate": True}})
            rid = self._by_project.get(project_no)
            index = None
            if rid is None:
                index = self._project_index(project_no)
                if index is not None:
                    rid = self.table.current(index).record["id"]
            created = rid is None
            t = self.clock.next()
            if rid is None:
                with self._id_lock:
                    self._new_ids += 1
                    rid = f"MZ{time.gmtime(t + 8 * 3600).tm_year}{9_000_000 + self._new_ids:07d}"
            record = {k: v for k, v in body.items() if k not in ("id", "updateTime")}
            record.setdefault("isDeleted", 0)
            record.update(id=rid, projectNo=project_no, updateTime=fmt_dash(t))
            self.table.put(rid, t, record, index, written=True)
            self._by_project[project_no] = rid
            answer = {"id": rid, "created": created, "duplicate": False}
            self.remember(key, answer)
        if not record.get("acceptTime") and not record.get("result") and record.get("isDeleted") in (0, "0", None):
            self._on_pending(project_no, record)
        return json_response(200, {"code": 0, "msg": "success", "data": answer})
