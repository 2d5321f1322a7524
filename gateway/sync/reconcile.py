"""``tongban reconcile SYSTEM``: per day, counts and content hashes of the source, the ledger and the hall, and
the cases that are missing or differ.

The source is read in full (``full_refresh``) and each record goes through the same mapping, validation and
content hash as the sync path, so "same hash" means "the ledger holds exactly what the source says now".
Records are grouped by the Beijing date of their change time. Per day the report has:

- ``source_count`` / ``ledger_count`` and an order-independent hash of each side's (source id, content hash)
  pairs: equal hashes mean the day matches, whatever the counts say;
- ``missing_in_ledger`` (the source has it, the ledger does not), ``divergent`` (both have it, contents differ),
  ``extra_in_ledger`` (the ledger has it, the source no longer does; ``divergent`` also counts a merged case whose
  current version this record wrote and which no longer holds what the record does) and ``rejected`` (the source record does not
  pass the mapping; it belongs in the dead letters) — of which ``unrecorded_rejections`` are in none (no sync saw
  them: lost, a problem like a missing record). A problem on a record changed after the system's watermark is
  counted as ``not_yet_synced`` instead (the next sync takes it; it is not lost, and not a problem);
- the hall's side for the cases this system originated: ``hall_expected`` live cases, ``hall_count`` held at
  the ledger's current version, ``missing_in_hall`` and ``stale_in_hall`` (an older version). The hall is asked
  through its connector's optional ``lookup(stream, key)`` when it has one; otherwise the delivery receipts the
  push job recorded in the outbox stand for it (``hall_view: "receipts"`` in the report).

Reports are stored in ``reconciliations``; a day with problems raises a ``reconcile`` alert for the system.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from gateway.models.hashing import case_document
from gateway.ops.alerts import open_alerts, raise_alert, resolve_alerts
from gateway.ops.deadlines.calendar import BEIJING
from gateway.store import ledger, outbox, queries
from gateway.store.tables import RECONCILIATION_PROBLEMS
from gateway.sync.ingest import dead_letter_key, map_record, unkeyable

if TYPE_CHECKING:
    from gateway.contract.connector import Connector
    from gateway.kernel.runtime import Runtime

_BATCH = 2000
_PROBLEM_LIMIT = 500


@dataclass
class DayReport:
    day: str
    source_count: int = 0
    ledger_count: int = 0
    hall_expected: int = 0
    hall_count: int = 0
    matched: int = 0
    missing_in_ledger: int = 0
    divergent: int = 0
    extra_in_ledger: int = 0
    rejected: int = 0
    unrecorded_rejections: int = 0
    not_yet_synced: int = 0
    missing_in_hall: int = 0
    stale_in_hall: int = 0
    source_hash: str = ""
    ledger_hash: str = ""
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in RECONCILIATION_PROBLEMS)

    def as_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.__dict__.items() if k != "problems"}, "ok": self.ok,
                "problems": self.problems}


@dataclass
class ReconcileReport:
    system: str
    checked_at: datetime
    hall: str | None
    hall_view: str
    days: list[DayReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.days)

    def totals(self) -> dict[str, int]:
        keys = ("source_count", "ledger_count", "matched", "missing_in_ledger", "divergent", "extra_in_ledger",
                "rejected", "unrecorded_rejections", "not_yet_synced", "hall_expected", "hall_count", "missing_in_hall", "stale_in_hall")
        return {k: sum(getattr(d, k) for d in self.days) for k in keys}

    def as_dict(self) -> dict[str, Any]:
        return {"system": self.system, "checked_at": self.checked_at.isoformat(), "ok": self.ok, "hall": self.hall,
                "hall_view": self.hall_view, "totals": self.totals(), "days": [d.as_dict() for d in self.days]}


def _day(moment: datetime | None) -> str:
    return "unknown" if moment is None else moment.astimezone(BEIJING).date().isoformat()


def _set_hash(pairs: list[tuple[str, str]]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for source_id, content in sorted(pairs):
        digest.update(f"{source_id}\t{content}\n".encode())
    return digest.hexdigest()


def _read_source(runtime: Runtime, name: str, connector: Connector, since: datetime | None = None,
                 ) -> dict[str, tuple[datetime | None, str | None, str | None]]:
    """source id → (change time, content hash or None when the record does not pass, case number): every record
    (``since`` None, a full read) or those changed since ``since`` (an incremental read)."""
    system = runtime.systems.get(name)
    mapper = runtime.mapper(name)
    out: dict[str, tuple[datetime | None, str | None, str | None]] = {}
    pages = (connector.read(system.stream, since=None, mode="full_refresh") if since is None
             else connector.read(system.stream, since=since, mode="incremental"))
    for page in pages:
        mapped, origin, flagged = [], [], {}
        for record in page.records:
            if unkeyable(record.source_id):  # the sync dead-letters it under its fitted key, unmapped
                out[dead_letter_key(record.source_id) or ""] = (record.cursor, None, None)
                continue
            canonical, issues = map_record(mapper.inbound, record.payload)
            issues, flags = mapper.split_issues(issues)  # a flagged miss keeps the record, as the sync does
            if issues:
                out[record.source_id] = (record.cursor, None, (canonical or {}).get("case_no"))
                continue
            if flags:  # part of the case's quality, hence of its content hash, as in the sync
                flagged[len(mapped)] = flags
            mapped.append(canonical)
            origin.append(record)
        result = mapper.validate(mapped, [f"{name}:{r.source_id}" for r in origin], flagged)
        for index, _rejection in result.rejected:
            out[origin[index].source_id] = (origin[index].cursor, None, mapped[index].get("case_no"))
        for index, case in result.valid:
            _, digest = case_document(case)
            out[origin[index].source_id] = (origin[index].cursor, digest, case.case_no)
        for reject in page.rejects:
            if reject.source_id:
                out[dead_letter_key(reject.source_id) or ""] = (None, None, None)
    return out


def _hall_versions(runtime: Runtime, hall: str, case_nos: list[str],
                   connector: Connector | None) -> tuple[str, dict[str, int]]:
    """case number → the version the hall holds (absent: it holds none)."""
    lookup = getattr(connector, "lookup", None) if connector is not None else None
    held: dict[str, int] = {}
    if callable(lookup):
        stream = runtime.systems.get(hall).push.stream  # type: ignore[union-attr]
        for case_no in case_nos:
            found = lookup(stream, case_no)
            if found is not None and not found.get("deleted"):
                held[case_no] = int(found.get("version", 0))
        return "lookup", held
    with runtime.engine.connect() as conn:
        held.update(outbox.delivered_versions(conn, hall, case_nos))
    return "receipts", held


def reconcile_system(
    runtime: Runtime,
    name: str,
    *,
    connector: Connector | None = None,
    hall_connector: Connector | None = None,
    store: bool = True,
    day: date | None = None,
) -> ReconcileReport:
    """Compare ``name``'s source, the ledger and the hall; store the report and raise/resolve its alert.

    ``day`` (a Beijing date): that day only — the source is read incrementally from the day's start (what
    changed since; records that moved to a later day still count as present), the ledger's records of that day
    through the ``(system, cursor)`` index: the cost is one day's changes, not the whole ledger."""
    result = _reconcile(runtime, name, None if day is None else [day], connector=connector,
                        hall_connector=hall_connector)
    if store:
        _store(runtime, result)
    return result


