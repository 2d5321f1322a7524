"""Re-applying mappings to what Tongban already holds, without asking the source again.

- ``replay_dead_letters``: after a mapping fix, records that failed go through the normal ingest path again;
  those that now pass enter the ledger (and their dead letters are resolved), those that still fail stay with
  their newest reason. Push dead letters are re-queued in the outbox.
- ``remap_system``: the raw payload of every record of a system is mapped again with the current mapping;
  records whose canonical form changes are updated, versioned and pushed like any other change.

Both hold the system's sync lease, so they never interleave with a running sync of the same system.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.contract.connector import RawRecord
from gateway.contract.errors import ConfigError, LeaseHeldError, TongbanError
from gateway.crypto.pii import open_text
from gateway.models.hashing import UNREADABLE_KEY_PREFIX
from gateway.ops.alerts import resolve_alerts
from gateway.store import ledger, outbox
from gateway.store.lease import Lease
from gateway.store.payloads import unpack
from gateway.store.sealing import require_ledger_keys
from gateway.sync.engine import RunReport, _count_columns, _fail_run, _judge, raise_degraded
from gateway.sync.ingest import IngestContext, IngestCounts, ingest_page

if TYPE_CHECKING:
    from gateway.kernel.config import SystemConfig
    from gateway.kernel.runtime import Runtime
    from gateway.mapping.mapper import Mapper

BATCH = 1000
log = logging.getLogger(__name__)


@dataclass
class ReplayReport:
    systems: dict[str, IngestCounts] = field(default_factory=dict)
    requeued_pushes: int = 0
    rekeyed: int = 0
    """Dead letters read without a usable key that the connector's current config gave one (replayed under it)."""
    connector_rejected: dict[str, int] = field(default_factory=dict)
    """``{system: letters}`` the system's connector, as configured now, still cannot read (a change time in a
    format it does not expect, no usable key): fix its configuration, then replay them."""
    resolved: int = 0
    """Record dead letters resolved while this replay ran (of the system replayed, or of all)."""
    still_open: int = 0
    """Record dead letters open when it ended."""
    skipped: dict[str, str] = field(default_factory=dict)
    """``{system: why}`` of the systems not replayed (their lease held by a running sync): try them again later."""
    unreplayable: dict[str, str] = field(default_factory=dict)
    """``{system: why}`` of the systems this process cannot replay as it is configured (their dead letters are
    sealed and it holds no key, their mapping does not load): fix that here, then replay them. A replay of every
    system goes on past them."""

    def summary(self) -> str:
        """One line for an operator: ``replayed N (systems a, b); skipped: c (lease held)``."""
        replayed = sum(c.read for c in self.systems.values()) + self.requeued_pushes
        text = f"replayed {replayed} dead letters (systems {', '.join(self.systems) or 'none'})"
        if self.connector_rejected:
            text += "; still refused by the connector (fix its configuration): " + ", ".join(
                f"{name} {count}" for name, count in sorted(self.connector_rejected.items()))
        if self.skipped:
            text += "; skipped: " + ", ".join(f"{name} (lease held)" for name in self.skipped)
        if self.unreplayable:
            text += "; not replayable here: " + ", ".join(f"{name} ({why})" for name, why in self.unreplayable.items())
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "systems": {k: v.as_dict() for k, v in self.systems.items()},
            "skipped": dict(self.skipped),
            "unreplayable": dict(self.unreplayable),
            "requeued_pushes": self.requeued_pushes,
            "rekeyed": self.rekeyed,
            "connector_rejected": dict(self.connector_rejected),
            "resolved": self.resolved,
            "still_open": self.still_open,
        }


