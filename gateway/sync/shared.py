"""A copy of a case other systems shaped too, merged value by value into it (in the page's transaction).

The rules are :mod:`gateway.models.survivorship`'s; this module gives them what they compare — the merged case's
document (its applicant's ID number opened when the ledger seals it), the same record's previous copy (its stored
raw payload mapped again, the page's in one validation) and who set each value — and turns the result into the
new version: validated again with the copy's mapping rules (cross-field rules see the values together), each
side's quality flags carried with the values they were found on.

Nearly every case is held by one system, and its copy replaces it whole, as before (:func:`shaped_by_others` is
false): what this costs is paid by the shared cases alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection

from gateway.contract.connector import RawRecord
from gateway.contract.errors import FieldIssue
from gateway.models import Case, case_document
from gateway.models.stored import expand_case_json, stored_case_json
from gateway.models.survivorship import HANDLING, Reads, carried_flags, merge_copy
from gateway.models.validation import validate_cases
from gateway.store import ledger


class IngestContext(Protocol):
    """What the merge reads of the ingest's context (:class:`gateway.sync.ingest.IngestContext`)."""

    system: Any
    mapper: Any
    pii: Any
    quality: Any

    def fields_read_by(self, system: str) -> Reads: ...

    def role_of(self, system: str) -> str | None: ...

Change = tuple[RawRecord, Case, str, str]
"""A changed record of the page: ``(record, its case, the case's digest, its stored JSON)``."""


def shaped_by_others(current: dict[str, Any], system: str, source_id: str) -> bool:
    """Whether the merged case is more than this record's previous copy: another record, system or Tongban wrote
    its current version, or it kept what another system speaks for (``origin_digest``). Then the copy is merged
    value by value; else it replaces the case whole — the same result, for nothing."""
    return not (current["origin_system"] == system and current.get("origin_source_id") == source_id
                and current.get("origin_digest") is None)


SAME_BYTES: Mapping[str, Any] = MappingProxyType({})
"""The previous copy of a record read again byte for byte (a remap, a replay, a lookback after a mapping edit):
nothing the source changed, so the copy only restates — it speaks for the values its mapping reads that its own
system set, never against another system's (``restating``)."""


def copies_per_case(changes: list[Change]) -> Counter[str]:
    """How many of the page's changed records each case has (a case the page holds twice merges its second copy
    into the first's version, one at a time)."""
    return Counter(case.case_no for _, case, _, _ in changes)


def previous_copies(conn: Connection, ctx: IngestContext, changes: list[Change], existing: dict[str, dict[str, Any]],
                    state: dict[str, tuple[str | None, datetime | None, str | None, str]],
                    encoded: dict[str, tuple[bytes, str]], map_one: Any) -> dict[str, Mapping[str, Any] | None]:
    """``source_id → its previous copy``: the whole case document its stored raw payload maps to under the
    mapping in force (so that what differs is what the source changed, not the mapping); None when there is
    none (a record new to the ledger: the copy speaks for what its mapping reads); :data:`SAME_BYTES` when the
    source sent the bytes the ledger holds. Only for the page's records whose case others shaped, or that the
    page holds twice; read before the page replaces the stored payloads: one statement, one validation."""
    system = ctx.system.name
    per_case = copies_per_case(changes)
    wanted = [record.source_id for record, case, _, _ in changes
              if per_case[case.case_no] > 1 or (case.case_no in existing and shaped_by_others(
                  existing[case.case_no], system, record.source_id))]
    if not wanted:
        return {}
    found: dict[str, Mapping[str, Any] | None] = dict.fromkeys(wanted)
    for sid in wanted:
        if (known := state.get(sid)) is not None and known[2] == encoded[sid][1]:
            found[sid] = SAME_BYTES
    comparable = [sid for sid in wanted if (known := state.get(sid)) is not None and known[2] != encoded[sid][1]]
    if not comparable:
        return found
    mapped, ids, flagged = [], [], {}
    for source_id, payload in ledger.source_payloads(conn, system, comparable, ctx.pii).items():
        canonical, issues = map_one(ctx.mapper.inbound, payload)
        kept: list[tuple[str, str, str]] = []
        if issues:
            issues, kept = ctx.mapper.split_issues(issues)
        if canonical is None or issues:
            continue
        if kept:
            flagged[len(mapped)] = kept
        mapped.append(canonical)
        ids.append(source_id)
    if mapped:
        result = ctx.mapper.validate(mapped, [f"{system}:{sid}" for sid in ids], flagged or None)
        for index, case in result.valid:
            found[ids[index]] = orjson.loads(case_document(case)[0])
    return found


