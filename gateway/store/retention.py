"""Retention and key rotation for the personal data the ledger keeps.

``purge`` drops what is past its retention period: resolved dead letters (their raw payloads), delivered or
superseded outbox rows (never a case's newest delivered row to a target: its receipt), delivered and dead webhook
deliveries, the raw payloads of records the source deleted, quarantined certificates (except an open entry that
marks a served certificate: its refusal is what the gateway tells relying departments until an operator resolves
it) and expired consents. Of a deleted record only the payload goes (``raw`` and ``payload`` set to NULL): its
``source_records`` row stays, with its key, case number, cursor, content and raw hashes, deleted flag and mapping
version — what the sync reads to know the record unchanged when the source sends it again (a full refresh) and
what the reconciliation reads to count it held. Deleting the row made both see a record never synced: the
reconciliation reported it ``missing_in_ledger`` (an alert every night), a full refresh wrote it back. The audit
log stays: it holds blind-index holder references, not ID numbers, and removing rows would break the chain it
exists for. Nor does ``purge`` touch the citizen side's ``citizen_outbox`` (好差评 / 12345 payloads sent out).

``parse_retention`` reads a retention as an operator writes it (``--older-than``, the gateway file's
``retention``): whole days or longer — ``180d``, ``26w``, ``1y`` (365 days) — never ``m`` (minutes or months?).

``reseal_all`` re-seals every sealed value under the codec's current key (``tongban keys rotate``): raw payloads,
dead letters, quarantined copies, cases, certificates (their documents and files), the 一件事 bundles' forms
and materials, and the citizen side's comments, complaints and queued messages. A value it
cannot open (its key missing from the key file) is left as it is. ``stale_seals`` then counts what is still
sealed under any other key, column by column: only when every count is zero may an old key be dropped from the
key file (``tongban keys rotate`` says so, and exits 1 otherwise).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Text,
    TypeDecorator,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)

from gateway.contract.errors import ConfigError
from gateway.crypto.pii import (
    BLOB_PREFIX,
    FIELD_PREFIX,
    FILE_PREFIX,
    SEALED_FIELD,
    SEALED_WHOLE,
    WHOLE_PREFIXES,
    PiiCodec,
)
from gateway.store import payloads
from gateway.store.ledger import dumps, loads
from gateway.store.outbox import DELIVERED, SUPERSEDED
from gateway.store.tables import (
    bundle_applications,
    bundle_materials,
    cases,
    certificate_quarantine,
    certificates,
    citizen_evaluations,
    citizen_outbox,
    citizen_workorders,
    consents,
    dead_letters,
    outbox,
    source_records,
    webhook_deliveries,
)

__all__ = ["MAX_RETENTION", "MIN_RETENTION", "parse_retention", "purge", "reseal_all", "seal_clear",
           "stale_seals"]

MIN_RETENTION = timedelta(days=1)
"""The shortest retention ``parse_retention`` takes: under a day, ``purge`` would drop what was written today
(``0d``: every resolved dead letter and delivery, at once, without a question)."""

MAX_RETENTION = timedelta(days=36500)
"""The longest: a hundred years (beyond it the cutoff leaves the calendar; nothing would ever be purged anyway)."""

_RETENTION = re.compile(r"^([0-9]{1,9})\s*([a-z]+)$", re.ASCII)
_RETENTION_UNITS = {"d": 1, "w": 7, "y": 365}
_EXAMPLE = "e.g. 180d (days), 26w (weeks) or 1y (365 days)"


def parse_retention(value: str | float | timedelta, option: str = "--older-than") -> timedelta:
    """A retention as written: ``<n>d`` (days), ``<n>w`` (weeks) or ``<n>y`` (years of 365 days), from
    :data:`MIN_RETENTION` to :data:`MAX_RETENTION`; a :class:`timedelta` is checked against the same bounds.

    Not :func:`gateway.models.datetimes.parse_duration`, whose ``6m`` is six minutes and whose bare number is
    seconds (right for the systems file's intervals; a retention meant as six months or 180 days purged
    everything older than a few minutes). Anything else is a one-line :class:`ConfigError` naming ``option``."""
    if isinstance(value, timedelta):
        given, amount = str(value), value
    else:
        given = str(value).strip()
        if isinstance(value, bool) or not isinstance(value, str):
            raise ConfigError(f"{option}: {given!r} has no unit: a retention is days, weeks or years, {_EXAMPLE}")
        match = _RETENTION.match(given.lower())
        if match is None:
            if re.fullmatch(r"[0-9]+", given, re.ASCII):
                raise ConfigError(f"{option}: {given!r} has no unit: a retention is days, weeks or years, "
                                  f"{_EXAMPLE}")
            raise ConfigError(f"{option}: {given!r} is not a retention: write a whole number of days, weeks or "
                              f"years, {_EXAMPLE}")
        number, unit = int(match.group(1)), match.group(2)
        if unit == "m":
            raise ConfigError(f"{option}: {given!r} is ambiguous (minutes or months?): write the retention in days, "
                              f"e.g. {number * 30 or 180}d")
        if unit in ("s", "sec", "min", "h", "hr"):
            raise ConfigError(f"{option}: {given!r}: a retention is whole days or longer, not "
                              f"{'hours' if unit.startswith('h') else 'minutes' if unit == 'min' else 'seconds'}; "
                              f"{_EXAMPLE}")
        if unit not in _RETENTION_UNITS:
            raise ConfigError(f"{option}: {given!r}: unknown unit {unit!r}; a retention is days (d), weeks (w) or "
                              f"years (y, 365 days), {_EXAMPLE}")
        days = number * _RETENTION_UNITS[unit]
        if days > MAX_RETENTION.days:
            raise ConfigError(f"{option}: {given!r} is longer than {MAX_RETENTION.days // 365} years; {_EXAMPLE}")
        amount = timedelta(days=days)
    if amount < MIN_RETENTION:
        raise ConfigError(f"{option}: {given!r} is under the shortest retention, {MIN_RETENTION.days} day "
                          f"(purge would drop what was written today); {_EXAMPLE}")
    if amount > MAX_RETENTION:
        raise ConfigError(f"{option}: {given!r} is longer than {MAX_RETENTION.days // 365} years; {_EXAMPLE}")
    return amount


def purge(engine: Engine, retention: timedelta, *, dry_run: bool = False,
          now: datetime | None = None) -> dict[str, int]:
    cutoff = (now or datetime.now(timezone.utc)) - retention
    plans: list[tuple[str, Any, Any]] = [
        ("dead letters (resolved)", dead_letters, and_(dead_letters.c.status == "resolved",
                                                       dead_letters.c.updated_at < cutoff)),
        ("outbox rows (delivered/superseded)", outbox, and_(outbox.c.created_at < cutoff, or_(
            outbox.c.status == SUPERSEDED, and_(outbox.c.status == DELIVERED, _later_delivery())))),
        ("webhook deliveries (delivered/dead)", webhook_deliveries,
         and_(webhook_deliveries.c.status.in_(["delivered", "dead"]), webhook_deliveries.c.created_at < cutoff)),
        ("raw payloads of deleted records", source_records, and_(
            source_records.c.deleted.is_(True), source_records.c.updated_at < cutoff,
            or_(source_records.c.raw.is_not(None), source_records.c.payload.is_not(None)))),
        ("quarantined certificates", certificate_quarantine, and_(
            certificate_quarantine.c.created_at < cutoff,
            ~exists().where(certificates.c.refused_entry == certificate_quarantine.c.id))),
        ("expired consents", consents, consents.c.expires_at < cutoff),
    ]
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        for label, table, where in plans:
            if dry_run:
                counts[label] = int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())
            elif table is source_records:  # the payload only: the row is how the sync and reconcile know it
                counts[label] = max(conn.execute(update(table).where(where).values(raw=None, payload=None)
                                                 ).rowcount, 0)
            else:
                counts[label] = max(conn.execute(delete(table).where(where)).rowcount, 0)
    return counts


def _later_delivery() -> Any:
    """A later version of the same case was delivered to the same target: this delivery row is no longer its
    receipt. The newest delivered row of each case and target stays, however old: it is what the reconciliation
    (``hall_view: receipts``) and ``tongban backfill`` read to know the target holds the case — purged, an old case
    looked never sent, and a backfill re-pushed every case older than the retention."""
    later = outbox.alias("later")
    return exists().where(later.c.case_no == outbox.c.case_no, later.c.target_system == outbox.c.target_system,
                          later.c.status == DELIVERED, later.c.version > outbox.c.version)


def _text_columns() -> list[tuple[str, Any, tuple[Any, ...], str]]:
    """Every text column that may hold sealed values: (label, table, its key columns, column)."""
    return [
        ("source_records.raw", source_records, (source_records.c.system, source_records.c.source_id), "raw"),
        ("dead_letters.raw", dead_letters, (dead_letters.c.id,), "raw"),
        ("certificate_quarantine.raw", certificate_quarantine, (certificate_quarantine.c.id,), "raw"),
        ("cases.data", cases, (cases.c.case_no,), "data"),
        ("certificates.document", certificates, (certificates.c.identifier,), "document"),
        ("certificates.file", certificates, (certificates.c.identifier,), "file"),
        ("bundle_applications.form", bundle_applications, (bundle_applications.c.bundle_no,), "form"),
        ("bundle_materials.content", bundle_materials, (bundle_materials.c.bundle_no, bundle_materials.c.code),
         "content"),
        *_CITIZEN_TEXTS,
    ]


_CITIZEN_TEXTS = [
    ("citizen_evaluations.comment", citizen_evaluations, (citizen_evaluations.c.rating_id,), "comment"),
    ("citizen_workorders.content", citizen_workorders, (citizen_workorders.c.order_no,), "content"),
    ("citizen_outbox.payload", citizen_outbox, (citizen_outbox.c.id,), "payload"),
]
"""The citizen side's texts sealed whole on a ledger with keys: a rating's comment, a 12345 complaint, each message
queued for the province or the platform."""


_PAGE_ROWS = {"certificates.file": 5}
"""Columns whose values are large (an issuer's file: up to megabytes) are walked in smaller pages, so that a page
never holds a thousand files in memory."""


def _page(label: str, batch: int) -> int:
    return min(batch, _PAGE_ROWS.get(label, batch))


def _resealed(codec: PiiCodec, value: Any) -> Any:
    """``value`` with every sealed part under the current key; a part whose key is not configured stays as it is
    (:func:`stale_seals` counts it)."""
    if not isinstance(value, str) or "enc" not in value:
        return value

    def one(token: str) -> str:
        try:
            return codec.reseal(token)
        except (ConfigError, ValueError):
            return token

    if value.startswith(WHOLE_PREFIXES):
        return one(value) if SEALED_WHOLE.fullmatch(value) else value
    if FIELD_PREFIX in value:
        return SEALED_FIELD.sub(lambda m: one(m.group(0)), value)
    return value


def _stale(codec: PiiCodec, value: Any) -> bool:
    """Whether ``value`` holds anything sealed under a key other than the current one."""
    if not isinstance(value, str) or "enc" not in value:
        return False
    if value.startswith(WHOLE_PREFIXES):
        return SEALED_WHOLE.fullmatch(value) is not None and PiiCodec.key_of(value) != codec.current
    return any(m.group(1) != codec.current for m in SEALED_FIELD.finditer(value))


def _scan(engine: Engine, table: Any, key: tuple[Any, ...], column: str, batch: int, visit: Any) -> int:
    """Walk ``table`` by its key columns, ``batch`` rows per transaction; ``visit(conn, where, value)`` returns 1 or
    0. ``where`` is the row's key *and the value read*: an update under it changes nothing when another process (a
    sync, a harvest) wrote the row since it was read — on PostgreSQL the page's rows are not locked, and writing
    the old value re-sealed over a newer one lost it (a certificate served its previous file under its new hash).
    Each page is one index range (``(a, b) > (x, y)``): paging on an expression of the key (``system || ':' ||
    source_id``) sorted the whole table for every page."""
    col, n = table.c[column], len(key)
    # a column whose type rewrites what it stores (``cases.data``: compacted) is compared as stored, not as read
    stored = [type_coerce(col, Text)] if isinstance(col.type, TypeDecorator) else []
    done, last = 0, None
    while True:
        with engine.begin() as conn:
            query = select(*key, col, *stored).order_by(*key).limit(batch)
            if last is not None:
                query = query.where(tuple_(*key) > tuple_(*last))
            rows = conn.execute(query).all()
            if not rows:
                return done
            for row in rows:
                same = [c == v for c, v in zip(key, row[:n], strict=True)]
                if row[-1] is not None:
                    same.append(col == row[-1])
                done += visit(conn, and_(*same), row[n])
            last = tuple(rows[-1][:n])


def reseal_all(engine: Engine, codec: PiiCodec, *, batch: int = 1000) -> dict[str, int]:
    """Re-seal every sealed value under ``codec``'s current key; per column, how many rows changed."""
    counts: dict[str, int] = {}
    for label, table, key, column in _text_columns():
        def visit(conn: Any, where: Any, value: Any, table: Any = table, column: str = column) -> int:
            new = _resealed(codec, value)
            if new == value:
                return 0
            return _written(conn.execute(update(table).where(where).values({column: new})))

        counts[label] = _scan(engine, table, key, column, _page(label, batch), visit)
        if label == "source_records.raw":
            counts["source_records.payload"] = _reseal_payloads(engine, codec, batch)
    return counts


