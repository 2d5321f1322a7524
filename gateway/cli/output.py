"""Printing for the CLI: Rich tables for people, ``--json`` for machines, one place for both."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gateway.ops.humanize import BEIJING, human_age, human_duration, local_time

# emoji=False: rich turns ":x:" into an emoji — a record id "x" in "sd_civil:x: case_no …" lost its name
console = Console(width=None if sys.stdout.isatty() else 200, emoji=False)  # piped: don't fold tables to 80 columns
err_console = Console(stderr=True, emoji=False)


def _default(value: Any) -> Any:
    """JSON for what ``json`` cannot write: a time in Beijing time with its offset (the same instant as the UTC the
    ledger hands back, written as every other time Tongban shows), a date as it is, anything else as text."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(BEIJING).isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")
    sys.stdout.flush()


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


@contextmanager
def activity(label: str, *, enabled: bool, unit: str = "records") -> Iterator[Callable[[int], None]]:
    """A live line while a long command works (``sync sd_civil  ⠋ 12,400 records  0:00:07``); yields the
    callback that moves it on. Off with ``--json`` or when stdout is not a terminal (logs, pipes, Airflow):
    then the callback does nothing."""
    if not enabled or not console.is_terminal:
        yield lambda _done: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]{task.description}"), SpinnerColumn(),
                  TextColumn("{task.completed:,.0f} " + unit), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done: bar.update(task, completed=done)


def fail(message: str) -> None:
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)  # one line, whatever width


__all__ = ["BEIJING", "activity", "console", "err_console", "fail", "human_age", "human_duration", "local_time",
           "print_json", "print_table"]
