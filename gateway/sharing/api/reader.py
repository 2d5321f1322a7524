"""Fast reads for the hot path: plain SQL on a DBAPI connection kept per worker thread.

SQLAlchemy Core costs a few hundred microseconds a query in statement building and cache-key generation — more
than SQLite or PostgreSQL take to answer a primary-key lookup. The release path runs two fixed queries per
request, so they are written once as SQL text in the driver's parameter style and executed on a connection each
database thread keeps (from the read engine's pool, so SQLite's pragmas and PostgreSQL's settings apply).
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine

__all__ = ["FastReader"]


class FastReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._local = threading.local()
        self._converted: dict[str, str] = {}

    def sql(self, text: str) -> str:
        """``text`` with ``?`` placeholders in the driver's style (converted once per statement: the hot path
        asks for the same few statements on every request)."""
        if self.mark == "?":
            return text
        converted = self._converted.get(text)
        if converted is None:
            converted = self._converted[text] = text.replace("?", "%s")
        return converted

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.engine.raw_connection()
        return conn

    def rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        conn = self._connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, params)
                found = cursor.fetchall()
            finally:
                cursor.close()
            if self.mark == "%s":
                conn.rollback()  # end the read transaction psycopg opened
            return found
        except Exception:
            self._local.conn = None
            try:
                conn.invalidate() if hasattr(conn, "invalidate") else conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
            raise
