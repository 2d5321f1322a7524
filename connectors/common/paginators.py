"""How to ask for the next page: page numbers, offsets, opaque cursors, RFC 8288 ``Link`` headers.

A paginator is a small state machine the reader drives: :meth:`Paginator.request` says what to send for the
current page, :meth:`Paginator.advance` looks at the response and moves on (``False`` after the last page),
:meth:`Paginator.reset` goes back to the first page.

``positional`` paginators (page number, offset) address rows by position in a result that the server
recomputes on every request. When a record changes while we page, it moves to the end of a change-time
ordering and every row behind it shifts one place forward, so the next page silently skips one. The reader
therefore re-anchors them on the cursor (see :mod:`connectors.common.reader`). Cursor and link-header paging
continue from a key the server remembers (keyset), which stays correct as the table changes.

When the read ends:

============  =================================================================================================
page_number,  a page with fewer than ``size`` records (an empty page included); with ``total_path``, a read that
offset        ends short of the count the answer gives is an error (a server capping the page size below ``size``)
cursor        no next cursor; or an **empty page** with no cursor or the cursor just sent
link_header   no ``rel="next"`` link; or an **empty page** with no link or the link just followed
============  =================================================================================================

An empty page that carries a *new* cursor or link is not the end: keyset sources that filter after the scan
(TableStore, DynamoDB and the like: rows deleted or not visible to us) answer an empty page in the middle of
their data with a continuation, and ending there would read them partly on every run, the watermark stuck. But
scroll-style servers answer empty pages with a fresh token (a timestamp, a random id) for ever past the last
record, and the reader's loop guard only sees repeated requests; so ``max_empty_pages`` (10 by default) empty
pages in a row, each with a new token, stop the read with an :class:`EndlessEmptyPagesError`, which the reader
turns into a :class:`~gateway.contract.errors.FatalSyncError` naming the stream.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urljoin

import requests

from .records import dig
from .settings import (
    CursorPagination,
    LinkHeaderPagination,
    NoPagination,
    OffsetPagination,
    PageNumberPagination,
    PaginationConfig,
)
from .urls import same_origin, shown


@dataclass(frozen=True, slots=True)
class PageRequest:
    """What to GET: a path (joined to ``base_url``) or an absolute URL, and the query parameters."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)


class ForeignLinkError(Exception):
    """A next-page link to another origin (scheme, host, port) than the page it came with. The reader turns it
    into a :class:`~gateway.contract.errors.FatalSyncError` naming the stream."""


class ShortReadError(Exception):
    """A positional read ended (a page shorter than ``size``) before the count the answer gave (``total_path``):
    the server caps the page size below ``size``, so its first short page is not the last. The reader turns it
    into a :class:`~gateway.contract.errors.FatalSyncError` naming the stream."""


class EndlessEmptyPagesError(Exception):
    """``max_empty_pages`` empty pages in a row, each with a new cursor or link: a server that hands out fresh
    continuation tokens for ever past its last record. The reader turns it into a
    :class:`~gateway.contract.errors.FatalSyncError` naming the stream."""


def _empty_run(count: int, limit: int, what: str) -> int:
    """Count one more empty page with a new ``what``; raise past ``limit``."""
    count += 1
    if count >= limit:
        raise EndlessEmptyPagesError(
            f"{count} empty pages in a row, each with a new {what}: the source seems to hand out continuations "
            f"for ever past its last record; stopped (raise `pagination.max_empty_pages` if its filtered scans "
            f"really skip that many pages)"
        )
    return count


