"""What every simulated system shares: request/response types, the admin API, idempotency, churn, stats.

A system subclasses ``SystemApp`` and supplies its own API (``api``), its record format (``render``), how a
record changes (``mutated``) and how it is deleted (``deleted``). The HTTP harness only moves bytes.
"""

from __future__ import annotations

import copy
import json
import random
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .clock import OverlayClock
from .faults import FaultInjector, Faults, malformed_kind, parse_faults
from .prng import mix
from .table import Entry, LazyTable, Row

__all__ = ["Request", "Response", "SystemApp", "json_response", "nginx_page", "BadRequest", "SoapFault",
           "soap_request_root"]

Record = dict[str, Any]


class BadRequest(Exception):
    """A request the system rejects with HTTP 400 (in its own error format)."""


class SoapFault(Exception):
    """A SOAP service's refusal: ``code`` (Client, VersionMismatch, Server.Busy…) and the fault string."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def soap_request_root(body: bytes, unreadable: str) -> ET.Element:
    """The root element of a SOAP request. A DTD is refused (Client fault "不允许 DTD"); XML that does not parse
    is a Client fault ``unreadable`` followed by the parser's message."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise SoapFault("Client", "不允许 DTD")
    try:
        return ET.fromstring(body)
    except ET.ParseError as e:
        raise SoapFault("Client", f"{unreadable}{e}") from None


@dataclass
class Request:
    method: str
    path: str  # without the query string
    target: str  # the request target exactly as sent (path and query), which the estate signature covers
    query: dict[str, str]
    headers: Any  # email.message.Message: case-insensitive .get()
    body: bytes
    base_url: str  # scheme://host:port as the client addressed us

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadRequest(f"invalid JSON body: {e}") from None


@dataclass
class Response:
    status: int
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                    dict(headers or {}))


