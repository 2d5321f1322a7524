"""From a decoded body (JSON, or XML decoded to dicts) to :class:`RawRecord` objects: selectors, primary
keys, cursors, rejects. Shared by the REST and SOAP connectors.

One bad record must never fail a page (DESIGN: "the batch goes on"), so a record without a usable primary key
or cursor becomes a :class:`SkippableSyncError` carrying the raw record, and the engine dead-letters it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.contract.connector import RawRecord
from gateway.contract.errors import FatalSyncError, SkippableSyncError

from .cursors import CursorCodec
from .settings import FieldEquals

_MISSING: Any = object()
_MESSAGE_FIELDS = ("msg", "message", "error", "errmsg", "error_description", "errorMsg")


def dig(data: Any, path: str, default: Any = _MISSING) -> Any:
    """Follow a dotted path (``data.rows``, ``items.0.id``) through dicts and lists; ``""``/``"."`` = data.

    Raises ``KeyError`` when a step is missing and no ``default`` is given.
    """
    if path in ("", "."):
        return data
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif _is_index(current, part):
            current = current[int(part)]
        else:
            if default is _MISSING:
                raise KeyError(path)
            return default
    return current


def _is_index(current: Any, part: str) -> bool:
    if not isinstance(current, list) or not part.lstrip("-").isdigit():
        return False
    return -len(current) <= int(part) < len(current)


def server_message(body: Any, message_field: str | None = None) -> str | None:
    """The server's own explanation of a failure, if the body carries one."""
    if not isinstance(body, Mapping):
        return None
    fields = (message_field,) if message_field else _MESSAGE_FIELDS
    for name in fields:
        value = dig(body, name, None)
        if value not in (None, ""):
            return str(value)
    return None


def check_success(body: Any, rule: FieldEquals | None, *, where: str) -> None:
    """Envelope check (``{"code": 0, ...}``): a body that says it failed is a :class:`FatalSyncError`."""
    if rule is None:
        return
    value = dig(body, rule.field, None) if isinstance(body, (Mapping, list)) else None
    if value == rule.equals:
        return
    message = server_message(body, rule.message_field)
    raise FatalSyncError(
        f"{where}: {rule.field} = {value!r}, expected {rule.equals!r}" + (f": {message}" if message else "")
    )


def select_items(body: Any, selector: str, *, where: str) -> list[Any]:
    """The list of records in a response body; a body of another shape is a response we cannot understand."""
    try:
        items = dig(body, selector)
    except KeyError:
        raise FatalSyncError(f"{where}: record_selector {selector!r} not found in the response") from None
    if items is None:
        return []
    if not isinstance(items, list):
        shown = selector or "the body"
        raise FatalSyncError(f"{where}: {shown} is a {type(items).__name__}, expected a list of records")
    return items


@dataclass(slots=True)
class RecordDecoder:
    """Builds RawRecords for one stream and drops re-deliveries at the cursor boundary.

    Re-anchored paging asks again from the highest cursor seen (inclusive), so records sharing that value
    arrive twice. Only records *at* the boundary can repeat, so remembering their keys is enough: memory
    stays bounded by the number of records sharing one change time, not by the size of the read.
    """

    primary_key: str | list[str]
    cursor_field: str | None = None
    codec: CursorCodec | None = None
    boundary: datetime | None = None
    max_cursor: datetime | None = None
    _boundary_keys: set[str] = field(default_factory=set)
    _seen_rejects: set[str] = field(default_factory=set)

    def decode(self, items: Iterable[Any]) -> tuple[list[RawRecord], list[SkippableSyncError]]:
        records: list[RawRecord] = []
        rejects: list[SkippableSyncError] = []
        for item in items:
            result = self._one(item)
            if isinstance(result, RawRecord):
                if self._is_new(result):
                    records.append(result)
            elif self._is_new_reject(result):
                rejects.append(result)
        return records, rejects

    def _one(self, item: Any) -> RawRecord | SkippableSyncError:
        if isinstance(item, SkippableSyncError):  # the wire decoder already gave up on it (bad bytes)
            return item
        if not isinstance(item, Mapping):
            return SkippableSyncError(f"record is a {type(item).__name__}, not an object", raw=item)
        source_id = self._source_id(item)
        if source_id is None:
            return SkippableSyncError(f"primary key {self.primary_key!r} is missing or empty", raw=item)
        cursor: datetime | None = None
        if self.codec is not None and self.cursor_field is not None:
            raw_cursor = dig(item, self.cursor_field, None)
            try:
                cursor = self.codec.parse(raw_cursor)
            except (ValueError, TypeError, OverflowError) as exc:
                return SkippableSyncError(
                    f"cursor {self.cursor_field!r} = {raw_cursor!r} is not {self.codec.fmt!r}: {exc}",
                    source_id=source_id,
                    raw=item,
                )
        return RawRecord(source_id=source_id, cursor=cursor, payload=item)

    def _source_id(self, item: Mapping[str, Any]) -> str | None:
        paths = [self.primary_key] if isinstance(self.primary_key, str) else self.primary_key
        parts: list[str] = []
        for path in paths:
            value = dig(item, path, None)
            if value is None or value == "" or isinstance(value, (dict, list)):
                return None
            parts.append(str(value))
        return ":".join(parts)

    def _is_new(self, record: RawRecord) -> bool:
        cursor = record.cursor
        if cursor is None:
            return True
        if self.max_cursor is None or cursor > self.max_cursor:
            self.max_cursor = cursor
        if self.boundary is None or cursor > self.boundary:
            self.boundary = cursor
            self._boundary_keys = {record.source_id}
            return True
        if cursor == self.boundary:
            if record.source_id in self._boundary_keys:
                return False
            self._boundary_keys.add(record.source_id)
        return True

    def _is_new_reject(self, reject: SkippableSyncError) -> bool:
        try:
            fingerprint = json.dumps(reject.raw, sort_keys=True, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            return True
        if fingerprint in self._seen_rejects:
            return False
        self._seen_rejects.add(fingerprint)
        return True


__all__ = ["RecordDecoder", "check_success", "dig", "select_items", "server_message"]
