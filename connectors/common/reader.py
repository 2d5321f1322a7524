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

A source that wants both ends of the window (``end_param``) gets the instant the read began as its end, the
same on every page: changes made while the read runs are the next run's. A source that answers at most
``max_window`` at a time (查询时间跨度不能超过7天) is read window after window, each paged to its end, until the
instant the read began; an outage longer than the window cannot leave its watermark stuck.

A source whose parameter is exclusive (``>``: ``exclusive: true``) is sent one step of the parameter's format
before the anchor, so re-anchoring cannot skip the records sharing the anchor's change time at a page boundary.

An ``ordered`` stream (the default) promises that records arrive in non-decreasing cursor order; the
re-anchoring above and the checkpoints rest on that promise. A source that sorts newest-first would have its
read re-anchored past everything after the first page (most records lost, silently, full refresh too), so the
reader checks the promise page by page (:class:`CursorOrder`): a page whose cursors go down more often than up
stops the read with a :class:`~gateway.contract.errors.FatalSyncError` naming a pair of records and their values.
One record out of place (a change time typed wrong) does not: it is read like the others, a lower cursor does not
move the anchor, and one beyond the change horizon (a typo of 9999) moves neither the anchor nor a checkpoint.
Equal cursors are fine (a burst of changes in one second).

A read always ends. A source whose next cursor or next link leads back to a request already sent, or that
answers page after page with nothing but records already read (a server ignoring the page parameter), is
stopped with a :class:`~gateway.contract.errors.FatalSyncError` that says so — an endless read would hold the
system's lease and hammer the source for ever. A source that ignores the changed-since parameter would end, but
only after re-reading its first pages after every page (quadratic, 200 records read as 2,280): a re-anchored page
that comes back mostly older than the anchor it was asked for stops the read naming the parameter
(:func:`check_filtered`; records at the anchor and one outlier are fine).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from gateway.contract.connector import Page, RawRecord, SyncMode, ordered_high
from gateway.contract.errors import ChangeFilterIgnoredError, FatalSyncError
from gateway.models.datetimes import change_horizon

from .cursors import CursorCodec
from .paginators import EndlessEmptyPagesError, ForeignLinkError, PageRequest, ShortReadError, make_paginator
from .records import RecordDecoder, dig
from .settings import IncrementalConfig, PaginationConfig

MAX_PAGES_PER_READ = 1_000_000
"""No source needs more pages than this in one read (10⁸ records at 100 a page); past it, the read is stopped."""
MAX_STALE_PAGES = 3
"""Full pages of nothing new in a row before the read is stopped. One is normal (the re-anchored page repeats
the records sharing the anchor's change time); a source that ignores the page parameter repeats forever."""

