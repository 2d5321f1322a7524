"""What the declarative connector kinds share beyond HTTP: change-time cursors, paging state machines, the
re-anchoring read loop, and turning decoded bodies into :class:`~gateway.contract.connector.RawRecord` objects."""

from __future__ import annotations

from .cursors import CursorCodec
from .paginators import PageRequest, Paginator, make_paginator
from .reader import read_pages, resume_point
from .records import RecordDecoder, check_success, dig, select_items, server_message

__all__ = [
    "CursorCodec",
    "PageRequest",
    "Paginator",
    "RecordDecoder",
    "check_success",
    "dig",
    "make_paginator",
    "read_pages",
    "resume_point",
    "select_items",
    "server_message",
]