def reconcile_days(runtime: Runtime, name: str, days: list[date], *, store: bool = True,
                   connector: Connector | None = None) -> ReconcileReport:
    """:func:`reconcile_system` for each of ``days``, from one incremental read of the source since the earliest
    day's start (not one read per day, each from its own start to now), stored and alerted as one report: a
    clean last day must not resolve the alert an earlier day raised."""
    if not days:
        result = ReconcileReport(system=name, checked_at=ledger.utcnow(), hall=None, hall_view="none")
    else:
        result = _reconcile(runtime, name, sorted(set(days)), connector=connector, hall_connector=None)
    if store:
        _store(runtime, result)
    return result


def _reconcile(runtime: Runtime, name: str, days: list[date] | None, *, connector: Connector | None,
               hall_connector: Connector | None) -> ReconcileReport:
    """The report of ``days`` (sorted Beijing dates; None: every day, from a full read of the source)."""
    system = runtime.systems.get(name)
    checked_at = ledger.utcnow()
    window = None if days is None else (datetime.combine(days[0], time(0), BEIJING),
                                        datetime.combine(days[-1] + timedelta(days=1), time(0), BEIJING))
    wanted = None if days is None else {d.isoformat() for d in days}
    own = connector is None
    source_connector = connector or runtime.connector(name)
    try:
        read = _read_source(runtime, name, source_connector, since=None if window is None else window[0])
    finally:
        if own:
            source_connector.close()
    source = read if wanted is None else {k: v for k, v in read.items()
                                          if v[0] is not None and _day(v[0]) in wanted}

    with runtime.engine.connect() as conn:
        held = queries.source_record_states(conn, name, window=window)
        if wanted is not None and len(wanted) > 1:  # days apart: not the days between them
            held = {k: v for k, v in held.items() if _day(v[0]) in wanted}
        watermark = ledger.get_watermark(conn, name, system.stream)
        # seen and refused by a sync: a letter open, or one an operator resolved by hand for a record still broken
        # (not lost, and not to be raised again every night)
        refused = queries.record_dead_letter_ids(conn, name)
        merged = queries.originated_case_hashes(conn, name, sorted({v[2] for v in held.values() if v[2]}))

    reports: dict[str, DayReport] = {}
    source_pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    ledger_pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)

    def day_of(moment: datetime | None) -> DayReport:
        key = _day(moment)
        return reports.setdefault(key, DayReport(day=key))

    def problem(report: DayReport, source_id: str, case_no: str | None, kind: str, cursor: datetime | None) -> None:
        if len(report.problems) < _PROBLEM_LIMIT:
            report.problems.append({"source_id": source_id, "case_no": case_no, "problem": kind,
                                    **({"not_yet_synced": True} if late(cursor) else {})})

    def late(cursor: datetime | None) -> bool:
        """Changed after the watermark: the next sync takes it; not a loss."""
        return cursor is not None and watermark is not None and cursor > watermark

    for source_id, (cursor, digest, case_no) in source.items():
        report = day_of(cursor)
        report.source_count += 1
        if digest is None:
            report.rejected += 1
            if source_id not in refused:
                if late(cursor):
                    report.not_yet_synced += 1
                else:
                    report.unrecorded_rejections += 1
                problem(report, source_id, case_no, "rejected_without_dead_letter", cursor)
            continue
        source_pairs[report.day].append((source_id, digest))
        mine = held.get(source_id)
        if mine is not None and mine[1] == digest:
            case = merged.get(source_id)
            if case is None or case[1] == digest:
                report.matched += 1
            else:  # the record is right, the case it wrote is not (a merge that skipped the record's newer copy)
                report.divergent += 1
                problem(report, source_id, case[0], "case_divergent", None)
            continue
        if late(cursor):
            report.not_yet_synced += 1
        elif mine is None:
            report.missing_in_ledger += 1
        else:
            report.divergent += 1
        problem(report, source_id, case_no, "missing_in_ledger" if mine is None else "divergent", cursor)
    for source_id, (cursor, digest, case_no, _deleted) in held.items():
        report = day_of(cursor)
        report.ledger_count += 1
        ledger_pairs[report.day].append((source_id, digest or ""))
        if source_id not in read:  # (a day's reconciliation: changed at the source since, it is still there)
            report.extra_in_ledger += 1
            problem(report, source_id, case_no, "extra_in_ledger", None)

    # the hall that holds every department's cases (another province's hall gets back only its own)
    halls = [h.name for h in runtime.systems.halls if h.writable and h.name != name and h.receives == "all"]
    hall = halls[0] if halls else None
    hall_view = "none"
    if hall is not None:
        live = {cn: cursor for cursor, _digest, cn, deleted in held.values() if cn and not deleted}
        record_of = {cn: source_id for source_id, (_c, _d, cn, deleted) in held.items() if cn and not deleted}
        with runtime.engine.connect() as conn:
            current = {}
            for case_no, version, origin in queries.live_case_versions(conn, sorted(live)):
                if origin != hall:  # a case that came from the hall is the hall's own (its reconciliation)
                    current[case_no] = version
        expected = current
        own_hall = hall_connector is None
        hall_conn = hall_connector
        try:
            if own_hall:
                try:
                    hall_conn = runtime.connector(hall)
                except Exception:  # noqa: BLE001 - the receipts still give a view of the hall
                    hall_conn = None
            hall_view, versions = _hall_versions(runtime, hall, sorted(expected), hall_conn)
        finally:
            if own_hall and hall_conn is not None:
                hall_conn.close()
        with runtime.engine.connect() as conn:
            queued = outbox.queued_case_nos(conn, hall)
        for case_no, version in expected.items():
            report = day_of(live[case_no])
            report.hall_expected += 1
            have = versions.get(case_no)
            if (have is None or have < version) and case_no in queued:
                report.not_yet_synced += 1  # the push job has it queued: on its way, not lost
                if len(report.problems) < _PROBLEM_LIMIT:
                    report.problems.append({"source_id": record_of[case_no], "case_no": case_no,
                                            "problem": "queued_for_hall", "not_yet_synced": True})
            elif have is None:
                report.missing_in_hall += 1
                problem(report, record_of[case_no], case_no, "missing_in_hall", None)
            elif have < version:
                report.stale_in_hall += 1
                problem(report, record_of[case_no], case_no, f"stale_in_hall (v{have} < v{version})", None)
            else:
                report.hall_count += 1

    for key, report in reports.items():
        report.source_hash = _set_hash(source_pairs[key])
        report.ledger_hash = _set_hash([p for p in ledger_pairs[key] if p[0] in source])
    return ReconcileReport(system=name, checked_at=checked_at, hall=hall, hall_view=hall_view,
                           days=[reports[k] for k in sorted(reports)])