FILTER_SKEW = timedelta(days=1)
"""How far below the changed-since anchor a filtered page's records may be without the parameter counting as
ignored: a source filtering on the date part only brings the anchor's whole calendar day, one reading the
parameter in another time zone hours more (:func:`check_filtered`)."""

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
    param_codec: CursorCodec | None = None
    if incremental is not None:
        param_codec = CursorCodec(incremental.effective_param_format, incremental.tz)
    decoder = record_decoder(primary_key, incremental)
    paginator = make_paginator(pagination)
    order = CursorOrder(where, incremental.cursor_field, positional=paginator.positional) \
        if incremental is not None and ordered else None

    read_began = datetime.now(timezone.utc)  # where the read's window closes, for sources that want both ends
    anchor: datetime | None = None
    if incremental is not None:
        anchor = resume_point(since if mode == "incremental" else None, checkpoint, where)
        if anchor is None:
            anchor = first_start(incremental, read_began)
    reanchor = incremental is not None and paginator.positional
    if reanchor:
        decoder.track_from(anchor)
    resumable = incremental is not None and ordered
    start = anchor

    stepped_back = False  # an inclusive stream found answering like an exclusive one: sent a step earlier from then

    def since_text(at: datetime) -> str:
        assert incremental is not None and param_codec is not None
        strict = incremental.exclusive or stepped_back
        return param_codec.format_before(at) if strict else param_codec.format(at)

    max_window = incremental.max_window if incremental is not None else None

    def window_closing(at: datetime | None) -> datetime:
        """Where the window starting at ``at`` ends: ``max_window`` after the start AS SENT (floored, or a step
        earlier when exclusive: the source measures the span between the two parameters), never past the read."""
        if max_window is None or at is None or param_codec is None:
            return read_began
        try:
            sent = param_codec.parse(since_text(at))
        except (ValueError, TypeError, OverflowError):
            sent = at
        return min(sent + max_window, read_began)

    window_end = window_closing(anchor)

    probe: datetime | None = None  # the anchor just re-anchored on: its records must come back (inclusive)
    sent: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    stale_pages, last_ids, exact_repeats = 0, (), 0
    arrived: list[RawRecord] = []  # the page's records as they came, re-deliveries included

    def seen(record: RawRecord) -> None:
        arrived.append(record)
        if order is not None:
            order.check(record)

    while True:
        params = dict(base.params)
        if incremental is not None and param_codec is not None:
            if anchor is not None:
                params[incremental.param] = since_text(anchor)
            elif incremental.initial_value is not None:
                params[incremental.param] = incremental.initial_value
            if incremental.end_param is not None:
                params[incremental.end_param] = param_codec.format_end(window_end)
        request = paginator.request(PageRequest(base.url, params))
        key = (request.url, tuple(sorted((str(k), str(v)) for k, v in request.params.items())))
        if key in sent:
            raise FatalSyncError(f"{where}: the source's next page leads back to a request already sent "
                                 f"({request.url}, {dict(key[1])}): stopped, the read would never end")
        if len(sent) >= MAX_PAGES_PER_READ:
            raise FatalSyncError(f"{where}: {MAX_PAGES_PER_READ:,} pages in one read: stopped, the source does "
                                 "not seem to end its pages")
        sent.add(key)
        response, body, items = fetch(request)
        if probe is not None and not decoder.any_up_to(items, probe):
            # a source may answer one page without the anchor's records by accident (a null or empty page, a replica
            # behind): asked once more before their absence is taken for a strict filter — which stops the run and
            # tells the operator to change a setting that may well be right
            again = fetch(request)
            if decoder.any_up_to(again[2], probe):
                response, body, items = again
        filtered = anchor if reanchor else None  # the page was asked for "changed since" this
        arrived.clear()
        records, rejects = decoder.decode(
            items, seen=seen if filtered is not None else order.check if order is not None else None)
        if order is not None:
            order.end_page()
        if filtered is not None and incremental is not None and param_codec is not None:
            check_filtered(arrived, filtered, param_codec, incremental, where=where)
            if probe is not None:
                anchor_at, probe = probe, None
                if not any(r.cursor is not None and r.cursor <= anchor_at for r in arrived):
                    # none of the anchor's records came back: ask once more a step earlier, as for an exclusive
                    # filter, and look (without taking them) for records at the anchor not read yet
                    check = PageRequest(request.url, {**request.params,
                                                      incremental.param: param_codec.format_before(anchor_at)})
                    sent.add((check.url, tuple(sorted((str(k), str(v)) for k, v in check.params.items()))))
                    # Any record AT the anchor there proves the filter strict: asked for "changed since" the anchor,
                    # the source left out records it holds at that very time. Whether they were read already does
                    # not matter: the rest of their group may be beyond the page (a bulk import at one instant).
                    at_anchor = decoder.records_at(fetch(check)[2], anchor_at)
                    if at_anchor:
                        raise FatalSyncError(_exclusive_message(where, incremental, param_codec, anchor_at, at_anchor))
                    _refuse_a_start_too_high(paginator, PageRequest(base.url, params), fetch, decoder, anchor_at,
                                             where)
                    stepped_back = True  # nothing lost here (an anchor record changed again, or no group at it)
        ids = tuple(r.source_id for r in records)
        repeated = bool(items) and ((not records and not rejects) or ids == last_ids)  # nothing new on a full page
        exact_repeats = exact_repeats + 1 if bool(items) and ids == last_ids else 0  # the page before, again
        if exact_repeats and paginator.counted_before(body, exact_repeats - 1):
            # the page before it again, and the pages before it (less the repeats) hold the answer's total: past the
            # last page (a server repeating its last one), not a loop — the end of this query (of its window, in a
            # windowed read). Repeats do not count as records read: a total the pages never reach still stops.
            more = False
        else:
            stale_pages, last_ids = (stale_pages + 1 if repeated else 0), ids
            if stale_pages > MAX_STALE_PAGES:
                raise FatalSyncError(f"{where}: {stale_pages} pages in a row held only records already read (does "
                                     f"the source ignore the paging parameter? or repeat its last page past the end, "
                                     f"as PageHelper's reasonable=true does: then set `pagination.total_path` to the "
                                     f"answer's record count): stopped, the read would never end")

            page_checkpoint: dict[str, Any] | None = None
            if resumable:
                high = max((c for c in (start, decoder.max_cursor) if c is not None), default=None)
                page_checkpoint = {"cursor": high.isoformat()} if high is not None else None
            yield Page(records=records, checkpoint=page_checkpoint, rejects=rejects)

            try:
                more = paginator.advance(response, body, len(items))
            except (EndlessEmptyPagesError, ForeignLinkError, ShortReadError) as exc:
                raise FatalSyncError(f"{where}: {exc}") from None
        if not more:
            stale_pages, last_ids = 0, ()
            if max_window is None or anchor is None or window_end >= read_began:
                return
            # the window is read to its end: the watermark may move through it (an empty window included), and the
            # next one starts where it ended (inclusive: records at that instant come again, as re-deliveries)
            yield Page(records=[], checkpoint={"cursor": window_end.isoformat()} if resumable else None,
                       read_through=window_end)
            anchor = max(anchor, window_end)
            window_end = window_closing(anchor)
            if window_end <= anchor:  # refused at load (IncrementalConfig); never a loop if it slips through
                raise FatalSyncError(f"{where}: max_window {max_window} does not reach past the window's start as "
                                     f"sent ({since_text(anchor)!r}): make it longer than the parameter's format")
            paginator.reset()
            if order is not None:
                order.restart()
            continue
        # the page's own proof of where the rest of the read starts, not the highest change time seen: one record
        # out of place (edited since the listing) would re-anchor past every record between
        horizon = change_horizon()  # a change time typed 9999 anchors nothing (as the decoder's boundary)
        high_water = ordered_high([r.cursor for r in records if r.cursor is not None and r.cursor <= horizon])
        if reanchor and high_water is not None and (anchor is None or high_water > anchor):
            anchor = high_water
            decoder.track_from(anchor)
            if incremental is not None and not (incremental.exclusive or stepped_back):
                probe = high_water
            paginator.reset()
            if order is not None:
                order.restart()