def seal_clear(engine: Engine, codec: PiiCodec, *, dry_run: bool = False, batch: int = 1000) -> dict[str, int]:
    """Seal what the ledger holds in clear where Tongban seals now (``tongban keys rotate`` on a sealed ledger): the
    raw payloads of source records and the applicant's ID number in the merged cases — what a process without the
    key file wrote before the ledger refused one (:mod:`gateway.store.sealing`) — the certificates' files, kept
    as clear base64 before the library sealed them, the citizen side's texts (comments, complaints, queued
    messages) and the dead letters' raw payloads kept in clear before they were sealed (an open one stays until
    it is fixed: the purge only drops resolved ones). Per column, how many rows (with ``dry_run``: would)
    change."""
    s = source_records.c
    counts = {"source_records.payload in clear": 0, "certificates.file left in clear (not base64)": 0}
    for conn, rows in _payload_pages(engine, batch):
        for system, source_id, payload in rows:
            if bytes(payload[:1]) == payloads.CLEAR:
                counts["source_records.payload in clear"] += 1 if dry_run else _written(conn.execute(
                    update(source_records).where(s.system == system, s.source_id == source_id, s.payload == payload)
                    .values(payload=payloads.seal_clear(payload, codec))))

    def case(conn: Any, where: Any, value: Any) -> int:
        sealed = _applicant_sealed(codec, value)
        if sealed is None:
            return 0
        return 1 if dry_run else _written(conn.execute(update(cases).where(where).values(data=sealed)))

    counts["cases.data in clear"] = _scan(engine, cases, (cases.c.case_no,), "data", batch, case)

    def file(conn: Any, where: Any, value: Any) -> int:
        if not isinstance(value, str) or not value or value.startswith(FILE_PREFIX):
            return 0
        try:
            content = base64.b64decode(value, validate=True)
        except ValueError:  # not the base64 the library wrote: left as it is, counted for an operator
            counts["certificates.file left in clear (not base64)"] += 1
            return 0
        return 1 if dry_run else _written(conn.execute(update(certificates).where(where)
                                                       .values(file=codec.seal_file(content))))

    texts = [("source_records.raw", source_records, (s.system, s.source_id), "raw"),  # rows before migration 0006
             *_CITIZEN_TEXTS, ("dead_letters.raw", dead_letters, (dead_letters.c.id,), "raw")]
    for label, table, key, column in texts:  # written in clear by an older Tongban, or before the keys
        def text(conn: Any, where: Any, value: Any, table: Any = table, column: str = column) -> int:
            if not isinstance(value, str) or not value or (value.startswith(BLOB_PREFIX)
                                                           and SEALED_WHOLE.fullmatch(value) is not None):
                return 0
            return 1 if dry_run else _written(conn.execute(update(table).where(where)
                                                           .values({column: codec.seal_blob(value)})))

        counts[f"{label} in clear"] = _scan(engine, table, key, column, batch, text)
    counts["certificates.file in clear"] = _scan(engine, certificates, (certificates.c.identifier,), "file",
                                                 _page("certificates.file", batch), file)
    return counts