@dataclass(slots=True)
class SharedPage:
    """The stored documents of the page's cases others shaped, read in one statement when the first is needed."""

    conn: Connection
    system: str
    changes: list[Change]
    existing: dict[str, dict[str, Any]]
    documents: dict[str, str] | None = field(default=None)

    def document(self, case_no: str, current: dict[str, Any], pii: Any) -> dict[str, Any]:
        """The merged case's whole document, its applicant's ID number in clear."""
        if "data" in current:  # written earlier in this page
            text = current["data"]
        else:
            if self.documents is None:
                case_nos = sorted({case.case_no for record, case, _, _ in self.changes if case.case_no in self.existing
                                   and shaped_by_others(self.existing[case.case_no], self.system, record.source_id)})
                self.documents = ledger.case_documents(self.conn, case_nos)
            text = self.documents[case_no]
        return _opened(pii, orjson.loads(expand_case_json(text)))


def _opened(pii: Any, document: dict[str, Any]) -> dict[str, Any]:
    """The document with its applicant's ID number in clear (the ledger may hold it sealed): the copies are compared,
    hashed and validated in clear; the sync seals the new version again."""
    applicant = document.get("applicant")
    number = applicant.get("id_number") if isinstance(applicant, dict) else None
    if pii is not None and pii.is_sealed(number):
        document["applicant"] = {**applicant, "id_number": pii.open(number)}  # type: ignore[dict-item]
    return document


@dataclass(frozen=True, slots=True)
class Version:
    """The merged case a copy of a shared case makes: what the page writes as its new version."""

    case: Case
    digest: str
    data: str
    """Stored JSON, the applicant's ID number not yet sealed."""
    field_sources: str | None


@dataclass(slots=True)
class Plan:
    """One copy's merge before its validation: what the rules made of it (:func:`plan_merge`)."""

    ref: str
    merged: Any  # survivorship.Merged
    candidate: dict[str, Any] | None
    """The merged document to validate, None when nothing the copy says stands."""
    flags: list[tuple[str, str, str]]
    settled: bool
    counted: frozenset[tuple[str, str]]
    """The flags ``(field, rule)`` of the copy and of the case: counted in the run's report when their pages
    were read."""


def plan_merge(ctx: IngestContext, record: RawRecord, case: Case, current: dict[str, Any], document: dict[str, Any],
               base: Mapping[str, Any] | None, *, stamp: datetime, newer: bool, settled: bool,
               released: bool = False) -> Plan:
    """The copy merged into the case by the rules, its quality flags carried, ready for validation (``released``:
    its system was told to let the case go — :func:`gateway.models.survivorship.merge_copy`)."""
    system = ctx.system.name
    copy = orjson.loads(case_document(case)[0])
    stored = current.get("field_sources")
    setters = (orjson.loads(stored) if isinstance(stored, str) else stored) or {}
    restating = base is SAME_BYTES
    merged = merge_copy(document, copy, None if restating else base, system=system,
                        reads=ctx.fields_read_by(system), from_hall=ctx.system.role == "hall",
                        origin=current["origin_system"], setters=setters, role_of=ctx.role_of,
                        newer=newer and not restating, settled=settled, restating=restating, released=released)
    candidate = None
    flags: list[tuple[str, str, str]] = []
    if merged.taken:
        flags = [(f["field"], f["rule"], f["message"]) for f in carried_flags(merged.document, copy, document)]
        candidate = {k: v for k, v in merged.document.items() if k != "quality"}
        candidate["updated_at"] = stamp.isoformat()
    counted = frozenset((f.get("field"), f.get("rule")) for side in (copy, document)
                        for f in side.get("quality") or () if isinstance(f, dict))
    return Plan(f"{system}:{record.source_id}", merged, candidate, flags, settled, counted)


