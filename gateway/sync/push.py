"""``tongban push``: drain the outbox into the systems that should hold each case.

The outbox is the work queue (DESIGN.md step 6). For each target system, under its own lease, the job takes
pending rows in order, sends only the newest version of each case (older pending rows for the same case are
superseded: the target needs the current state, not the history), and marks each row delivered in its own
transaction right after the target accepted it. Every write carries the idempotency key ``case_no:version``,
so a crash between "the target applied it" and "we recorded that" only causes a harmless duplicate.

Failures follow the error hierarchy: a transient one backs the row off exponentially; after ``max_attempts``
the row is dead and a dead letter says why; a refusal for good dead-letters it at once; an outage or refused
credentials stop pushing to that system for this round and leave its rows pending.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gateway.contract.errors import (
    AuthenticationError,
    FatalSyncError,
    FieldIssue,
    LeaseHeldError,
    RetriableSyncError,
    WriteRejectedError,
)
from gateway.store import ledger, outbox
from gateway.store.lease import Lease
from gateway.store.outbox import DEAD, DELIVERED, SUPERSEDED, OutboxStatus

if TYPE_CHECKING:
    from gateway.contract.connector import Connector
    from gateway.kernel.runtime import Runtime

MAX_BACKOFF = timedelta(hours=1)


@dataclass
class TargetReport:
    target: str
    delivered: int = 0
    duplicates: int = 0
    superseded: int = 0
    retried: int = 0
    dead: int = 0
    pending: int = 0
    error: str | None = None


@dataclass
class PushReport:
    targets: list[TargetReport] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(t.error is None for t in self.targets)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "duration_s": round(self.duration_s, 3), "targets": [asdict(t) for t in self.targets]}


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


def push(
    runtime: Runtime,
    *,
    targets: list[str] | None = None,
    connectors: dict[str, Connector] | None = None,
    now: datetime | None = None,
) -> PushReport:
    """Deliver pending outbox rows to every writable system (or to ``targets``)."""
    started = time.perf_counter()
    report = PushReport()
    names = targets or [s.name for s in runtime.systems.systems.values() if s.writable]
    for name in sorted(names):
        target_report = TargetReport(target=name)
        report.targets.append(target_report)
        try:
            with Lease(runtime.engine, f"push:{name}"):
                connector = (connectors or {}).get(name)
                own = connector is None
                connector = connector or runtime.connector(name)
                try:
                    _drain(runtime, name, connector, target_report, now=now)
                finally:
                    if own:
                        connector.close()
        except LeaseHeldError as exc:
            target_report.error = str(exc)
        except FatalSyncError as exc:
            target_report.error = f"{type(exc).__name__}: {exc}"
        with runtime.engine.connect() as conn:
            target_report.pending = outbox.pending_count(conn, target=name)
    report.duration_s = time.perf_counter() - started
    return report


def _drain(runtime: Runtime, target: str, connector: Connector, report: TargetReport, *, now: datetime | None) -> None:
    system = runtime.systems.get(target)
    assert system.push is not None
    mapper = runtime.mapper(target)
    engine = runtime.engine
    while True:
        moment = now or ledger.utcnow()
        with engine.begin() as conn:
            rows = outbox.due_rows(conn, target, now=moment, limit=system.push.batch_size)
            if not rows:
                return
            newest: dict[str, dict[str, Any]] = {}
            for row in rows:
                seen = newest.get(row["case_no"])
                if seen is None or row["version"] > seen["version"]:
                    newest[row["case_no"]] = row
            stale_ids = [r["id"] for r in rows if newest[r["case_no"]]["id"] != r["id"]]
            if stale_ids:
                outbox.supersede(conn, stale_ids)
                report.superseded += len(stale_ids)
            current = outbox.current_cases(conn, list(newest))
        for case_no, row in newest.items():
            case = current.get(case_no)
            if case is None:
                _finish(engine, row["id"], status=DEAD, error="case no longer in the ledger")
                continue
            if case.version > row["version"] and _has_newer_row(engine, target, case_no, row["version"]):
                _finish(engine, row["id"], status=SUPERSEDED)
                report.superseded += 1
                continue
            try:
                canonical = ledger.loads(case.data)
                if runtime.pii is not None and isinstance(canonical.get("applicant"), dict):
                    applicant = canonical["applicant"]
                    applicant["id_number"] = runtime.pii.open(applicant.get("id_number"))
                body = mapper.outbound(canonical, version=row["version"], operation=row["operation"])
                result = connector.write(
                    system.push.stream,
                    body,
                    key=case_no,
                    idempotency_key=f"{case_no}:{row['version']}",
                    operation=row["operation"],
                )
            except (WriteRejectedError, ValueError) as exc:
                _dead(engine, target, system.push.stream, row, str(exc))
                report.dead += 1
                continue
            except (AuthenticationError, FatalSyncError) as exc:
                _retry_later(engine, row, str(exc), system.push.max_attempts, target, system.push.stream, report)
                raise
            except RetriableSyncError as exc:
                _retry_later(engine, row, str(exc), system.push.max_attempts, target, system.push.stream, report)
                continue
            _finish(engine, row["id"], status=DELIVERED, result=result.status)
            if result.status == "duplicate":
                report.duplicates += 1
            else:
                report.delivered += 1


def _has_newer_row(engine: Any, target: str, case_no: str, version: int) -> bool:
    with engine.connect() as conn:
        return outbox.has_newer_row(conn, target, case_no, version)


def _finish(engine: Any, row_id: int, *, status: OutboxStatus, result: str | None = None,
            error: str | None = None) -> None:
    with engine.begin() as conn:
        outbox.finish(conn, row_id, status, result=result, error=error)


def _retry_later(engine: Any, row: dict[str, Any], error: str, max_attempts: int, target: str, stream: str,
                 report: TargetReport) -> None:
    attempts = row["attempts"] + 1
    if attempts >= max_attempts:
        _dead(engine, target, stream, {**row, "attempts": attempts}, f"gave up after {attempts} attempts: {error}")
        report.dead += 1
        return
    with engine.begin() as conn:
        outbox.schedule_retry(conn, row["id"], attempts=attempts, error=error,
                              next_attempt_at=ledger.utcnow() + backoff(attempts))
    report.retried += 1


def _dead(engine: Any, target: str, stream: str, row: dict[str, Any], reason: str) -> None:
    """A poison message: the outbox row is dead and a dead letter keeps what and why (``dead-letters replay``
    re-queues it)."""
    now = ledger.utcnow()
    issue = FieldIssue(record=f"{row['case_no']}@v{row['version']}", field="$", rule="push.rejected", message=reason)
    with engine.begin() as conn:
        outbox.mark_dead(conn, row["id"], reason=reason, attempts=row.get("attempts", 0))
        ledger.add_dead_letters(
            conn,
            [
                {
                    "kind": "push",
                    "system": target,
                    "stream": stream,
                    "source_id": f"{row['case_no']}:{row['version']}",
                    "case_no": row["case_no"],
                    "cursor": None,
                    "raw": ledger.dumps({"outbox_id": row["id"], "operation": row["operation"],
                                         "version": row["version"]}),
                    "reason": str(issue),
                    "issues": ledger.dumps([asdict(issue)]),
                    "mapping_version": None,
                    "status": "open",
                    "attempts": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
