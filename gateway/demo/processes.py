"""The live processes of this machine, read from ``/proc`` (Linux): enough to find a process group's or a
session's members without ``psutil``, so the demo can wait for (and the tests can check) a clean stop."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcessStat:
    pid: int
    name: str
    state: str
    ppid: int
    pgid: int
    sid: int

    def __str__(self) -> str:
        return f"{self.pid} ({self.name}) {self.state}"


def live_processes() -> Iterator[ProcessStat]:
    """Every process that is not a zombie (a process that exits while it is read is skipped)."""
    if not PROC.is_dir():
        return
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        close = stat.rfind(")")
        fields = stat[close + 2:].split()  # state ppid pgrp session ...
        if len(fields) < 4 or fields[0] == "Z":
            continue
        yield ProcessStat(int(entry.name), stat[stat.find("(") + 1:close], fields[0], int(fields[1]), int(fields[2]),
                          int(fields[3]))


def group_members(pgid: int) -> list[int]:
    """Pids of the live processes in process group ``pgid``."""
    return [p.pid for p in live_processes() if p.pgid == pgid]


def children_of(ppid: int) -> list[int]:
    """Pids of the live direct children of ``ppid``."""
    return [p.pid for p in live_processes() if p.ppid == ppid]


def session_members(sid: int) -> list[ProcessStat]:
    """The live processes of session ``sid``."""
    return [p for p in live_processes() if p.sid == sid]