def _total(body: Any, path: str | None) -> int | None:
    if path is None:
        return None
    value = dig(body, path, None)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _check_total(body: Any, path: str | None, read: int, size: int, item_count: int, size_param: str | None,
                 setting: str) -> None:
    """Raise :class:`ShortReadError` when the read ends (this page was short) with ``read`` records of a
    ``total`` the answer counts at ``path``."""
    total = _total(body, path)
    if total is None or read >= total:
        return
    asked = f" (sent as `{size_param}`)" if size_param else ""
    raise ShortReadError(
        f"the read ended after {read} records, but the answer's `{path}` says {total}: a page of {item_count} "
        f"records, fewer than {setting} {size}{asked}, was taken as the last. The server seems to cap the page size "
        f"below {size}: lower `pagination.{setting}` to its maximum; stopped rather than cut the read short"
    )


class Paginator(abc.ABC):
    positional: ClassVar[bool] = False
    """Rows are addressed by position, so changes during the read shift them (needs re-anchoring)."""

    @abc.abstractmethod
    def request(self, base: PageRequest) -> PageRequest:
        """The request for the current page, built on the stream's own path and parameters."""

    @abc.abstractmethod
    def advance(self, response: requests.Response, body: Any, item_count: int) -> bool:
        """Move past the page just read; ``False`` if it was the last one."""

    def reset(self) -> None:  # noqa: B027 - stateless paginators have nothing to reset
        """Go back to the first page."""

    def page_before_first(self, base: PageRequest) -> PageRequest | None:
        """The request for the page numbered one before the configured first (None: paging has no such page).
        A look there tells a ``start`` one too high: the source's real first page is never read."""
        return None

    def counted_before(self, body: Any, repeats: int = 0) -> bool:
        """Whether the pages before the current one — less ``repeats`` of them that only repeated the page before —
        already hold every record the answer counts (``total_path``). A repeated page is then the end, not a server
        ignoring the page parameter: MyBatis PageHelper with ``reasonable=true`` answers any page past the last with
        the last page again."""
        return False


class SinglePage(Paginator):
    def request(self, base: PageRequest) -> PageRequest:
        return base

    def advance(self, response: requests.Response, body: Any, item_count: int) -> bool:
        return False


class PageNumberPaginator(Paginator):
    """``?page=N&size=S``; a page with fewer than ``size`` records is the last one.

    ``size`` must not exceed the server's own maximum, or a capped full page would look like the last one.
    """

    positional = True

    def __init__(self, config: PageNumberPagination) -> None:
        self.config = config
        self.page = config.start

    def request(self, base: PageRequest) -> PageRequest:
        params = {**base.params, self.config.page_param: self.page}
        if self.config.size_param:
            params[self.config.size_param] = self.config.size
        return PageRequest(base.url, params)

    def advance(self, response: requests.Response, body: Any, item_count: int) -> bool:
        if item_count < self.config.size:
            read = (self.page - self.config.start) * self.config.size + item_count
            _check_total(body, self.config.total_path, read, self.config.size, item_count, self.config.size_param,
                         "size")
            return False
        self.page += 1
        return True

    def reset(self) -> None:
        self.page = self.config.start

    def page_before_first(self, base: PageRequest) -> PageRequest | None:
        if self.config.start < 1:
            return None
        params = {**base.params, self.config.page_param: self.config.start - 1}
        if self.config.size_param:
            params[self.config.size_param] = self.config.size
        return PageRequest(base.url, params)

    def counted_before(self, body: Any, repeats: int = 0) -> bool:
        total = _total(body, self.config.total_path)
        return total is not None and (self.page - self.config.start - repeats) * self.config.size >= total


class OffsetPaginator(Paginator):
    """``?offset=O&limit=S``; a page with fewer than ``size`` records is the last one."""

    positional = True

    def __init__(self, config: OffsetPagination) -> None:
        self.config = config
        self.offset = config.start

    def request(self, base: PageRequest) -> PageRequest:
        params = {**base.params, self.config.offset_param: self.offset}
        if self.config.limit_param:
            params[self.config.limit_param] = self.config.size
        return PageRequest(base.url, params)

    def advance(self, response: requests.Response, body: Any, item_count: int) -> bool:
        if item_count < self.config.size:
            _check_total(body, self.config.total_path, self.offset - self.config.start + item_count,
                         self.config.size, item_count, self.config.limit_param, "size")
            return False
        self.offset += item_count
        return True

    def reset(self) -> None:
        self.offset = self.config.start

    def counted_before(self, body: Any, repeats: int = 0) -> bool:
        total = _total(body, self.config.total_path)
        return total is not None and self.offset - self.config.start - repeats * self.config.size >= total


