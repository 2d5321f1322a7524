"""The connector interface: the one contract every system plugin implements.

This is a stable, versioned surface (``INTERFACE_VERSION``), pinned by ``tests/connectors/test_base_surface.py``.
Change it deliberately: third-party connector packages registered under the ``tongban.connectors`` entry-point
group depend on it the way Airflow providers depend on ``DbApiHook``.

A connector knows how to talk to one *kind* of system (declarative REST, SOAP, ...). It speaks in raw records,
exactly as the system sends them; turning them into canonical records is the mapping's job, and keeping them
is the engine's. A connector never touches the ledger.

    connector = RestConnector(config, secrets=os.environ)
    connector.check()                                   # raises FatalSyncError if unusable
    for page in connector.read("cases", since=watermark):
        for record in page.records:
            record.source_id, record.cursor, record.payload

Errors: raise the types in :mod:`gateway.contract.errors` (re-exported here) so that the engine knows whether to retry,
dead-letter a record, or abort.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from gateway.contract.errors import (
    AuthenticationError,
    ConfigError,
    FatalSyncError,
    RetriableSyncError,
    SkippableSyncError,
    SourceUnavailableError,
    WriteRejectedError,
)

INTERFACE_VERSION = 1
"""Bumped on any incompatible change to the classes in this module. Compatible additions within version 1 (new
fields with defaults, which connectors written before them never set): ``Page.read_through``."""

SyncMode = Literal["incremental", "full_refresh"]
WriteOperation = Literal["upsert", "delete"]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as the source sent it.

    ``cursor`` is the record's change time (the incremental cursor) converted to an aware datetime, so the
    engine can compare and store watermarks without knowing each system's date format. ``payload`` is the
    decoded record (JSON-like: dicts, lists, strings, numbers, None), kept verbatim in the ledger so that a
    mapping fix can be re-applied later without asking the source again.
    """

    source_id: str
    cursor: datetime | None
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    """A batch of records read in one request. The engine commits one page (or several) per transaction.

    ``checkpoint`` is opaque connector state that lets :meth:`Connector.read` resume after this page.
    ``rejects`` are records the connector could not even decode (bad encoding, broken XML fragment); they go
    to the dead-letter store with their raw bytes instead of failing the page.
    """

    records: list[RawRecord]
    checkpoint: Mapping[str, Any] | None = None
    rejects: list[SkippableSyncError] = field(default_factory=list)
    read_through: datetime | None = None
    """The source holds nothing changed at or before this instant that the read has not delivered (a windowed
    read's finished window, ``incremental.max_window``): the watermark may move to it although no record carries
    it, so a quiet source's next run does not walk its empty windows again."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a connector can read or write. ``ordered`` means records arrive in non-decreasing cursor order,
    which lets the engine advance the watermark after every committed page instead of only at the end."""

    name: str
    readable: bool = True
    writable: bool = False
    incremental: bool = True
    ordered: bool = True


def ordered_high(cursors: Sequence[datetime]) -> datetime | None:
    """The change time an ordered page (its cursors in the order they came) proves the rest of the read reaches:
    the lower of its last two. An ordered stream may hold one record out of place (a source sorting by another
    column, a record edited since it was listed); its change time says nothing of the records still to come, and
    a watermark or a re-anchored query moved to it skipped every record between (a read of 120 records took 50).
    A page's last record may be that one: the one before it speaks for the rest."""
    return min(cursors[-2:]) if cursors else None


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of one write. ``duplicate`` is true when the target had already applied this idempotency key;
    ``superseded`` when it already holds a newer version. Both count as delivered."""

    status: Literal["applied", "duplicate", "superseded"]
    target_id: str | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    message: str


class Connector(abc.ABC):
    """Base class of every connector kind.

    Subclasses set ``kind`` (the name used in the systems configuration and the entry-point group) and
    implement :meth:`check`, :meth:`streams`, :meth:`read`; writable kinds implement :meth:`write` too.
    ``config`` is the connector's own configuration (already parsed from YAML); ``secrets`` maps names to
    secret values (from environment variables or an Airflow connection), never stored in a file.
    """

    kind: ClassVar[str]
    interface_version: ClassVar[int] = INTERFACE_VERSION

    def __init__(self, config: Mapping[str, Any], *, secrets: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.secrets: Mapping[str, str] = secrets or {}

    @abc.abstractmethod
    def check(self) -> CheckResult:
        """Make one cheap authenticated call. Return ok=False (never raise) if the system is unusable."""

    @abc.abstractmethod
    def streams(self) -> list[StreamInfo]:
        """The streams this connector offers, from its configuration (no network call)."""

    @abc.abstractmethod
    def read(
        self,
        stream: str,
        *,
        since: datetime | None = None,
        mode: SyncMode = "incremental",
        checkpoint: Mapping[str, Any] | None = None,
    ) -> Iterator[Page]:
        """Yield pages of records changed at or after ``since`` (all records when ``mode='full_refresh'``).

        Implementations must not lose a record that changes while they page (re-anchor on the cursor or use
        keyset paging) and must raise :class:`RetriableSyncError` / :class:`FatalSyncError` on failures.
        """

    def write(
        self,
        stream: str,
        record: Mapping[str, Any],
        *,
        key: str,
        idempotency_key: str,
        operation: WriteOperation = "upsert",
    ) -> WriteResult:
        """Send one record (already in the target's own format) to the system. ``key`` identifies the record
        there; ``idempotency_key`` makes a retried call harmless. Raise :class:`WriteRejectedError` when the
        system refuses it for good."""
        raise ConfigError(f"connector kind {self.kind!r} cannot write (stream {stream!r})")

    def rekey(self, stream: str, payload: Any) -> RawRecord | None:
        """The record :meth:`read` would make of ``payload`` under the current configuration (its key and change
        time), or None when it cannot make one or this kind cannot say. No network. Replay uses it for dead
        letters read before their key could be found (a wrong ``primary_key``, since fixed): they get their
        real key instead of staying open under a placeholder for good."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release sessions and sockets."""

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "INTERFACE_VERSION",
    "AuthenticationError",
    "CheckResult",
    "ConfigError",
    "Connector",
    "FatalSyncError",
    "Page",
    "RawRecord",
    "ordered_high",
    "RetriableSyncError",
    "SkippableSyncError",
    "SourceUnavailableError",
    "StreamInfo",
    "SyncMode",
    "WriteOperation",
    "WriteRejectedError",
    "WriteResult",
]