def _written(result: Any) -> int:
    """1 when an update changed its row, 0 when the row changed since it was read (see :func:`_scan`)."""
    return 1 if result.rowcount else 0


def _applicant_sealed(codec: PiiCodec, data: Any) -> str | None:
    """The case document with its applicant's ID number sealed, when it is in clear (else None): the one field
    the sync seals in place (an agent's number stays as the sync leaves it)."""
    if not isinstance(data, str) or '"id_number"' not in data:
        return None
    document = loads(data)
    applicant = document.get("applicant") if isinstance(document, dict) else None
    number = applicant.get("id_number") if isinstance(applicant, dict) else None
    if not isinstance(number, str) or not number or (number.startswith(FIELD_PREFIX)
                                                       and SEALED_FIELD.fullmatch(number) is not None):
        return None
    applicant["id_number"] = codec.seal(number)
    return dumps(document)


def stale_seals(engine: Engine, codec: PiiCodec, *, batch: int = 1000) -> dict[str, int]:
    """Per column, how many rows still hold a value sealed under a key other than ``codec``'s current one: what
    a rotation left behind (an unreadable value, a row written meanwhile by a process with the old key file).
    Every count must be zero before an old key may leave the key file."""
    counts: dict[str, int] = {}
    for label, table, key, column in _text_columns():
        counts[label] = _scan(engine, table, key, column, _page(label, batch),
                              lambda conn, k, value: int(_stale(codec, value)))
        if label == "source_records.raw":
            counts["source_records.payload"] = _stale_payloads(engine, codec, batch)
    return counts