class CursorPaginator(Paginator):
    """An opaque token from the body (``next_cursor``) sent back as ``?cursor=``; no token, or an empty page
    whose token is the one just sent, ends the read; an empty page with a new token is read past (up to
    ``max_empty_pages`` in a row)."""

    def __init__(self, config: CursorPagination) -> None:
        self.config = config
        self.token: str | None = None
        self.empty_run = 0

    def request(self, base: PageRequest) -> PageRequest:
        params = dict(base.params)
        if self.config.size_param and self.config.size:
            params[self.config.size_param] = self.config.size
        if self.token is not None:
            params[self.config.cursor_param] = self.token
        return PageRequest(base.url, params)

    def advance(self, response: requests.Response, body: Any, item_count: int) -> bool:
        token = dig(body, self.config.next_cursor_path, None)
        if token in (None, ""):
            return False
        if item_count == 0:
            if str(token) == self.token:
                return False  # an empty page pointing at itself: the end
            self.empty_run = _empty_run(self.empty_run, self.config.max_empty_pages, "cursor")
        else:
            self.empty_run = 0
        self.token = str(token)
        return True

    def reset(self) -> None:
        self.token = None
        self.empty_run = 0


class LinkHeaderPaginator(Paginator):
    """Follows ``Link: <url>; rel="next"`` verbatim (it carries every parameter); no link = last page.

    Only within the origin of the page it came with: the request to it carries our credentials, so a link to
    another host, scheme or port is a :class:`ForeignLinkError`, never a request."""

    def __init__(self, config: LinkHeaderPagination) -> None:
        self.config = config
        self.next_url: str | None = None
        self.empty_run = 0

    def request(self, base: PageRequest) -> PageRequest:
        if self.next_url is not None:
            return PageRequest(self.next_url, {})
        params = dict(base.params)
        if self.config.size_param and self.config.size:
            params[self.config.size_param] = self.config.size
        return PageRequest(base.url, params)

    def advance(self, response: requests.Response, body: Any, item_count: int) -> bool:
        link = response.links.get(self.config.rel, {}).get("url")
        if not link:
            return False
        target = urljoin(response.url, link)
        if item_count == 0:
            if target in (self.next_url, response.url):
                return False  # an empty page linking to itself: the end
            self.empty_run = _empty_run(self.empty_run, self.config.max_empty_pages, "next link")
        else:
            self.empty_run = 0
        if not same_origin(target, response.url):
            raise ForeignLinkError(
                f"the {self.config.rel!r} link {shown(target)} leads to another origin than {shown(response.url)}: "
                f"not followed, our credentials would go with the request"
            )
        self.next_url = target
        return True

    def reset(self) -> None:
        self.next_url = None
        self.empty_run = 0


def make_paginator(config: PaginationConfig) -> Paginator:
    if isinstance(config, PageNumberPagination):
        return PageNumberPaginator(config)
    if isinstance(config, OffsetPagination):
        return OffsetPaginator(config)
    if isinstance(config, CursorPagination):
        return CursorPaginator(config)
    if isinstance(config, LinkHeaderPagination):
        return LinkHeaderPaginator(config)
    assert isinstance(config, NoPagination)
    return SinglePage()


__all__ = [
    "CursorPaginator",
    "EndlessEmptyPagesError",
    "ForeignLinkError",
    "LinkHeaderPaginator",
    "OffsetPaginator",
    "PageNumberPaginator",
    "PageRequest",
    "Paginator",
    "ShortReadError",
    "SinglePage",
    "make_paginator",
]