def check_filtered(records: list[RawRecord], anchor: datetime, codec: CursorCodec, incremental: IncrementalConfig,
                   *, where: str) -> None:
    """Stop a re-anchored read whose page ignored the changed-since parameter.

    A page asked for with ``param`` = the anchor (inclusive) holds nothing older than the anchor *as sent* (the
    parameter is floored to its format, so a date-only parameter legitimately brings the day's earlier records).
    Records at the anchor come again (equal change times) and one record older than it is an outlier (a change
    time typed wrong, :class:`CursorOrder`). Records up to :data:`FILTER_SKEW` (a day) below the anchor are
    tolerated too: sources that filter on the date part only (``DATE(update_time) >= DATE(?)``) bring the
    anchor's whole calendar day again, and a source reading the parameter in another time zone brings hours
    more. But a page mostly *well* older than the anchor — at least two records more than a day below it, more
    than half of those with a change time — means the source does not filter by the parameter: it returns the
    whole table. Without this, every re-anchor would start again at the source's first page: the read still
    ends, after about n²/(2·size) records read (200 records, 20 a page: 2,280 records in 231 requests), and no
    error says why. (A source that ignores the parameter and holds a single day's records is not told apart
    from a date filter: it is read, quadratically, and the loop guards still end it.)"""
    try:
        bound = codec.parse(codec.format(anchor))  # the anchor as the source saw it (floored to the format)
    except (ValueError, TypeError, OverflowError):
        return
    horizon = change_horizon()
    floor = bound - FILTER_SKEW
    dated = [r for r in records if r.cursor is not None and r.cursor <= horizon]
    older = [r for r in dated if r.cursor is not None and r.cursor < floor]
    if len(older) < 2 or 2 * len(older) <= len(dated):
        return
    example = older[0]
    name, param = incremental.cursor_field, incremental.param
    raise ChangeFilterIgnoredError(
        f"{where}: asked for records changed since {codec.format(anchor)!r} (`{param}`, "
        f"{'exclusive: sent one step earlier' if incremental.exclusive else 'inclusive'}), the source "
        f"answered {len(older)} of {len(dated)} records more than a day older than that, e.g. record "
        f"{example.source_id} with {name} = {dig(example.payload, name, None)!r}: does the source ignore "
        f"`{param}`? (or read it in another format: check `param`, `param_format` and `timezone` of the "
        f"stream's `incremental`). Paging re-anchors on `{param}`, so a source that ignores it is read again from "
        f"its first page after every page (the records read grow with the square of the table); stopped"
    )


