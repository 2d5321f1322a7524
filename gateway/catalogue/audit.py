"""The consistency audit as a run: read the catalogue store and the ledger's case activity, find, and track.

Each run is a ``catalogue_audit_runs`` row; each finding a ``catalogue_findings`` row keyed by its subject
(:attr:`Finding.key`), so a run can say what is **new** (not open before), **still open** and **fixed** (open
before, not found now). A fixed finding that comes back is new again and reopens its row (first seen stays).

    report = run_audit(engine, dormant_months=12)
    report.counts()  # {"entries": 3000, "findings": 203, "new": 203, "still_open": 0, "fixed": 0}
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import Engine

from gateway.models.datetimes import beijing_iso
from gateway.models.text import storable
from gateway.store import catalogue as store
from gateway.store.lease import Lease

from .entry import CatalogueEntry
from .findings import FINDING_KINDS, Copy, Finding, find, one_of_each

__all__ = ["AuditReport", "latest_findings_summary", "load_copies", "load_entries", "run_audit", "tracked_findings"]


@dataclass
class AuditReport:
    run_id: int
    entries: int
    findings: list[Finding]
    status: dict[str, str] = field(default_factory=dict)
    """finding key → ``new`` | ``open`` (still open)."""
    fixed: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def counts(self) -> dict[str, int]:
        new = sum(1 for s in self.status.values() if s == "new")
        return {"entries": self.entries, "findings": len(self.findings), "new": new,
                "still_open": len(self.findings) - new, "fixed": len(self.fixed)}

    def by_kind(self) -> dict[str, int]:
        out = {k: 0 for k in FINDING_KINDS}
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, **self.counts(), "by_kind": self.by_kind(),
                "duration_s": round(self.duration_s, 3), "fixed_keys": self.fixed,
                "items": [{**f.as_dict(), "status": self.status.get(f.key, "new")} for f in self.findings]}


def load_copies(engine: Engine) -> list[Copy]:
    """The active entries of the catalogue store as each catalogue system lists them."""
    with engine.connect() as conn:
        rows = store.entry_documents(conn)
    return [Copy(r["source"], r["source_changed_at"], CatalogueEntry.model_validate(orjson.loads(r["data"])))
            for r in rows]


def load_entries(engine: Engine) -> list[CatalogueEntry]:
    """The active entries of the catalogue store, as canonical entries: one per entry however many systems list
    it (:func:`~gateway.catalogue.findings.one_of_each`)."""
    return one_of_each(load_copies(engine))[0]


def run_audit(engine: Engine, *, dormant_months: int = 12, now: datetime | None = None) -> AuditReport:
    """Audit the stored catalogue against itself and the ledger; record the run and track its findings.

    The dormant check runs only when the ledger holds cases at all: on a ledger that has not synced yet every
    entry would be "never used", which says nothing about the catalogue. One audit at a time (a lease: two at once
    inserted the same new findings, and the second failed on their keys); :class:`LeaseHeldError` while another runs.
    """
    with Lease(engine, "catalogue:audit") as lease, lease.kept_alive():  # an audit of a large catalogue outlives a TTL
        return _run_audit(engine, dormant_months=dormant_months, now=now)


def _run_audit(engine: Engine, *, dormant_months: int, now: datetime | None) -> AuditReport:
    started = time.perf_counter()
    now = now or datetime.now(timezone.utc)
    entries, found = one_of_each(load_copies(engine))
    with engine.connect() as conn:
        activity = store.last_case_activity(conn)
    found += find(entries, activity=activity or None, now=now, dormant_months=dormant_months)
    unique = {f.key: f for f in found}
    params = orjson.dumps({"dormant_months": dormant_months, "dormant_checked": bool(activity)}).decode()
    with engine.begin() as conn:
        run_id = store.start_audit_run(conn, started_at=now, params=params)
        was_open = store.open_finding_keys(conn)
        keys = list(unique)
        known = store.known_finding_keys(conn, keys)
        status = {k: ("open" if k in was_open else "new") for k in keys}
        rows = [_row(f, run_id, now) for f in unique.values()]
        store.insert_findings(conn, [r for r in rows if r["finding_key"] not in known])
        store.reopen_or_touch_findings(conn, [r for r in rows if r["finding_key"] in known])
        fixed = sorted(was_open - unique.keys())
        store.mark_fixed(conn, fixed, at=now)
        report = AuditReport(run_id, len(entries), list(unique.values()), status, fixed)
        report.duration_s = time.perf_counter() - started
        counts = report.counts()
        store.finish_audit_run(conn, run_id, finished_at=datetime.now(timezone.utc), entries=counts["entries"],
                               findings=counts["findings"], new=counts["new"], still_open=counts["still_open"],
                               fixed=counts["fixed"], duration_s=report.duration_s)
    return report


def _row(f: Finding, run_id: int, now: datetime) -> dict[str, Any]:
    """The stored finding; the texts it quotes made storable (an entry harvested before the harvest replaced NUL
    holds it in its JSON, and one NUL failed the whole run's write on PostgreSQL)."""
    def text(value: str | None) -> str | None:
        return None if value is None else storable(value)

    return {"finding_key": f.key, "kind": f.kind, "rule": f.rule, "element": f.element,
            "catalog_code": f.catalog_code, "item_code": f.item_code, "level": f.level, "division": f.division,
            "expected": text(f.expected), "found": text(f.found), "message": storable(f.message), "status": "open",
            "first_run": run_id, "last_run": run_id, "first_seen_at": now, "last_seen_at": now, "fixed_at": None}


def latest_findings_summary(engine: Engine, *, top: int = 10) -> dict[str, Any]:
    """For the ops console: the last audit run, open findings by kind, and the first ``top`` open findings.

    ``{"run": {"id", "finished_at", "entries", "findings", "new", "still_open", "fixed", "duration_s"} | None,
    "open_by_kind": {kind: n}, "open_total": n, "fixed_total": n, "entries": n, "top": [{"kind", "rule",
    "element", "catalog_code", "item_code", "level", "division", "message", "first_seen_at"}]}``
    """
    with engine.connect() as conn:
        run = store.latest_audit_run(conn)
        counts = store.finding_counts(conn)
        first = store.findings(conn, status="open")[:top]
        entries = store.entry_count(conn)
    open_by_kind = {k: counts.get(("open", k), 0) for k in FINDING_KINDS}
    return {
        "run": None if run is None else {
            "id": run["id"], "finished_at": beijing_iso(run["finished_at"]) if run["finished_at"] else None,
            "entries": run["entries"], "findings": run["findings"], "new": run["new"],
            "still_open": run["still_open"], "fixed": run["fixed"], "duration_s": run["duration_s"]},
        "open_by_kind": open_by_kind,
        "open_total": sum(open_by_kind.values()),
        "fixed_total": sum(n for (status, _), n in counts.items() if status == "fixed"),
        "entries": entries,
        "top": [{"kind": r["kind"], "rule": r["rule"], "element": r["element"], "catalog_code": r["catalog_code"],
                 "item_code": r["item_code"], "level": r["level"], "division": r["division"],
                 "message": r["message"], "first_seen_at": beijing_iso(r["first_seen_at"])} for r in first],
    }


def tracked_findings(engine: Engine, *, status: str | None = "open", kind: str | None = None) -> list[dict[str, Any]]:
    """The stored findings (``status`` open, fixed, or None for both) as the last runs left them."""
    with engine.connect() as conn:
        rows = store.findings(conn, status=status, kind=kind)
    return [{k: (beijing_iso(v) if isinstance(v, datetime) else v) for k, v in r.items()} for r in rows]
