"""hall — the unified online hall (一网通办): REST, snake_case English, OAuth2 client credentials.

Two directions: Tongban pushes cases in (``PUT``/``DELETE /api/cases/{case_no}`` with versions and idempotency
keys; ``/_sandbox/cases`` counts the writes applied per case so tests can prove exactly-once delivery), and
reads out the cases accepted at the hall's own windows (``GET /api/frontdesk/cases``, keyset paging through
an RFC 8288 ``Link`` header). Front-desk cases are made with ``POST /_sandbox/frontdesk`` for a department
(civil or estate) and carry that department's items.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlencode

from . import civil, estate, offices
from .app import BadRequest, Request, Response, SystemApp, json_response
from .clock import OverlayClock, Timeline, timeline_of, fmt_date, fmt_iso, fmt_iso_ms, parse_iso_ms
from .identifiers import break_check
from .lifecycle import promise_time
from .people import company, person, social_org
from .prng import between, pick, record_rng
from .table import LazyTable
from .vocab import CIVIL_ITEMS, DEPARTMENTS, ESTATE_ITEMS, HALL_STAFF, JINAN_DISTRICTS

__all__ = ["generate", "frontdesk_case", "HallApp", "DEPT", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET"]

DEPT = DEPARTMENTS["hall"]
DEFAULT_CLIENT_ID = "tongban"
DEFAULT_CLIENT_SECRET = "hall-demo-secret"
_SALT_TIME, _SALT_REC, _SALT_NEW = 0x41, 0x42, 0x43
_KIND = {"1": "person", "2": "company", "3": "public_institution", "4": "social_org", "5": "unincorporated",
         "6": "government", "7": "other"}
# Which department's catalogue a front-desk case draws from, and how that department codes its items.
_DEPTS = {
    DEPARTMENTS["civil"]["code"]: (DEPARTMENTS["civil"], CIVIL_ITEMS, civil.task_code),
    DEPARTMENTS["estate"]["code"]: (DEPARTMENTS["estate"], ESTATE_ITEMS, estate.task_code),
}
# Items a department handles that street offices may also take (by basic code), beyond its own catalogue.
_EXTRA_ITEMS = {DEPARTMENTS["civil"]["code"]: offices.TONGBAN_ITEMS}
# The hall's own words for how an application came in.
_ORIGINS = ("window", "web", "app", "kiosk", "express")
_DEPT_CODES = tuple(_DEPTS)


def timeline(seed: int) -> Timeline:
    return timeline_of(seed, _SALT_TIME, 1000)


def frontdesk_case(rng: random.Random, dept_code: str, accepted: int, seq: int, fd_id: str,
                   updated_ms: int, *, catalog: str | None = None, intake: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    """A case accepted at a hall window at ``accepted`` (epoch s) for department ``dept_code``.

    ``intake`` (the 一窗受理 options of ``POST /_sandbox/frontdesk``): ``pending`` — received but not yet
    accepted by the department (status ``submitted``, no ``accepted_at``); ``office`` — the street office that
    took it; ``origin`` — window, web, app, kiosk or express; ``proxy`` — ``{"name", "kind": 代办|帮办,
    "letter_no"}``. ``catalog`` picks the item by its basic code."""
    dept, items, code_of = _DEPTS[dept_code]
    if catalog:
        item = next((it for it in (*items, *_EXTRA_ITEMS.get(dept_code, ())) if it.catalog == catalog), None)
        if item is None:
            raise BadRequest(f"department {dept_code} has no item with basic code {catalog}")
    else:
        item = pick(rng, items)
    if item.applicants == "company":
        who = company(rng) if rng.random() < 0.7 else person(rng, accepted)
    elif item.applicants == "org":
        who = social_org(rng) if rng.random() < 0.6 else person(rng, accepted)
    else:
        who = person(rng, accepted)
    division = pick(rng, JINAN_DISTRICTS)[0]
    applied = accepted - between(rng, 60, 1800)
    return {
        "fd_id": fd_id, "case_no": division + fmt_date(accepted) + f"{seq:07d}", "item_code": code_of(item),
        "item_name": item.name, "case_type": "instant" if item.case_type == "1" else "promised",
        "applicant": {"name": who.name, "kind": _KIND[who.kind], "id_type": who.cert_type, "id_no": who.cert_no},
        "dept_code": dept["code"], "dept_name": dept["name"], "division": division, "status": "accepted",
        "applied_at": fmt_iso(applied), "accepted_at": fmt_iso(accepted),
        "due_at": fmt_iso(promise_time(accepted, item.promise_days)), "finished_at": None, "result": None,
        "certificate": None, "version": 1, "origin": "window", "handler": pick(rng, HALL_STAFF),
        "deleted": False, "updated_at": fmt_iso_ms(updated_ms),
    } | _intake(intake or {}, accepted)


def _intake(intake: dict[str, Any], accepted: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if intake.get("pending"):
        out.update(status="submitted", accepted_at=None)
    if intake.get("office"):
        where = offices.office(str(intake["office"]))
        if where is None:
            raise BadRequest(f"unknown intake office {intake['office']!r}")
        out["intake_office"] = where
    if intake.get("origin"):
        if intake["origin"] not in _ORIGINS:
            raise BadRequest(f"origin must be one of {list(_ORIGINS)}")
        out["origin"] = intake["origin"]
    if intake.get("proxy"):
        out["proxy"] = dict(intake["proxy"])
    return out


def generate(seed: int, i: int) -> dict[str, Any]:
    """Base front-desk case ``i`` (only served when the hall is started with base records)."""
    rng = record_rng(seed, i, _SALT_REC)
    ms = timeline(seed).time(i)
    return frontdesk_case(rng, _DEPT_CODES[int(rng.random() * 2)], ms // 1000 - between(rng, 0, 3600), i + 1,
                          f"FD{i + 1:010d}", ms)


def _malform(rec: dict[str, Any], kind: str) -> dict[str, Any]:
    rec = dict(rec)
    if kind == "bad_checksum":
        rec["applicant"] = {**rec["applicant"], "id_type": "111", "id_no": break_check(rec["applicant"]["id_no"])}
    elif kind == "impossible_date":
        rec["applied_at"] = rec["applied_at"][:4] + "-02-30" + rec["applied_at"][10:]
    elif kind == "alt_date_format":
        rec["applied_at"] = rec["applied_at"][:19].replace("T", " ")
    elif kind == "unknown_code":
        rec["case_type"] = "joint"
    return rec


def _encode_token(since: int | None, pos: tuple[Any, ...]) -> str:
    raw = json.dumps({"s": since, "p": list(pos)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[int | None, tuple[Any, ...]]:
    try:
        obj = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        pos = tuple(obj["p"])
        if pos[0] not in ("b", "o"):
            raise ValueError
        return obj["s"], pos
    except Exception:
        raise BadRequest("invalid page_token") from None


class HallApp(SystemApp):
    """The hall's HTTP API (token endpoint, case push, front-desk feed) and admin hooks."""

    name = "hall"
    deletion_modes = ("op", "flag", "void")

    def __init__(self, seed: int = 42, records: int = 0, client_id: str = DEFAULT_CLIENT_ID,
                 client_secret: str = DEFAULT_CLIENT_SECRET, token_ttl: float = 300) -> None:
        tl = timeline(seed)
        table = LazyTable(records, tl.time, tl.first_at_or_after, lambda i: generate(seed, i))
        super().__init__(seed, table, OverlayClock(1000))
        self.clients = {client_id: client_secret}
        self.token_ttl = token_ttl
        self._tokens: dict[str, float] = {}
        self._token_lock = threading.Lock()
        self.cases: dict[str, dict[str, Any]] = {}
        self._fd_count = 0

    # -- record hooks (front-desk cases) -----------------------------------------------------------------
    def record_id(self, record: dict[str, Any]) -> str:
        return str(record["fd_id"])

    def base_index(self, rid: str) -> int | None:
        if len(rid) == 12 and rid.startswith("FD") and rid[2:].isdigit():
            i = int(rid[2:]) - 1
            return i if 0 <= i < self.table.n else None
        return None

    def broken(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        return _malform(record, kind)

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return bool(record.get("deleted"))

    def mutated(self, rec: dict[str, Any], t: int, rng: random.Random) -> dict[str, Any]:
        if not rec.get("deleted"):
            rec["status"] = "processing"
        rec["version"] = int(rec.get("version", 1)) + 1
        rec["updated_at"] = fmt_iso_ms(t)
        return rec

    def deleted(self, rec: dict[str, Any], t: int, how: str) -> dict[str, Any]:
        rec.update(status="withdrawn", deleted=True, version=int(rec.get("version", 1)) + 1,
                   updated_at=fmt_iso_ms(t))
        return rec

    def new_frontdesk(self, count: int, dept_code: str, *, catalog: str | None = None,
                      intake: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Accept ``count`` new cases at the window for ``dept_code`` (civil's or estate's USCC) now."""
        if dept_code not in _DEPTS:
            raise BadRequest(f"dept_code must be one of {list(_DEPTS)}")
        out = []
        with self.table.lock:
            for _ in range(count):
                self._fd_count += 1
                n = self._fd_count
                t = self.clock.next()
                rec = frontdesk_case(record_rng(self.seed, n, _SALT_NEW), dept_code, t // 1000, 5_000_000 + n,
                                     f"FD{9_000_000_000 + n:010d}", t, catalog=catalog, intake=intake)
                self.table.put(rec["fd_id"], t, rec)
                out.append(rec)
        return out

    # -- admin extras ----------------------------------------------------------------------------------------
    def admin_extra(self, req: Request) -> Response | None:
        if (req.method, req.path) == ("GET", "/_sandbox/cases"):
            with self.table.lock:
                rows = [{"case_no": k, **{f: v[f] for f in ("version", "deleted", "applied_writes", "case")}}
                        for k, v in sorted(self.cases.items())]
            if req.query.get("case_no"):
                rows = [r for r in rows if r["case_no"] == req.query["case_no"]]
            return json_response(200, rows)
        if (req.method, req.path) == ("POST", "/_sandbox/frontdesk"):
            body = req.json() or {}
            count = body.get("count", 1)
            if not isinstance(count, int) or count < 0:
                raise BadRequest("count must be a non-negative integer")
            intake = {k: body[k] for k in ("pending", "office", "origin", "proxy") if body.get(k)}
            return json_response(200, {"created": self.new_frontdesk(count, str(body.get("dept_code", "")),
                                                                     catalog=body.get("item"), intake=intake)})
        return None

    def stats_snapshot(self) -> dict[str, Any]:
        out = super().stats_snapshot()
        with self.table.lock:
            out["cases"] = len(self.cases)
            out["cases_deleted"] = sum(1 for c in self.cases.values() if c["deleted"])
        return out

    # -- API -------------------------------------------------------------------------------------------------
    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        code = {400: "invalid_request", 401: "invalid_token", 404: "not_found", 429: "rate_limited",
                503: "service_unavailable"}.get(status, "error")
        return json_response(status, {"error": code, "error_description": message}, headers)

    def api(self, req: Request) -> Response:
        if req.path == "/oauth/token" and req.method == "POST":
            return self._token(req)
        auth = req.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        with self._token_lock:
            expiry = self._tokens.get(token)
        if expiry is None or time.monotonic() >= expiry:
            return self.error(401, "access token missing, unknown or expired",
                              {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if req.path == "/api/frontdesk/cases" and req.method == "GET":
            return self._frontdesk(req)
        if req.path.startswith("/api/cases/"):
            case_no = req.path[len("/api/cases/"):]
            if req.method == "PUT":
                return self._put(req, case_no)
            if req.method == "DELETE":
                return self._delete(req, case_no)
            if req.method == "GET":
                case = self.cases.get(case_no)
                if case is None or case["deleted"]:
                    return self.error(404, "no such case")
                return json_response(200, {**case["case"], "version": case["version"]})
        return self.error(404, "not found")

    def _token(self, req: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = req.headers.get("Authorization") or ""
        if auth[:6].lower() == "basic ":
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        if form.get("grant_type") != "client_credentials":
            return json_response(400, {"error": "unsupported_grant_type"})
        if not client_id or self.clients.get(client_id) != client_secret:
            return json_response(401, {"error": "invalid_client"})
        token = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._token_lock:
            for t in [t for t, exp in self._tokens.items() if exp <= now]:
                del self._tokens[t]
            self._tokens[token] = now + self.token_ttl
        return json_response(200, {"access_token": token, "token_type": "Bearer",
                                   "expires_in": max(1, int(round(self.token_ttl)))})

    def _frontdesk(self, req: Request) -> Response:
        q = req.query
        try:
            since = parse_iso_ms(q["changed_since"]) if q.get("changed_since") else None
        except ValueError:
            raise BadRequest("changed_since must be an ISO 8601 time") from None
        try:
            per_page = int(q.get("per_page", "50"))
        except ValueError:
            raise BadRequest("per_page must be an integer") from None
        if not 1 <= per_page <= 500:
            raise BadRequest("per_page must be between 1 and 500")
        pos = None
        if q.get("page_token"):
            since, pos = _decode_token(q["page_token"])
        with self.table.lock:
            rows = self.table.after(since, pos, per_page + 1)
        headers = {}
        if len(rows) > per_page:
            rows = rows[:per_page]
            params = {"per_page": per_page, "page_token": _encode_token(since, rows[-1].pos)}
            headers["Link"] = f'<{req.base_url}/api/frontdesk/cases?{urlencode(params)}>; rel="next"'
        resp = json_response(200, [self.render(r) for r in rows], headers)
        self.after_page()
        return resp

    def _version(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value))
            except ValueError:
                raise BadRequest("version must be an integer") from None
        return value

    def _put(self, req: Request, case_no: str) -> Response:
        key = req.headers.get("Idempotency-Key")
        if not key:
            raise BadRequest("missing Idempotency-Key")
        body = req.json()
        if not isinstance(body, dict) or "version" not in body:
            raise BadRequest("body must be a JSON object with a version")
        if not case_no or body.get("case_no", case_no) != case_no:
            raise BadRequest("case_no in body does not match the path")
        version = self._version(body["version"])
        with self.table.lock:
            first = self.recall(key)
            if first is not None:
                return json_response(200, {**first, "duplicate": True})
            current = self.cases.get(case_no)
            if current is not None and version <= current["version"]:
                return json_response(409, {"error": "stale_version", "current_version": current["version"]})
            created = current is None
            case = {**body, "case_no": case_no, "version": version}
            self.cases[case_no] = {"case": case, "version": version, "deleted": False,
                                   "applied_writes": (0 if created else current["applied_writes"]) + 1}
            answer = {"case_no": case_no, "version": version, "deleted": False, "duplicate": False}
            self.remember(key, answer)
        return json_response(201 if created else 200, answer)

    def _delete(self, req: Request, case_no: str) -> Response:
        key = req.headers.get("Idempotency-Key")
        if not key:
            raise BadRequest("missing Idempotency-Key")
        if "version" not in req.query:
            raise BadRequest("version query parameter is required")
        version = self._version(req.query["version"])
        with self.table.lock:
            first = self.recall(key)
            if first is not None:
                return json_response(200, {**first, "duplicate": True})
            current = self.cases.get(case_no)
            if current is None:  # a case created and deleted between two pushes: keep the tombstone
                current = self.cases[case_no] = {"case": {"case_no": case_no}, "version": 0, "deleted": True,
                                                 "applied_writes": 0}
            if version <= current["version"]:
                return json_response(409, {"error": "stale_version", "current_version": current["version"]})
            current.update(version=version, deleted=True, applied_writes=current["applied_writes"] + 1)
            current["case"] = {**current["case"], "version": version}
            answer = {"case_no": case_no, "version": version, "deleted": True, "duplicate": False}
            self.remember(key, answer)
        return json_response(200, answer)
