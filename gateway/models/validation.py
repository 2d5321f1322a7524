"""Batch validation: the hot path between a mapping and the ledger.

Each record is validated by the :class:`Case` validator in its own ``try``: ``validate_python`` on a plain
``list[Case]`` would throw the good records away when one is bad, and a bad record keeps all of its errors.
``context["index"]`` is set per record so that the quality flags raised inside :class:`Case` know their record.

    >>> result = validate_cases(records, refs, rules=mapper.rules)
    >>> for i, case in result.valid: ...                      # case.quality holds its flags
    >>> for i, rejected in result.rejected: dead_letter(records[i], rejected)
    >>> tally.add(result)                                     # gateway.models.QualityTally: one line per rule

``rules`` is the mapping's severity policy for quality rules (:func:`gateway.models.rules.rule_policy`):
``reject`` moves a finding into the record's rejection, ``ignore`` drops it.

``mapping_flags`` are what the mapping itself found and kept (an optional code not in its table, written
``on_unknown: flag``: the field left null), by record index, after the mapping's severities
(``Mapper.split_issues``). They are part of the kept case's quality — first in ``Case.quality``, before the
model's own flags, and in ``BatchResult.flags`` — so the hall sees them with the case, not only the run's tally.
Only the records that have some pay for them.

Pydantic's own error types are turned into stable rule names (:data:`PYDANTIC_RULES`): ``missing``,
``extra_field``, ``type.datetime``, ``datetime.timezone_required``, ``string_too_long``, ``enum`` …
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gateway.contract.errors import FieldIssue, RecordRejected

from .case import Case
from .issues import ISSUES_ERROR
from .quality import make_flag
from .rules import PYDANTIC_RULES, Severity

INTERNAL_RULE = "validation.internal"
"""A record whose validation raised something other than a validation error (a defect of a rule, met by a value it
was never written for): rejected by this name, with the exception, the rest of the batch validated."""

RECORD_FIELD = "(record)"
"""The field name used when the whole record is wrong (not an object at all)."""


_VALIDATE = Case.__pydantic_validator__.validate_python
"""One case at a time, each in its own ``try``: a bad record fails alone and keeps all of its errors, the rest of
the batch goes on (a ``list[Case]`` would throw the good records away with the first bad one). Measured ~20%
quicker than one call for the batch with a wrap validator per item isolating the failures."""


@dataclass(slots=True)
class BatchResult:
    """What :func:`validate_cases` found, by input index: good cases, rejected records, and the quality flags
    of the good cases (each also in its ``Case.quality``) — in record order."""

    valid: list[tuple[int, Case]] = field(default_factory=list)
    rejected: list[tuple[int, RecordRejected]] = field(default_factory=list)
    flags: list[tuple[int, FieldIssue]] = field(default_factory=list)

    @property
    def warnings(self) -> list[tuple[int, FieldIssue]]:
        """The former name of :attr:`flags` (old place codes and converted IDs were "warnings"): the same list."""
        return self.flags


def issues_from_error(ref: str, error: ValidationError) -> list[FieldIssue]:
    """One :class:`FieldIssue` per broken rule in a pydantic error, with canonical dotted paths."""
    issues: list[FieldIssue] = []
    for err in error.errors(include_url=False, include_input=False):
        loc = err["loc"]
        prefix = ".".join(str(p) for p in loc)
        if err["type"] == ISSUES_ERROR:
            for path, rule, message in err["ctx"]["issues"]:
                issues.append(FieldIssue(ref, f"{prefix}.{path}" if prefix else path, rule, message))
            continue
        kind = err["type"]
        rule = PYDANTIC_RULES.get(kind) or f"schema.{kind}"
        issues.append(FieldIssue(ref, prefix or RECORD_FIELD, rule, err["msg"]))
    return issues


def validate_cases(
    records: Sequence[Any], refs: Sequence[str], *, rules: Mapping[str, Severity] | None = None,
    mapping_flags: Mapping[int, Sequence[tuple[str, str, str]]] | None = None,
) -> BatchResult:
    """Validate a batch of canonical case dicts in one pydantic call; the batch goes on past bad records.

    ``refs[i]`` names ``records[i]`` in every issue (``system:source_id``). ``rules`` is the mapping's policy
    for quality rules (``Mapper.rules``); without it every quality rule flags. ``mapping_flags[i]`` are the
    ``(field, rule, message)`` flags the mapping kept for ``records[i]``: they join its case's quality. Flags are
    reported for the records that are kept.
    """
    if len(records) != len(refs):
        raise ValueError(f"{len(records)} records but {len(refs)} refs")
    raw_flags: list[tuple[int, str, str, str]] = []
    context = {"index": -1, "flags": raw_flags, "rules": rules or None}
    validate = _VALIDATE
    # Validation makes many container objects and no reference cycles. With the cyclic GC running, each
    # young-generation collection re-traverses everything the batch has built so far (measured: the GC
    # took ~40% of the call, more for big batches), so it is paused for the call. Callers should still
    # keep batches moderate (~1,000–5,000 records): the first collections afterwards walk the batch once.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        result = BatchResult()
        valid = result.valid
        failed: list[tuple[int, Exception]] = []
        for i, record in enumerate(records):
            context["index"] = i
            try:
                valid.append((i, validate(record, context=context)))
            except ValidationError as exc:
                # without its traceback: the frames it holds reach the whole batch (a reference cycle per failed
                # record that kept every page of a run alive until the collector ran)
                failed.append((i, exc.with_traceback(None)))
            except Exception as exc:  # noqa: BLE001 - a value a rule was never written for: this record's failure
                # raised, it would fail the page at the same record on every run, and the system would never sync again
                failed.append((i, exc.with_traceback(None)))
        for i, error in failed:
            ref = refs[i]
            found = (issues_from_error(ref, error) if isinstance(error, ValidationError) else
                     [FieldIssue(ref, "$", INTERNAL_RULE, f"validation failed on this record: "
                                                          f"{type(error).__name__}: {error}")])
            result.rejected.append((i, RecordRejected(ref, found)))
        if mapping_flags:
            raw_flags = _with_mapping_flags(valid, raw_flags, mapping_flags)
        result.flags.extend((i, FieldIssue(refs[i], f, r, m)) for i, f, r, m in raw_flags)
    finally:
        if gc_was_enabled:
            gc.enable()
    return result


def _with_mapping_flags(valid: list[tuple[int, Case]], raw_flags: list[tuple[int, str, str, str]],
                        mapping_flags: Mapping[int, Sequence[tuple[str, str, str]]]
                        ) -> list[tuple[int, str, str, str]]:
    """The kept cases' quality with the mapping's flags first (built as the model builds its own), and the batch's
    raw flags with them, still in record order."""
    kept = dict(valid)
    found: list[tuple[int, str, str, str]] = []
    for i, flags in mapping_flags.items():
        case = kept.get(i)
        if case is None or not flags:
            continue  # a rejected record: its rejection is what is reported
        d = case.__dict__
        d["quality"] = [make_flag(f, r, m) for f, r, m in flags] + d["quality"]
        found.extend((i, f, r, m) for f, r, m in flags)
    if not found:
        return raw_flags
    return sorted(found + raw_flags, key=_index)  # stable: per record the mapping's flags, then the model's


def _index(flag: tuple[int, str, str, str]) -> int:
    return flag[0]


def validate_case(
    record: Any, ref: str, *, rules: Mapping[str, Severity] | None = None
) -> tuple[Case, list[FieldIssue]]:
    """Validate one case; return it with its quality flags or raise :class:`RecordRejected` with every issue."""
    raw: list[tuple[Any, str, str, str]] = []
    try:
        case = Case.model_validate(record, context={"flags": raw, "rules": rules or None})
    except ValidationError as exc:
        raise RecordRejected(ref, issues_from_error(ref, exc)) from None
    return case, [FieldIssue(ref, f, r, m) for _, f, r, m in raw]


__all__ = [
    "INTERNAL_RULE",
    "PYDANTIC_RULES",
    "RECORD_FIELD",
    "BatchResult",
    "issues_from_error",
    "validate_case",
    "validate_cases",
]