def replay_dead_letters(runtime: Runtime, *, system: str | None = None) -> ReplayReport:
    """Replay ``system``'s open dead letters, or every configured system's one system at a time. Each system
    commits on its own under its own lease, so a system whose lease is held (a sync running) is skipped and
    named in :attr:`ReplayReport.skipped`, and one this process cannot replay (sealed letters and no key here, a
    mapping that does not load) is named in :attr:`ReplayReport.unreplayable`, while the others are replayed:
    the report says what happened."""
    report = ReplayReport()
    names = [system] if system else runtime.systems.names()
    if system is None:  # an entry of the systems file that does not validate: its letters stay open, named here
        for name, entry in runtime.systems.invalid.items():
            report.unreplayable[name] = str(entry.error)
    with runtime.engine.connect() as conn:
        resolved_before = ledger.record_dead_letter_counts(conn, system).get("resolved", 0)
    for name in names:
        try:
            _replay_system(runtime, name, report)
        except LeaseHeldError as exc:
            log.info("%s: dead letters not replayed, the lease is held: %s", name, exc)
            report.skipped[name] = str(exc)
        except ConfigError as exc:
            log.warning("%s: dead letters not replayed: %s", name, exc)
            report.unreplayable[name] = str(exc)
    with runtime.engine.connect() as conn:
        counts_by_status = ledger.record_dead_letter_counts(conn, system)
    report.still_open = counts_by_status.get("open", 0)
    # what this replay resolved, not every record dead letter ever resolved (a replay that fixed nothing said 3)
    report.resolved = max(counts_by_status.get("resolved", 0) - resolved_before, 0)
    return report


def _replay_system(runtime: Runtime, name: str, report: ReplayReport) -> None:
    """One system's record dead letters through its current mapping (under its sync lease), then its push dead
    letters back into the outbox; adds to ``report``."""
    config = runtime.systems.get(name)
    mapper = runtime.reload_mapper(name)
    rekey = _rekeyer(runtime, name, config.stream)
    with Lease(runtime.engine, f"sync:{name}") as lease, lease.kept_alive():  # renewed as a sync's is: a replay
        # longer than the lease's TTL let the next scheduled sync write the same records beside it
        with runtime.engine.begin() as conn:
            require_ledger_keys(conn, runtime.pii, what=f"replay {name}'s dead letters")
        ctx = IngestContext(system=config, systems=runtime.systems, mapper=mapper, stream=config.stream,
                            pii=runtime.pii, skip_unchanged_raw=False, mapper_of=runtime.mapper)
        counts = IngestCounts()
        last_id = 0
        while True:
            with runtime.engine.connect() as conn:
                rows = ledger.open_record_dead_letters_after(conn, name, last_id, BATCH)
            if not rows:
                break
            last_id = rows[-1].id
            records, superseded = [], []
            for row in rows:
                payload = ledger.loads(open_text(row.raw, runtime.pii))
                if not row.source_id:
                    continue
                if row.source_id.startswith(UNREADABLE_KEY_PREFIX) or not isinstance(payload, dict):
                    # refused by the connector (no usable key, a change time it could not read: the reader kept
                    # the record as the JSON text it came as): the connector as configured now reads it again —
                    # under its key, which may differ from the one the letter has; a letter it still cannot
                    # read stays open and is counted, never passed over without a word
                    keyed = rekey(_as_read(payload))
                    if keyed is None:
                        report.connector_rejected[name] = report.connector_rejected.get(name, 0) + 1
                        continue
                    records.append(keyed)
                    if keyed.source_id != row.source_id:
                        superseded.append(row.id)
                    continue
                records.append(RawRecord(source_id=row.source_id, cursor=row.cursor, payload=payload))
            with runtime.engine.begin() as conn:
                lease.renew(conn)  # fenced: a page of a replay that lost its lease is not written
                counts.add(ingest_page(conn, ctx, records))
                for dead_letter_id in superseded:
                    ledger.resolve_dead_letter(conn, dead_letter_id)
            report.rekeyed += len(superseded)
        report.systems[name] = counts
    with runtime.engine.begin() as conn:
        requeue = ledger.open_push_dead_letters(conn, name)
        for row in requeue:
            outbox.requeue(conn, ledger.loads(open_text(row.raw, runtime.pii))["outbox_id"])
            ledger.resolve_dead_letter(conn, row.id)
        report.requeued_pushes += len(requeue)


