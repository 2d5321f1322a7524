"""How model validators report several issues at once, and warnings that must not fail a record.

Pydantic lets a model validator raise one error; a record can break several rules, and the dead-letter
store should list them all. So a model validator collects ``(field, rule, message)`` triples and raises
*one* :class:`~pydantic_core.PydanticCustomError` of type :data:`ISSUES_ERROR` carrying the list in its
context; :mod:`gateway.models.validation` unfolds it into one :class:`~gateway.contract.errors.FieldIssue` each.

Findings that must not fail a record go to the validation *context*, so that a batch collects them in one
list instead of anyone logging them one record at a time: a :class:`~gateway.models.Case` appends its
quality flags to ``context["flags"]``, a :class:`~gateway.models.Certificate` its warnings to
``context["warnings"]``, each as ``(index, field, rule, message)``; ``index`` is ``context.get("index")``,
which the batch validator advances per record. Without a context they are not collected (a case still
carries its flags in ``Case.quality``) — use :func:`gateway.models.validate_cases` to get them per batch.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo
from pydantic_core import PydanticCustomError

ISSUES_ERROR = "tongban.issues"
"""Pydantic error type whose ``ctx["issues"]`` holds ``[(field, rule, message), ...]``."""

Issue = tuple[str, str, str]


def raise_issues(issues: list[Issue]) -> None:
    """Fail the current model with every issue found (field paths relative to that model)."""
    summary = "; ".join(f"{f}: {m} [{r}]" for f, r, m in issues)
    raise PydanticCustomError(ISSUES_ERROR, "{summary}", {"summary": summary, "issues": issues})


def emit_warnings(info: ValidationInfo, warnings: list[Issue], *, sink: str = "warnings") -> None:
    """Append findings to ``info.context[sink]`` when the caller asked for them (a list under that key)."""
    ctx: Any = info.context
    if ctx is None:
        return
    found = ctx.get(sink)
    if found is None:
        return
    index = ctx.get("index")
    found.extend((index, f, r, m) for f, r, m in warnings)


__all__ = ["ISSUES_ERROR", "Issue", "emit_warnings", "raise_issues"]
