"""The ledger schema, in SQLAlchemy Core: one table per idea of DESIGN.md's data path.

Core, not the ORM: the sync engine moves records in batches of thousands with ``executemany``, and the ORM's
unit of work would cost more than the rest of the path together. Migrations live in ``gateway/store/migrations``
(Alembic); this module is their source of truth and ``tests/store/test_migrations.py`` keeps them in step.

Times are stored as UTC (``UtcDateTime``) and handed back as aware datetimes; JSON payloads as text written by
orjson, which is portable between SQLite and PostgreSQL and several times faster than the JSON column types.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.types import TypeDecorator

from gateway.models.stored import compact_case_json, expand_case_json

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as naive UTC: the same ordering and meaning on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the ledger; times must be aware")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class CaseJson(TypeDecorator[str]):
    """``cases.data``: a canonical case document, stored without its top-level defaults and read back whole
    (:mod:`gateway.models.stored`). Writers may give either form; readers always get the whole document.
    Comparisons (``LIKE``) see the stored text as it is."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: object) -> str | None:
        return None if value is None else compact_case_json(value)

    def process_result_value(self, value: str | None, dialect: object) -> str | None:
        return None if value is None else expand_case_json(value)

    def coerce_compared_value(self, op: object, value: object) -> Text:
        return Text()


