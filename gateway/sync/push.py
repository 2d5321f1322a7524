"""``tongban push``: drain the outbox into the systems that should hold each case.

The outbox is the work queue (DESIGN.md step 6). For each target system, under its own lease, the job takes
pending rows in order, sends only the newest version of each case (older pending rows for the same case are
superseded: the target needs the current state, not the history), and marks each row delivered in its own
transaction right after the target accepted it. Every write carries the idempotency key ``case_no:version``,
so a crash between "the target applied it" and "we recorded that" only causes a harmless duplicate.

Failures follow the error hierarchy: a transient one backs the row off exponentially; a refusal for good
dead-letters it at once (a target's refusal as ``push.rejected``, a record the outbound mapping cannot build with
the mapping's own field and rule, a ``delete`` to a system whose connector has no delete operation as
``push.unsupported_operation``); an outage, refused credentials or a configuration error stop pushing to that
system for this round and leave its rows pending, and the other systems are drained all the same. A target that
asks to be left alone (a ``Retry-After`` past the transport's own wait) is not called again before the instant it
asked for, by this drain or any later one (kept in the ledger: :func:`gateway.store.outbox.target_wait`).

The drain's lease is kept alive by a heartbeat while it runs (a write that hangs on a slow target does not let the
next drain in) and renewed before every row; the drain stops (sending nothing more) once it lost it; before sending a
row it reads it again, and sends it only while it is still pending and the newest version queued for its case
and target; every row move is a compare-and-set on ``pending``. So a drain overtaken by the next one (a write
that hung past the lease's TTL) neither sends an older version over the newer one nor writes ``delivered`` over
the other drain's ``superseded``.

A drain tries each row at most once (a row it backed off is not due again before the drain ends), and a
transiently failing row is dead only after ``max_attempts`` *and* ``dead_after`` of back-off
(:class:`~gateway.kernel.config.PushConfig`): an outage of minutes burns no case. A drain in which every write
failed and none went through reports the target unreachable (the Airflow task fails, retries and alerts);
dead rows raise the target's ``push_dead`` alert, which a later drain that delivers cleanly resolves.

A target whose write replaces the whole record (``push.read_first``) is read before it is written: the drain first
runs an incremental sync of it, so that what its clerk recorded since the last read is merged into the case and
goes back with it. Cases whose record there could not be read (an open dead letter), and, when the read cannot be
made at all (its sync running, the read failing), every case it holds, are held back — left pending, attempts
untouched — for the next drain (:func:`_read_first`, :func:`_held_back`); a delete (the applicant's withdrawal)
is never held.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from gateway.contract.errors import (
    AuthenticationError,
    ConfigError,
    FatalSyncError,
    FieldIssue,
    LeaseHeldError,
    RetriableSyncError,
    UnsupportedOperationError,
    WriteRejectedError,
)
from gateway.crypto.error_text import describe_error
from gateway.mapping.mapper import OutboundRejected
from gateway.models.datetimes import beijing_iso
from gateway.store import ledger, outbox
from gateway.store.lease import Lease
from gateway.store.outbox import DEAD, DELIVERED, PENDING, SUPERSEDED, OutboxStatus
from gateway.store.sealing import require_ledger_keys
from gateway.sync.engine import SyncFailed, sync_system

if TYPE_CHECKING:
    from gateway.contract.connector import Connector
    from gateway.kernel.runtime import Runtime

MAX_BACKOFF = timedelta(hours=1)
OUTAGE_STREAK = 3
"""Transient failures in a row after which a drain stops: every write to a target that is down waits out the
connector's own retries, and trying the whole queue would take the task for an hour and burn an attempt of each
row for nothing."""
HOLD_FOR = timedelta(minutes=1)
"""How long a row held back by ``push.read_first`` waits before a drain looks at it again (the next push)."""
PROBE_HORIZON = timedelta(days=3650)
"""How far ahead a drain with nothing due looks for a backed-off row to probe the target with."""


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
    last_retry_error: str | None = None
    probe_failed: bool = False
    waiting_until: str | None = None
    """The instant (Beijing time, ISO 8601) before which the target asked not to be called (its Retry-After)."""
    wait_reason: str | None = None
    read_first: str | None = None
    """What the drain read of the target before sending (``push.read_first``): the sync run and its counts, or why
    it could not (its sync running, the read failed)."""
    held: int = 0
    """Rows not sent (left pending, their attempts untouched) because what the target holds of their case is not
    known (``push.read_first``): its own changes could not be read first, or its record of the case is an open
    dead letter. A write replacing the record would erase them; the next drain that reads them sends the rows."""
    busy: bool = False
    """Another drain of this target holds its lease: nothing was tried (no failure of the target's)."""


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


def retry_span(attempts: int) -> timedelta:
    """The least time a row failing ``attempts`` times has been retried for: attempt ``k + 1`` is not due before
    ``backoff(k)`` after attempt ``k``, and a drain tries a row once. No clock column needed, and a row queued long
    ago (a paused DAG) does not count as "retried for long" on its first failure."""
    return sum((backoff(k) for k in range(1, attempts)), timedelta())


def may_give_up(attempts: int, *, max_attempts: int, dead_after: timedelta) -> bool:
    """A transient failure ends a row only after ``max_attempts`` and ``dead_after`` of retrying, both."""
    return attempts >= max_attempts and retry_span(attempts) >= dead_after


LONGEST_TARGET_WAIT = timedelta(hours=1)
"""The longest a target's Retry-After keeps later drains away: a gateway answering a year (or a proxy sending
milliseconds as seconds) is asked again after this, never obeyed for good."""


def push(
    runtime: Runtime,
    *,
    targets: list[str] | None = None,
    connectors: dict[str, Connector] | None = None,
    now: datetime | None = None,
    ignore_wait: bool = False,
) -> PushReport:
    """Deliver pending outbox rows to every writable system (or to ``targets``). ``ignore_wait``: send to a target
    that asked to be left alone (its Retry-After) all the same — an operator who knows the maintenance is over."""
    started = time.perf_counter()
    report = PushReport()
    with runtime.engine.begin() as conn:  # without the ledger's keys a sealed ID number would go out as the number
        require_ledger_keys(conn, runtime.pii, what="push")
    names = targets or [s.name for s in runtime.systems.systems.values() if s.writable]
    for name in sorted(names):
        target_report = TargetReport(target=name)
        report.targets.append(target_report)
        try:
            with Lease(runtime.engine, f"push:{name}") as lease, lease.kept_alive():
                connector = (connectors or {}).get(name)
                own = connector is None
                connector = connector or runtime.connector(name)
                try:
                    _drain(runtime, name, connector, target_report, lease=lease, now=now, ignore_wait=ignore_wait)
                finally:
                    if own:
                        connector.close()
        except LeaseHeldError as exc:
            target_report.error, target_report.busy = str(exc), True
        except (FatalSyncError, ConfigError) as exc:
            # ConfigError: the target's configuration (a secret missing, no outbound section, a write stream the
            # connector lacks): fix the file; its rows stay pending and the other targets are drained all the same.
            target_report.error = describe_error(exc)
        _judge_unreachable(target_report)
        with runtime.engine.connect() as conn:
            target_report.pending = outbox.pending_count(conn, target=name)
        _alert(runtime.engine, target_report)
    report.duration_s = time.perf_counter() - started
    return report


def _drain(runtime: Runtime, target: str, connector: Connector, report: TargetReport, *, lease: Lease,
           now: datetime | None, ignore_wait: bool = False) -> None:
    system = runtime.systems.get(target)
    assert system.push is not None
    mapper = runtime.mapper(target)
    engine = runtime.engine
    policy = _RetryPolicy(system.push.max_attempts, system.push.dead_after, target, system.push.stream,
                          not_before=now or ledger.utcnow())
    moment = policy.not_before  # one instant for the whole drain: a row backed off here is not due again in it
    if ignore_wait:
        with engine.begin() as conn:
            outbox.release_target_wait(conn, target, moment)
    elif _still_waiting(engine, target, moment, report):
        return
    unread = system.push.read_first and not _read_first(runtime, target, connector, report, moment)
    tried: set[int] = set()
    probing = False
    streak = 0  # transient failures in a row
    while True:
        with engine.begin() as conn:
            rows = [r for r in outbox.due_rows(conn, target, now=moment, limit=system.push.batch_size)
                    if r["id"] not in tried]
            if not rows and not tried:
                # Nothing due, but rows may be backed off: send the oldest early, its attempt not counted, so that
                # a target still down fails this drain too (instead of a green task over a growing queue).
                rows = outbox.due_rows(conn, target, now=moment + PROBE_HORIZON, limit=1, failed_only=True)
                probing = bool(rows)
            if not rows:
                return
            tried.update(r["id"] for r in rows)
            newest: dict[str, dict[str, Any]] = {}
            for row in rows:
                seen = newest.get(row["case_no"])
                if seen is None or row["version"] > seen["version"]:
                    newest[row["case_no"]] = row
            stale_ids = [r["id"] for r in rows if newest[r["case_no"]]["id"] != r["id"]]
            if stale_ids:
                report.superseded += outbox.supersede(conn, stale_ids)
            current = outbox.current_cases(conn, list(newest))
            held_back = _held_back(conn, target, list(newest), unread) if system.push.read_first else {}
            last_read = (ledger.last_read_records(conn, target, list(newest), runtime.pii)
                         if system.push.read_first else {})
        for case_no, row in newest.items():
            if case_no in held_back and row["operation"] != "delete":
                # a delete (the case withdrawn, or moved away) replaces nothing the department recorded worth keeping
                # over the applicant's withdrawal: it goes, whatever Tongban could read
                _hold(engine, row, held_back[case_no], moment, report)
                continue
            if not _may_send(engine, lease, target, row, report):
                continue
            case = current.get(case_no)
            if case is None:
                _finish(engine, row["id"], status=DEAD, error="case no longer in the ledger")
                continue
            ref = f"{case_no}@v{row['version']}"
            try:
                canonical = ledger.loads(case.data)
                if runtime.pii is not None and isinstance(canonical.get("applicant"), dict):
                    applicant = canonical["applicant"]
                    applicant["id_number"] = runtime.pii.open(applicant.get("id_number"))
                body = mapper.outbound(canonical, version=row["version"], operation=row["operation"])
                if case_no in last_read and row["operation"] != "delete":
                    body = written_over(last_read[case_no], body)
            except OutboundRejected as exc:  # the mapping's own field and rule (mapping.code_table, ...)
                report.dead += _dead(engine, target, system.push.stream, row, str(exc), exc.field_issues(ref))
                continue
            except ValueError as exc:
                report.dead += _dead(engine, target, system.push.stream, row, str(exc),
                                     [FieldIssue(ref, "$", "push.outbound", str(exc))])
                continue
            try:
                result = connector.write(
                    system.push.stream,
                    body,
                    key=case_no,
                    idempotency_key=f"{case_no}:{row['version']}",
                    operation=row["operation"],
                )
            except (WriteRejectedError, ValueError) as exc:
                report.dead += _dead(engine, target, system.push.stream, row, str(exc),
                                     [FieldIssue(ref, "$", "push.rejected", str(exc))])
                continue
            except UnsupportedOperationError as exc:
                if row["operation"] == "upsert":
                    raise  # a write stream that takes no case at all: the target's configuration; rows stay pending
                # A withdrawn or voided case queued as a delete to a system whose connector cannot delete: the
                # system still holds the case (personal data), and no retry will change that — a person must.
                # (Any other ConfigError is the target's configuration, not this row's: it stops this target.)
                reason = (f"{target} cannot {row['operation']} case {case_no} (version {row['version']}): {exc}; "
                          f"remove or void it there by hand (or configure the operation), then resolve this letter")
                report.dead += _dead(engine, target, system.push.stream, row, reason,
                                     [FieldIssue(ref, "$", "push.unsupported_operation", reason)])
                continue
            except (AuthenticationError, FatalSyncError) as exc:
                if not probing:
                    _retry_later(engine, row, str(exc), policy, report)
                raise
            except RetriableSyncError as exc:
                if probing:
                    report.probe_failed, report.last_retry_error = True, str(exc)[:300]
                else:
                    _retry_later(engine, row, str(exc), policy, report, asked=exc.retry_after)
                if exc.retry_after:
                    asked = min(timedelta(seconds=exc.retry_after), LONGEST_TARGET_WAIT)
                    _wait_for(engine, target, max(ledger.utcnow(), moment) + asked, str(exc), report)
                    return  # the target asked us to wait (Retry-After beyond the transport's own wait): leave the rest
                streak += 1
                if streak >= OUTAGE_STREAK:
                    return  # the target looks down: leave the rest queued, their attempts untouched
                continue
            streak = 0
            if not _finish(engine, row["id"], status=DELIVERED, result=result.status):
                continue  # another drain closed the row meanwhile: its status stands
            if result.status == "duplicate":
                report.duplicates += 1
            else:
                report.delivered += 1


def written_over(record: Any, body: Any) -> Any:
    """``body`` (what the outbound mapping wrote) written over ``record`` (the target's own copy, as last read).

    For a target whose write replaces the whole record (``push.read_first``): what the mapping does not write —
    a second 权利人 where the canonical case holds one applicant, a field of the system's newer version — is sent
    back as the system holds it instead of being erased by the PUT. Objects merge key by key (a key the mapping
    writes, null included, is the mapping's); lists merge element by element by position, and elements the
    record holds beyond the mapped list are kept (the mapping's list is the case's part of the system's); any
    other value is the mapping's."""
    if isinstance(record, dict) and isinstance(body, dict):
        merged = dict(record)
        for key, value in body.items():
            merged[key] = written_over(record[key], value) if key in record else value
        return merged
    if isinstance(record, list) and isinstance(body, list):
        return [written_over(record[i], value) if i < len(record) else value
                for i, value in enumerate(body)] + record[len(body):]
    return body


def _read_first(runtime: Runtime, target: str, connector: Connector, report: TargetReport,
                moment: datetime) -> bool:
    """Whether the target's own changes were read (``push.read_first``): an incremental sync of it, with the
    drain's connector, so that a record the target's write replaces whole goes back with what its clerk added
    since Tongban's last read (merged into the case and queued: the drain then sends that version). Nothing is read
    when the drain has nothing to send (True): a held row makes a push read the target only once it is due again.
    When the read cannot be made — a sync of the target is running (its lease held: it queues what it reads, and
    the next push sends it), or the read failed (an error on the report, as an outage is) — the drain sends only
    the cases the target does not hold yet (:func:`_held_back`): a new case handed over has nothing there to
    erase, and its acceptance window must not wait for a full refresh."""
    with runtime.engine.connect() as conn:  # what the drain may send: a due row, or a failed one it probes with
        if not (outbox.due_rows(conn, target, now=moment, limit=1)
                or outbox.due_rows(conn, target, now=moment + PROBE_HORIZON, limit=1, failed_only=True)):
            return True
    try:
        # no alert of its own: the drain's report (and the push task's failure) says it; the sync DAG alerts on
        # its own final failure, as it does for a blip the next retry fixes
        run = sync_system(runtime, target, connector=connector, alert_failures=False)
    except LeaseHeldError:
        report.read_first = (f"not read: a sync of {target} is running; the cases it holds wait for the next push "
                             "(what that sync reads is merged first)")
        return False
    except SyncFailed as exc:
        report.read_first = f"not read: {exc}"
        report.error = (f"{target} is read before it is written (push.read_first), and the read failed: {exc}; "
                        "the rows of cases it holds stay pending")
        return False
    counts = run.counts
    report.read_first = (f"sync run {run.run_id} ({run.status}): read {counts.read}, inserted {counts.inserted}, "
                         f"updated {counts.updated}, rejected {counts.rejected}")
    return True


def _held_back(conn: Any, target: str, case_nos: list[str], unread: bool) -> dict[str, str]:
    """``case_no → why`` for the cases of a batch not to send to a target that reads first: those whose record there
    Tongban could not read (an open dead letter: unknown what it holds now), and, when its changes were not read
    first at all, every case it holds."""
    held = dict.fromkeys(outbox.unread_at_target(conn, target, case_nos),
                         f"held: {target}'s own record of the case is an open dead letter (its last copy could not "
                         "be read), and a write would replace what it holds; sent once the record is read")
    if unread:
        for case_no in outbox.held_by_target(conn, target, case_nos) - held.keys():
            held[case_no] = (f"held: {target} holds the case and its own changes could not be read first "
                             "(push.read_first); sent by the next drain that reads them")
    return held


def _hold(engine: Any, row: dict[str, Any], why: str, moment: datetime, report: TargetReport) -> None:
    """Keep a row pending past this drain, its attempts untouched (a hold is no failure: it never dies of it), with
    the reason on the row (``last_error``; the console's outbox shows the target's oldest pending row). Not due
    again before :data:`HOLD_FOR`: held rows are the oldest of the queue, and left due they filled every batch and
    stopped everything behind them; due again, they make the next push read the target again. A row the target
    failed on, held when it was the drain's probe, keeps its back-off (a minute brought it back on every push)."""
    with engine.begin() as conn:
        if outbox.schedule_retry(conn, row["id"], attempts=row["attempts"], error=why,
                                 next_attempt_at=max(moment + HOLD_FOR, row["next_attempt_at"])):
            report.held += 1


def _may_send(engine: Any, lease: Lease, target: str, row: dict[str, Any], report: TargetReport) -> bool:
    """Renew the lease and read the row again, in one short transaction: False when another drain closed it or
    a newer version of its case is queued for the target (then it is superseded here). A lost lease raises
    :class:`LeaseHeldError`: the drain stops before sending anything more."""
    with engine.begin() as conn:
        try:
            lease.renew(conn)
        except LeaseHeldError as exc:
            raise LeaseHeldError(f"{exc}; this drain stopped before sending more (the other run carries on)"
                                 ) from None
        status, newest = outbox.send_check(conn, row["id"], target, row["case_no"])
        if status != PENDING:
            return False
        if newest is not None and newest > row["version"]:
            if outbox.finish(conn, row["id"], SUPERSEDED):
                report.superseded += 1
            return False
    return True


def _still_waiting(engine: Any, target: str, moment: datetime, report: TargetReport) -> bool:
    """Whether ``target`` asked not to be called before an instant after ``moment`` (then the report says so and
    nothing is sent); a wait that is over is forgotten."""
    with engine.connect() as conn:
        wait = outbox.target_wait(conn, target)
    if wait is None:
        return False
    until, reason = wait
    if until <= moment:
        with engine.begin() as conn:
            outbox.clear_target_wait(conn, target)
        return False
    report.waiting_until, report.wait_reason = beijing_iso(until), reason[:300]
    return True


def _wait_for(engine: Any, target: str, until: datetime, reason: str, report: TargetReport) -> None:
    with engine.begin() as conn:
        outbox.set_target_wait(conn, target, until, reason[:300])
        kept = outbox.target_wait(conn, target)
    if kept is not None:
        report.waiting_until, report.wait_reason = beijing_iso(kept[0]), kept[1]


@dataclass(frozen=True)
class _RetryPolicy:
    """A target's back-off rules for one drain; ``not_before`` is the drain's instant (a retry is due after it)."""

    max_attempts: int
    dead_after: timedelta
    target: str
    stream: str
    not_before: datetime


def _judge_unreachable(report: TargetReport) -> None:
    """Every write of the drain failed with a transient error and none went through: the target is
    unreachable. Said as an error, so that ``tongban push`` exits non-zero and the Airflow task fails, retries
    and alerts — a hall that is down must not look like a green push DAG while its queue grows."""
    if report.error is None and report.waiting_until and not (report.delivered or report.duplicates):
        queued = ("the rows stay queued" if report.retried or report.probe_failed
                  else "nothing sent; the rows stay queued")
        report.error = (f"{report.target} asked to wait until {report.waiting_until} (Retry-After; last: "
                        f"{report.wait_reason}): {queued} and go out after that — the target is throttling or "
                        f"in maintenance, not refusing our endpoint or credentials")
        return
    failed = report.retried + report.probe_failed
    if report.error is None and failed and not (report.delivered or report.duplicates):
        report.error = (f"{report.target} unreachable: all {failed} writes failed with a transient error "
                        f"(last: {report.last_retry_error}); the rows stay queued and are retried with back-off — "
                        f"check the system's endpoint and credentials")


def _alert(engine: Any, report: TargetReport) -> None:
    """Dead pushes open (or count up) the target's ``push_dead`` alert; a drain that delivered without a dead
    row or an error resolves it (the target accepts writes again; the dead letters stay for replay). A drain that
    failed — credentials refused, the target unreachable or asking to wait, its configuration wrong — opens the
    target's ``push_failed`` alert, from the CLI as from Airflow (``tongban push`` from a shell exited 1 and no
    view said why); a drain without an error resolves it."""
    from gateway.ops.alerts import raise_alert, resolve_alerts

    name = report.target
    if report.error is not None and not report.busy:
        raise_alert(engine, "push_failed", name, level="warning" if report.waiting_until else "error", system=name,
                    message=f"push to {name} failed: {report.error}"[:2000] + f"; {report.pending} row(s) stay queued "
                            "and are retried",
                    details={"pending": report.pending, "error": (report.error or "")[:2000]})
    elif report.error is None:
        resolve_alerts(engine, "push_failed", [name])
    if report.dead:
        raise_alert(engine, "push_dead", name, level="error", system=name,
                    message=f"{report.dead} push(es) to {name} dead: tongban dead-letters list --system {name}, "
                            f"fix the cause, then tongban dead-letters replay",
                    details={"dead": report.dead, "pending": report.pending, "error": report.error})
    elif report.error is None and (report.delivered or report.duplicates):
        resolve_alerts(engine, "push_dead", [name])


def _finish(engine: Any, row_id: int, *, status: OutboxStatus, result: str | None = None,
            error: str | None = None) -> bool:
    with engine.begin() as conn:
        return outbox.finish(conn, row_id, status, result=result, error=error)


def _retry_later(engine: Any, row: dict[str, Any], error: str, policy: _RetryPolicy, report: TargetReport,
                 *, asked: float | None = None) -> None:
    """Back the row off, or give it up when :func:`may_give_up` says its retries have run long enough. The next
    attempt is due after the drain's own instant too, so this drain does not pick it up again, and no sooner than
    the target ``asked`` (its Retry-After, in seconds)."""
    attempts = row["attempts"] + 1
    if may_give_up(attempts, max_attempts=policy.max_attempts, dead_after=policy.dead_after):
        reason = f"gave up after {attempts} attempts over at least {retry_span(attempts)}: {error}"
        report.dead += _dead(engine, policy.target, policy.stream, {**row, "attempts": attempts}, reason,
                             [FieldIssue(f"{row['case_no']}@v{row['version']}", "$", "push.gave_up", reason)])
        return
    with engine.begin() as conn:
        moved = outbox.schedule_retry(conn, row["id"], attempts=attempts, error=error,
                                      next_attempt_at=max(ledger.utcnow(), policy.not_before)
                                      + max(backoff(attempts),
                                            min(timedelta(seconds=asked or 0), LONGEST_TARGET_WAIT)))
    if not moved:
        return  # another drain closed the row meanwhile
    report.retried += 1
    report.last_retry_error = error[:300]


def _dead(engine: Any, target: str, stream: str, row: dict[str, Any], reason: str,
          issues: list[FieldIssue]) -> int:
    """A poison message: the outbox row is dead and a dead letter keeps what and why, each issue with its own
    field and rule (``dead-letters list`` groups by them; ``dead-letters replay`` re-queues the row). Returns 1,
    or 0 when another drain closed the row meanwhile (no dead letter then)."""
    now = ledger.utcnow()
    with engine.begin() as conn:
        if not outbox.mark_dead(conn, row["id"], reason=reason, attempts=row.get("attempts", 0)):
            return 0
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
                    "reason": "; ".join(str(issue) for issue in issues),
                    "issues": ledger.dumps([asdict(issue) for issue in issues]),
                    "mapping_version": None,
                    "status": "open",
                    "attempts": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
    return 1
