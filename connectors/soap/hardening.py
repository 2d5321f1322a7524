"""Parsing XML from other people's servers safely: no DTDs, no entities, no network, bounded size and depth.

Every XML document this package reads goes through :func:`parse_document` (responses, WSDLs read by the
inspector) or through zeep with :func:`zeep_settings` (WSDLs and schemas zeep loads itself). The rules:

- a DTD (``<!DOCTYPE``) is refused *before* parsing, by looking at the prolog only — a DTD can only stand
  there, so a ``<!DOCTYPE`` inside a CDATA section further down is text and is left alone. That stops XXE
  (``<!ENTITY x SYSTEM "file:///etc/passwd">``) and "billion laughs" before libxml2 sees a single entity;
- the parser itself resolves no entities, loads no DTD, touches no network (defence in depth), and keeps
  libxml2's default limits (``huge_tree=False``: depth 256, 10 MB text nodes);
- a document larger than ``max_bytes`` is refused before parsing (the HTTP layer also stops reading there);
- a tree deeper than ``max_depth`` is refused. libxml2 itself stops at 256 levels without ``huge_tree``, so
  the default costs nothing; a lower ``max_depth`` adds one walk over the tree.

    root = parse_document(data, limits=XmlLimits(), where="market GetBusinessList")
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from gateway.contract.errors import FatalSyncError

_ROOT_START = re.compile(rb"<[A-Za-z_:\x80-\xff]")
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype")
LIBXML2_MAX_DEPTH = 256
"""libxml2's own nesting limit when ``huge_tree`` is off."""


@dataclass(frozen=True, slots=True)
class XmlLimits:
    """Upper bounds for one document. Defaults fit a 500-record page of case data with room to spare."""

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = LIBXML2_MAX_DEPTH
    max_elements: int = 2_000_000
    """Elements that SOAP-encoded references may expand into (:mod:`.multiref`): references nest like entities."""


class UnsafeXmlError(FatalSyncError):
    """A document tried something a data exchange never needs (a DTD, entities) or exceeded a limit."""


def safe_parser() -> etree.XMLParser:
    """A fresh lxml parser with every dangerous feature off (parsers are not thread-safe: one per use)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        strip_cdata=True,
    )


def _root_start(data: bytes) -> int:
    """Where the root element starts: the first ``<name`` outside a comment or processing instruction (a
    ``<x`` inside ``<!-- … -->`` must not end the prolog early, or a DTD after it would go unseen)."""
    pos = 0
    while True:
        match = _ROOT_START.search(data, pos)
        if match is None:
            return len(data)
        comment, pi = data.rfind(b"<!--", pos, match.start()), data.rfind(b"<?", pos, match.start())
        opened = max(comment, pi)
        if opened < 0:
            return match.start()
        closer = b"-->" if opened == comment else b"?>"
        end = data.find(closer, opened + 2)
        if end < 0:
            return len(data)  # never closed: all of it is prolog
        pos = end + len(closer)  # this "<x" was inside it, or follows it: look again after it either way


def check_prolog(data: bytes, *, where: str, limits: XmlLimits) -> None:
    """Refuse oversized documents and any DTD, without parsing."""
    if len(data) > limits.max_bytes:
        raise UnsafeXmlError(
            f"{where}: the document is {len(data):,} bytes, over the limit of {limits.max_bytes:,} (limits.max_bytes)"
        )
    prolog = data[: _root_start(data)]
    if any(marker in prolog for marker in _FORBIDDEN):
        raise UnsafeXmlError(
            f"{where}: the document declares a DTD (<!DOCTYPE/<!ENTITY>); refused — DTDs and entities are never "
            f"needed for data exchange and are how XXE and entity-expansion attacks work"
        )


def parse_document(data: bytes, *, where: str, limits: XmlLimits | None = None) -> etree._Element:
    """Parse bytes into an element tree under the rules in the module docstring."""
    limits = limits or XmlLimits()
    check_prolog(data, where=where, limits=limits)
    try:
        root = etree.fromstring(data, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        message = describe_syntax_error(exc, data)
        if "Excessive depth" in str(exc) or "depth" in str(exc).lower() and "exceed" in str(exc).lower():
            raise UnsafeXmlError(f"{where}: the document nests deeper than {LIBXML2_MAX_DEPTH} levels") from None
        raise FatalSyncError(f"{where}: {message}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXmlError(f"{where}: the document carries a DTD; refused")
    if limits.max_depth < LIBXML2_MAX_DEPTH:
        check_depth(root, limits.max_depth, where=where)
    return root


def check_depth(root: etree._Element, max_depth: int, *, where: str) -> None:
    """Walk the tree once (iteratively) and refuse it when deeper than ``max_depth``."""
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > max_depth:
            raise UnsafeXmlError(f"{where}: the document nests deeper than {max_depth} levels (limits.max_depth)")
        stack.extend((child, depth + 1) for child in element)


_ROOT_NAME = re.compile(rb"<([A-Za-z_\x80-\xff][^\s/>]*)")


def _truncated(data: bytes) -> bool:
    """The document does not end with its root element's end tag (or the root is self-closed)."""
    match = _ROOT_NAME.search(data)
    if match is None:
        return False
    tail = data.rstrip()
    return not (tail.endswith(b"</" + match.group(1) + b">") or tail.endswith(b"/>"))


def describe_syntax_error(exc: etree.XMLSyntaxError, data: bytes) -> str:
    """A parse error in words an operator understands: truncated, empty, or broken at line:column."""
    if not data.strip():
        return "the response body is empty, not XML"
    message = str(exc.msg if hasattr(exc, "msg") and exc.msg else exc)
    if "Premature end" in message or "end of data" in message.lower() or _truncated(data):
        return f"the XML is truncated ({len(data):,} bytes received; {message})"
    line, column = exc.position if exc.position else (0, 0)
    return f"the response is not well-formed XML (line {line}, column {column}: {message})"


__all__ = ["LIBXML2_MAX_DEPTH", "UnsafeXmlError", "XmlLimits", "check_depth", "check_prolog", "describe_syntax_error",
           "parse_document", "safe_parser"]
