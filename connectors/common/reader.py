"""Reading one stream page by page, without losing records that change while we page (any wire format).

The loop is shared by the REST and SOAP connectors: each supplies a ``fetch`` function that sends one request
(a GET with query parameters, a SOAP call with operation parameters) and returns the records it found.

The engine's promise is "nothing lost": a record updated during a read must still be read, at its latest
version. Keyset paging (``cursor``, ``link_header``) gives that for free. Positional paging (``page_number``,
``offset``) over a table ordered by change time does not: an update moves a record to the end and shifts
every row behind it one place forward, so page N+1 starts one row too late and skips a record that did *not*
change — it would never be read again by an incremental sync.

Re-anchoring fixes this for incremental streams. After every page, the reader starts again at the first page
with the cursor parameter set to the highest cursor seen so far. Everything before that cursor has been read;
the next request asks the server for "the rest" as it is *now*, so shifts cannot hide anything:

    page 1  updatedSince=∅           -> rows t1..t100        anchor := t100
    page 1  updatedSince=t100        -> rows t100..t199      (t100 again: dropped as a re-delivery)
    page 1  updatedSince=t199        -> ... until a short page

The parameter is inclusive, so records sharing the anchor's value arrive again; :class:`RecordDecoder` drops
those re-deliveries by (primary key, cursor). If a full page holds nothing newer than the anchor (a burst of
records sharing one change time), re-anchoring would ask the same question again forever, so the reader moves
to the next page number under the same anchor instead.

Full refresh of a positional stream *without* an incremental cursor reads page after page: it may skip a
record that moves during the read (nothing to re-anchor on). Give such streams an ``incremental`` block
whenever the server can filter by change time; their full refresh then re-anchors too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from gateway.contract.connector import Page, SyncMode
from gateway.contract.errors import FatalSyncError

from .cursors import CursorCodec
from .paginators import PageRequest, make_paginator
from .records import RecordDecoder
from .settings import IncrementalConfig, PaginationConfig

Fetch = Callable[[PageRequest], tuple[Any, Any, list[Any]]]
"""Send one page request; return ``(response, body, items)``. ``response`` and ``body`` are handed to the
paginator (link headers, next-cursor fields); ``items`` are the page's records (dicts, or
:class:`~gateway.contract.errors.SkippableSyncError` for records the wire decoder could not read)."""


def read_pages(
    fetch: Fetch,
    *,
    where: str,
    base: PageRequest,
    primary_key: str | list[str],
    ordered: bool,
    incremental: IncrementalConfig | None,
    pagination: PaginationConfig,
    since: datetime | None = None,
    mode: SyncMode = "incremental",
    checkpoint: Mapping[str, Any] | None = None,
) -> Iterator[Page]:
    """Yield one :class:`Page` per request; see the module docstring for the ordering guarantees."""
    codec: CursorCodec | None = None
    param_codec: CursorCodec | None = None
    if incremental is not None:
        codec = CursorCodec(incremental.cursor_format, incremental.tz)
        param_codec = CursorCodec(incremental.effective_param_format, incremental.tz)
    decoder = RecordDecoder(primary_key, incremental.cursor_field if incremental else None, codec)
    paginator = make_paginator(pagination)

    anchor: datetime | None = None
    if incremental is not None:
        anchor = resume_point(since if mode == "incremental" else None, checkpoint, where)
    reanchor = incremental is not None and paginator.positional
    resumable = incremental is not None and ordered
    start = anchor

    while True:
        params = dict(base.params)
        if incremental is not None and param_codec is not None:
            if anchor is not None:
                params[incremental.param] = param_codec.format(anchor)
            elif incremental.initial_value is not None:
                params[incremental.param] = incremental.initial_value
        response, body, items = fetch(paginator.request(PageRequest(base.url, params)))
        records, rejects = decoder.decode(items)

        page_checkpoint: dict[str, Any] | None = None
        if resumable:
            high = max((c for c in (start, decoder.max_cursor) if c is not None), default=None)
            page_checkpoint = {"cursor": high.isoformat()} if high is not None else None
        yield Page(records=records, checkpoint=page_checkpoint, rejects=rejects)

        if not paginator.advance(response, body, len(items)):
            return
        high_water = decoder.max_cursor
        if reanchor and high_water is not None and (anchor is None or high_water > anchor):
            anchor = high_water
            paginator.reset()


def resume_point(
    since: datetime | None, checkpoint: Mapping[str, Any] | None, where: str
) -> datetime | None:
    """Where an incremental read starts: the later of ``since`` and a checkpoint's cursor."""
    resumed: datetime | None = None
    if checkpoint and checkpoint.get("cursor"):
        try:
            resumed = datetime.fromisoformat(str(checkpoint["cursor"]))
        except ValueError:
            raise FatalSyncError(
                f"{where}: checkpoint cursor {checkpoint['cursor']!r} is not ISO 8601"
            ) from None
        if resumed.tzinfo is None:
            raise FatalSyncError(f"{where}: checkpoint cursor {checkpoint['cursor']!r} has no UTC offset")
    if since is not None and since.tzinfo is None:
        raise FatalSyncError(f"{where}: since={since.isoformat()} must be timezone-aware")
    candidates = [c for c in (since, resumed) if c is not None]
    return max(candidates) if candidates else None


__all__ = ["Fetch", "read_pages", "resume_point"]
