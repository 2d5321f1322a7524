"""Reading the metadata an issuer embedded in a certificate file (OFD custom data), to cross-check the feed.

The signature covers the file; the feed's metadata does not carry its own signature. So after the signature
verifies, what the feed says (identifier, number, holders, validity — and the certificate's name, type, issuer
and issue date wherever the file states them) must match what the signed file says — otherwise a feed could
attach a genuine file to someone else's name, or serve a 营业执照's file as a 食品经营许可证.

A file is either OFD-like XML or a real GB/T 33190 OFD package (a zip whose ``OFD.xml`` holds the document
info). The package is read without extracting anything: only ``OFD.xml``, at most :data:`MAX_OFD_XML` bytes of it
however large it claims or decompresses to (a zip bomb stops there).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from lxml import etree

from gateway.models.identifiers import IdentifierError, validate_id_number
from gateway.models.text import compared_name

__all__ = ["MAX_OFD_XML", "cross_check", "file_metadata"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)
_NS = "{http://www.ofdspec.org/2016}"
MAX_OFD_XML = 1024 * 1024
"""The largest ``OFD.xml`` read from a package (document info and custom data: a few kilobytes in practice)."""


def file_metadata(content: bytes) -> dict[str, str]:
    """``CustomData`` name → text; empty when the file is neither OFD-like XML nor an OFD package."""
    if content.startswith(b"PK\x03\x04"):
        content = _package_entry(content, "OFD.xml")
        if not content:
            return {}
    try:
        root = etree.fromstring(content, _PARSER)
    except etree.XMLSyntaxError:
        return {}
    return {el.get("Name", ""): (el.text or "") for el in root.iter(f"{_NS}CustomData")}


def _package_entry(content: bytes, name: str) -> bytes:
    """One entry of a zip package, at most :data:`MAX_OFD_XML` bytes of it; empty when it is missing, larger, or
    the package is not a readable zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as package:
            found = next((i for i in package.infolist() if i.filename.lstrip("/").lower() == name.lower()), None)
            if found is None or found.file_size > MAX_OFD_XML:
                return b""
            with package.open(found) as entry:
                data = entry.read(MAX_OFD_XML + 1)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError):
        return b""
    return b"" if len(data) > MAX_OFD_XML else data


def _as_compared(value: str | None) -> str:
    """A stated value as the feed's went through the mapping: NFKC, no spaces anywhere (``张　三`` padded with an
    ideographic space is the 张三 the mapping's ``name_spaces`` made of it)."""
    return compared_name(value or "")


def _holder_code(written: str) -> str:
    """``TYPE:NUMBER`` of the file, its number read as the feed's was (:func:`validate_id_number`: an old 15-digit
    resident ID as its 18 digits, full-width digits, a USCC's hyphen): the issuer wrote the same holder in both
    places, and a genuine certificate was quarantined for the form Tongban gave one of them."""
    id_type, sep, number = written.strip().partition(":")
    if sep:
        try:
            number = validate_id_number(id_type.strip(), number.strip())[0]
        except IdentifierError:
            pass  # compared as written: it differs, and says so
    return f"{id_type.strip()}{sep}{number.strip()}".upper()


def cross_check(meta: dict[str, str], *, identifier: str, number: str, holders: list[dict[str, Any]],
                valid_from: str, valid_until: str | None, stated: dict[str, str | None] | None = None) -> list[str]:
    """What differs between the signed file and the feed (empty: they agree). ``stated``: further fields of the
    feed by their name in the file's custom data (证照名称, 颁发机构代码 …), compared wherever the file states
    them."""
    if not meta:
        return ["the file carries no readable metadata"]
    problems = []
    for key, fed in (stated or {}).items():
        if key in meta and _as_compared(meta[key]) != _as_compared(fed):
            problems.append(f"{key} differs from the signed file")
    if meta.get("证照标识", "").upper() != identifier.upper():
        problems.append("identifier differs from the signed file")
    if meta.get("证照编号") != number:
        problems.append("number differs from the signed file")
    signed = {_holder_code(p) for p in meta.get("持证主体代码", "").split(";") if p.strip()}
    fed = {f"{h['id_type']}:{h['id_number']}".upper() for h in holders}
    if signed != fed:
        problems.append("holders differ from the signed file")
    if meta.get("有效期起始日期") != valid_from:
        problems.append("validity start differs from the signed file")
    until = meta.get("有效期截止日期")
    if (until if until not in (None, "长期") else None) != valid_until:
        problems.append("validity end differs from the signed file")
    return problems
