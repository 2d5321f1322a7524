"""Harvest: a catalogue system's 实施清单 entries into the catalogue store, versioned.

The same path as a case sync, smaller: the connector reads pages changed since the watermark (minus the
lookback), the catalogue's mapping turns each record into a :class:`~gateway.catalogue.entry.CatalogueEntry`,
and each page is one transaction — new entries inserted, changed ones (another content hash) updated with
``version + 1`` and the old text kept in ``catalogue_item_versions``, unchanged ones left alone, an older copy
never written over a newer one; a full refresh marks the entries the source no longer lists as retired (a
rejected record still counts as listed). A record is rejected — counted and named in the report (record id, field,
rule) — only when its key (基本编码, 实施编码, level, division) or what it is (name, item type) cannot be read. Any
other field the catalogue wrote so that it cannot be read (a time limit like ``1年``, a visit count like ``两次``, a
material without a name) is left out of the entry, which is stored with an
:class:`~gateway.catalogue.entry.EntryFlag` naming the field and the rule: the audit reports the flag and
compares the rest (a rule real data breaks is a flag on the record, not a lost record). The harvest goes on
either way. One harvest per catalogue at a time (a lease). Each catalogue system keeps its own copy of an entry
another system lists too (the national entry in the province's catalogue): the audit compares the copies.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine

from gateway.contract.connector import Connector
from gateway.contract.errors import SkippableSyncError
from gateway.kernel.config import SystemConfig
from gateway.mapping.mapper import Mapper
from gateway.models.datetimes import believable_cursors
from gateway.models.hashing import unreadable_record
from gateway.models.rules import PYDANTIC_RULES
from gateway.models.text import UNSTORABLE, storable, storable_tree
from gateway.store import catalogue as store
from gateway.store import ledger
from gateway.store.lease import Lease
from gateway.store.tables import catalogue_items

from .entry import UNSTORABLE_RULE, CatalogueEntry

__all__ = ["HarvestReport", "harvest_catalogue", "entry_row"]

SOURCE_ID_MAX: int = catalogue_items.c.source_id.type.length  # type: ignore[attr-defined]
"""The longest record key the store keeps (a longer one is the record's fault: rejected, named)."""


@dataclass
class HarvestReport:
    catalogue: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    flagged: int = 0
    """Entries kept with a field that could not be read (:attr:`CatalogueEntry.quality`)."""
    retired: int = 0
    """Entries a full refresh no longer found in the source (kept, marked retired: the audit skips them)."""
    recoded: int = 0
    """Source records whose key (实施编码, 基本编码, level, division) changed: the old entry retired, the new one
    written (also counted in ``inserted`` or ``updated``)."""
    duplicates: int = 0
    """Records listing an entry (key) another record holds — one listed first in the run, or one holding it with a
    newer change: named in ``flags``, not stored (the holder stands; a full refresh gives the entry to the first of
    them once its holder is no longer listed)."""
    future: int = 0
    """Records whose change time is in the future (a typo of 9999, a clock that is wrong): read, kept, but they do
    not move the watermark — past every change still to come, it would stop the incremental harvest for good."""
    rejections: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"catalogue": self.catalogue, "read": self.read, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected, "flagged": self.flagged,
                "retired": self.retired, "recoded": self.recoded, "duplicates": self.duplicates,
                "future": self.future,
                "rejections": self.rejections[:20],
                "flags": self.flags[:20], "duration_s": round(self.duration_s, 3)}


