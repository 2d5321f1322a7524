"""A source in memory: one page of the records a test chose, through the real sync engine (``sync_system(...,
connector=MemoryPages(records))``) — for tests that put a hostile or hand-edited record among real ones."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from gateway.contract.connector import CheckResult, Connector, Page, RawRecord, StreamInfo


class MemoryPages(Connector):
    """One page of these records on stream ``cases`` (unordered: the engine keeps the newest copy of each)."""

    kind = "pages"

    def __init__(self, records: list[RawRecord]) -> None:
        super().__init__({})
        self.records = records

    def check(self) -> CheckResult:
        return CheckResult(ok=True, message="in memory")

    def streams(self) -> list[StreamInfo]:
        return [StreamInfo(name="cases", ordered=False)]

    def read(self, stream: str, *, since: datetime | None = None, mode: str = "incremental",
             checkpoint: Mapping[str, Any] | None = None) -> Iterator[Page]:
        yield Page(records=list(self.records))


def served_records(world: Any, system: str = "sd_civil") -> list[RawRecord]:
    """Every record ``system`` of a test world serves now, as its connector reads them (a full refresh)."""
    source = world.runtime.connector(system)
    try:
        return [r for page in source.read("cases", mode="full_refresh") for r in page.records]
    finally:
        source.close()
