"""Cases as JSON-ready dicts: what the ledger stores, what a push sends, what :func:`content_hash` reads.

Datetimes come out as ISO 8601 strings with +08:00 (the models keep them at +08:00), enums as their
canonical values. The batch form makes one pydantic serialisation call for the whole list.

    >>> case_to_row(case)["applied_at"]
    '2024-03-01T09:30:00+08:00'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import TypeAdapter

from .case import Case

_CASE_LIST = TypeAdapter(list[Case])


def case_to_row(case: Case) -> dict[str, Any]:
    """One case as a JSON-ready dict."""
    return case.model_dump(mode="json")


def cases_to_rows(cases: Sequence[Case]) -> list[dict[str, Any]]:
    """Many cases as JSON-ready dicts, serialised in one call."""
    return _CASE_LIST.dump_python(list(cases), mode="json")


def row_to_case(row: dict[str, Any]) -> Case:
    """Read a stored row back (validating it again: stored data is not trusted blindly)."""
    return Case.model_validate(row)


__all__ = ["case_to_row", "cases_to_rows", "row_to_case"]