def entry_row(source: str, source_id: str, entry: CatalogueEntry, *, now: datetime) -> dict[str, Any]:
    """The ``catalogue_items`` row of an entry (without ``version``): the document plus the joined columns."""
    doc = entry.document()
    data = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS).decode()
    content = dict(doc)
    content.pop("changed_at", None)
    content.pop("source_version", None)
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()
    legal, promised = entry.legal_limit, entry.promised_limit
    try:
        changed = datetime.fromisoformat(entry.changed_at) if entry.changed_at else None
    except ValueError:
        raise ValueError(f"changed_at: {entry.changed_at[:40]!r} is not a date and time [date.format]") from None
    return {"catalog_code": entry.catalog_code, "item_code": entry.item_code, "level": entry.level.value,
            "division": entry.division, "source": source, "source_id": source_id, "name": entry.name[:256],
            "dept_code": entry.departments[0].code if entry.departments else None,
            "dept_count": len(entry.departments),
            "legal_days": legal.days if legal else None, "legal_unit": legal.unit if legal else None,
            "promised_days": promised.days if promised else None,
            "promised_unit": promised.unit if promised else None, "visits": entry.visits,
            "tongban": entry.tongban, "status": entry.status, "source_version": entry.source_version,
            "content_hash": digest, "data": data, "source_changed_at": changed, "updated_at": now}


_KEY_FIELDS = frozenset({"catalog_code", "item_code", "level", "division"})
_ESSENTIAL = _KEY_FIELDS | {"name", "item_type"}
"""What an entry cannot be kept without: its key and what it is. Any other unreadable field is a flag."""


def _issue_text(issues: list[tuple[str, str, str]]) -> str:
    return "; ".join(f"{f}: {m} [{r}]" for f, r, m in issues)


def _value(value: Any) -> str | None:
    return str(value)[:200] if isinstance(value, (str, int, float)) else None


def _optional_in_item(field: str, part: Any) -> bool:
    """Whether ``part`` of an item of list field ``field`` may be left out (a department's code) — else the item
    goes (a material without a name is no material)."""
    annotation = CatalogueEntry.model_fields[field].annotation if field in CatalogueEntry.model_fields else None
    item = next((a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)),
                None)
    spec = item.model_fields.get(str(part)) if item is not None else None
    return spec is not None and not spec.is_required()


def _without(canonical: dict[str, Any], locs: list[tuple[Any, ...]]) -> dict[str, Any]:
    """``canonical`` without the values at ``locs``: an optional part of a list item (``departments.0.code``: the
    department stays — dropping it made the entry "unclaimed"), a list item (``materials.2``) or a whole field."""
    out = dict(canonical)
    items: dict[str, set[int]] = {}
    parts: dict[str, dict[int, set[str]]] = {}
    for loc in locs:
        if len(loc) > 1 and isinstance(loc[1], int) and isinstance(out.get(loc[0]), list):
            if len(loc) == 3 and _optional_in_item(str(loc[0]), loc[2]):
                parts.setdefault(str(loc[0]), {}).setdefault(loc[1], set()).add(str(loc[2]))
            else:
                items.setdefault(str(loc[0]), set()).add(loc[1])
        else:
            out.pop(str(loc[0]), None)
    for key, drop in parts.items():
        if key in out:
            out[key] = [{k: v for k, v in item.items() if k not in drop.get(n, ())} if isinstance(item, dict)
                        else item for n, item in enumerate(out[key])]
    for key, gone in items.items():
        if key in out:
            out[key] = [item for n, item in enumerate(out[key]) if n not in gone]
    return out


def _readable_change_time(canonical: dict[str, Any], flags: list[dict[str, Any]]) -> dict[str, Any]:
    """``canonical`` without a change time that is no date and time (``2024/13/45 25:00``), flagged: the entry is
    kept — the change time orders copies, it is not what the entry says."""
    changed = canonical.get("changed_at")
    if not isinstance(changed, str):
        return canonical
    try:
        datetime.fromisoformat(changed)
        return canonical
    except ValueError:
        flags.append({"rule": "date.format", "field": "changed_at", "value": changed[:200],
                      "message": "the change time is not a date and time: the entry is kept without it"})
        return {k: v for k, v in canonical.items() if k != "changed_at"}


