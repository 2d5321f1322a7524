"""The connector interface is a versioned contract (DESIGN.md): this test pins its surface.

If it fails, you changed what third-party connector packages depend on. Either undo the change, or make it
deliberately: bump ``INTERFACE_VERSION``, say what changed in the docstring of ``gateway/contract/connector.py``, and
update the pinned surface below in the same commit.
"""

from __future__ import annotations

import dataclasses
import inspect

import gateway.contract.connector as base
from gateway.contract.errors import FatalSyncError, RetriableSyncError, SkippableSyncError
from gateway.kernel.registry import available_kinds, connector_class

PINNED_VERSION = 1

PINNED_METHODS = {
    "check": "(self) -> 'CheckResult'",
    "streams": "(self) -> 'list[StreamInfo]'",
    "read": "(self, stream: 'str', *, since: 'datetime | None' = None, mode: 'SyncMode' = 'incremental', "
    "checkpoint: 'Mapping[str, Any] | None' = None) -> 'Iterator[Page]'",
    "write": "(self, stream: 'str', record: 'Mapping[str, Any]', *, key: 'str', idempotency_key: 'str', "
    "operation: 'WriteOperation' = 'upsert') -> 'WriteResult'",
    "close": "(self) -> 'None'",
    "__init__": "(self, config: 'Mapping[str, Any]', *, secrets: 'Mapping[str, str] | None' = None) -> 'None'",
}

PINNED_RECORDS = {
    "RawRecord": ["source_id", "cursor", "payload"],
    "Page": ["records", "checkpoint", "rejects", "read_through"],  # read_through: a compatible addition (defaulted)
    "StreamInfo": ["name", "readable", "writable", "incremental", "ordered"],
    "WriteResult": ["status", "target_id"],
    "CheckResult": ["ok", "message"],
}


def test_interface_version_is_pinned() -> None:
    assert base.INTERFACE_VERSION == PINNED_VERSION


def test_connector_methods_keep_their_signatures() -> None:
    for name, signature in PINNED_METHODS.items():
        assert str(inspect.signature(getattr(base.Connector, name))) == signature, name
    assert base.Connector.__abstractmethods__ == frozenset({"check", "streams", "read"})


def test_record_types_keep_their_fields() -> None:
    for name, fields in PINNED_RECORDS.items():
        assert [f.name for f in dataclasses.fields(getattr(base, name))] == fields, name


def test_the_error_types_connectors_raise_are_the_engines() -> None:
    assert base.FatalSyncError is FatalSyncError
    assert base.RetriableSyncError is RetriableSyncError
    assert base.SkippableSyncError is SkippableSyncError
    assert issubclass(base.SourceUnavailableError, FatalSyncError)
    assert issubclass(base.AuthenticationError, FatalSyncError)


def test_every_registered_kind_loads_and_speaks_this_version() -> None:
    kinds = available_kinds()
    assert "rest" in kinds
    for kind in kinds:
        cls = connector_class(kind)
        assert issubclass(cls, base.Connector) and cls.interface_version == PINNED_VERSION
