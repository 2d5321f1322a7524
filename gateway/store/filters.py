"""Optional filters of the listing queries: a listing narrowed only by what its caller gave."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select

S = TypeVar("S", bound=Select[Any])


def equal_where_given(stmt: S, *conditions: tuple[ColumnElement[Any], Any]) -> S:
    """``stmt`` narrowed to ``column == value`` for each ``(column, value)`` whose value is not None."""
    for column, value in conditions:
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


__all__ = ["equal_where_given"]