def _refuse_a_start_too_high(paginator: Any, base: PageRequest, fetch: Any, decoder: Any, anchor_at: datetime,
                             where: str) -> None:
    """The re-anchored first page lacked the anchor's records and the filter is not strict: before that is taken
    for "they changed again", look at the page numbered one before ``start``. The anchor's records there mean the
    source counts pages from ``start - 1``: every read skipped its first page — 58% of a new system's records were
    never read, exit 0, nothing said. A source that refuses that page, or answers it empty, is fine."""
    before = paginator.page_before_first(base)
    if before is None:
        return
    try:
        items = fetch(before)[2]
    except Exception:  # noqa: BLE001 — a 400 for page 0 is a 1-based source saying so: nothing wrong here
        return
    if decoder.any_up_to(items, anchor_at):
        start = paginator.config.start
        raise FatalSyncError(
            f"{where}: pagination.start looks wrong: asked for the records changed since {anchor_at.isoformat()}, "
            f"page {start} held none of them and page {start - 1} did — the source's first page is {start - 1}, "
            f"and every read skipped it. Set `pagination.start: {start - 1}`, then run a full refresh "
            f"(`tongban sync SYSTEM --full-refresh`): the records of each first page were never read")


def _exclusive_message(where: str, incremental: IncrementalConfig, codec: CursorCodec, anchor: datetime,
                       skipped: list[RawRecord]) -> str:
    """Why a read stopped at its first page boundary of an exclusive filter the stream declares inclusive."""
    sent = codec.format(anchor)
    ids = ", ".join(r.source_id for r in skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    return (f"{where}: asked for records changed since `{incremental.param}` = {sent!r} (the highest "
            f"`{incremental.cursor_field}` read), the source answered none at that time, yet asked a step earlier it "
            f"has records at {sent!r} ({ids}): it filters strictly AFTER the parameter (`>`), and paging re-anchors "
            f"on that value, so records sharing it beyond a page would be skipped at every page. Stopped before any "
            f"was lost (the watermark stays at {sent!r}): set `incremental.exclusive: true` (the parameter is then "
            f"sent one step earlier) and sync again")


class CursorOrder:
    """Checks an ``ordered`` stream's promise: its records arrive oldest first.

    Re-anchoring trusts the highest cursor seen to mean "everything before it has been read"; on a source that
    sorts newest-first that is false after the first page, and the rest of the read would be lost without a
    word. One record out of place is not that — a change time typed wrong, a record the server sorts by another
    column — and must not block the system: a lower cursor does not move the anchor, and a cursor beyond the
    change horizon (a typo of 9999, a wrong clock) moves neither the anchor nor the watermark (the decoder and the
    engine leave it out). So a page is judged as a whole: it breaks the promise when its cursors go down more
    often than up (at least twice) — what a newest-first page does and an outlier does not. (What it cannot see:
    a newest-first source whose first page holds at most two distinct change times — a date-only cursor with more
    records a day than a page holds — shows no order to judge; set ``ordered: false`` for such a source.) The comparison
    carries over from the page before under the same anchor; :meth:`restart` forgets it when the reader
    re-anchors (the new first page starts again at the anchor)."""

    def __init__(self, where: str, cursor_field: str, *, positional: bool) -> None:
        self.where = where
        self.cursor_field = cursor_field
        self.positional = positional
        self.previous: RawRecord | None = None
        self._page: list[RawRecord] = []

    def check(self, record: RawRecord) -> None:
        """Note ``record`` in the order it arrived (judged by :meth:`end_page`)."""
        if record.cursor is not None and record.cursor <= change_horizon():
            self._page.append(record)

    def end_page(self) -> None:
        """Raise :class:`FatalSyncError` if the page just read came mostly newest-first."""
        seen = ([self.previous] if self.previous is not None else []) + self._page
        self._page = []
        if not seen:
            return
        down: tuple[RawRecord, RawRecord] | None = None
        downs = ups = 0
        for before, record in zip(seen, seen[1:]):
            assert before.cursor is not None and record.cursor is not None
            if record.cursor < before.cursor:
                downs += 1
                down = down or (before, record)
            elif record.cursor > before.cursor:
                ups += 1
        self.previous = seen[-1]
        if downs >= 2 and downs > ups and down is not None:
            raise FatalSyncError(self._message(*down, downs=downs, pairs=len(seen) - 1))

    def restart(self) -> None:
        self.previous = None

    def _message(self, before: RawRecord, record: RawRecord, *, downs: int, pairs: int) -> str:
        name = self.cursor_field
        now, then = dig(record.payload, name, None), dig(before.payload, name, None)
        remedy = ("ask the source to sort ascending by it (a sort parameter in the stream's `params`), or set "
                  "`ordered: false` (which needs cursor or link_header paging, or no `incremental`)"
                  if self.positional else "ask the source to sort ascending by it, or set `ordered: false`")
        return (f"{self.where}: the source sends newest first: {name} went down {downs} times in {pairs} steps, "
                f"e.g. record {record.source_id} has {name} = {now!r}, lower than {then!r} of record "
                f"{before.source_id} before it. The stream is `ordered` (the default): the read re-anchors on the "
                f"highest {name} seen, so a source sorting newest-first would lose most of the read; stopped. "
                f"Either {remedy}")


def first_start(incremental: IncrementalConfig, now: datetime) -> datetime | None:
    """Where a read with no watermark starts: ``initial_lookback`` before ``now``, or — for a windowed read —
    the instant ``initial_value`` names; None leaves the parameter out (or sends ``initial_value`` verbatim)."""
    if incremental.initial_lookback is not None:
        return now - incremental.initial_lookback
    if incremental.max_window is not None:
        return incremental.initial_start()
    return None


def probe_start(incremental: IncrementalConfig, now: datetime) -> datetime | None:
    """Where ``tongban connector check`` starts reading a stream: inside its newest window (half a ``max_window``,
    else half the ``initial_lookback``, before ``now``), None for a stream with neither. A source that refuses a
    query without its time span (or one wider than ``max_window``) answered the bare first page an error, and the
    oldest window — ``initial_lookback`` ago, where a first read starts — is most often empty, so a misspelt key
    passed."""
    span = incremental.max_window or incremental.initial_lookback
    return None if span is None else now - span / 2


def probe_params(incremental: IncrementalConfig, now: datetime) -> dict[str, str]:
    """The incremental parameters of the check's probe (:func:`probe_start`): the start as the read sends it, and
    the end (``end_param``: ``now``); empty for a stream the read may query without them."""
    start = probe_start(incremental, now)
    if start is None and incremental.end_param is None:
        return {}
    codec = CursorCodec(incremental.effective_param_format, incremental.tz)
    params: dict[str, str] = {}
    if start is not None:
        params[incremental.param] = codec.format_before(start) if incremental.exclusive else codec.format(start)
    elif incremental.initial_value is not None:
        params[incremental.param] = incremental.initial_value
    if incremental.end_param is not None:
        params[incremental.end_param] = codec.format_end(now)
    return params


def record_decoder(primary_key: str | list[str], incremental: IncrementalConfig | None) -> RecordDecoder:
    """How a stream's records are keyed and dated: its primary key, and its cursor field read in its format."""
    if incremental is None:
        return RecordDecoder(primary_key, None, None)
    return RecordDecoder(primary_key, incremental.cursor_field,
                         CursorCodec(incremental.cursor_format, incremental.tz))


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


__all__ = ["CursorOrder", "Fetch", "check_filtered", "first_start", "read_pages", "record_decoder",
           "resume_point"]
