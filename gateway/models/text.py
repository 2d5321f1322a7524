"""Text rules: names must survive GB18030, the encoding legacy SOAP services and the hall still use.

Python's GB18030 codec maps every Unicode scalar value; what fails is exactly the lone surrogates that bad
upstream decoding leaves behind (``surrogateescape``, a JSON ``"\\ud800"`` escape). UTF-8 fails on exactly
the same code points and encodes about three times faster, so it is the fast test; GB18030 itself is
asked only to word the message. Catching such text here keeps it out of the ledger instead of failing
later inside a push to a GBK system.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from typing import Any

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""What no store here can hold: NUL (PostgreSQL's text) and lone surrogates (UTF-8, JSON a ``"\\ud800"`` escape
carries)."""
_SURROGATES = re.compile("[\ud800-\udfff]")

GB_FAMILY = frozenset({"gbk", "gb2312", "gb18030", "cp936", "ms936", "windows-936", "euc-cn", "euccn", "x-gbk",
                       "gb_2312-80", "gb_2312", "csgb2312", "x-euc-cn", "chinese", "iso-ir-58", "csiso58gb231280"})
"""Charset labels of the GB family as servers write them (lower case), all read as GB18030, a superset: nothing a
GBK or GB2312 server sends is lost. HZ-GB-2312 is not one of them (a 7-bit escape encoding, its own codec). The one
set for every reader of foreign bytes, connectors and the citizen wing's clients alike."""
_GB_CODECS = frozenset({"gb2312", "gbk", "gb18030"})


def codec_for_label(label: str | None) -> str | None:
    """The Python codec to read bytes a server labelled ``label`` with (``charset=GBK``, an XML declaration's
    ``encoding``), or ``None`` for an unknown label. Every label of the GB family — those above and any alias Python
    knows for GB2312 or GBK (``chinese``, ``csiso58gb231280``, ``iso-ir-58``…) — reads as GB18030: Python's strict
    ``gb2312`` codec fails on the GBK characters of real names (``朱镕基``, ``张喆``)."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if name in GB_FAMILY:
        return "gb18030"
    try:
        found = codecs.lookup(name).name
    except LookupError:
        return None
    return "gb18030" if found in _GB_CODECS else found


def compared_name(value: str) -> str:
    """A name as two records of one holder are compared: NFKC (full-width letters, digits and brackets as ASCII),
    no white space anywhere (``张　三`` padded with an ideographic space, ``济南 某某 有限公司``)."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def storable(text: str) -> str:
    """``text`` with each NUL and lone surrogate replaced by U+FFFD (the one replacement everywhere: a reader sees
    that something stood there, and the text around it is not joined)."""
    return UNSTORABLE.sub("\ufffd", text) if UNSTORABLE.search(text) else text


def storable_tree(value: Any, path: str = "") -> tuple[Any, list[str]]:
    """``value`` (JSON-like: dicts, lists, text) with every text made :func:`storable`, and the dotted paths
    (``materials.1.name``) of the texts that were not — the same object when none was."""
    if isinstance(value, str):
        return (storable(value), [path]) if UNSTORABLE.search(value) else (value, [])
    if isinstance(value, dict):
        found: list[str] = []
        out: dict[Any, Any] | None = None
        for key, item in value.items():
            fixed, paths = storable_tree(item, f"{path}.{key}" if path else str(key))
            if paths:
                out = out if out is not None else dict(value)
                out[key] = fixed
                found += paths
        return (value if out is None else out), found
    if isinstance(value, list):
        pairs = [storable_tree(item, f"{path}.{n}" if path else str(n)) for n, item in enumerate(value)]
        found = [p for _, paths in pairs for p in paths]
        return ([fixed for fixed, _ in pairs] if found else value), found
    return value, []


def without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (a NUL, which JSON and the ledger's documents carry, is
    kept)."""
    return _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text


def gb18030_problem(text: str) -> str | None:
    """Why ``text`` cannot be encoded in GB18030, or ``None`` if it can."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError:
        pass
    try:
        text.encode("gb18030")
    except UnicodeEncodeError as exc:
        bad = text[exc.start : exc.end]
        return f"text has characters that GB18030 cannot encode: {bad!r} at position {exc.start}"
    return None


def outside_gbk(text: str) -> str | None:
    """The first character of ``text`` that GBK cannot encode, described (``'😀' (U+1F600)``), or None."""
    if text.isascii():
        return None
    try:
        text.encode("gbk")
        return None
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        return f"{bad!r} (U+{ord(bad):04X}) at position {exc.start}"


def fitted(value: Any, limit: int) -> str | None:
    """``value`` for a text column of ``limit`` characters: itself, or a prefix and a hash of the whole — the same
    for the same value (a record rejected again is the same dead letter, a case registered again the same row);
    the record itself keeps the full value.
    Not text (a case number the source sent as an object) is no value; a NUL (which PostgreSQL's text cannot
    hold) becomes U+FFFD. A bad value is the source's fault: it costs one dead letter, never the page."""
    if not isinstance(value, str):
        return None
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if len(value) <= limit:
        return value
    if limit < 2 * _DIGEST_CHARS:  # too narrow for a prefix and a digest (a 12-character division): cut
        return value[:limit]
    return value[:limit - _DIGEST_CHARS - 1] + "~" + hashlib.sha256(value.encode()).hexdigest()[:_DIGEST_CHARS]


_DIGEST_CHARS = 16


__all__ = ["UNSTORABLE", "fitted", "gb18030_problem", "outside_gbk", "storable", "storable_tree",
           "without_surrogates"]
