"""Charset labels as legacy servers write them, read as Python codec names (for JSON and XML bodies alike)."""

from __future__ import annotations

import codecs

__all__ = ["GB_FAMILY", "normalise_encoding"]

GB_FAMILY = frozenset({"gbk", "gb2312", "gb18030", "cp936", "ms936", "euc-cn", "euccn", "x-gbk", "gb_2312-80",
                       "hz-gb-2312"})
"""Labels of the GB family, all read as GB18030 (a superset: nothing a GBK or GB2312 server sends is lost)."""


def normalise_encoding(label: str | None) -> str | None:
    """A codec name for a charset label; GBK and GB2312 read as GB18030. ``None`` if unknown."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if name in GB_FAMILY:
        return "gb18030"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None