def _payload_pages(engine: Engine, batch: int) -> Iterator[tuple[Connection, Sequence[Row[Any]]]]:
    """``(transaction, rows)`` of every compressed raw payload (``system, source_id, payload``), ``batch`` at a
    time by key; each page in its own transaction, committed when the caller takes the next."""
    s = source_records.c
    last = ("", "")
    while True:
        with engine.begin() as conn:
            rows = conn.execute(
                select(s.system, s.source_id, s.payload)
                .where(tuple_(s.system, s.source_id) > tuple_(*last), s.payload.is_not(None))
                .order_by(s.system, s.source_id).limit(batch)).all()
            if not rows:
                return
            yield conn, rows
        last = (rows[-1].system, rows[-1].source_id)


def _stale_payloads(engine: Engine, codec: PiiCodec, batch: int) -> int:
    return sum(sum(1 for r in rows if not payloads.is_sealed_with(r.payload, codec.current, codec))
               for _conn, rows in _payload_pages(engine, batch))


def _reseal_payloads(engine: Engine, codec: PiiCodec, batch: int) -> int:
    """Re-seal the compressed raw payloads (``source_records.payload``) sealed under an old key."""
    s = source_records.c
    done = 0
    for conn, rows in _payload_pages(engine, batch):
        for system, source_id, payload in rows:
            if not payloads.is_sealed_with(payload, codec.current, codec):
                try:
                    new = payloads.reseal(payload, codec)
                except ConfigError:  # its key is not configured: left as it is, stale_seals counts it
                    continue
                done += _written(conn.execute(  # unless a sync wrote the record since (see _scan)
                    update(source_records).where(s.system == system, s.source_id == source_id, s.payload == payload)
                    .values(payload=new)))
    return done
