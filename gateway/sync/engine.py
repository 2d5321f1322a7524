"""``tongban sync SYSTEM``: read a system incrementally into the ledger, one committed page at a time.

The run holds the system's lease (one run per system at a time, whoever starts it), asks the connector for
records changed since the watermark minus the lookback window, and commits each page — records, dead letters,
outbox rows, the advanced watermark and the lease renewal — in one transaction. Killed at any point, a re-run
starts from the last committed watermark: nothing lost (the lookback and the inclusive cursor re-read the
boundary) and nothing duplicated (upserts by source id, unchanged content is a no-op).

Bookkeeping is honest whoever starts the run (CLI or Airflow): a run that fails at any point — configuration,
secrets, connection, a page — is closed as ``failed`` with its reason (personal data masked) and raises the
system's ``sync_failed`` alert; a run that rejects more than the system's ``max_rejected_share`` of what it read
ends ``degraded`` and raises ``sync_degraded``; a clean run resolves both. :class:`SyncFailed` carries the report
out of ``sync_system``; the watermark stays at the last page that did commit.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Engine

from gateway.contract.connector import ordered_high
from gateway.contract.errors import AuthenticationError, FieldIssue, SyncError
from gateway.crypto.error_text import describe_error
from gateway.mapping.check import stream_fields
from gateway.mapping.usage import paths_accounted_for, unmapped_fields
from gateway.models.datetimes import believable_cursors, to_beijing
from gateway.ops.alerts import open_alerts, raise_alert, resolve_alerts
from gateway.store import ledger
from gateway.store.lease import Lease
from gateway.store.sealing import require_ledger_keys
from gateway.sync.ingest import IngestContext, IngestCounts, collector_paused, ingest_page

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.contract.connector import Connector, RawRecord
    from gateway.kernel.config import SystemConfig
    from gateway.kernel.runtime import Runtime
    from gateway.mapping.mapper import Mapper

log = logging.getLogger(__name__)

RunStatus = Literal["succeeded", "degraded", "failed"]


@dataclass
class RunReport:
    """What one run did; ``tongban sync --json`` prints exactly this."""

    run_id: int
    system: str
    kind: str
    status: RunStatus
    counts: IngestCounts = field(default_factory=IngestCounts)
    watermark_before: datetime | None = None
    watermark_after: datetime | None = None
    duration_s: float = 0.0
    error: str | None = None
    warnings: dict[str, int] = field(default_factory=dict)
    """Quality flags of the run: ``{rule: records}`` (cases kept and flagged)."""
    quality: dict[str, dict[str, object]] = field(default_factory=dict)
    """Per severity and rule: records, fields, examples (``QualityTally.as_dict``)."""
    unmapped_source_fields: list[str] = field(default_factory=list)
    """Source fields the first page carried that the mapping does not read (schema drift), logged once."""

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "system": self.system,
            "kind": self.kind,
            "status": self.status,
            **self.counts.as_dict(),
            # in Beijing time, as every time an operator reads (read back from the ledger a watermark is UTC)
            "watermark_before": _beijing(self.watermark_before),
            "watermark_after": _beijing(self.watermark_after),
            "duration_s": round(self.duration_s, 3),
            "warnings": self.warnings,
            "quality": self.quality,
            "unmapped_source_fields": self.unmapped_source_fields,
            "error": self.error,
        }


def _beijing(moment: datetime | None) -> str | None:
    return None if moment is None else to_beijing(moment).isoformat()


class SyncFailed(SyncError):
    """The run failed and was recorded as such; ``report`` says how far it got."""

    def __init__(self, message: str, report: RunReport) -> None:
        super().__init__(message)
        self.report = report


def sync_system(
    runtime: Runtime,
    name: str,
    *,
    full_refresh: bool = False,
    connector: Connector | None = None,
    progress: Callable[[int], None] | None = None,
    alert_failures: bool = True,
) -> RunReport:
    """Run one incremental (or full-refresh) sync of ``name``. Raises :class:`SyncFailed` on failure; a
    ``degraded`` run returns its report (the caller decides whether that is a failure: the CLI says so).

    ``alert_failures=False`` where a scheduler retries a failed run and alerts on its final failure itself
    (Airflow's ``on_failure_callback``): a failure the next retry fixes is no alert — it turned the deadlines
    DAG's ``check_alerts`` red on every blip. Success still resolves the alerts, and degraded runs raise theirs."""
    system = runtime.systems.get(name)
    engine = runtime.engine
    stream = system.stream
    started = time.perf_counter()
    # the heartbeat keeps the lease from the moment it is taken: a source that takes longer than the TTL to answer
    # one page (or a slow start: the mapping check, the connector's set-up) lost it to the next run, and two runs
    # then wrote the same system
    with Lease(engine, f"sync:{name}") as lease, lease.kept_alive():
        with engine.begin() as conn:
            ledger.abandon_stale_runs(conn, name, "sync")
            watermark = ledger.get_watermark(conn, name, stream)
            run_id = ledger.start_run(
                conn, system=name, kind="sync", mode="full_refresh" if full_refresh else "incremental",
                watermark=watermark,
            )
            open_dead_letters = ledger.open_dead_letter_ids(conn, name, stream, limit=_OPEN_DEAD_LETTERS_HELD)
        report = RunReport(run_id=run_id, system=name, kind="sync", status="succeeded", watermark_before=watermark)
        since = None if full_refresh or watermark is None else watermark - system.lookback
        own_connector = connector is None
        source: Connector | None = connector
        high = watermark
        try:
            # inside the try: a mapping, a secret or a connector that cannot be built fails *this* run, recorded
            # a full refresh is also the repair (re-read, re-check everything): it maps even what it holds unchanged
            ctx = IngestContext(system=system, systems=runtime.systems, mapper=runtime.mapper(name), stream=stream,
                                open_dead_letters=open_dead_letters, pii=runtime.pii,
                                skip_unchanged_raw=not full_refresh, mapper_of=runtime.mapper)
            with engine.begin() as conn:
                require_ledger_keys(conn, runtime.pii, what=f"sync {name}")
            _check_mapping_version(engine, name, ctx.mapping_version)
            if source is None:
                source = runtime.connector(name)
            ordered = next((s.ordered for s in source.streams() if s.name == stream), True)
            drift_checked = False
            mode = "full_refresh" if full_refresh else "incremental"
            with collector_paused():
                for page in source.read(stream, since=since, mode=mode):
                    if not drift_checked and page.records:
                        drift_checked = True
                        report.unmapped_source_fields = _schema_drift(runtime, name, ctx.mapper, page.records)
                    page_high = _page_high(page.records, ctx, name, ordered=ordered)
                    if page.read_through is not None and (page_high is None or page.read_through > page_high):
                        page_high = page.read_through
                    with engine.begin() as conn:
                        report.counts.add(ingest_page(conn, ctx, page.records, page.rejects))
                        ledger.run_progress(conn, run_id, **_count_columns(report.counts))
                        if ordered and page_high is not None and (high is None or page_high > high):
                            ledger.set_watermark(conn, name, stream, page_high)
                            high = page_high
                        elif not ordered and page_high is not None and (high is None or page_high > high):
                            high = page_high
                        lease.renew(conn)
                    if progress is not None:  # records read so far (the CLI's progress bar)
                        progress(report.counts.read)
                    page = None  # type: ignore[assignment]
                    gc.collect(1)  # between pages: only the few young survivors to walk, the page is gone
            report.status, report.error = _judge(report.counts, system.max_rejected_share, full=since is None)
            with engine.begin() as conn:
                lease.renew(conn)  # fenced as every page is: a run that lost its lease moves no watermark
                if high is not None and high != watermark:
                    ledger.set_watermark(conn, name, stream, high)
                report.watermark_after = high
                report.duration_s = time.perf_counter() - started
                report.warnings = ctx.quality.flag_counts()
                report.quality = ctx.quality.as_dict()
                for line in ctx.quality.lines():  # one line per rule per run, never one per record
                    log.info("%s: %s", name, line)
                ledger.finish_run(conn, run_id, status=report.status, duration_s=report.duration_s,
                                  watermark_after=high, error=report.error, quality=ledger.dumps(report.quality),
                                  **_count_columns(report.counts))
            written = report.counts.inserted + report.counts.updated
            if written >= ledger.ANALYZE_AFTER:
                with engine.begin() as conn:
                    ledger.refresh_statistics(conn, written)
        except Exception as exc:
            _fail_run(engine, report, stream, started, exc,
                      hint=_where_secrets_come_from(system) if isinstance(exc, AuthenticationError) else "")
            if alert_failures:
                _alert(engine, report, system.max_rejected_share)
            raise SyncFailed(f"sync of {name} failed: {report.error}", report) from exc
        except BaseException as exc:  # a task timeout (Airflow's is a BaseException), Ctrl+C, SystemExit: the run
            # says so, then it goes on up — left "running", it read as live until the next sync relabelled it
            # "abandoned: the process running it died"
            try:
                _fail_run(engine, report, stream, started, exc)
            except Exception:  # noqa: BLE001 - the ledger unreachable: the timeout itself is what must go on up
                log.warning("%s: could not record the interrupted run %s", name, report.run_id)
            raise
        finally:
            if own_connector and source is not None:
                source.close()
    _alert(engine, report, system.max_rejected_share)
    return report


def _shown_version(version: str) -> str:
    """``4@1a2b3c4d5e6f`` (the version and the fingerprint of the file, as records keep it) → ``4 (1a2b3c4d5e6f)``:
    an edit of the file without a new version number is a change too."""
    number, _, fingerprint = version.partition("@")
    return f"{number} ({fingerprint})" if fingerprint else number


def _check_mapping_version(engine: Engine, name: str, version: str) -> None:
    """Say when records the ledger holds were mapped with an earlier version of the mapping than the one in force.

    A sync maps what it reads; what it does not read again keeps what the earlier mapping made of it (its raw
    payload is kept for that) until ``tongban remap`` maps every record again — which an operator has to know after
    a mapping changed (a Tongban upgrade that fixed a mapping, a code table edited). The ``mapping_changed``
    alert says so, and the remap resolves it. The version every record was mapped with is remembered
    (:func:`~gateway.store.ledger.mapped_version`); without it — a first sync, a ledger from before — the ledger
    is asked once whether it holds a record mapped otherwise."""
    with engine.begin() as conn:
        known = ledger.mapped_version(conn, name)
    if known == version:
        return
    if any((a["details"] or {}).get("version") == version for a in open_alerts(engine, kind="mapping_changed",
                                                                               system=name)):
        return  # said already for this version; the remap resolves it (no scan of the ledger on every run)
    with engine.begin() as conn:
        stale = ledger.mapped_otherwise(conn, name, version)
        if not stale:
            ledger.set_mapped_version(conn, name, version)
    if stale:
        now, before = _shown_version(version), _shown_version(known) if known else None
        raise_alert(engine, "mapping_changed", name, level="warning", system=name,
                    message=f"{name}: the mapping is version {now} now; records synced under "
                            f"{'version ' + before if before else 'an earlier mapping'} keep what it made of them "
                            f"until `tongban remap {name}` maps them again (a record the sync reads again is mapped "
                            "anew)", details={"version": version, "before": known})
    else:
        resolve_alerts(engine, "mapping_changed", [name])


_ERROR_CHARS = 2000
_OPEN_DEAD_LETTERS_HELD = 100_000
"""A run holds the source ids of up to this many open dead letters of its stream (a few MB) so that a page asks
the database to resolve only those its records name; beyond it, every page asks (one statement per page)."""
_DRIFT_SAMPLE = 200


def _schema_drift(runtime: Runtime, name: str, mapper: Mapper, records: Sequence[RawRecord]) -> list[str]:
    """Source fields of the run's first page that the mapping does not read; one warning line if any."""
    keys, cursor = stream_fields(runtime.systems, name)
    used = paths_accounted_for(mapper.spec, keys, cursor)
    unmapped = unmapped_fields((r.payload for r in records[:_DRIFT_SAMPLE]), used)
    if unmapped:
        log.warning("%s: source fields the mapping does not read (schema drift?): %s", name, ", ".join(unmapped))
    return unmapped


MOSTLY_BROKEN = 0.5
"""A run reading the whole source that rejects more than this share of it is degraded, however many were dead
letters already."""


def _judge(counts: IngestCounts, max_rejected_share: float, *, full: bool = False) -> tuple[RunStatus, str | None]:
    """``degraded`` when more than ``max_rejected_share`` of what was read was newly rejected, or, reading the
    whole source (``full``: a full refresh, a first run), when most of it was rejected at all.

    A record whose dead letter is open already and that is read again as broken (the lookback re-reads the last
    minutes on every run) is the same problem, already in the dead letters and counted when it was first
    rejected: counted again, two bad records of a quiet system kept it degraded — an alert every ten minutes all
    night — with nothing new at the source. A run that reads the whole source and finds it mostly broken is
    degraded all the same: a full refresh of a system whose records are nearly all dead letters is no clean run.
    An incremental run of a quiet source reads little but those same broken records (its watermark rests at their
    change time): mostly broken, and nothing new — judged by what it read anew only."""
    if not counts.read:
        return "succeeded", None
    fresh = counts.rejected - counts.rejected_again
    fresh_read = counts.read - counts.rejected_again
    newly = fresh_read > 0 and fresh / fresh_read > max_rejected_share
    mostly = full and counts.rejected / counts.read > MOSTLY_BROKEN
    if not (newly or mostly):
        return "succeeded", None
    again = f", {counts.rejected_again} of them dead letters already, read again" if counts.rejected_again else ""
    why = (f"more than max_rejected_share {max_rejected_share:.0%} of the records not already dead letters" if newly
           else f"more than half of what it read (max_rejected_share {max_rejected_share:.0%})")
    return "degraded", (f"{counts.rejected} of {counts.read} records rejected ({counts.rejected / counts.read:.0%})"
                        f"{again}: {why}; see tongban dead-letters list")


def raise_degraded(engine: Engine, report: RunReport, message: str) -> None:
    """The system's ``sync_degraded`` alert for a run that refused most of what it read — a sync's or a remap's
    (the same state of the system's records; ``check_alerts`` fails on it), with the run and its counts."""
    raise_alert(engine, "sync_degraded", report.system, level="error", system=report.system, message=message,
                details={"run_id": report.run_id, **report.counts.as_dict()})


def _alert(engine: Engine, report: RunReport, max_rejected_share: float) -> None:
    """The same alerts from the CLI as from Airflow: failed and degraded runs raise one, a clean run resolves —
    and a completed run (clean or degraded) resolves ``behind``, as the next freshness check would (a sync re-run
    by hand left the error open beside a lag of 0 s) —
    but a run that read back more broken records than the share allows (all of them already in the dead letters:
    :func:`_judge` does not call that degraded) leaves an open ``sync_degraded`` alert open: the records it was
    raised for are still broken (a full refresh of a system 99% of whose records are dead letters is no clean
    run), and it is not raised again for them either."""
    name = report.system
    if report.status == "failed":
        raise_alert(engine, "sync_failed", name, level="error", system=name,
                    message=f"sync of {name} failed (run {report.run_id}): {report.error}",
                    details={"run_id": report.run_id})
    elif report.status == "degraded":
        raise_degraded(engine, report, f"sync of {name} degraded (run {report.run_id}): {report.error}. It clears "
                                       "when a run reads no more than the share broken, or by hand once the records "
                                       "are dealt with (fixed at the source, replayed): tongban alerts resolve "
                                       f"sync_degraded {name}")
    else:
        counts = report.counts
        if not (counts.read and counts.rejected / counts.read > max_rejected_share):
            resolve_alerts(engine, "sync_degraded", [name])
    if report.status != "failed":  # completed, clean or degraded: synced (a run by hand clears these too)
        resolve_alerts(engine, "sync_failed", [name])
        resolve_alerts(engine, "behind", [name])


def _page_high(records: Sequence[RawRecord], ctx: IngestContext, system: str, *, ordered: bool) -> datetime | None:
    """The page's change time the watermark may move to: its newest, or for an ordered stream the one its order
    proves the rest of the read reaches (:func:`~gateway.contract.connector.ordered_high`: one record out of place,
    edited since it was listed, moved the watermark past the records still to come). A cursor in the future (a
    clerk's typo of 9999, a source whose clock is wrong) would move the watermark past every record still to
    come, and every later run would read nothing; such a record is still read — and read again each run, cheaply,
    its raw bytes unchanged — but it does not move the watermark, and it is counted as a quality flag
    (``cursor.future``)."""
    kept, future = believable_cursors(records)
    if future:
        ctx.quality.add_flags([FieldIssue(f"{system}:{r.source_id}", "$cursor", "cursor.future",
                                          f"changed at {r.cursor.isoformat()}, after this machine's clock")
                               for r in future])
    return ordered_high(kept) if ordered else max(kept, default=None)


def _where_secrets_come_from(system: SystemConfig) -> str:
    """What an operator whose credentials were refused must fix: each secret's environment variable (or the
    Airflow connection). The error said only that the source refused them."""
    sources = [f"{name} from ${env}" for name, env in sorted(system.secrets.items())]
    if system.airflow_conn_id:
        sources.append(f"the Airflow connection {system.airflow_conn_id!r}")
    return f" — the system's secrets: {', '.join(sources)}" if sources else ""


def _fail_run(engine: Engine, report: RunReport, stream: str, started: float, exc: BaseException, *,
              hint: str = "") -> None:
    """Record the run as failed with ``exc``'s masked text (and ``hint``: what to fix); the watermark stays where
    the committed pages left it."""
    report.status = "failed"
    report.error = describe_error(exc, _ERROR_CHARS) + hint
    report.duration_s = time.perf_counter() - started
    with engine.begin() as conn:
        ledger.bound_lock_wait(conn)  # an interrupted statement may still run on the server, holding its locks
        report.watermark_after = ledger.get_watermark(conn, report.system, stream)
        ledger.finish_run(conn, report.run_id, status="failed", duration_s=report.duration_s, error=report.error,
                          watermark_after=report.watermark_after, **_count_columns(report.counts))


def _count_columns(counts: IngestCounts) -> dict[str, int]:
    return {
        "read": counts.read,
        "inserted": counts.inserted,
        "updated": counts.updated,
        "unchanged": counts.unchanged,
        "rejected": counts.rejected,
        "deleted": counts.deleted,
    }