def _parse(mapper: Mapper, source_id: str, payload: Any) -> CatalogueEntry:
    """The entry of one record; ``ValueError`` naming every issue when its key or what it is cannot be read."""
    canonical, issues = mapper.map(payload)
    if any(f.split(".", 1)[0] in _ESSENTIAL for f, _, _ in issues):
        raise ValueError(_issue_text(issues))
    flags = [{"rule": r, "field": f, "message": m} for f, r, m in issues]
    canonical = _readable_change_time(canonical, flags)
    canonical, unstorable = storable_tree(canonical)
    for path in unstorable:  # PostgreSQL's text holds no NUL, JSON no lone surrogate: the page failed on one
        if path.split(".", 1)[0] in _KEY_FIELDS:
            raise ValueError(f"{path}: holds NUL or a lone surrogate, which no store can hold; a key altered would "
                             "name another entry [key.unstorable]")
        flags.append({"rule": UNSTORABLE_RULE, "field": path,
                      "message": "held NUL or a lone surrogate, which no store can hold: replaced by U+FFFD"})
    if flags:
        canonical = {**canonical, "quality": flags}
    try:
        return CatalogueEntry.model_validate(canonical)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
    found = [(".".join(map(str, e["loc"])), PYDANTIC_RULES.get(e["type"]) or f"schema.{e['type']}", e["msg"])
             for e in errors]
    if any(not e["loc"] or e["loc"][0] in _ESSENTIAL or e["loc"][0] == "quality" or e["type"] == "extra_forbidden"
           for e in errors):
        raise ValueError(_issue_text(issues + found))
    kept = _without(canonical, [tuple(e["loc"]) for e in errors])
    kept["quality"] = [*flags, *({"rule": r, "field": f, "message": m, "value": _value(e.get("input"))}
                                 for (f, r, m), e in zip(found, errors))]
    try:
        return CatalogueEntry.model_validate(kept)
    except ValidationError as again:
        raise ValueError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in again.errors())) from None


def harvest_catalogue(engine: Engine, config: SystemConfig, *, full_refresh: bool = False,
                      connector: Connector | None = None) -> HarvestReport:
    """One harvest of catalogue ``config.name``; returns what it read, wrote and rejected."""
    started = time.perf_counter()
    report = HarvestReport(config.name)
    mapper = Mapper.from_file(config.mapping_path, model=CatalogueEntry)
    own = connector is None
    source = connector or config.build_connector()
    mark = f"catalogue:{config.name}"
    try:
        with Lease(engine, f"harvest:{mark}") as lease:
            with engine.connect() as conn:
                watermark = ledger.get_watermark(conn, mark, config.stream)
                states = dict(store.entry_states(conn, config.name))
            since = None if full_refresh or watermark is None else watermark - config.lookback
            high = watermark
            seen: set[str] = set()
            claimed: dict[Any, str] = {}  # entry key → the record holding it in this run
            standby: dict[Any, dict[str, Any]] = {}  # entry key → a listed record's row another record's stands over
            for page in source.read(config.stream, since=since, mode="full_refresh" if full_refresh else "incremental"):
                seen.update(r.source_id for r in page.records)
                seen.update(_rejected(config.name, page.rejects, report))  # still listed: never retired for it
                with engine.begin() as conn:
                    _ingest_page(conn, config.name, page.records, mapper, states, report, claimed, standby)
                    page_high = _page_high(config.name, page.records, report)
                    if page.read_through is not None and (page_high is None or page.read_through > page_high):
                        page_high = page.read_through
                    if page_high is not None and (high is None or page_high > high):
                        ledger.set_watermark(conn, mark, config.stream, page_high)
                        high = page_high
                    lease.renew(conn)
            if full_refresh:
                gone = sorted({s["source_id"] for s in states.values() if s.get("source_id")} - seen)
                with engine.begin() as conn:
                    _take_over(conn, config.name, standby, states, set(gone), report)
                    report.retired += store.retire_entries(conn, config.name, gone, at=datetime.now(timezone.utc))
    finally:
        if own:
            source.close()
    report.duration_s = time.perf_counter() - started
    return report


