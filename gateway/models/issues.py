"""How model validators report several issues at once, and warnings that must not fail a record.

Pydantic lets a model validator raise one error; a record can break several rules, and the dead-letter
store should list them all. So a model validator collects ``(field, rule, message)`` triples and raises
*one* :class:`~pydantic_core.PydanticCustomError` of type :data:`ISSUES_ERROR` carrying the list in its
context; :mod:`gateway.models.validation` unfolds it into one :class:`~gateway.contract.errors.FieldIssue` each.

Warnings (an old place code, a converted 15-digit ID) go to the validation *context*:
``Model.model_validate(data, context={"warnings": []})`` fills the list with
``(index, field, rule, message)``; ``index`` is ``context.get("index")``, which the batch validator advances
per record. Without a context, warnings are dropped — use :func:`gateway.models.validate_case` to get them.
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


def emit_warnings(info: ValidationInfo, warnings: list[Issue]) -> None:
    """Append warnings to ``info.context["warnings"]`` when the caller asked for them."""
    ctx: Any = info.context
    if ctx is None:
        return
    sink = ctx.get("warnings")
    if sink is None:
        return
    index = ctx.get("index")
    sink.extend((index, f, r, m) for f, r, m in warnings)


__all__ = ["ISSUES_ERROR", "Issue", "emit_warnings", "raise_issues"]
