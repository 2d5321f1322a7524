"""SQL over the JSON documents the ledger keeps as text (``cases.data``): one field read in the database, where
parsing every document in Python would cost more than the rest of the query."""

from __future__ import annotations


def document_field_sql(dialect: str, column: str, *path: str) -> str:
    """SQL for the text at ``path`` (``"applicant", "id_number"``) of the JSON document in ``column``; NULL when it
    has none. PostgreSQL: ``->`` / ``->>`` on the text cast to ``json``; SQLite (and any other): ``json_extract``."""
    if dialect == "postgresql":
        *parents, last = path
        steps = "".join(f" -> '{step}'" for step in parents)
        return f"(CAST({column} AS json){steps} ->> '{last}')"
    return f"json_extract({column}, '$.{'.'.join(path)}')"


__all__ = ["document_field_sql"]
