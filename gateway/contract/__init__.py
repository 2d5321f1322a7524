"""The connector contract: the one place both sides of the plugin boundary import.

Connectors (``connectors/`` and third-party packages) implement :class:`Connector` and raise the errors of
:mod:`.errors`; the core (``gateway.sync``, the registry) drives them through the same types. Imports run one
way: ``connectors → gateway.contract`` (and ``gateway.models``), never ``gateway → connectors``.

- :mod:`.errors` — the error hierarchy: every error says what the caller should do next
- :mod:`.connector` — the stable, versioned connector interface (``INTERFACE_VERSION``)
"""

from __future__ import annotations

from .connector import (
    INTERFACE_VERSION,
    CheckResult,
    Connector,
    Page,
    RawRecord,
    StreamInfo,
    SyncMode,
    WriteOperation,
    WriteResult,
)
from .errors import (
    AuthenticationError,
    ConfigError,
    FatalSyncError,
    FieldIssue,
    LeaseHeldError,
    RecordRejected,
    RetriableSyncError,
    SkippableSyncError,
    SourceUnavailableError,
    SyncError,
    TongbanError,
    WriteRejectedError,
)

__all__ = [
    "INTERFACE_VERSION",
    "AuthenticationError",
    "CheckResult",
    "ConfigError",
    "Connector",
    "FatalSyncError",
    "FieldIssue",
    "LeaseHeldError",
    "Page",
    "RawRecord",
    "RecordRejected",
    "RetriableSyncError",
    "SkippableSyncError",
    "SourceUnavailableError",
    "StreamInfo",
    "SyncError",
    "SyncMode",
    "TongbanError",
    "WriteOperation",
    "WriteRejectedError",
    "WriteResult",
]