def _rejected(name: str, rejects: Sequence[SkippableSyncError], report: HarvestReport) -> list[str]:
    """The records the connector could not read (a change time it cannot parse …), counted and named in the report;
    returns their ids: a full refresh must not retire the entries they are (the record is listed, only unreadable)."""
    ids = []
    for reject in rejects:
        source_id, _ = unreadable_record(reject)
        report.read += 1
        report.rejected += 1
        report.rejections.append(f"{name}:{source_id}: {reject}")
        if reject.source_id:
            ids.append(reject.source_id)
    return ids


def _page_high(name: str, records: Sequence[Any], report: HarvestReport) -> datetime | None:
    """The newest change time of the page the watermark may move to: a change time past the horizon
    (:func:`~gateway.models.datetimes.change_horizon`) does not move it, and is counted (``future``)."""
    kept, future = believable_cursors(records)
    for record in future:
        report.future += 1
        report.flags.append(f"{name}:{record.source_id}: change time {record.cursor.isoformat()} is in the future: "
                            "the watermark does not move to it [cursor.future]")
    return max(kept, default=None)


def _duplicate(report: HarvestReport, name: str, source_id: str, key: tuple[str, ...], why: str) -> None:
    report.duplicates += 1
    if len(report.flags) < 20:
        report.flags.append(f"{name}:{source_id}: lists the entry {'/'.join(key)} that {why}: its copy stands "
                            "[entry.duplicate]")


def _ingest_page(conn: Any, name: str, records: list[Any], mapper: Mapper, states: dict[Any, Any],
                 report: HarvestReport, claimed: dict[Any, str], standby: dict[Any, dict[str, Any]]) -> None:
    """One page into the store. ``claimed``: entry key → the record that holds it in this run (a second record of
    the key is a duplicate, named, not stored); ``standby``: the rows of records set aside for another record's
    newer copy — a full refresh writes one of them when that record is no longer listed, rather than retiring an
    entry the source still lists."""
    now = datetime.now(timezone.utc)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    holders = {s["source_id"]: key for key, s in states.items() if s.get("source_id")}
    """source id → the key of the row that holds it ((source, source_id) is unique)."""

    def flush() -> None:
        store.insert_entries(conn, inserts)
        store.update_entries(conn, updates)
        store.insert_versions(conn, versions)
        inserts.clear()
        updates.clear()
        versions.clear()

    for record in records:
        report.read += 1
        try:
            if len(record.source_id) > SOURCE_ID_MAX:
                raise ValueError(f"source_id: the record's key is {len(record.source_id)} characters; the store "
                                 f"keeps keys of at most {SOURCE_ID_MAX} [source_id.length]")
            if UNSTORABLE.search(record.source_id):
                raise ValueError("source_id: the record's key holds NUL or a lone surrogate, which no store can "
                                 "hold [key.unstorable]")
            entry = _parse(mapper, record.source_id, record.payload)
            row = entry_row(name, record.source_id, entry, now=now)
        except ValueError as exc:  # the record's own fault: named, and the page goes on
            report.rejected += 1
            report.rejections.append(f"{name}:{storable(record.source_id[:SOURCE_ID_MAX])}: {exc}")
            continue
        if entry.quality:
            report.flagged += 1
            report.flags.extend(f"{name}:{record.source_id}: {f.field}: {f.message} [{f.rule}]"
                                for f in entry.quality[:max(0, 20 - len(report.flags))])
        key = (row["catalog_code"], row["item_code"], row["level"], row["division"])
        held = holders.get(record.source_id)
        if held is not None and held != key:
            # re-coded at the source: the row under the old key still holds this source id
            before = states[held]
            if (before["source_changed_at"] is not None and row["source_changed_at"] is not None
                    and row["source_changed_at"] < before["source_changed_at"]):
                report.unchanged += 1  # an older copy of the record: the newer key stands
                continue
            flush()  # the statements so far first: one of them may write the old row
            tombstone = _tombstone(record.source_id, held, before["version"] + 1)
            store.release_entry(conn, name, held, tombstone=tombstone, at=now)
            states[held] = {**before, "version": before["version"] + 1, "source_id": tombstone, "status": "retired"}
            holders.pop(record.source_id)
            report.recoded += 1
        claimant = claimed.get(key)
        if claimant is not None and claimant != record.source_id:  # the source lists the entry twice: the two took
            _duplicate(report, name, record.source_id, key,          # the row over from each other, every run
                       f"record {claimant} listed earlier in this run")
            continue
        old = states.get(key)
        if old is not None:
            other = old.get("source_id") != record.source_id
            live_other = other and old.get("status") == "active"  # a retired row's record is gone: any may take it
            older = (not (other and not live_other) and old["source_changed_at"] is not None
                     and row["source_changed_at"] is not None and row["source_changed_at"] < old["source_changed_at"])
            same = (old["content_hash"] == row["content_hash"] and not other
                    and old.get("status", row["status"]) == row["status"])
            if older and live_other:  # another record's newer copy holds the row: it stands while it is listed
                standby.setdefault(key, row)  # the first record set aside, as the first of a run holds a key
                _duplicate(report, name, record.source_id, key, f"record {old['source_id']} holds with a newer change")
                continue
            if older or same:
                claimed[key] = record.source_id
                report.unchanged += 1
                continue
            row["version"] = old["version"] + 1
            updates.append(row)
            report.updated += 1
            if holders.get(old.get("source_id")) == key:  # another record's row at this key: taken over now, so
                holders.pop(old["source_id"])            # that record may write its own new key after this
                flush()
        else:
            row["version"] = 1
            inserts.append(row)
            report.inserted += 1
        claimed[key] = record.source_id
        standby.pop(key, None)
        states[key] = {"version": row["version"], "content_hash": row["content_hash"], "status": row["status"],
                       "source_changed_at": row["source_changed_at"], "source_id": record.source_id}
        holders[record.source_id] = key
        versions.append(_version_row(row, now))
    flush()


