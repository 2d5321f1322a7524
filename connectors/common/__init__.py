"""What the declarative connector kinds share beyond HTTP: change-time cursors, paging state machines, the
re-anchoring read loop, and turning decoded bodies into :class:`~gateway.contract.connector.RawRecord` objects."""

from __future__ import annotations

from .cursors import CursorCodec
from .jsontext import (
    JsonDocument,
    JsonTextError,
    Problem,
    Unrepresentable,
    find_problems,
    parse_json,
    render_json,
)
from .paginators import PageRequest, Paginator, make_paginator
from .reader import read_pages, resume_point
from .records import (
    RecordDecoder,
    RecordRejection,
    check_envelope,
    check_success,
    dig,
    screen_items,
    select_items,
    server_message,
    source_key,
)

__all__ = [
    "CursorCodec",
    "JsonDocument",
    "JsonTextError",
    "PageRequest",
    "Paginator",
    "Problem",
    "RecordDecoder",
    "RecordRejection",
    "Unrepresentable",
    "check_envelope",
    "check_success",
    "dig",
    "find_problems",
    "make_paginator",
    "parse_json",
    "read_pages",
    "render_json",
    "resume_point",
    "screen_items",
    "select_items",
    "server_message",
    "source_key",
]