def _as_read(payload: Any) -> Any:
    """A refused record's raw as the reader saw it: readers keep it as JSON text (every byte as it came), so the
    object is that text read back; anything else as it is."""
    if isinstance(payload, str):
        try:
            return ledger.loads(payload)
        except ValueError:
            return payload
    return payload


def _rekeyer(runtime: Runtime, name: str, stream: str) -> Callable[[Any], RawRecord | None]:
    """``payload → RawRecord | None`` by the system's connector as configured now (no network), built when the
    first letter without a usable key needs it; a connector that cannot be built here (a secret missing on this
    machine) rekeys nothing, and says why in the log, once."""
    built: list[Any] = []

    def rekey(payload: Any) -> RawRecord | None:
        if not built:
            try:
                built.append(runtime.connector(name))
            except TongbanError as exc:
                log.warning("%s: dead letters without a key stay as they are: the connector cannot be built here: "
                            "%s", name, exc)
                built.append(None)
        return None if built[0] is None else built[0].rekey(stream, payload)

    return rekey


def remap_system(runtime: Runtime, name: str) -> RunReport:
    """Map every raw payload of ``name`` again with its current mapping file."""
    config = runtime.systems.get(name)
    mapper = runtime.reload_mapper(name)
    started = time.perf_counter()
    with Lease(runtime.engine, f"sync:{name}") as lease, lease.kept_alive():  # as in a replay
        with runtime.engine.begin() as conn:
            require_ledger_keys(conn, runtime.pii, what=f"remap {name}")
            run_id = ledger.start_run(conn, system=name, kind="remap", mode=None, watermark=None)
        report = RunReport(run_id=run_id, system=name, kind="remap", status="succeeded")
        try:
            _remap_pages(runtime, name, config, mapper, lease, report, started)
        except Exception as exc:  # the run says why (left "running", it read as live until relabelled abandoned)
            _fail_run(runtime.engine, report, config.stream, started, exc)
            raise
    resolve_alerts(runtime.engine, "mapping_changed", [name])
    return report


def _remap_pages(runtime: Runtime, name: str, config: SystemConfig, mapper: Mapper, lease: Lease,
                 report: RunReport, started: float) -> None:
    """:func:`remap_system`'s pages, each fenced by the lease, then the run finished and the version recorded."""
    ctx = IngestContext(system=config, systems=runtime.systems, mapper=mapper, stream=config.stream,
                        pii=runtime.pii, skip_unchanged_raw=False,  # the same bytes, mapped afresh
                        mapper_of=runtime.mapper)
    last = ""
    while True:
        with runtime.engine.connect() as conn:
            rows = ledger.source_records_after(conn, name, last, BATCH)
            load = ledger.dictionary_loader(conn)
            # a deleted record whose raw payload retention purged (gateway.store.retention): nothing to map
            # again; its row and its case's tombstone stay as they are
            records = [RawRecord(source_id=r.source_id, cursor=r.cursor,
                                 payload=ledger.loads(unpack(r.payload, r.raw, runtime.pii, load)))
                       for r in rows if r.payload is not None or r.raw is not None]
        if not rows:
            break
        last = rows[-1].source_id
        if records:
            with runtime.engine.begin() as conn:
                lease.renew(conn)
                report.counts.add(ingest_page(conn, ctx, records))
    report.duration_s = time.perf_counter() - started
    # judged as a full read is: a mapping that now rejects most records is no clean remap (it said "ok" with
    # every record rejected, and the mapping_changed alert went away with nothing in its place)
    report.status, report.error = _judge(report.counts, config.max_rejected_share, full=True)
    with runtime.engine.begin() as conn:
        ledger.finish_run(conn, report.run_id, status=report.status, duration_s=report.duration_s,
                          error=report.error, **_count_columns(report.counts))
        # every record mapped again with this version (those it now rejects are dead letters saying why)
        ledger.set_mapped_version(conn, name, ctx.mapping_version)
    if report.status == "degraded":
        raise_degraded(runtime.engine, report, f"remap of {name} with mapping {ctx.mapping_version} degraded (run "
                                               f"{report.run_id}): {report.error}. Fix the mapping and remap again, "
                                               "or replay the dead letters")
