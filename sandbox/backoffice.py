"""What the seal-engraving and tax back offices share: parts of a company-opening (开办企业) pushed to them, the
business licence checked through Tongban's certificate gateway instead of asking the company for a copy, and a
clerk's decision.

A subclass is one foreign system with its own conventions (routes, field names, codes, envelope, clock); this base
only keeps the life of a part:

    received (pushed) ─▶ licence check (background worker, through the gateway)
        ├─ licence released for this case ─▶ accepted, working ─▶ finished | refused   (clerk: decide / auto)
        └─ no consent, not entitled, no licence, gateway down ─▶ held, with the reason   (recheck later)

The check runs on a worker thread, not inside the push request: a real back office answers the push at once and
works afterwards, and the gateway it calls reads the very ledger the pushing side writes.

Admin (``/_sandbox/``): ``POST gateway {"url", "credential"}`` — where Tongban's gateway is and this department's
client credential; ``POST processing {"mode": "manual"|"auto"}`` — ``auto`` finishes a part as soon as its licence
checked out; ``POST decide {"case_no", "decision": "finish"|"refuse", "reason"}``; ``POST recheck {"case_no"}``
(a held part, once consent or the licence is there); ``GET cases[?case_no=]`` — every part with every body
received for it, how many writes were applied and the licence checks made; ``POST wait {"case_no", "timeout"}``
— until the part's licence check is done.
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from typing import Any

from .app import BadRequest, Request, Response, SystemApp, json_response
from .certgate import GatewayAccess, LicenceCheck, fetch_licence
from .clock import OverlayClock
from .table import LazyTable

__all__ = ["ReuseBackOffice", "LICENCE_TYPE"]

LICENCE_TYPE = "11100000MB0143028R001"
"""营业执照 (the type the market regulator's registry issues under, defined by 国家市场监督管理总局)."""


class ReuseBackOffice(SystemApp):
    """A back office whose parts need the applicant's business licence, fetched through the gateway."""

    deletion_modes = ("flag",)

    def __init__(self, seed: int, token: str, scale: int) -> None:
        super().__init__(seed, LazyTable(0, lambda i: 0, lambda since: 0, lambda i: {}), OverlayClock(scale))
        self.token = token
        self.access: GatewayAccess | None = None
        self.mode = "manual"
        self.parts: dict[str, dict[str, Any]] = {}
        """case number → {"received": [body…], "applied_writes": n, "checks": [...], "checked": bool}."""
        self._lock = threading.RLock()
        self._work: queue.Queue[str] = queue.Queue()
        self._idle = threading.Condition(self._lock)
        self._worker: threading.Thread | None = None

    # -- what each system says its own way ------------------------------------------------------------------
    def new_record(self, body: dict[str, Any], t: int) -> dict[str, Any]:
        """The system's own record for a newly received part (status: waiting for the licence check)."""
        raise NotImplementedError

    def updated_record(self, record: dict[str, Any], body: dict[str, Any], t: int) -> dict[str, Any]:
        """A later version of the same part from Tongban: what the system takes over (its own status stays)."""
        raise NotImplementedError

    def licence_query(self, record: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """``{"holder_id", "item_code", "case_no", "consent"}`` of a part: the consent token as the last body
        received carried it (a system keeps an authorisation with the application, it does not list it)."""
        raise NotImplementedError

    def verified(self, record: dict[str, Any], check: LicenceCheck, t: int) -> dict[str, Any]:
        raise NotImplementedError

    def held(self, record: dict[str, Any], reason: str, t: int) -> dict[str, Any]:
        raise NotImplementedError

    def finished(self, record: dict[str, Any], t: int) -> dict[str, Any]:
        raise NotImplementedError

    def refused(self, record: dict[str, Any], reason: str, t: int) -> dict[str, Any]:
        raise NotImplementedError

    def case_no_of(self, record: dict[str, Any]) -> str:
        raise NotImplementedError

    # -- receiving a part -------------------------------------------------------------------------------------
    def receive(self, key: str, case_no: str, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store a pushed part (idempotent by ``key``); returns ``(answer, duplicate)``."""
        with self._lock:
            first = self.recall(key)
            if first is not None:
                return first, True
            t = self.clock.next()
            entry = self.table.get(case_no)
            part = self.parts.setdefault(case_no, {"received": [], "applied_writes": 0, "checks": [],
                                                   "checked": False})
            part["received"].append(copy.deepcopy(body))
            part["applied_writes"] += 1
            if entry is None:
                record = self.new_record(body, t)
                self.table.put(case_no, t, record)
                self._enqueue(case_no)
            else:
                record = self.updated_record(copy.deepcopy(entry.record), body, t)
                self.table.put(case_no, t, record)
            answer = {"case_no": case_no}
            self.remember(key, answer)
            return answer, False

    def record_id(self, record: dict[str, Any]) -> str:
        return self.case_no_of(record)

    def base_index(self, rid: str) -> int | None:
        return None

    def is_deleted(self, record: dict[str, Any]) -> bool:
        return False

    def render(self, row: Any) -> dict[str, Any]:
        return copy.deepcopy(row.record)  # type: ignore[no-any-return]

    # -- the licence check, off the request thread ---------------------------------------------------------
    def _enqueue(self, case_no: str) -> None:
        with self._lock:
            self.parts[case_no]["checked"] = False
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name=f"sandbox-{self.name}-licences", daemon=True)
                self._worker.start()
        self._work.put(case_no)

    def _run(self) -> None:
        while True:
            case_no = self._work.get()
            try:
                self._check(case_no)
            except Exception as exc:  # noqa: BLE001 - a bug here must show as a held part, not a dead thread
                reason = f"证照核验出错：{type(exc).__name__}: {exc}"
                self._apply(case_no, lambda r, t: self.held(r, reason, t))
            finally:
                with self._lock:
                    self.parts[case_no]["checked"] = True
                    self._idle.notify_all()

    def _check(self, case_no: str) -> None:
        with self._lock:
            entry = self.table.get(case_no)
            if entry is None:
                return
            ask = self.licence_query(entry.record, self.parts[case_no]["received"][-1])
        check = fetch_licence(self.access, holder_id=ask["holder_id"], type_code=LICENCE_TYPE,
                              item_code=ask["item_code"], case_no=ask["case_no"], consent=ask["consent"])
        with self._lock:
            self.parts[case_no]["checks"].append({"ok": check.ok, "reason": check.reason,
                                                  "licence": check.licence.get("number"),
                                                  "identifier": check.licence.get("identifier"),
                                                  "file_sha256": check.file_sha256, "audit": check.audit})
        if not check.ok:
            self._apply(case_no, lambda r, t: self.held(r, check.reason, t))
            return
        self._apply(case_no, lambda r, t: self.verified(r, check, t))
        if self.mode == "auto":
            self._apply(case_no, self.finished)

    def _apply(self, case_no: str, change: Any) -> None:
        with self._lock:
            entry = self.table.get(case_no)
            if entry is None:
                return
            t = self.clock.next()
            self.table.put(case_no, t, change(copy.deepcopy(entry.record), t))

    # -- admin -------------------------------------------------------------------------------------------------
    def admin_extra(self, req: Request) -> Response | None:
        route = (req.method, req.path)
        body = (req.json() or {}) if req.method == "POST" else {}
        if route == ("POST", "/_sandbox/gateway"):
            if not body.get("url") or not body.get("credential"):
                raise BadRequest("url and credential are required")
            self.access = GatewayAccess(str(body["url"]), str(body["credential"]))
            return json_response(200, {"url": self.access.url})
        if route == ("POST", "/_sandbox/processing"):
            if body.get("mode") not in ("manual", "auto"):
                raise BadRequest("mode must be manual or auto")
            self.mode = str(body["mode"])
            return json_response(200, {"mode": self.mode})
        if route == ("POST", "/_sandbox/decide"):
            return self._decide(body)
        if route == ("POST", "/_sandbox/recheck"):
            case_no = str(body.get("case_no") or "")
            if case_no not in self.parts:
                return json_response(404, {"error": f"no part {case_no}"})
            self._enqueue(case_no)
            return json_response(200, {"case_no": case_no, "queued": True})
        if route == ("POST", "/_sandbox/wait"):
            return self._wait(str(body.get("case_no") or ""), float(body.get("timeout", 30)))
        if route == ("GET", "/_sandbox/cases"):
            return json_response(200, self.snapshot(req.query.get("case_no")))
        return None

    def snapshot(self, case_no: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for number, part in sorted(self.parts.items()):
                if case_no and number != case_no:
                    continue
                entry = self.table.get(number)
                out.append({"case_no": number, "record": copy.deepcopy(entry.record) if entry else None,
                            **copy.deepcopy(part)})
            return out

    def _decide(self, body: dict[str, Any]) -> Response:
        case_no = str(body.get("case_no") or "")
        decision = body.get("decision")
        if decision not in ("finish", "refuse"):
            raise BadRequest("decision must be finish or refuse")
        if decision == "refuse" and not body.get("reason"):
            raise BadRequest("a refusal needs a reason")
        with self._lock:
            if self.table.get(case_no) is None:
                return json_response(404, {"error": f"no part {case_no}"})
        reason = str(body.get("reason") or "")
        self._apply(case_no, (lambda r, t: self.refused(r, reason, t)) if decision == "refuse" else self.finished)
        return json_response(200, {"case_no": case_no, "decision": decision})

    def _wait(self, case_no: str, timeout: float) -> Response:
        deadline = time.monotonic() + max(0.0, min(timeout, 120.0))
        with self._lock:
            while not self.parts.get(case_no, {}).get("checked"):
                left = deadline - time.monotonic()
                if left <= 0:
                    return json_response(408, {"error": f"part {case_no}: licence check not done"})
                self._idle.wait(left)
        return json_response(200, self.snapshot(case_no)[0])