def nginx_page(status: int, title: str, content_type: str = "text/html") -> Response:
    """The error page an nginx in front of a system answers with (e.g. 503 Service Temporarily Unavailable)."""
    page = (f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
    return Response(status, page.encode("ascii"), {}, content_type)


class SystemApp:
    """Base of the civil, estate and hall apps. Subclasses set ``name`` and build ``self.table``."""

    name = "system"
    deletion_modes: tuple[str, ...] = ("op",)

    def __init__(self, seed: int, table: LazyTable, clock: OverlayClock) -> None:
        self.seed = seed
        self.table = table
        self.clock = clock
        self.faults = FaultInjector(seed)
        self.on_faults_changed: Callable[[Faults], None] | None = None
        self._rng = random.Random(mix(seed, 1, 0x6368726E))
        self._idem: dict[str, Any] = {}
        self._base_deleted: int | None = None
        self._counter_lock = threading.Lock()
        self.stats = {"requests": 0, "faulted": 0, "writes_applied": 0, "duplicate_writes": 0, "mutations": 0}

    # -- to be supplied by each system -------------------------------------------------------------------------
    def api(self, req: Request) -> Response:
        raise NotImplementedError

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"error": message}, headers)

    def render(self, row: Row | Entry) -> Record:
        """A record as the API shows it: broken the way the fault settings say, if they say so."""
        kind = self.malformation(row)
        return self.broken(row.record, kind) if kind else row.record

    def broken(self, record: Record, kind: str) -> Record:
        """``record`` with the malformation ``kind`` (each system breaks its records in its own ways)."""
        raise NotImplementedError

    def numbered_index(self, number: str, pattern: re.Pattern[str], number_of: Callable[[int], str]) -> int | None:
        """The base index of the record numbered ``number``, or None. ``pattern`` must match the whole number and
        capture the record's 1-based serial as ``n``; ``number_of(index)`` is that base record's number, which
        must be ``number`` (a well-formed number of no base record is not one)."""
        match = pattern.fullmatch(number)
        if match is None:
            return None
        index = int(match.group("n")) - 1
        return index if 0 <= index < self.table.n and number_of(index) == number else None

    def record_id(self, record: Record) -> str:
        raise NotImplementedError

    def base_index(self, rid: str) -> int | None:
        """The base index of a record id, or None if the id is not a base record's."""
        raise NotImplementedError

    def mutated(self, record: Record, t: int, rng: random.Random) -> Record:
        """The record after one change at overlay time ``t`` (a step advances, a case finishes…)."""
        raise NotImplementedError

    def deleted(self, record: Record, t: int, how: str) -> Record:
        raise NotImplementedError

    def is_deleted(self, record: Record) -> bool:
        raise NotImplementedError

    def base_is_deleted(self, index: int) -> bool:
        """Whether base record ``index`` is generated deleted; must be cheap (called for every index)."""
        return False

    def admin_extra(self, req: Request) -> Response | None:
        return None

    # -- dispatch ------------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.path.startswith("/_sandbox/"):
            try:
                return self.admin(req)
            except BadRequest as e:
                return json_response(400, {"error": str(e)})
        with self._counter_lock:
            self.stats["requests"] += 1
        fault = self.faults.before_request()
        if fault is not None:
            with self._counter_lock:
                self.stats["faulted"] += 1
            status, headers, message = fault
            return self.error(status, message, headers)
        try:
            return self.api(req)
        except BadRequest as e:
            return self.error(400, str(e))

    # -- admin API ---------------------------------------------------------------------------------------------
    def admin(self, req: Request) -> Response:
        route = (req.method, req.path)
        if route == ("GET", "/_sandbox/records"):
            return Response(200, self._ndjson(), content_type="application/x-ndjson; charset=utf-8")
        if route == ("GET", "/_sandbox/stats"):
            return json_response(200, self.stats_snapshot())
        if route == ("GET", "/_sandbox/faults"):
            return json_response(200, self.faults.faults.as_dict())
        if route == ("POST", "/_sandbox/faults"):
            try:
                faults = parse_faults(req.json() or {})
            except ValueError as e:
                raise BadRequest(str(e)) from None
            self.set_faults(faults)
            return json_response(200, faults.as_dict())
        if route == ("POST", "/_sandbox/mutate"):
            body = req.json() or {}
            if "ids" in body:
                edits = body.get("set") or {}
                if not isinstance(edits, dict):
                    raise BadRequest("set must be an object of dotted field paths and their new values")
                changed, unknown = self.mutate_ids([str(x) for x in body["ids"]], edits)
                return json_response(200, {"mutated": changed, "unknown": unknown})
            count = body.get("count", 1)
            if not isinstance(count, int) or count < 0:
                raise BadRequest("count must be a non-negative integer")
            return json_response(200, {"mutated": self.churn(count), "unknown": []})
        if route == ("POST", "/_sandbox/delete"):
            body = req.json() or {}
            how = body.get("how", self.deletion_modes[0])
            if how not in self.deletion_modes:
                raise BadRequest(f"how must be one of {list(self.deletion_modes)}")
            done, unknown = self.delete_ids([str(x) for x in body.get("ids", [])], how)
            return json_response(200, {"deleted": done, "unknown": unknown})
        if route == ("GET", "/_sandbox/malformed"):
            return json_response(200, self.malformed())
        extra = self.admin_extra(req)
        if extra is not None:
            return extra
        return json_response(404, {"error": f"no admin route {req.method} {req.path}"})

    def set_faults(self, faults: Faults) -> None:
        self.faults.set(faults)
        self.clock.burst(faults.same_time_burst)
        if self.on_faults_changed is not None:
            self.on_faults_changed(faults)

    def _ndjson(self) -> Iterator[bytes]:
        buf: list[str] = []
        for row in self.table.iterate():
            buf.append(json.dumps(self.render(row), ensure_ascii=False, separators=(",", ":")))
            if len(buf) >= 500:
                yield ("\n".join(buf) + "\n").encode("utf-8")
                buf = []
        if buf:
            yield ("\n".join(buf) + "\n").encode("utf-8")

    def stats_snapshot(self) -> dict[str, Any]:
        t = self.table
        with t.lock:
            if self._base_deleted is None:
                self._base_deleted = sum(1 for i in range(t.n) if self.base_is_deleted(i))
            overlay = t.overlay()
            deleted = self._base_deleted - sum(1 for i in t.overridden if self.base_is_deleted(i))
            deleted += sum(1 for e in overlay if self.is_deleted(e.record))
            out: dict[str, Any] = {"records": t.n + t.extra_count, "deleted": deleted, "overlay": len(overlay)}
        with self._counter_lock:
            out.update(self.stats)
        return out

    # -- changes -------------------------------------------------------------------------------------------
    def malformation(self, row: Row | Entry) -> str | None:
        """The malformation to apply to this row, if the fault is on and the row is generated data."""
        rate = self.faults.faults.malformed_rate
        if not rate or row.index is None or row.written:
            return None
        return malformed_kind(self.seed, row.index, rate)

    def malformed(self) -> list[dict[str, str]]:
        rate = self.faults.faults.malformed_rate
        out = []
        if rate <= 0:
            return out
        t = self.table
        for i in range(t.n):
            kind = malformed_kind(self.seed, i, rate)
            if kind:
                with t.lock:
                    entry = t.current(i)
                if not entry.written:
                    out.append({"id": self.record_id(entry.record), "kind": kind})
        return out

    def _locate(self, rid: str) -> Entry | None:
        entry = self.table.get(rid)
        if entry is not None:
            return entry
        i = self.base_index(rid)
        return self.table.current(i) if i is not None else None

    def _change(self, entry: Entry, fn: Callable[[Record, int], Record]) -> str:
        t = self.clock.next()
        new = fn(copy.deepcopy(entry.record), t)
        rid = self.record_id(new)
        self.table.put(rid, t, new, entry.index, written=entry.written)
        return rid

    def churn(self, n: int) -> list[str]:
        """Change ``n`` random records now, chosen from the whole table (before and after any client's page)."""
        out = []
        with self.table.lock:
            for index, rid in self.table.pick(self._rng, n):
                entry = self.table.current(index) if index is not None else self.table.get(rid or "")
                if entry is not None:
                    out.append(self._change(entry, lambda r, t: self.mutated(r, t, self._rng)))
        with self._counter_lock:
            self.stats["mutations"] += len(out)
        return out

    def after_page(self) -> None:
        """Called after every page the API serves: the "records updated while the client pages" fault."""
        n = self.faults.faults.mutate_per_page
        if n:
            self.churn(n)

    def mutate_ids(self, ids: list[str], edits: dict[str, Any] | None = None) -> tuple[list[str], list[str]]:
        """Change the records ``ids`` now as this system changes a record (:meth:`mutated`), then set ``edits``
        (``{"applicant.phone": "139…"}``: a dotted path into the record, created where missing) — a clerk's edit."""
        done, unknown = [], []

        def change(record: Record, t: int) -> Record:
            record = self.mutated(record, t, self._rng)
            for path, value in (edits or {}).items():
                *parents, leaf = str(path).split(".")
                node = record
                for part in parents:
                    node = node.setdefault(part, {})
                node[leaf] = value
            return record

        with self.table.lock:
            for rid in ids:
                entry = self._locate(rid)
                if entry is None:
                    unknown.append(rid)
                else:
                    done.append(self._change(entry, change))
        with self._counter_lock:
            self.stats["mutations"] += len(done)
        return done, unknown

    def delete_ids(self, ids: list[str], how: str) -> tuple[list[str], list[str]]:
        done, unknown = [], []
        with self.table.lock:
            for rid in ids:
                entry = self._locate(rid)
                if entry is None:
                    unknown.append(rid)
                else:
                    done.append(self._change(entry, lambda r, t: self.deleted(r, t, how)))
        return done, unknown

    # -- idempotency ---------------------------------------------------------------------------------------------
    def recall(self, key: str) -> Any | None:
        """The first answer given to this idempotency key (counted as a duplicate write), or None."""
        with self._counter_lock:
            first = self._idem.get(key)
            if first is not None:
                self.stats["duplicate_writes"] += 1
            return first

    def remember(self, key: str, answer: Any) -> None:
        with self._counter_lock:
            self._idem[key] = answer
            self.stats["writes_applied"] += 1