def validate_plans(ctx: IngestContext, plans: list[Plan]) -> list[Case | str | None]:
    """Each plan's merged document validated with the copy's mapping rules, in one call: the valid case, the
    rejection's text, or None for a plan with nothing to validate."""
    todo = [i for i, plan in enumerate(plans) if plan.candidate is not None]
    out: list[Case | str | None] = [None] * len(plans)
    if not todo:
        return out
    # every quality rule flags here: the copy met its mapping's policy on its own (a rule it raises to reject
    # rejected the copy, not the case); a value the other system gave is not the copy's to be rejected for
    result = validate_cases([plans[i].candidate for i in todo], [plans[i].ref for i in todo],
                            mapping_flags={k: plans[i].flags for k, i in enumerate(todo) if plans[i].flags} or None)
    for k, valid in result.valid:
        out[todo[k]] = valid
    for k, rejected in result.rejected:
        out[todo[k]] = "; ".join(map(str, rejected.issues))
    return out


def finish_merge(ctx: IngestContext, plan: Plan, case: Case, current: dict[str, Any],
                 validated: Case | str | None) -> Version | None:
    """The case after this copy is merged into it value by value: its new :class:`Version`, or None when nothing
    the copy says stands (no new version) — or when the merged document breaks a structural rule neither side
    breaks alone (flagged ``merge.fields_not_kept``: the case stays as it is, the copy in its source record for
    an operator; merging the copy whole instead wiped what the other system holds). Overruled values are
    counted: ``merge.older_than_tongban`` when a version Tongban wrote holds the handling (``settled``), else
    ``merge.another_system_speaks``."""
    system = ctx.system.name
    merged = plan.merged
    if merged.overruled:
        handling = [p for p in merged.overruled if p.split(".", 1)[0] in HANDLING]
        if plan.settled and handling:
            ctx.quality.add_flags([FieldIssue(
                plan.ref, ",".join(handling), "merge.older_than_tongban",
                f"changed at {case.updated_at.isoformat()}, before {current['origin_system']} wrote version "
                f"{current['version']} of case {case.case_no}: its {', '.join(handling)} not merged")])
        else:
            ctx.quality.add_flags([FieldIssue(
                plan.ref, ",".join(merged.overruled), "merge.another_system_speaks",
                f"{system}'s copy of case {case.case_no} changed {', '.join(merged.overruled)}, which another "
                "system holding the case set: the case keeps its value")])
    if plan.candidate is None:
        return None
    if not isinstance(validated, Case):
        ctx.quality.add_flags([FieldIssue(plan.ref, ",".join(merged.taken), "merge.fields_not_kept",
                                          f"case {case.case_no} with {', '.join(merged.taken)} from {system} and "
                                          f"the rest as the case holds it breaks a rule: {validated or 'rejected'}; "
                                          "the case is kept as it is")])
        return None
    combined = validated
    unique = list({(q.field, q.rule): q for q in combined.quality}.values())
    if len(unique) != len(combined.quality):
        combined = combined.model_copy(update={"quality": unique})
    _, digest = case_document(combined)
    if digest == current["content_hash"]:
        return None
    found = [FieldIssue(plan.ref, q.field, q.rule, q.message) for q in combined.quality
             if (q.field, q.rule) not in plan.counted]
    if found:  # what no page counted yet: the two copies' values together
        ctx.quality.add_flags(found)
    sources = orjson.dumps(merged.setters, option=orjson.OPT_SORT_KEYS).decode() if merged.setters else None
    return Version(combined, digest, stored_case_json(combined), sources)


__all__ = ["Change", "Plan", "SharedPage", "Version", "copies_per_case", "finish_merge", "plan_merge",
           "previous_copies", "shaped_by_others", "validate_plans"]
