"""Records carried as text: an answer whose result element holds a whole XML or JSON document as its text.

Chinese ASMX and Axis services very often declare every operation's result ``xsd:string`` and put the real
answer in it — escaped XML (``<QueryResult>&lt;Response&gt;&lt;Items&gt;…</QueryResult>``), a CDATA section,
or a JSON text. The WSDL then says nothing about the records, and without reading that text a sync finds none.
A stream's ``embedded`` (:class:`~.config.EmbeddedConfig`) names the element holding the text and its format;
this module turns that text into something ``result_path`` and ``status_path`` can be read in:

- ``xml``: the document parsed under the same rules as the answer itself (:func:`~.hardening.parse_document`:
  no DTD, no entities, the size and depth limits), held under a wrapper element so that dotted paths start at
  the document's root element, exactly as paths below ``soap:Body`` start at the response element. A service
  that sends the document as child elements instead of text (some do, against their own WSDL) is read the same.
  The text's own XML declaration (``<?xml version="1.0" encoding="gb2312"?>``) is dropped: the text is
  characters already (the answer was decoded), and its old encoding label no longer describes anything;
- ``json``: decoded as a REST body is (:func:`connectors.common.jsontext.parse_json`: repeated keys, numbers
  JSON cannot carry and broken text marked, never silently changed).

An element that is not there, or holds no text, is an answer of another shape: a :class:`FatalSyncError`
naming what was found — never read as "no records" (a service that says "nothing found" says it in the
document, which ``success`` reads).
"""

from __future__ import annotations

import re

from lxml import etree

from connectors.common.jsontext import JsonDocument, JsonTextError, parse_json
from gateway.contract.errors import FatalSyncError

from .config import EmbeddedConfig
from .decode import find_path, local_name
from .hardening import XmlLimits, parse_document
from .xmltext import decode_text

_DECLARATION = re.compile(r"\A\s*<\?xml\b[^>]*\?>")
_WRAPPER = "embedded"


def holder_element(body: etree._Element, embedded: EmbeddedConfig, *, where: str) -> etree._Element:
    """The element at ``embedded.path`` below ``soap:Body``; missing, a :class:`FatalSyncError` naming what is there."""
    steps = embedded.path.split(".")
    element = find_path(body, steps)
    if element is None:
        reached, current = [], body
        for step in steps:
            nxt = next((c for c in current if isinstance(c.tag, str) and local_name(c.tag) == step), None)
            if nxt is None:
                found = [local_name(c.tag) for c in current if isinstance(c.tag, str)]
                at = ".".join(reached) or "soap:Body"
                raise FatalSyncError(f"{where}: embedded.path {embedded.path!r} not found in the answer: {at} has "
                                     f"no <{step}> (it holds {found or 'nothing'})")
            reached.append(step)
            current = nxt
    return element


def _text(holder: etree._Element, embedded: EmbeddedConfig, *, where: str) -> str:
    text = (holder.text or "").lstrip("\ufeff")
    if not text.strip():
        raise FatalSyncError(
            f"{where}: embedded.path {embedded.path!r} holds no text: the answer carries no {embedded.format} "
            f"document, so no records container (not read as an empty page; a service that finds nothing says so "
            f"in the document, which `success` reads)"
        )
    return text


def xml_document(body: etree._Element, embedded: EmbeddedConfig, *, where: str, limits: XmlLimits
                 ) -> tuple[etree._Element, int]:
    """A wrapper element whose child is the embedded document's root (``result_path`` starts at that root), and
    how many damaged spots the text held: the text is repaired as an answer's bytes are
    (:func:`~.xmltext.decode_text`: ``&#xD842;&#xDFB7;`` is 𠮷, a lone half or ``&#x1;`` a damage mark that
    rejects its record only) — libxml2 would refuse the whole document, and every run would fail at it."""
    holder = holder_element(body, embedded, where=where)
    if len(holder) and not (holder.text or "").strip():
        return holder, 0  # sent as elements, not text: the path starts at its first child just the same
    decoded = decode_text(_DECLARATION.sub("", _text(holder, embedded, where=where), count=1))
    root = parse_document(decoded.data, where=f"{where}: the XML document inside {embedded.path}", limits=limits)
    wrapper = etree.Element(_WRAPPER)
    wrapper.append(root)
    return wrapper, decoded.damaged


def json_document(body: etree._Element, embedded: EmbeddedConfig, *, where: str) -> JsonDocument:
    """The JSON document in the element's text, decoded as a REST body is."""
    holder = holder_element(body, embedded, where=where)
    if len(holder):
        children = sorted({local_name(c.tag) for c in holder if isinstance(c.tag, str)})
        raise FatalSyncError(f"{where}: embedded.path {embedded.path!r} holds XML elements ({children}), not JSON "
                             f"text: `format: xml`?")
    text = _text(holder, embedded, where=where)
    try:
        return parse_json(text.encode("utf-8", "surrogatepass"), charset="utf-8")
    except (JsonTextError, ValueError) as exc:
        start = text.strip()[:80]
        raise FatalSyncError(f"{where}: the text inside {embedded.path} is not JSON ({exc}); it starts "
                             f"{start!r}") from None


__all__ = ["holder_element", "json_document", "xml_document"]
