"""SOAP-encoded references (multiRef): inlined before any record is read, so every decoder sees plain trees.

Axis 1.x, .NET remoting and gSOAP answer rpc/encoded calls with each struct written once, as an independent
element at the top of the Body, and every use of it as an empty element pointing there::

    <ns1:getCasesResponse>
      <getCasesReturn href="#id0"/>                       SOAP 1.1: href="#id" → id="id"
    </ns1:getCasesResponse>
    <multiRef id="id0" soapenc:root="0" xsi:type="ns2:CaseList">
      <cases soapenc:arrayType="ns2:Case[2]"><item href="#id1"/><item href="#id2"/></cases>
    </multiRef>
    <multiRef id="id1" soapenc:root="0">…</multiRef>

(SOAP 1.2 writes ``enc:ref="id"`` → ``enc:id="id"``.) Read as it stands, ``getCasesReturn`` is an empty
string and the records sit in siblings nobody asked for. :func:`inline_references` copies each referenced
element's content (and its ``xsi:type``/``xsi:nil``) into every element that points at it, innermost first,
then removes the referenced top-level elements, and the ids of those referred to in place (the fast path reads
an element's attributes as fields): the tree becomes what a document/literal server would send.

Hostile or broken answers get clear errors, never a hang or a memory blow-up: a reference to a missing id, a
cycle (a struct containing itself), and expansion past ``max_elements`` — references can nest like "billion
laughs" entities (each struct pointing twice at the next), so the copies are counted as they are made.
:func:`has_references` looks at the raw bytes first, so answers without references (nearly all) cost one
substring search.
"""

from __future__ import annotations

import copy

from lxml import etree

from gateway.contract.errors import FatalSyncError

from .hardening import UnsafeXmlError

__all__ = ["has_references", "inline_references"]

SOAP12_ENCODING = "http://www.w3.org/2003/05/soap-encoding"
_REF12 = f"{{{SOAP12_ENCODING}}}ref"
_ID12 = f"{{{SOAP12_ENCODING}}}id"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_CARRIED = (f"{{{_XSI}}}type", f"{{{_XSI}}}nil")
"""Attributes of a referenced element that describe the value, so the referring element takes them."""


def has_references(data: bytes) -> bool:
    """Whether the document may hold SOAP-encoded references (a cheap look at the bytes)."""
    return b'href="#' in data or b"href='#" in data or (SOAP12_ENCODING.encode() in data and b"ref=" in data)


def _target_of(element: etree._Element) -> str | None:
    href = element.get("href")
    if href is not None and href.startswith("#"):
        return href[1:]
    return element.get(_REF12)


def inline_references(body: etree._Element, *, where: str, max_elements: int) -> int:
    """Inline every reference below ``body`` (see the module docstring); returns how many were inlined."""
    ids: dict[str, etree._Element] = {}
    wanted: set[str] = set()
    for element in body.iter(etree.Element):
        key = _id_of(element)
        if key is not None:
            ids.setdefault(key, element)
        target = _target_of(element)
        if target is not None:
            wanted.add(target)
    resolver = _Resolver(ids, where=where, budget=max_elements)
    independent = [el for el in body if _id_of(el) in wanted]  # the multiRefs: content, not answers
    for root in body:
        if _id_of(root) not in wanted:
            resolver.inline_within(root, ())
    for element in independent:
        body.remove(element)
    for element in body.iter(etree.Element):  # an element referred to in place keeps no id: it is no field
        if _id_of(element) in wanted:
            for name in ("id", _ID12):
                element.attrib.pop(name, None)
    return resolver.inlined


def _id_of(element: etree._Element) -> str | None:
    return element.get("id") or element.get(_ID12)


class _Resolver:
    def __init__(self, ids: dict[str, etree._Element], *, where: str, budget: int) -> None:
        self.ids = ids
        self.where = where
        self.budget = budget
        self.expanded: dict[str, etree._Element] = {}
        self.inlined = 0

    def inline_within(self, root: etree._Element, chain: tuple[str, ...]) -> None:
        """Fill every referring element below ``root`` (itself included) with its target's expanded content."""
        referring = [(el, key) for el in root.iter(etree.Element) if (key := _target_of(el)) is not None]
        for element, key in referring:
            content = self.expand(key, chain)
            self.spend(content)
            for name in ("href", _REF12):
                element.attrib.pop(name, None)
            for name in _CARRIED:
                value = content.get(name)
                if value is not None and element.get(name) is None:
                    element.set(name, value)
            element.text = content.text
            for child in content:
                element.append(copy.deepcopy(child))
            self.inlined += 1

    def expand(self, key: str, chain: tuple[str, ...]) -> etree._Element:
        """The target ``key`` with its own references inlined (computed once, copied at each use)."""
        done = self.expanded.get(key)
        if done is not None:
            return done
        if key in chain:
            raise FatalSyncError(f"{self.where}: SOAP reference cycle {' → '.join('#' + k for k in (*chain, key))}; "
                                 f"the answer cannot be read as records")
        target = self.ids.get(key)
        if target is None:
            raise FatalSyncError(f"{self.where}: the answer refers to #{key}, but no element has id={key!r}")
        clone = copy.deepcopy(target)
        self.inline_within(clone, (*chain, key))
        self.expanded[key] = clone
        return clone

    def spend(self, content: etree._Element) -> None:
        self.budget -= sum(1 for _ in content.iter())
        if self.budget < 0:
            raise UnsafeXmlError(f"{self.where}: SOAP references expand past the limit of elements "
                                 f"(limits.max_elements): refused, as for entity expansion")