_VERSION_FIELDS = ("catalog_code", "item_code", "level", "division", "source", "version", "content_hash", "data",
                   "source_changed_at")


def _version_row(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The ``catalogue_item_versions`` row of an entry row just written."""
    return {**{k: row[k] for k in _VERSION_FIELDS}, "recorded_at": now}


def _take_over(conn: Any, name: str, standby: dict[Any, dict[str, Any]], states: dict[Any, Any], gone: set[str],
               report: HarvestReport) -> None:
    """The rows set aside in this full refresh whose holding record the source no longer lists: written over it
    (one more version), so that the entry stays with the record still listing it instead of being retired."""
    now = datetime.now(timezone.utc)
    holding = {s.get("source_id") for s in states.values()}
    rows = []
    for key, row in standby.items():
        held = states.get(key)
        if held is None or held.get("source_id") not in gone:
            continue
        if row["source_id"] in holding:  # that record holds another entry now (listed twice in the run, once
            continue                     # re-coded): (source, source_id) is one row — its entry is that one
        holding.add(row["source_id"])
        rows.append({**row, "version": held["version"] + 1, "updated_at": now})
        report.updated += 1
    store.update_entries(conn, rows)
    store.insert_versions(conn, [_version_row(r, now) for r in rows])


def _tombstone(source_id: str, key: tuple[str, ...], version: int) -> str:
    """The source id a retired, re-coded entry keeps: readable, unique, never one a source sends, ≤ 128 chars."""
    digest = hashlib.sha256("\x1f".join((source_id, *key, str(version))).encode()).hexdigest()[:24]
    return f"{source_id[:90]}~recoded~{digest}"
