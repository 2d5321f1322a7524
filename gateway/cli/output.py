"""Printing for the CLI: Rich tables for people, ``--json`` for machines, one place for both."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(width=None if sys.stdout.isatty() else 200)  # piped output: don't fold tables to 80 columns
err_console = Console(stderr=True)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")
    sys.stdout.flush()


BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_time(value: datetime | None) -> str:
    """A moment as operators read it: Beijing time to the second (``2026-12-03 19:05:12``)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def human_duration(seconds: float | None) -> str:
    """``177953714`` → ``5 y 235 d``; ``3725`` → ``1 h 2 min``; ``42`` → ``42 s``: two units at most."""
    if seconds is None:
        return ""
    left = int(abs(seconds))
    parts = []
    for name, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if left >= size or (name == "s" and not parts):
            parts.append(f"{left // size} {name}")
            left %= size
        if len(parts) == 2:
            break
    return ("-" if seconds < 0 else "") + " ".join(parts)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return local_time(value)
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A Rich table; cells are plain text (``[rule]`` in a message is not read as markup), times in Beijing time."""
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(_cell(v)) for v in row))
    console.print(table)


def fail(message: str) -> None:
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)  # one line, whatever width