def _days_found_before(runtime: Runtime, system: str) -> set[str]:
    """The days the open reconcile alert of ``system`` names (its ``details.days``), or none."""
    found: set[str] = set()
    for alert in open_alerts(runtime.engine, kind="reconcile", system=system):  # details read back as a dict
        details = alert.get("details")
        if isinstance(details, dict) and isinstance(details.get("days"), list):
            found.update(str(d) for d in details["days"])
    return found


def _store(runtime: Runtime, report: ReconcileReport) -> None:
    with runtime.engine.begin() as conn:
        for day in report.days:
            ledger.add_reconciliation(
                conn, system=report.system, day=day.day, checked_at=report.checked_at,
                **{k: getattr(day, k) for k in ("source_count", "ledger_count", "hall_expected", "hall_count",
                                                "matched", "missing_in_ledger", "divergent", "extra_in_ledger",
                                                "rejected", "unrecorded_rejections", "missing_in_hall",
                                                "stale_in_hall", "source_hash",
                                                "ledger_hash")},
                problems=ledger.dumps(day.problems))
    bad = [d for d in report.days if not d.ok]
    if bad:
        totals = report.totals()
        # a day the next reconciliation finds different again is no timing (a change the next sync brings, a push
        # on its way): it is a loss, an error the deadlines DAG's check_alerts fails on — another day's difference
        # is not the same one
        again = bool(_days_found_before(runtime, report.system) & {d.day for d in bad})
        raise_alert(runtime.engine, "reconcile", report.system, level="error" if again else "warning",
                    system=report.system,
                    message=(f"reconciliation of {report.system}: {totals['missing_in_ledger']} missing in the ledger, "
                             f"{totals['divergent']} divergent, {totals['extra_in_ledger']} extra, "
                             f"{totals['unrecorded_rejections']} rejected and in no dead letter, "
                             f"{totals['missing_in_hall']} missing in the hall, {totals['stale_in_hall']} stale there "
                             f"(days {', '.join(d.day for d in bad[:5])}{'…' if len(bad) > 5 else ''})"
                             + ("; found again by this reconciliation" if again else "")),
                    details={"days": [d.day for d in bad], "totals": totals})
    else:
        resolve_alerts(runtime.engine, "reconcile", [report.system])


__all__ = ["DayReport", "ReconcileReport", "reconcile_days", "reconcile_system"]
