"""Reading the metadata an issuer embedded in a certificate file (OFD custom data), to cross-check the feed.

The signature covers the file; the feed's metadata does not carry its own signature. So after the signature
verifies, what the feed says (identifier, number, holders, validity) must match what the signed file says —
otherwise a feed could attach a genuine file to someone else's name.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

__all__ = ["file_metadata", "cross_check"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)
_NS = "{http://www.ofdspec.org/2016}"


def file_metadata(content: bytes) -> dict[str, str]:
    """``CustomData`` name → text; empty when the file is not OFD-like XML."""
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError:
        return {}
    return {el.get("Name", ""): (el.text or "") for el in root.iter(f"{_NS}CustomData")}


def cross_check(meta: dict[str, str], *, identifier: str, number: str, holders: list[dict[str, Any]],
                valid_from: str, valid_until: str | None) -> list[str]:
    """What differs between the signed file and the feed (empty: they agree)."""
    if not meta:
        return ["the file carries no readable metadata"]
    problems = []
    if meta.get("证照标识", "").upper() != identifier.upper():
        problems.append("identifier differs from the signed file")
    if meta.get("证照编号") != number:
        problems.append("number differs from the signed file")
    signed = {p.strip().upper() for p in meta.get("持证主体代码", "").split(";") if p.strip()}
    fed = {f"{h['id_type']}:{h['id_number']}".upper() for h in holders}
    if signed != fed:
        problems.append("holders differ from the signed file")
    if meta.get("有效期起始日期") != valid_from:
        problems.append("validity start differs from the signed file")
    until = meta.get("有效期截止日期")
    if (until if until not in (None, "长期") else None) != valid_until:
        problems.append("validity end differs from the signed file")
    return problems
