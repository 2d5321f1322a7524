"""One page of raw records into the ledger: map → validate → classify → upsert → merge → outbox, in one transaction.

This is DESIGN.md's data path, steps 2–5, and the hot loop of every sync, replay and remap. It is batch-shaped
on purpose: one query to learn what the ledger already holds for the page, one ``executemany`` per table, one
pydantic call for the whole page. The rules it keeps:

- a record that fails mapping or validation goes to the dead-letter store with its raw payload and every
  broken rule; the rest of the page goes on. So does one whose raw payload cannot be written as JSON (a lone
  surrogate, an integer beyond 64 bits, nesting deeper than 255: ``payload.unserialisable``, kept as its
  ``repr``) or whose case cannot be (``ledger.unwritable``): both are caught where they fail, so a sound page
  pays nothing for the guard, and one bad record never fails a page (a run would fail at it for ever);
- an older version of a record never overwrites a newer one, and a record whose canonical content is unchanged
  (same content hash) changes nothing and queues nothing; a record whose raw bytes are those the ledger already
  holds, read under the same mapping version, is not even mapped (the raw hash, one lookup for the page);
- every changed case gets an outbox row for each system that should hold it — the hall and the department that
  handles it — and never for the system the change came from.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection

from gateway.contract.connector import RawRecord
from gateway.contract.errors import FieldIssue, RecordRejected, SkippableSyncError
from gateway.kernel.config import SystemConfig, SystemsConfig
from gateway.mapping.check import explain_missing_source
from gateway.mapping.compiler import MapFunction
from gateway.mapping.mapper import Mapper
from gateway.models import Case, QualityTally, case_document
from gateway.models.datetimes import MAX_CLOCK_SKEW, change_horizon
from gateway.models.hashing import unreadable_record
from gateway.models.stored import stored_case_json
from gateway.models.survivorship import EVERYTHING, TONGBAN, Reads
from gateway.models.text import fitted, storable
from gateway.store import ledger, payloads
from gateway.store import process as process_store
from gateway.store.outbox import PENDING
from gateway.store.payloads import pack, raw_hash
from gateway.sync import shared


@dataclass(slots=True)
class IngestCounts:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejected_again: int = 0
    """Of ``rejected``: records whose dead letter was already open (read again — a lookback, a re-read page —
    and still as broken): the same problem, not a new one; the run's health is judged without them."""
    deleted: int = 0
    queued: int = 0

    def add(self, other: IngestCounts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(slots=True)
class IngestContext:
    """What ingesting one system's stream needs to know; built once per run."""

    system: SystemConfig
    systems: SystemsConfig
    mapper: Mapper
    stream: str
    check_dead_letters: bool = True
    open_dead_letters: set[str] | None = None
    """The source ids of the stream's open record dead letters, when the run loaded them (kept current as pages
    add and resolve them): a page then resolves only those its good records name, and a page whose records have
    none (nearly every page) sends no statement. None: unknown, every page asks the database."""
    quality: QualityTally = field(default_factory=QualityTally)
    """Quality flags (rules real data breaks: kept, flagged) and rejections, counted per rule with a few
    examples across the run: one log line per rule, not one per record; bounded memory at a million records."""
    pii: Any = None
    """The runtime's PII codec: when set, raw payloads are sealed whole and the applicant's ID number in the
    merged case document is sealed in place (the content hash is taken before, so it does not change)."""
    dictionary: bytes | None = None
    """The id of the system's payload compression dictionary (registered in this process) once known."""
    skip_unchanged_raw: bool = True
    """Skip records whose raw bytes and mapping version are those the ledger holds, before mapping them. A
    remap (same bytes, a mapping or rules that may have changed) and a replay turn it off."""

    targets: dict[str | None, list[str]] = field(default_factory=dict)
    """Which systems should hold a case of each department (``SystemsConfig.targets_for`` walks every configured
    system: asked once per department per run, not once per case)."""

    mapper_of: Callable[[str], Mapper] | None = None
    """Another system's mapping (the runtime's), for what it reads when it holds a case this system's copy merges
    into (:mod:`gateway.models.survivorship`). None: every other system is taken to read every field."""
    reads: dict[str, Reads] = field(default_factory=dict)

    def fields_read_by(self, system: str) -> Reads:
        """The values of the case ``system``'s mapping sets (its dotted targets; asked once per system per run).
        A mapping that cannot be loaded reads everything."""
        found = self.reads.get(system)
        if found is None:
            try:
                mapper = self.mapper if system == self.system.name else (
                    self.mapper_of(system) if self.mapper_of is not None else None)
            except Exception:  # noqa: BLE001 - a broken mapping of another system never fails this one's page
                mapper = None
            found = EVERYTHING if mapper is None else Reads(mapper.spec.get("fields") or {})
            self.reads[system] = found
        return found

    def role_of(self, system: str) -> str | None:
        """``hall`` or ``department``; None for a system no longer configured."""
        config = self.systems.systems.get(system)
        return None if config is None else config.role

    def targets_for(self, dept_code: str | None) -> list[str]:
        found = self.targets.get(dept_code)
        if found is None:
            found = self.targets[dept_code] = self.systems.targets_for(dept_code, origin=self.system.name)
        return found

    @property
    def mapping_version(self) -> str:
        return f"{self.mapper.version}@{self.mapper.fingerprint[:12]}" if self.mapper.fingerprint else self.mapper.version


SOURCE_ID_MAX = 128
"""The longest record key the ledger keeps (``source_records.source_id``, ``dead_letters.source_id``)."""
CASE_NO_MAX = 64
"""``dead_letters.case_no``: a rejected record's case number may be anything the source sent."""


def dead_letter_key(source_id: str) -> str | None:
    """The key a record's dead letter is kept under (its id, or its prefix and a hash when the ledger cannot hold
    the whole: :func:`~gateway.models.text.fitted`) — what the reconciliation looks for."""
    return fitted(source_id, SOURCE_ID_MAX)


def unkeyable(source_id: str) -> bool:
    """Whether the ledger cannot keep a record under this id (too long, a NUL): the sync dead-letters it."""
    return _key_problem(source_id) is not None


def _key_problem(source_id: str) -> tuple[str, str] | None:
    """``(rule, message)`` saying why a record's key cannot be a ledger key, or None."""
    if len(source_id) > SOURCE_ID_MAX:
        return "source_id.length", (f"the record's key is {len(source_id)} characters; the ledger keeps keys of at "
                                    f"most {SOURCE_ID_MAX}")
    if "\x00" in source_id:
        return "source_id.nul", "the record's key holds a NUL character"
    return None


def map_record(inbound: MapFunction, payload: Any) -> tuple[dict[str, Any] | None, list[tuple[str, str, str]]]:
    """The compiled mapping applied to one record: ``(canonical, issues)``.

    The mapping names what it finds wrong (an issue per field and rule); a value it was never written for may
    still make it raise (a defect of the mapping or its compiler, not of the page). That is this record's
    failure, named as such (``mapping.internal``, with the exception) and dead-lettered with its raw payload:
    raised, it would fail the run at the same record on every re-run, and the system would never sync again."""
    try:
        return inbound(payload, {})
    except Exception as exc:  # noqa: BLE001 - one record's failure, kept with the record; the page goes on
        return None, [("$", "mapping.internal", f"the mapping failed on this record: {type(exc).__name__}: {exc}")]


def _dedupe(records: Sequence[RawRecord]) -> list[RawRecord]:
    """Keep the newest copy of each source id (re-anchored paging and lookback windows repeat records)."""
    latest: dict[str, RawRecord] = {}
    for record in records:
        seen = latest.get(record.source_id)
        if seen is None or (record.cursor is not None and (seen.cursor is None or record.cursor >= seen.cursor)):
            latest[record.source_id] = record
    return list(latest.values())


def ingest_page(
    conn: Connection,
    ctx: IngestContext,
    records: Sequence[RawRecord],
    rejects: Sequence[SkippableSyncError] = (),
    *,
    now: datetime | None = None,
) -> IngestCounts:
    """Ingest one page in the caller's transaction; returns what happened to each record, counted.

    The cyclic garbage collector is paused for the page: it allocates tens of thousands of short-lived,
    acyclic objects (dicts, models, rows), and the collector, triggered again and again by those allocations,
    would rescan them each time (measured: a third of the page's time). Reference counting frees them as usual.
    """
    with collector_paused():
        return _ingest_page(conn, ctx, records, rejects, now=now)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a page or a whole run (reference counting frees as usual).

    A sync allocates millions of short-lived acyclic objects; between pages the collector would promote the
    page being parsed into the older generations and then rescan them (measured: ~15% of a run). A run pauses
    it from its first page to its last and collects the young generations itself between pages, when the page
    is gone and there is little to walk: memory stays bounded whatever cyclic garbage a connector leaves.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _ingest_page(
    conn: Connection,
    ctx: IngestContext,
    records: Sequence[RawRecord],
    rejects: Sequence[SkippableSyncError],
    *,
    now: datetime | None,
) -> IngestCounts:
    now = now or ledger.utcnow()
    counts = IngestCounts(read=len(records) + len(rejects))
    system = ctx.system.name
    stream = ctx.stream
    version = ctx.mapping_version
    unique = _dedupe(records)
    counts.unchanged += len(records) - len(unique)

    dead: list[dict[str, Any]] = []

    def dead_letter(record: RawRecord | None, reason: str, issues: list[FieldIssue], *, raw: Any, source_id: str | None,
                    case_no: str | None = None) -> None:
        dead.append(
            {
                "kind": "record",
                "system": system,
                "stream": stream,
                "source_id": fitted(source_id, SOURCE_ID_MAX),
                "case_no": fitted(case_no, CASE_NO_MAX),
                "cursor": record.cursor if record else None,
                "raw": _raw_text(raw),
                "reason": storable(reason),  # messages may quote the bad value
                "issues": _issues_text(issues),
                "mapping_version": version,
                "status": "open",
                "attempts": 1,
                "created_at": now,
                "updated_at": now,
            }
        )

    for exc in rejects:
        source_id, raw = unreadable_record(exc)
        ref = f"{system}:{source_id}"
        named = getattr(exc, "issues", None)  # a connector that says which field broke which rule
        found = ([FieldIssue(ref, i.field, i.rule, i.message) for i in named] if named
                 else [FieldIssue(ref, "$", "decode", str(exc))])
        ctx.quality.add_rejections([RecordRejected(ref, found)])
        dead_letter(None, "; ".join(map(str, found)), found, raw=raw, source_id=source_id)

    keyed = []
    for record in unique:
        problem = _key_problem(record.source_id)
        if problem is None:
            keyed.append(record)
            continue
        ref = f"{system}:{fitted(record.source_id, SOURCE_ID_MAX)}"
        found = [FieldIssue(ref, "source_id", *problem)]
        ctx.quality.add_rejections([RecordRejected(ref, found)])
        dead_letter(record, "; ".join(map(str, found)), found, raw=record.payload, source_id=record.source_id)
    unique = keyed

    # -- what the ledger already holds: skip records whose raw bytes it holds, under this mapping ---------
    state = ledger.source_state(conn, system, [r.source_id for r in unique])
    encoded: dict[str, tuple[bytes, str]] = {}
    fresh: list[RawRecord] = []
    skipped: dict[str, datetime | None] = {}  # source id → change time of the copy skipped unchanged
    for record in unique:
        try:
            data = raw_json(record.payload)
        except orjson.JSONEncodeError as exc:  # the record's fault, dead-lettered; the page goes on
            _unserialisable(ctx, record, exc, dead_letter)
            continue
        digest = raw_hash(data)
        known = state.get(record.source_id)
        if (ctx.skip_unchanged_raw and known is not None and known[2] == digest and known[3] == version
                and (record.cursor is None or (known[1] is not None and record.cursor <= known[1]))):
            counts.unchanged += 1
            skipped[record.source_id] = record.cursor
            continue
        encoded[record.source_id] = (data, digest)
        fresh.append(record)

    if ctx.dictionary is None and fresh:
        ctx.dictionary = _payload_dictionary(conn, ctx, [encoded[r.source_id][0] for r in fresh])

    # -- map ------------------------------------------------------------------------------------------
    mapped: list[dict[str, Any]] = []
    mapped_from: list[RawRecord] = []
    flagged_at: dict[int, list[tuple[str, str, str]]] = {}  # index in `mapped` → the mapping's flags for it
    inbound = ctx.mapper.inbound
    for record in fresh:
        canonical, issues = map_record(inbound, record.payload)
        if issues:
            # an optional code not in its table: kept, its field null; the flag joins the case's quality (and is
            # counted with the model's flags of the kept cases)
            issues, flagged = ctx.mapper.split_issues(issues)
            if flagged and not issues:
                flagged_at[len(mapped)] = flagged
        if issues:
            ref = f"{system}:{record.source_id}"
            found = [FieldIssue(ref, f, r, m) for f, r, m in issues]
            ctx.quality.add_rejections([RecordRejected(ref, found)])
            dead_letter(record, "; ".join(map(str, found)), found, raw=record.payload, source_id=record.source_id,
                        case_no=canonical.get("case_no") if canonical else None)
            continue
        mapped.append(canonical)
        mapped_from.append(record)

    # -- validate (one call for the page) --------------------------------------------------------------
    refs = [f"{system}:{r.source_id}" for r in mapped_from]
    result = ctx.mapper.validate(mapped, refs, flagged_at)  # the mapping's rule severities apply
    ctx.quality.add(result)
    for index, rejection in result.rejected:
        record = mapped_from[index]
        found = [explain_missing_source(issue, record.payload, ctx.mapper, mapped[index])
                 for issue in rejection.issues]
        dead_letter(record, "; ".join(map(str, found)), found, raw=record.payload, source_id=record.source_id,
                    case_no=mapped[index].get("case_no"))
    counts.rejected += len(dead)

    # -- classify against what the ledger holds ---------------------------------------------------------
    horizon = change_horizon()
    good = [(mapped_from[i], case) for i, case in result.valid]
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    touched: list[dict[str, Any]] = []
    changes: list[tuple[RawRecord, Case, str, str]] = []
    unwritable: set[str] = set()
    for record, case in good:
        try:
            _, digest = case_document(case)  # the hash of the whole document; the ledger stores it without defaults
            data = stored_case_json(case)
        except (orjson.JSONEncodeError, TypeError, ValueError) as exc:  # the record's fault; the page goes on
            ref = f"{system}:{record.source_id}"
            found = [FieldIssue(ref, "$", "ledger.unwritable", f"the case cannot be written as JSON: {exc}")]
            ctx.quality.add_rejections([RecordRejected(ref, found)])
            dead_letter(record, "; ".join(map(str, found)), found, raw=record.payload, source_id=record.source_id,
                        case_no=case.case_no)
            counts.rejected += 1
            unwritable.add(record.source_id)
            continue
        if ctx.pii is not None:
            data = _seal_applicant(ctx.pii, data, case.applicant.id_number)
        known = state.get(record.source_id)
        raw = encoded[record.source_id]
        if known is not None:
            known_hash, known_cursor = known[0], known[1]
            if known_cursor is not None and record.cursor is not None and record.cursor < known_cursor and (
                    known_cursor <= horizon or record.cursor > horizon):
                # an older copy (a late page, a lookback overlap): never overwrite newer. Only a copy within the
                # horizon replaces one stored past it ("2612", fixed at the source since): between two copies past
                # it (a source whose clock runs hours ahead) the older stays older
                counts.unchanged += 1
                continue
            if known_hash == digest:
                counts.unchanged += 1
                if (record.cursor is not None and (known_cursor is None or record.cursor > known_cursor)) or \
                        known[2] != raw[1] or known[3] != version:
                    touched.append(_source_row(ctx, record, case, digest, version, now, raw))
                continue
        target = new_rows if known is None else changed_rows
        target.append(_source_row(ctx, record, case, digest, version, now, raw))
        if known is None:
            counts.inserted += 1
        else:
            counts.updated += 1
        changes.append((record, case, digest, data))

    # the merged cases, and the previous copies of records merged field by field (read before they are replaced)
    existing = ledger.case_state(conn, sorted({case.case_no for _, case, _, _ in changes})) if changes else {}
    earlier = shared.previous_copies(conn, ctx, changes, existing, state, encoded, map_record)
    ledger.insert_source_records(conn, new_rows)
    ledger.update_source_records(conn, changed_rows)
    ledger.touch_source_records(conn, touched)

    # -- merge into cases and queue pushes -----------------------------------------------------------------
    counts.deleted, counts.queued = _merge_cases(conn, ctx, changes, now, existing, earlier)

    counts.rejected_again += _already_dead(conn, ctx, dead)
    ledger.add_dead_letters(conn, dead, pii=ctx.pii)
    arrived = {r.source_id: r.cursor for r, _ in good if r.source_id not in unwritable}
    arrived.update(skipped)
    _resolve_dead_letters(conn, ctx, arrived, dead)
    return counts


def _already_dead(conn: Connection, ctx: IngestContext, dead: list[dict[str, Any]]) -> int:
    """How many of the page's dead letters were open already (the run's set of them, or the database when the run
    holds none)."""
    ids = {d["source_id"] for d in dead if d["source_id"] is not None}
    if not ids:
        return 0
    held = ctx.open_dead_letters
    if held is not None:
        return len(ids & held)
    if not ctx.check_dead_letters:
        return 0
    return len(ledger.open_dead_letters_among(conn, ctx.system.name, ctx.stream, sorted(ids)))


def _resolve_dead_letters(conn: Connection, ctx: IngestContext, arrived: dict[str, datetime | None],
                          dead: list[dict[str, Any]]) -> None:
    """Resolve the open dead letters of records that made it into the ledger (fixed at the source, or replayed) —
    not those of a newer version than the one that arrived (:func:`ledger.resolve_arrived_dead_letters`).

    ``arrived``: source id → the change time of the version that arrived. With the run's set of open dead letters,
    only the ids in it are sent; the page's new dead letters join the set (a record rejected on one page may arrive
    fixed on a later one)."""
    held = ctx.open_dead_letters
    if held is not None:
        arrived = {source_id: cursor for source_id, cursor in arrived.items() if source_id in held}
    elif not ctx.check_dead_letters:
        return
    if arrived:
        resolved = ledger.resolve_arrived_dead_letters(conn, ctx.system.name, ctx.stream, arrived)
        if held is not None:
            held.difference_update(resolved)
    if held is not None:
        held.update(d["source_id"] for d in dead if d["source_id"] is not None)


def _payload_dictionary(conn: Connection, ctx: IngestContext, samples: list[bytes]) -> bytes | None:
    """The system's payload dictionary: the stored one, else one trained on this page (stored in the page's
    transaction; the lease makes this run the system's only writer). None while pages are too small to train."""
    data = ledger.current_payload_dictionary(conn, ctx.system.name)
    if data is None:
        data = payloads.train(samples)
        if data is None:
            return None
        ledger.add_payload_dictionary(conn, ctx.system.name, data)
    return payloads.register(data)


def _raw_text(payload: Any) -> str:
    """A refused record's payload as its dead letter keeps it: JSON text (sealed by ledger.add_dead_letters)."""
    try:
        text = ledger.dumps(payload)
    except orjson.JSONEncodeError:
        text = ledger.dumps(_payload_repr(payload))  # what JSON cannot hold is kept as its repr (as text)
    return text


def _payload_repr(payload: Any) -> str:
    """``payload`` as storable text: its ``repr`` (lone surrogates escaped), NULs replaced."""
    try:
        text = repr(payload)
    except RecursionError:
        text = f"<a {type(payload).__name__} nested too deep to write>"
    return storable(text)


def _issues_text(issues: list[FieldIssue]) -> str:
    try:
        return ledger.dumps([asdict(i) for i in issues])
    except orjson.JSONEncodeError:
        return ledger.dumps([{k: storable(str(v)) for k, v in asdict(i).items()} for i in issues])


def raw_json(payload: Any) -> bytes:
    """The bytes a record's raw payload is hashed and stored as. Keys that are not text (a connector's ints) are
    written as text; only a payload holding one pays for that option (it cost 0.8 µs a record, 70% of the write,
    on every record of every page) — the bytes are the same either way. Raises ``orjson.JSONEncodeError``."""
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


def _unserialisable(ctx: IngestContext, record: RawRecord, exc: Exception, dead_letter: Any) -> None:
    """Dead-letter a record whose raw payload orjson cannot write (``payload.unserialisable``), kept as its repr."""
    ref = f"{ctx.system.name}:{record.source_id}"
    found = [FieldIssue(ref, "$", "payload.unserialisable",
                        f"the raw record cannot be written as JSON ({exc}): kept as its repr")]
    ctx.quality.add_rejections([RecordRejected(ref, found)])
    dead_letter(record, "; ".join(map(str, found)), found, raw=_payload_repr(record.payload),
                source_id=record.source_id)


def _seal_applicant(pii: Any, data: str, id_number: str) -> str:
    """Seal the applicant's ID number inside the case JSON (written by orjson: no spaces, ASCII IDs unescaped)."""
    plain = f'"id_number":"{id_number}"'
    return data.replace(plain, f'"id_number":"{pii.seal(id_number)}"', 1) if plain in data else data


def _source_row(ctx: IngestContext, record: RawRecord, case: Case, digest: str, version: str,
                now: datetime, raw: tuple[bytes, str]) -> dict[str, Any]:
    return {
        "system": ctx.system.name,
        "source_id": record.source_id,
        "stream": ctx.stream,
        "case_no": case.case_no,
        "cursor": record.cursor,
        "content_hash": digest,
        "raw": None,  # rows written before migration 0006 kept it here as text; now it is ``payload``
        "mapping_version": version,
        "deleted": case.deleted,
        "first_seen_at": now,
        "updated_at": now,
        "raw_hash": raw[1],
        "payload": pack(raw[0], ctx.pii, ctx.dictionary or payloads.NO_DICTIONARY),
    }


TONGBAN_ORIGIN = TONGBAN
"""How the ``origin_system`` of a case version Tongban wrote itself begins (``tongban.handoff``, ``tongban.deferred``,
``tongban.bundle``: the processes' actors)."""


def _same_copy(current: dict[str, Any], system: str, source_id: str) -> bool:
    """Whether the merged case's current version is this very source record's (an earlier copy of it).

    Its newer copy replaces it whatever change time it carries: the record level has already ruled it newer
    (by cursor), and a remap after a mapping fix — a timezone read as UTC, now as Beijing time — moves the change
    time EARLIER than the one the wrong mapping gave. Compared with that, the fix would never reach the case nor
    the hall, while the source record held the fixed content (and the reconciliation called it matched)."""
    return current["origin_system"] == system and current.get("origin_source_id") == source_id


def _withdrawn(conn: Connection, system: str, changes: list[tuple[RawRecord, Case, str, str]],
               existing: dict[str, dict[str, Any]]) -> set[str]:
    """Of the page's live cases that it deletes or that others shaped (a shared case), those ``system`` was last
    told to delete — moved to another department: its tombstone is not the case's end, and its answer is not the
    competent department's (one query, only for such pages)."""
    candidates = sorted({case.case_no for record, case, _, _ in changes
                         if case.case_no in existing and not existing[case.case_no]["deleted"]
                         and (case.deleted or shared.shaped_by_others(existing[case.case_no], system,
                                                                       record.source_id))})
    if not candidates:
        return set()
    from gateway.store.process import withdrawn_from

    return withdrawn_from(conn, system, candidates)


def _timing(updated_at: datetime, current: dict[str, Any], horizon: datetime) -> tuple[bool, bool, datetime]:
    """How a copy changed at ``updated_at`` (within the horizon) stands against the case's current version:
    ``(older, settled, stamp)`` — older than it; older than a version Tongban wrote itself (a deemed acceptance:
    its handling is not merged, and that is said, so that an answer the department entered before it is looked
    at); and the change time a version merged value by value carries (the later of the two)."""
    known = current["source_updated_at"]
    older = updated_at < known <= horizon  # a stored "2612" is believed by nobody
    settled = older and str(current["origin_system"]).startswith(TONGBAN_ORIGIN)
    return older, settled, max(updated_at, known) if known <= horizon else updated_at


def _plan_shared(ctx: IngestContext, changes: list[tuple[RawRecord, Case, str, str]],
                 existing: dict[str, dict[str, Any]], earlier: dict[str, Mapping[str, Any] | None],
                 withdrawn: set[str], page: shared.SharedPage, now: datetime, horizon: datetime,
                 ) -> dict[str, tuple[shared.Plan, Any]]:
    """``source_id → (plan, validated)`` for the page's copies of cases others shaped (each case once in the
    page): merged by the rules and validated in one call for the page, not one per copy."""
    system = ctx.system.name
    per_case = shared.copies_per_case(changes)
    items, plans = [], []
    for record, case, digest, _ in changes:
        current = existing.get(case.case_no)
        if (per_case[case.case_no] != 1 or current is None or current["content_hash"] == digest
                or not shared.shaped_by_others(current, system, record.source_id)
                or (case.case_no in withdrawn and case.deleted and not current["deleted"])):
            continue
        updated_at = now if case.updated_at > horizon else case.updated_at
        older, settled, stamp = _timing(updated_at, current, horizon)
        plans.append(shared.plan_merge(ctx, record, case, current, page.document(case.case_no, current, ctx.pii),
                                       earlier.get(record.source_id), stamp=stamp, newer=not older, settled=settled,
                                       released=case.case_no in withdrawn))
        items.append(record.source_id)
    if not plans:
        return {}
    return {source_id: (plan, validated)
            for source_id, plan, validated in zip(items, plans, shared.validate_plans(ctx, plans), strict=True)}


def _merge_cases(conn: Connection, ctx: IngestContext, changes: list[tuple[RawRecord, Case, str, str]],
                 now: datetime, existing: dict[str, dict[str, Any]] | None = None,
                 earlier: dict[str, Mapping[str, Any] | None] | None = None) -> tuple[int, int]:
    """Apply changed records to the merged cases and queue outbox rows. A copy of a case only it shaped replaces
    the case (newest source change wins, or the newer copy of the record that wrote the current version:
    :func:`_same_copy`); a copy of a case others shaped too is merged value by value (:mod:`gateway.sync.shared`).
    ``existing``: the page's cases already merged (read here when not given); ``earlier``:
    :func:`gateway.sync.shared.previous_copies` (none: a copy of a shared case is compared with no previous copy)."""
    if not changes:
        return 0, 0
    system = ctx.system.name
    if existing is None:
        existing = ledger.case_state(conn, sorted({case.case_no for _, case, _, _ in changes}))
    earlier = earlier or {}
    withdrawn = _withdrawn(conn, system, changes, existing)
    final: dict[str, dict[str, Any]] = {}
    horizon = now + MAX_CLOCK_SKEW
    page = shared.SharedPage(conn, system, changes, existing)
    refreshed: list[tuple[str, int, str | None]] = []  # (case, version, the writing record's newer digest)
    late: list[tuple[str, datetime]] = []  # (case, when its department accepted it after the deemed acceptance)
    planned = _plan_shared(ctx, changes, existing, earlier, withdrawn, page, now, horizon)
    for record, case, digest, data in changes:
        case_no = case.case_no
        current = final.get(case_no) or existing.get(case_no)
        updated_at = case.updated_at
        if updated_at > horizon:
            # a change "in 2612" (a typo, a wrong clock) merged with that time won against every real change of
            # the case from any other copy, for good: it counts as made when it was read
            ctx.quality.add_flags([FieldIssue(
                f"{system}:{record.source_id}", "updated_at", "merge.future_change_time",
                f"changed at {updated_at.isoformat()}, beyond this machine's clock: merged as changed now, so that "
                "later changes from other systems still win")])
            updated_at = now
        origin_digest = sources = None
        if current is not None:
            if current["content_hash"] == digest:
                if current.get("origin_digest") is not None and _same_copy(current, system, record.source_id) \
                        and "data" not in current:
                    refreshed.append((case_no, current["version"], None))  # the copy is the case again
                continue
            if case_no in withdrawn and case.deleted and not current["deleted"]:
                # the system let the case go as Tongban asked (moved to another department): its deletion is not
                # the case's end — merged, it voided the applicant's case at the hall and everywhere else
                ctx.quality.add_flags([FieldIssue(
                    f"{system}:{record.source_id}", "deleted", "merge.withdrawn_deletion",
                    f"{system} deleted case {case_no} after Tongban asked it to let the case go (moved to another "
                    "department): kept in its source record, not merged")])
                continue
            older, settled, stamp = _timing(updated_at, current, horizon)
            whole = True
            if shared.shaped_by_others(current, system, record.source_id):
                if record.source_id in planned:
                    plan, validated = planned[record.source_id]
                else:  # the page's second copy of the case: merged into the first's version
                    plan = shared.plan_merge(ctx, record, case, current, page.document(case_no, current, ctx.pii),
                                             earlier.get(record.source_id), stamp=stamp, newer=not older,
                                             settled=settled, released=case_no in withdrawn)
                    validated = shared.validate_plans(ctx, [plan])[0]
                merged = shared.finish_merge(ctx, plan, case, current, validated)
                if plan.merged.late_acceptance is not None:
                    late.append((case_no, plan.merged.late_acceptance))
                if merged is None:  # nothing the copy says stands: no new version
                    if _same_copy(current, system, record.source_id) and "data" not in current:
                        refreshed.append((case_no, current["version"], digest))  # what reconciliation compares
                    continue
                whole = False
                origin_digest = digest if merged.digest != digest else None
                case, digest, data, sources = merged.case, merged.digest, merged.data, merged.field_sources
                if ctx.pii is not None:
                    data = _seal_applicant(ctx.pii, data, case.applicant.id_number)
                updated_at = stamp
            if whole and settled:
                ctx.quality.add_flags([FieldIssue(
                    f"{system}:{record.source_id}", "updated_at", "merge.older_than_tongban",
                    f"changed at {updated_at.isoformat()}, before {current['origin_system']} wrote version "
                    f"{current['version']} of case {case_no}: not merged")])
                continue
            if whole and older and not _same_copy(current, system, record.source_id):
                continue  # the merged case already holds a newer change from another system
        final[case_no] = {
            "case_no": case_no,
            "version": (current["version"] if current else 0) + 1,
            "content_hash": digest,
            "data": data,
            "origin_system": system,
            "origin_source_id": record.source_id,
            "origin_digest": origin_digest,
            "field_sources": sources,
            "source_updated_at": updated_at,
            "dept_code": case.dept_code,
            "item_code": case.item_code,
            "deleted": case.deleted,
            "updated_at": now,
            "was_deleted": bool(current and current["deleted"]),
        }
    ledger.set_origin_digests(conn, refreshed)
    for case_no, at in late:
        process_store.record_late_acceptance(conn, case_no, system, at, now=now)
    inserts, updates, outbox_rows = [], [], []
    deleted = 0
    for case_no, merged in final.items():
        was_deleted = merged.pop("was_deleted")
        if merged["deleted"] and not was_deleted:
            deleted += 1
        before = existing.get(case_no)
        if before is None:
            inserts.append(merged)
        else:
            updates.append({**merged, "expected_version": before["version"]})
        if before is None and merged["deleted"]:
            continue  # first seen already deleted: no system holds it, nothing to withdraw
        for target in ctx.targets_for(merged["dept_code"]):
            outbox_rows.append(
                {
                    "case_no": case_no,
                    "version": merged["version"],
                    "target_system": target,
                    "operation": "delete" if merged["deleted"] else "upsert",
                    "status": PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    ledger.insert_cases(conn, inserts)
    ledger.update_cases(conn, updates)
    ledger.add_outbox(conn, outbox_rows)
    return deleted, len(outbox_rows)
