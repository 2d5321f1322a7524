"""Batch validation: the hot path between a mapping and the ledger.

One pydantic call per batch. ``validate_python`` on a plain ``list[Case]`` throws the good records away
when one is bad, so each list item is wrapped in a thin validator that catches that item's
``ValidationError`` and returns it as a marker: every good record comes back from the same single call,
nothing is validated twice, and each bad record keeps all of its errors. The wrap validator also advances
``context["index"]`` so that warnings raised inside :class:`Case` know their record.

    >>> result = validate_cases(records, refs)
    >>> for i, case in result.valid: ...
    >>> for i, rejected in result.rejected: dead_letter(records[i], rejected)

Pydantic's own error types are turned into stable rule names (:data:`PYDANTIC_RULES`): ``missing``,
``extra_field``, ``type.datetime``, ``datetime.timezone_required``, ``string_too_long``, ``enum`` …
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import TypeAdapter, ValidationError, ValidationInfo, WrapValidator
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from gateway.contract.errors import FieldIssue, RecordRejected
from .case import Case
from .issues import ISSUES_ERROR

PYDANTIC_RULES: dict[str, str] = {
    "missing": "missing",
    "extra_forbidden": "extra_field",
    "model_type": "type.object",
    "model_attributes_type": "type.object",
    "dict_type": "type.object",
    "list_type": "type.list",
    "string_type": "type.str",
    "string_unicode": "text.gb18030",  # lone surrogates: the only text GB18030 cannot encode
    "int_type": "type.int",
    "int_parsing": "type.int",
    "int_from_float": "type.int",
    "float_type": "type.float",
    "float_parsing": "type.float",
    "bool_type": "type.bool",
    "bool_parsing": "type.bool",
    "datetime_type": "type.datetime",
    "datetime_parsing": "type.datetime",
    "datetime_from_date_parsing": "type.datetime",
    "datetime_object_invalid": "type.datetime",
    "date_type": "type.date",
    "date_parsing": "type.date",
    "date_from_datetime_parsing": "type.date",
    "date_from_datetime_inexact": "type.date",
    "timezone_aware": "datetime.timezone_required",
    "string_too_short": "string_too_short",
    "string_too_long": "string_too_long",
    "string_pattern_mismatch": "string_pattern",
    "too_short": "list_too_short",
    "too_long": "list_too_long",
    "greater_than_equal": "range.ge",
    "greater_than": "range.gt",
    "less_than_equal": "range.le",
    "less_than": "range.lt",
    "enum": "enum",
    "literal_error": "enum",
}
"""Pydantic error type → Tongban rule name. Anything else becomes ``schema.<pydantic type>``."""

RECORD_FIELD = "(record)"
"""The field name used when the whole record is wrong (not an object at all)."""


class _Failed:
    """Marker standing in for a record that failed, carrying its pydantic error."""

    __slots__ = ("error",)

    def __init__(self, error: ValidationError) -> None:
        self.error = error


def _isolate(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    ctx = info.context
    assert ctx is not None, "validate_cases passes a context"
    ctx["index"] += 1
    try:
        return handler(value)
    except ValidationError as exc:
        return _Failed(exc)


_BATCH = TypeAdapter(list[Annotated[Case, WrapValidator(_isolate)]])


@dataclass(slots=True)
class BatchResult:
    """What :func:`validate_cases` found: good cases, rejected records, warnings — by input index."""

    valid: list[tuple[int, Case]] = field(default_factory=list)
    rejected: list[tuple[int, RecordRejected]] = field(default_factory=list)
    warnings: list[tuple[int, FieldIssue]] = field(default_factory=list)


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


def validate_cases(records: Sequence[Any], refs: Sequence[str]) -> BatchResult:
    """Validate a batch of canonical case dicts in one pydantic call; the batch goes on past bad records.

    ``refs[i]`` names ``records[i]`` in every issue (``system:source_id``). Warnings are reported for every
    record that raised them, valid or not.
    """
    if len(records) != len(refs):
        raise ValueError(f"{len(records)} records but {len(refs)} refs")
    raw_warnings: list[tuple[int, str, str, str]] = []
    context = {"index": -1, "warnings": raw_warnings}
    # Validation makes many container objects and no reference cycles. With the cyclic GC running, each
    # young-generation collection re-traverses everything the batch has built so far (measured: the GC
    # took ~40% of the call, more for big batches), so it is paused for the call. Callers should still
    # keep batches moderate (~1,000–5,000 records): the first collections afterwards walk the batch once.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        out: list[Any] = _BATCH.validate_python(records, context=context)
        result = BatchResult()
        valid = result.valid
        failed: list[tuple[int, _Failed]] = []
        for i, value in enumerate(out):
            if value.__class__ is _Failed:
                failed.append((i, value))
            else:
                valid.append((i, value))
        for i, failure in failed:
            ref = refs[i]
            result.rejected.append((i, RecordRejected(ref, issues_from_error(ref, failure.error))))
        result.warnings.extend((i, FieldIssue(refs[i], f, r, m)) for i, f, r, m in raw_warnings)
    finally:
        if gc_was_enabled:
            gc.enable()
    return result


def validate_case(record: Any, ref: str) -> tuple[Case, list[FieldIssue]]:
    """Validate one case; return it with its warnings or raise :class:`RecordRejected` with every issue."""
    raw: list[tuple[Any, str, str, str]] = []
    try:
        case = Case.model_validate(record, context={"warnings": raw})
    except ValidationError as exc:
        raise RecordRejected(ref, issues_from_error(ref, exc)) from None
    return case, [FieldIssue(ref, f, r, m) for _, f, r, m in raw]


__all__ = [
    "PYDANTIC_RULES",
    "RECORD_FIELD",
    "BatchResult",
    "issues_from_error",
    "validate_case",
    "validate_cases",
]