source_records = Table(
    "source_records",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("source_id", String(128), primary_key=True),
    Column("stream", String(64), nullable=False),
    Column("case_no", String(64), nullable=True),
    Column("cursor", UtcDateTime(), nullable=True),
    Column("content_hash", String(64), nullable=True),
    Column("raw", Text, nullable=True),
    Column("mapping_version", String(32), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("raw_hash", String(32), nullable=True),
    Column("payload", LargeBinary, nullable=True),
    Index(None, "case_no"),
    Index(None, "system", "cursor"),  # a day's reconciliation reads that day (migration 0011)
)
"""Each system's own view of a record: the raw payload (kept for remap and replay), the case it belongs to and
the hash of its canonical form. The canonical form itself lives once, in ``cases``; any source's can be
recomputed from its raw payload.

The raw payload is ``payload``: the source's JSON compressed, and sealed when PII keys are configured
(:mod:`gateway.store.payloads`, migration 0006). Rows written before that hold it as JSON text in ``raw``
(sealed as an ``encb:`` blob or clear) and stay readable; ``raw_hash`` (of the JSON bytes as received) lets an
unchanged record be recognised before it is mapped, validated or written again."""

payload_dictionaries = Table(
    "payload_dictionaries",
    metadata,
    Column("id", String(16), primary_key=True),  # hex of the 8-byte id at the head of each payload using it
    Column("system", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index(None, "system", "created_at"),
)
"""The zstd dictionaries raw payloads are compressed with, one per system (trained on its first page):
``gateway.store.payloads``. Never deleted while a payload may name one."""

ledger_marks = Table(
    "ledger_marks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", UtcDateTime(), nullable=False),
)
"""Facts about the ledger as a whole (migration 0021): ``pii.sealed`` — its personal data is sealed at rest, since
when and under which blind-index key (a fingerprint): :mod:`gateway.store.sealing`."""

DEFERRAL_PREDICATE = """data LIKE '%"certificate_type":%'"""
"""The cases whose document names a certificate type anywhere (a deferred material's, 容缺受理), as SQL: the
predicate of the partial index ``ix_cases_certificate_deferrals`` (migration 0027). A query uses that index only if
it repeats this text word for word — no bound parameter in its place (gateway.store.process
``cases_with_certificate_deferrals``)."""

cases = Table(
    "cases",
    metadata,
    Column("case_no", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("data", CaseJson(), nullable=False),
    Column("origin_system", String(64), nullable=False),
    Column("origin_source_id", String(128), nullable=False),
    # the writing copy's own digest when the version is not that copy whole (migration 0022; NULL: it is)
    Column("origin_digest", String(64), nullable=True),
    # who set each value the version's writer did not (JSON, sparse; NULL: the writer set them all): migration 0022
    Column("field_sources", Text, nullable=True),
    Column("source_updated_at", UtcDateTime(), nullable=False),
    Column("dept_code", String(32), nullable=True),
    Column("item_code", String(64), nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # the deadline scan's bookkeeping (migration 0011_clock_due): when this case's clocks must be read again
    Column("clock_due_at", UtcDateTime(), nullable=True, server_default=text("'1970-01-01 00:00:00'")),
    Column("clock_flags", Integer, nullable=False, server_default=text("0")),
    Index("ix_cases_clock_due", "clock_due_at", "case_no", "clock_flags", sqlite_where=text("clock_due_at IS NOT NULL"),
          postgresql_where=text("clock_due_at IS NOT NULL")),
    Index("ix_cases_certificate_deferrals", "case_no", sqlite_where=text(DEFERRAL_PREDICATE),
          postgresql_where=text(DEFERRAL_PREDICATE)),
)
"""The merged case, keyed by the national case number (办件编号); ``version`` grows with every change.

``origin_digest``: a version written from a copy of a case another system also holds keeps what that system
speaks for (:mod:`gateway.models.survivorship`), so its ``content_hash`` is not the copy's; the column then holds
the copy's own digest (what the reconciliation compares with the record), NULL when the version is the copy whole;
``field_sources`` names who set each value the writer did not (``{"accepted_at": "sd_civil"}``).

``clock_due_at`` is when the deadline scan must read the case again (:mod:`gateway.store.clocks`): the epoch
(``CLOCK_DUE_NOW``) once anything wrote it — the column's default on insert, a trigger on every change of
``data``, ``version`` or ``deleted``, whoever the writer — the next instant one of its clocks changes level while
they run, a far-future instant while nothing but a change can move them, and NULL once no clock runs (closed, not
yet accepted). The partial index holds only the cases with a clock, so the scan reads what changed or fell due,
never every live case. ``clock_flags``: what the last scan found (running, paused, yellow, red, guessed calendar)
— the scan's totals are one index-only count."""

watermarks = Table(
    "watermarks",
    metadata,
    Column("system", String(64), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("cursor", UtcDateTime(), nullable=True),
    Column("checkpoint", Text, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # "record" (sync) | "push" (outbox delivery)
    Column("system", String(64), nullable=False),
    Column("stream", String(64), nullable=False),
    Column("source_id", String(128), nullable=True),
    Column("case_no", String(64), nullable=True),
    Column("cursor", UtcDateTime(), nullable=True),
    Column("raw", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("issues", Text, nullable=True),
    Column("mapping_version", String(32), nullable=True),
    Column("status", String(16), nullable=False, default="open"),  # open | resolved
    Column("attempts", Integer, nullable=False, default=1),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index(None, "system", "status"),
    UniqueConstraint("kind", "system", "stream", "source_id", name="uq_dead_letters_record"),
)
"""What could not be used, with the raw payload and the reason: nothing bad input brings in is lost."""

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_no", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("target_system", String(64), nullable=False),
    Column("operation", String(16), nullable=False),  # upsert | delete
    Column("status", String(16), nullable=False, default="pending"),  # pending | delivered | superseded | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("result", String(16), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    UniqueConstraint("case_no", "version", "target_system"),
    Index(None, "status", "next_attempt_at"),
)
"""One row per (case version, system that should hold it): the push job's work queue."""

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # sync | push | remap | replay
    Column("mode", String(16), nullable=True),
    Column("status", String(16), nullable=False),  # running | succeeded | degraded | failed
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("read", Integer, nullable=False, default=0),
    Column("inserted", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("rejected", Integer, nullable=False, default=0),
    Column("deleted", Integer, nullable=False, default=0),
    Column("watermark_before", UtcDateTime(), nullable=True),
    Column("watermark_after", UtcDateTime(), nullable=True),
    Column("error", Text, nullable=True),
    Column("quality", Text, nullable=True),  # JSON: per severity and rule, records, fields, examples
    Index(None, "system", "started_at"),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("host", String(128), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)
"""One run per system at a time, whoever starts it: the holder renews its lease while it works."""

# -- orchestration (migration 0002_orchestration): alerts and reconciliation reports --------------------------

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),  # sync_failed | behind | deadline | reconcile | task_failed
    Column("key", String(160), nullable=False),  # what the alert is about: a system, a case number, a task
    Column("system", String(64), nullable=True),
    Column("case_no", String(64), nullable=True),
    Column("level", String(16), nullable=False),  # yellow | red (deadlines); warning | error (operations)
    Column("message", Text, nullable=False),
    Column("details", Text, nullable=True),
    Column("status", String(16), nullable=False, default="open"),  # open | resolved
    Column("occurrences", Integer, nullable=False, default=1),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime(), nullable=True),
    # time limits (migration 0011): the stage a deadline is about and when it is or was due, so the console
    # counts thousands of them by stage and lists the most overdue in SQL, without reading every one's details
    Column("stage", String(64), nullable=True),
    Column("due_at", UtcDateTime(), nullable=True),
    UniqueConstraint("kind", "key"),
    Index(None, "case_no"),
    # the console's reads (0011, replacing (status, kind)): open alerts counted by level × kind × system × stage
    # from the index alone, and the most overdue in due order, however many hundreds of thousands are open
    Index("ix_alerts_open_levels", "status", "level", "kind", "system", "stage"),
    Index("ix_alerts_overdue", "status", "level", "due_at"),
)
"""One row per thing that needs a person: raised again it counts up, fixed it is resolved (never deleted)."""

clock_scans = Table(
    "clock_scans",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # of the calendar and stage plans the clocks were read with
    Column("scanned_to", UtcDateTime(), nullable=False),  # the instant the last scan read the clocks at
    Column("updated_at", UtcDateTime(), nullable=False),
)
"""Where the incremental deadline scan stands (migration 0011_clock_due). A new calendar or stage plan, or a
scan at an earlier instant than the last, reads every clock again."""

reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("system", String(64), nullable=False),
    Column("day", String(10), nullable=False),  # Beijing date of the source change time, YYYY-MM-DD
    Column("checked_at", UtcDateTime(), nullable=False),
    Column("source_count", Integer, nullable=False),
    Column("ledger_count", Integer, nullable=False),
    Column("hall_expected", Integer, nullable=False),
    Column("hall_count", Integer, nullable=False),
    Column("matched", Integer, nullable=False),
    Column("missing_in_ledger", Integer, nullable=False),
    Column("divergent", Integer, nullable=False),
    Column("extra_in_ledger", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    # rejected by the mapping and in no dead letter: never seen by a sync (0016)
    Column("unrecorded_rejections", Integer, nullable=False, server_default="0"),
    Column("missing_in_hall", Integer, nullable=False),
    Column("stale_in_hall", Integer, nullable=False),
    Column("source_hash", String(32), nullable=False),
    Column("ledger_hash", String(32), nullable=False),
    Column("problems", Text, nullable=False),  # JSON list: {source_id, case_no, problem}
    Index(None, "system", "day"),
)
"""What one reconciliation found, per system and day: counts and order-independent content hashes of the
source, the ledger and the hall, and the cases that are missing or differ."""

RECONCILIATION_PROBLEMS: tuple[str, ...] = ("missing_in_ledger", "divergent", "extra_in_ledger", "unrecorded_rejections",
                                            "missing_in_hall", "stale_in_hall")
"""The counts of a reconciled day that make it not in order: any of them above zero (the reconciliation's
``DayReport.ok``, the console's "bad days")."""


# ======================================================================================================
# Certificate-sharing gateway (migration 0003_gateway): the certificate library, issuer keys, API clients,
# consents, the hash-chained audit log and its checkpoints, webhook subscriptions and deliveries.
# Holder ID numbers never appear here in clear: ``*_bidx`` columns hold a keyed blind index (HMAC-SHA256),
# documents holding them have them sealed, and the issuers' files (holders' names and numbers inside) are sealed
# whole (AES-GCM or SM4-GCM, see gateway/crypto/pii.py) — except a file an older Tongban kept in clear base64,
# which ``tongban keys rotate`` seals.
# ======================================================================================================

certificates = Table(
    "certificates",
    metadata,
    Column("identifier", String(160), primary_key=True),
    Column("legacy_identifier", String(160), nullable=True),
    Column("source_system", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("type_code", String(64), nullable=False),
    Column("name", String(128), nullable=False),
    Column("number", String(128), nullable=False),
    Column("issuer_code", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("valid_from", String(10), nullable=True),
    Column("valid_until", String(10), nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("file", Text, nullable=False),
    Column("renewed_as", String(160), nullable=True),
    Column("warnings", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("source_changed_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("refused_entry", Integer, nullable=True),
    Column("refused_reason", Text, nullable=True),
    Column("refused_at", UtcDateTime(), nullable=True),
    Index(None, "legacy_identifier"),
    Index(None, "content_hash"),
    Index("ix_certificates_refused_entry", "refused_entry", sqlite_where=text("refused_entry IS NOT NULL"),
          postgresql_where=text("refused_entry IS NOT NULL")),
    UniqueConstraint("source_system", "source_id", name="uq_certificates_source"),
)
"""Verified certificates only (a bad signature goes to ``certificate_quarantine``). ``document`` is the
canonical metadata as JSON with holder ID numbers sealed; ``file`` the issuer's file, sealed whole
(``encf:v1:…``, :meth:`gateway.crypto.pii.PiiCodec.seal_file`; clear base64 in a row from before it was). ``valid_from`` and
``valid_until`` are ISO dates (有效期起/止), the status is the issuer's: what it is *today* is derived on read
(migration 0013 added ``valid_from``). ``refused_*``: a newer version the issuer sent was quarantined (the entry,
its reason, when) — the certificate is still served, with that said; cleared when a newer version verifies or an
operator resolves the entry."""

certificate_holders = Table(
    "certificate_holders",
    metadata,
    Column("identifier", String(160), primary_key=True),
    Column("holder_bidx", String(64), primary_key=True),
    Column("type_code", String(64), nullable=False),
    Index(None, "holder_bidx", "type_code"),
)

certificate_quarantine = Table(
    "certificate_quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_system", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("identifier", String(160), nullable=True),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("payload_hash", String(32), nullable=True),
    Column("resolved_at", UtcDateTime(), nullable=True),
    Column("resolution", Text, nullable=True),
    Column("source_changed_at", UtcDateTime(), nullable=True),
    UniqueConstraint("source_system", "source_id", name="uq_certificate_quarantine_source"),
)
"""The latest refused copy of each source record (``raw`` sealed), why, and — once an operator has checked with the
issuer — when and how it was resolved. ``payload_hash`` tells a re-read of the same copy (the harvest's lookback)
from a new one: the same copy keeps its entry, resolved or not. ``source_changed_at``: the refused copy's change
time, when it said one (migration 0014): only a copy at least as new supersedes the refusal."""

certificate_events = Table(
    "certificate_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identifier", String(160), nullable=False),
    Column("type_code", String(64), nullable=False),
    Column("event", String(16), nullable=False),  # issued | status | renewed | expired | effective
    Column("status", String(16), nullable=False),
    Column("previous_status", String(16), nullable=True),
    Column("renewed_as", String(160), nullable=True),
    Column("at", UtcDateTime(), nullable=False),
    Index(None, "identifier"),
    Index("ix_certificate_events_not_yet_valid", "identifier", sqlite_where=text("status = 'not_yet_valid'"),
          postgresql_where=text("status = 'not_yet_valid'")),
)

issuer_keys = Table(
    "issuer_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("issuer_code", String(32), nullable=False),
    Column("algorithm", String(16), nullable=False),  # Ed25519 | SM2
    Column("public_key", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Index(None, "issuer_code"),
)

api_clients = Table(
    "api_clients",
    metadata,
    Column("client_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("department_code", String(32), nullable=True),
    Column("scopes", Text, nullable=False),
    Column("secret_salt", String(64), nullable=False),
    Column("secret_hash", String(128), nullable=False),
    Column("rate_limit", Float, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=True),
    Column("revoked_at", UtcDateTime(), nullable=True),
)
"""Department systems and the hall calling the API; the secret is shown once and stored as a salted hash."""

consents = Table(
    "consents",
    metadata,
    Column("consent_id", String(32), primary_key=True),
    Column("holder_bidx", String(64), nullable=False),
    Column("client_id", String(32), nullable=False),
    Column("certificate_types", Text, nullable=False),
    Column("item_code", String(64), nullable=False),
    Column("case_no", String(64), nullable=False),
    Column("issued_by", String(32), nullable=False),
    Column("issued_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
    Index(None, "holder_bidx"),
    Index(None, "revoked_at"),
)
"""A consent token is checked by its MAC alone (no read per release); a revoked consent is refused because every
gateway process keeps the set of revoked consent ids, polling ``revoked_at`` (gateway.sharing.api.app)."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("action", String(16), nullable=False),  # query | release | deny | verify | consent | ...
    Column("outcome", String(32), nullable=False),
    Column("client_id", String(32), nullable=True),
    Column("holder_ref", String(64), nullable=True),
    Column("certificate", String(160), nullable=True),
    Column("item_code", String(64), nullable=True),
    Column("case_no", String(64), nullable=True),
    Column("detail", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "holder_ref", "seq"),  # a holder's access log, a page at a time
)
"""Append-only, hash-chained: ``hash = H(prev_hash ‖ canonical entry)``; ``tongban audit verify`` recomputes it."""

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("hash", String(64), nullable=False),
    Column("algorithm", String(16), nullable=False),
    Column("signature", Text, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("subscription_id", String(32), primary_key=True),
    Column("client_id", String(32), nullable=False),
    Column("url", Text, nullable=False),
    Column("certificate_types", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscription_id", String(32), nullable=False),
    Column("event_id", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    UniqueConstraint("subscription_id", "event_id"),
    Index(None, "status", "next_attempt_at"),
)

__all__ = [
    "UtcDateTime",
    "api_clients",
    "audit_checkpoints",
    "audit_log",
    "certificate_events",
    "certificate_holders",
    "certificate_quarantine",
    "certificates",
    "consents",
    "issuer_keys",
    "webhook_deliveries",
    "webhook_subscriptions",
    "alerts",
    "cases",
    "dead_letters",
    "leases",
    "metadata",
    "outbox",
    "payload_dictionaries",
    "reconciliations",
    "runs",
    "source_records",
    "watermarks",
]


# ======================================================================================================
# Catalogue and KPIs (migration 0007_catalogue_kpi): the harvested 实施清单 with its versions, the consistency
# audit's runs and findings (tracked across runs), and one KPI contribution row per case.
# ======================================================================================================

catalogue_items = Table(
    "catalogue_items",
    metadata,
    Column("catalog_code", String(16), primary_key=True),
    Column("item_code", String(64), primary_key=True),
    Column("level", String(2), primary_key=True),
    Column("division", String(12), primary_key=True),
    Column("source", String(64), primary_key=True),  # several catalogue systems list one entry: a copy each
    Column("source_id", String(128), nullable=False),
    Column("name", String(256), nullable=False),
    Column("dept_code", String(32), nullable=True),  # the first 实施主体; all of them are in ``data``
    Column("dept_count", Integer, nullable=False),
    Column("legal_days", Integer, nullable=True),
    Column("legal_unit", String(16), nullable=True),
    Column("promised_days", Integer, nullable=True),
    Column("promised_unit", String(16), nullable=True),
    Column("visits", Integer, nullable=True),
    Column("tongban", String(16), nullable=True),  # 通办目录 scope: city | cross_province
    Column("status", String(16), nullable=False),
    Column("source_version", String(32), nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("source_changed_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index(None, "item_code"),
    UniqueConstraint("source", "source_id", name="uq_catalogue_items_source"),
)
"""The current 实施清单 entry per (基本编码, 实施编码, level, division) as each catalogue system (``source``) lists it
— the national catalogue and the province's both list a national entry: two copies, which the audit compares
(``copy_differs``) and everything else reads one of (:func:`gateway.store.catalogue.one_copy`). ``data`` is the
canonical entry as JSON and the columns beside it are what the KPIs join on. ``version`` grows with every content
change."""

catalogue_item_versions = Table(
    "catalogue_item_versions",
    metadata,
    Column("catalog_code", String(16), primary_key=True),
    Column("item_code", String(64), primary_key=True),
    Column("level", String(2), primary_key=True),
    Column("division", String(12), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("data", Text, nullable=False),
    Column("source_changed_at", UtcDateTime(), nullable=True),
    Column("recorded_at", UtcDateTime(), nullable=False),
)
"""Every version an entry has had: what the catalogue said on a given day, for an audit finding's history."""

catalogue_audit_runs = Table(
    "catalogue_audit_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("entries", Integer, nullable=False, default=0),
    Column("findings", Integer, nullable=False, default=0),
    Column("new", Integer, nullable=False, default=0),
    Column("still_open", Integer, nullable=False, default=0),
    Column("fixed", Integer, nullable=False, default=0),
    Column("duration_s", Float, nullable=True),
    Column("params", Text, nullable=True),  # JSON: dormant_months, the reference level …
)

catalogue_findings = Table(
    "catalogue_findings",
    metadata,
    Column("finding_key", String(255), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("rule", String(48), nullable=False),
    Column("element", String(32), nullable=False),
    Column("catalog_code", String(16), nullable=False),
    Column("item_code", String(64), nullable=True),
    Column("level", String(2), nullable=True),
    Column("division", String(12), nullable=True),
    Column("expected", Text, nullable=True),
    Column("found", Text, nullable=True),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False),  # open | fixed
    Column("first_run", Integer, nullable=False),
    Column("last_run", Integer, nullable=False),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Column("fixed_at", UtcDateTime(), nullable=True),
    Index(None, "status", "kind"),
)
"""One row per thing the audit found, keyed by what it is about (kind, rule, element, entry): seen again it stays
open, gone it is fixed (and reopens if it comes back), so every run says what is new, still open and fixed."""

kpi_case_facts = Table(
    "kpi_case_facts",
    metadata,
    Column("case_no", String(64), primary_key=True),
    Column("case_version", Integer, nullable=False),
    Column("month", String(7), nullable=True),  # Beijing month of 申请时间, YYYY-MM
    Column("item_code", String(64), nullable=True),
    Column("dept_code", String(32), nullable=True),
    Column("office_code", String(64), nullable=True),
    Column("office_division", String(12), nullable=True),
    Column("channel", String(16), nullable=True),
    Column("live", Boolean, nullable=False),  # not deleted, not voided
    Column("instant", Boolean, nullable=False),
    Column("finished", Boolean, nullable=False),
    Column("with_deadline", Boolean, nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("online", Boolean, nullable=True),
    Column("cross_province", Boolean, nullable=True),
    Column("promised_days", Integer, nullable=True),
    Column("materials", Integer, nullable=False),
    Column("materials_reused", Integer, nullable=False),
    Column("submissions_saved", Integer, nullable=False),
    Column("refreshed_at", UtcDateTime(), nullable=False),
    # migration 0015_kpi_result_scope: the canonical result (不予受理 and 撤回 are counted apart from 办件量), and
    # the 通办目录 the accepting office took the item under (city | cross_province; None: none)
    Column("result", String(24), nullable=True),
    Column("tongban_scope", String(32), nullable=True),
    # migration 0029_kpi_month_of: the Beijing months of 受理时间 (or the hand-off's clock start) and of 办结时间, so a
    # report can count a month's acceptances or finishes (``--month-of``), not only its applications
    Column("accepted_month", String(7), nullable=True),
    Column("finished_month", String(7), nullable=True),
    Index(None, "month"),
    Index("ix_kpi_case_facts_accepted_month", "accepted_month"),
    Index("ix_kpi_case_facts_finished_month", "finished_month"),
)
"""What one case contributes to the KPIs, refreshed only when the case's version moves (or everything, when what
the rows are computed with changes); the KPIs are sums of these rows grouped by item, department, office, channel
or month."""

__all__ += ["catalogue_audit_runs", "catalogue_findings", "catalogue_item_versions", "catalogue_items",
            "kpi_case_facts"]

# ======================================================================================================
# Processes (issue 15, migration 0008_process): the 一窗受理 hand-off with deemed acceptance, its audit trail,
# and the 办不成事 tickets. Owned by gateway.process; SQL in gateway/store/process.py.
# ======================================================================================================

process_handoffs = Table(
    "process_handoffs",
    metadata,
    Column("case_no", String(64), primary_key=True),
    Column("hall_system", String(64), nullable=False),  # the system the front-desk case came from
    Column("office_code", String(64), nullable=True),  # 受理点
    Column("item_code", String(64), nullable=True),
    Column("division", String(12), nullable=True),
    Column("target_system", String(64), nullable=True),  # the competent department's system (None: refused)
    Column("dept_code", String(32), nullable=True),
    # awaiting_delivery | pending | accepted | refused | deemed | refused_routing | not_handled | withdrawn
    Column("state", String(24), nullable=False),
    Column("window_s", Integer, nullable=False),
    Column("registered_at", UtcDateTime(), nullable=False),
    Column("handed_at", UtcDateTime(), nullable=True),  # the department system has the case (outbox delivered)
    Column("due_at", UtcDateTime(), nullable=True),  # handed_at + window: deemed accepted then if unanswered
    Column("decided_at", UtcDateTime(), nullable=True),  # the case clock starts here
    Column("decided_by", String(16), nullable=True),  # department | deemed | routing
    Column("reason", Text, nullable=True),
    Column("forwarded_version", Integer, nullable=False, default=0),  # last hall version queued for the department
    Column("late_decision", String(16), nullable=True),  # accepted | refused, seen after the deemed acceptance
    Column("late_decided_at", UtcDateTime(), nullable=True),
    Column("late_reason", Text, nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    # the case version a scan last found no answer in (a deemed hand-off): not read again until the case or the
    # hand-off changes (migration 0024; any move of the hand-off clears it)
    Column("answers_seen_version", Integer, nullable=True),
    Index(None, "state", "due_at"),
)
"""One row per front-desk case handed to a department: the stored due time the hand-off scan deems on, so the
timer survives any restart (the state moves by compare-and-set: told exactly once whoever scans)."""

process_events = Table(
    "process_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_no", String(64), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("step", String(32), nullable=False),  # registered | routed | refused_routing | handed | accepted | ...
    Column("actor", String(64), nullable=False),  # a system name, or tongban.handoff
    Column("detail", Text, nullable=True),  # JSON
    Index(None, "case_no"),
)
"""The audit trail of every hand-off step, in order (append only)."""

process_tickets = Table(
    "process_tickets",
    metadata,
    Column("ticket_no", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),  # simple (3 working days) | coordination (10)
    Column("office_code", String(64), nullable=True),
    Column("case_no", String(64), nullable=True),
    Column("subject", Text, nullable=False),
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("replied_at", UtcDateTime(), nullable=True),
    Column("reply", Text, nullable=True),
    Index(None, "replied_at"),
)
"""办不成事 tickets (反映办不成事窗口): a reply is owed within 3 working days (simple) or 10 (coordination)."""

__all__ += ["process_events", "process_handoffs", "process_tickets"]


# ======================================================================================================
# The citizen's voice (issue 12, migration 0009_citizen): 好差评 evaluations, their callbacks, rectifications
# and appeals; 12345 work orders; one outbox for what goes back to the provincial system and the platform.
# ======================================================================================================

citizen_evaluations = Table(
    "citizen_evaluations",
    metadata,
    Column("rating_id", String(64), primary_key=True),
    Column("case_no", String(64), nullable=False),
    Column("level", Integer, nullable=False),  # 5 非常满意 … 1 非常不满意
    Column("bad", Boolean, nullable=False),
    Column("channel", String(16), nullable=False),  # pc | app | qrcode | device | sms
    Column("device", String(64), nullable=True),
    Column("window_no", String(32), nullable=True),
    Column("staff", String(32), nullable=True),
    Column("dept_code", String(32), nullable=True),
    Column("division", String(12), nullable=True),
    Column("office_code", String(64), nullable=True),
    Column("rated_at", UtcDateTime(), nullable=False),
    Column("month", String(7), nullable=False),  # Beijing month of rated_at
    Column("case_finished_at", UtcDateTime(), nullable=True),
    Column("comment", Text, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("appeal", String(16), nullable=True),  # None | pending | upheld | rejected (final)
    Column("flags", Text, nullable=True),  # JSON list of misuse rules this rating broke
    Column("content_hash", String(64), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # the collection point's change time (updateTime) of the version held: what a replay compares (0017)
    Column("source_changed_at", UtcDateTime(), nullable=True),
    Index(None, "rated_at"),
    Index(None, "device", "rated_at"),
    Index(None, "case_no"),
)
"""One row per rating (好差评), linked to its case; ``bad`` is 不满意/非常不满意."""

citizen_callbacks = Table(
    "citizen_callbacks",
    metadata,
    Column("rating_id", String(64), primary_key=True),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("done_at", UtcDateTime(), nullable=True),
    Column("result", Text, nullable=True),
    Column("rect_due_at", UtcDateTime(), nullable=True),
    Column("rect_done_at", UtcDateTime(), nullable=True),
    Column("rect_note", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    # due before the cut-over (policy callbacks_from, else the first read of the collection point): history, listed,
    # not counted in the 回访 figures nor alerted (migration 0020)
    Column("predates", Boolean, nullable=False, default=False, server_default=false()),
    Index(None, "done_at", "due_at"),
)
"""The callback (回访) a bad review owes the same working day, and the rectification (整改) it leads to."""

citizen_appeals = Table(
    "citizen_appeals",
    metadata,
    Column("rating_id", String(64), primary_key=True),
    Column("level", String(16), primary_key=True),  # city | province
    Column("status", String(16), nullable=False),  # pending | upheld | rejected
    Column("reason", Text, nullable=False),
    Column("filed_at", UtcDateTime(), nullable=False),
    Column("decided_at", UtcDateTime(), nullable=True),
    Column("opinion", Text, nullable=True),
)
"""An appeal against a mistaken bad review, one row per level it reached (the city first, then the province)."""

citizen_workorders = Table(
    "citizen_workorders",
    metadata,
    Column("order_no", String(64), primary_key=True),
    Column("matter_type", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("division", String(12), nullable=False),
    Column("content", Text, nullable=True),
    Column("case_no", String(64), nullable=True),
    Column("status", String(16), nullable=False),  # received | dispatched | returned | replied | redo | closed
    Column("received_at", UtcDateTime(), nullable=False),
    Column("month", String(7), nullable=False),  # Beijing month of received_at (派单)
    Column("limit_days", Integer, nullable=False),
    Column("dispatch_due_at", UtcDateTime(), nullable=False),
    Column("dispatched_at", UtcDateTime(), nullable=True),
    Column("dept_code", String(32), nullable=True),
    Column("dept_name", String(128), nullable=True),
    Column("dept_system", String(64), nullable=True),
    Column("routed_by", String(16), nullable=True),  # tongban | platform (its own staff); NULL: rows before 0023
    Column("return_reason", Text, nullable=True),
    Column("sign_due_at", UtcDateTime(), nullable=True),
    Column("signed_at", UtcDateTime(), nullable=True),
    Column("reply_due_at", UtcDateTime(), nullable=True),
    Column("replied_at", UtcDateTime(), nullable=True),
    Column("first_replied_at", UtcDateTime(), nullable=True),  # the first reply, kept when a redo is replied to
    Column("redo_round", Integer, nullable=False, default=0),
    Column("redo_due_at", UtcDateTime(), nullable=True),
    Column("redo_refused", Integer, nullable=False, default=0),
    Column("handout", Integer, nullable=False, default=0, server_default="0"),  # times handed out again after 退回
    Column("rating", String(16), nullable=True),  # satisfied | basic | unsatisfied (the latest round)
    Column("rated_at", UtcDateTime(), nullable=True),
    Column("platform_status", String(16), nullable=True),
    Column("source_changed_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index(None, "status"),
    Index(None, "month", "dept_code"),
)
"""A 12345 work order: where Tongban routed it, its time limits (转派 15 minutes, 签收, 办结, 重办) and its rating."""

citizen_outbox = Table(
    "citizen_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("target", String(32), nullable=False),  # provincial_pj | hotline
    Column("key", String(160), nullable=False),  # what is sent, once: rating:R1, callback:R1:1, df:G1:0 …
    Column("operation", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    UniqueConstraint("target", "key", name="uq_citizen_outbox_key"),
    Index(None, "target", "status", "next_attempt_at"),
)
"""Everything that goes back to a foreign system, one row per item and key, written in the same transaction as
the change that calls for it: the resend after a crash carries the same key, and the receiver answers
"already received"."""

__all__ += ["citizen_appeals", "citizen_callbacks", "citizen_evaluations", "citizen_outbox", "citizen_workorders"]


# ======================================================================================================
# 一件事 bundles (issue 15): one application fanned out to several department systems
# ======================================================================================================

bundle_applications = Table(
    "bundle_applications",
    metadata,
    Column("bundle_no", String(40), primary_key=True),
    Column("bundle_code", String(32), nullable=False),
    Column("reference", String(64), nullable=True),  # the submitter's own number: applying twice is once
    Column("submitted_by", String(64), nullable=False, server_default=text("''")),  # API client id; '' CLI/DAGs
    Column("application_sha256", String(64), nullable=True),  # the checked application: a retry, or a conflict
    Column("applicant_name", String(200), nullable=False),
    Column("form", Text, nullable=False),  # the merged form as checked, JSON (ID numbers sealed when keys exist)
    Column("consent", Boolean, nullable=False),
    Column("status", String(16), nullable=False),  # submitted | in_progress | held | finished | failed
    Column("reason", Text, nullable=True),
    Column("failed_part", String(32), nullable=True),
    Column("submitted_at", UtcDateTime(), nullable=False),
    Column("due_at", UtcDateTime(), nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("bundle_code", "submitted_by", "reference", name="uq_bundle_applications_reference"),
    Index(None, "status"),
)
"""One 一件事 application; its status is derived from its parts (``gateway.process.bundles``)."""

bundle_materials = Table(
    "bundle_materials",
    metadata,
    Column("bundle_no", String(40), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", Integer, nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("content", Text, nullable=False),  # base64 (sealed when keys exist): the one stored copy
    Column("received_at", UtcDateTime(), nullable=False),
)
"""Each material of an application, stored once; every part's case references it by ``bundle_no/code``."""

bundle_parts = Table(
    "bundle_parts",
    metadata,
    Column("bundle_no", String(40), primary_key=True),
    Column("part", String(32), primary_key=True),
    Column("case_no", String(64), nullable=False, unique=True),
    Column("system", String(64), nullable=False),
    Column("item_code", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # waiting | released | in_progress | held | finished | refused
    Column("reason", Text, nullable=True),
    Column("released_at", UtcDateTime(), nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("certificate_no", String(128), nullable=True),
    Column("certificate_id", String(160), nullable=True),  # the certificate library's identifier of what it issued
    Column("consent_id", String(32), nullable=True),
    Column("seen_version", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index(None, "state"),
)
"""One part of a bundle: the case Tongban writes for it (``case_no``) and where it stands in its system."""

__all__ += ["bundle_applications", "bundle_materials", "bundle_parts"]
