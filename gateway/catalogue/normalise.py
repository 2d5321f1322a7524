"""Comparison keys for the eight elements: what must match across levels, with the typing noise taken out.

Two clerks write the same item differently: full-width digits and brackets (``（新办）`` / ``(新办)``), stray
spaces and ideographic spaces, ``，`` for ``、``, a trailing ``。``, materials in another order. None of that is a
difference. A changed word, an extra material, another article number or another unit is. So a key is the
text after Unicode NFKC (full width → half width), with whitespace, punctuation and case removed — letters,
digits and ideographs stay exactly as written — and list elements (materials, service objects) compare as
sets of such keys.

    >>> text_key("《社会团体登记管理条例》第１２条。") == text_key("<社会团体登记管理条例>第12条")
    True
    >>> text_key("申请书原件") == text_key("申请书复印件")
    False
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from .entry import CatalogueEntry, TimeLimit

ELEMENTS: tuple[str, ...] = ("name", "item_type", "legal_basis", "conditions", "service_object", "materials",
                             "legal_limit", "fee")
"""The eight elements (八统一) this audit compares, after DOMAIN.md ("one item, the same elements at every
level"): 事项名称, 事项类型, 设定依据, 受理条件, 服务对象, 申请材料, 法定时限, 收费. No single national list of the
eight was found; this is Tongban's reading. Promised limits, channels and visits are *not* among them: a level
may promise faster or ask fewer visits than the law (that is what 提速 means)."""

ELEMENT_LABELS = {"name": "事项名称", "item_type": "事项类型", "legal_basis": "设定依据", "conditions": "受理条件",
                  "service_object": "服务对象", "materials": "申请材料", "legal_limit": "法定时限", "fee": "收费",
                  "promised_limit": "承诺时限", "departments": "实施主体", "cases": "办件"}

_DROP = {"Z", "P", "C"}  # separators (spaces), punctuation, control/format characters
_DROP_SYMBOLS = {"Sm", "Sk"}  # < > ^ ` … : brackets typed as maths signs, spacing accents


def text_key(value: str | None) -> str:
    """The text with width, spacing, punctuation and case differences removed; ``""`` for nothing."""
    if not value:
        return ""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return "".join(ch for ch in folded
                   if unicodedata.category(ch)[0] not in _DROP and unicodedata.category(ch) not in _DROP_SYMBOLS)


def set_key(values: Iterable[str]) -> frozenset[str]:
    """A list compared as a set of text keys (order and duplicates do not matter)."""
    return frozenset(k for k in (text_key(v) for v in values) if k)


def _limit(limit: TimeLimit | None) -> tuple[int, str] | None:
    return None if limit is None else (limit.days, limit.unit)


def element_key(entry: CatalogueEntry, element: str) -> Any:
    """The comparable value of one of :data:`ELEMENTS` for ``entry``."""
    if element == "name":
        return text_key(entry.name)
    if element == "item_type":
        return entry.item_type.value
    if element == "legal_basis":
        return text_key(entry.legal_basis)
    if element == "conditions":
        return text_key(entry.conditions)
    if element == "service_object":
        return set_key(entry.service_objects)
    if element == "materials":
        return set_key(m.name for m in entry.materials)
    if element == "legal_limit":
        return _limit(entry.legal_limit)
    if element == "fee":
        return (entry.fee, text_key(entry.fee_basis) if entry.fee else "")
    raise ValueError(f"unknown element {element!r}; expected one of {ELEMENTS}")


def element_text(entry: CatalogueEntry, element: str) -> str:
    """The element as the catalogue wrote it, for people reading a finding."""
    if element == "name":
        return entry.name
    if element == "item_type":
        return f"{entry.item_type.value} {entry.item_type.label}"
    if element == "legal_basis":
        return entry.legal_basis or ""
    if element == "conditions":
        return entry.conditions or ""
    if element == "service_object":
        return "、".join(entry.service_objects)
    if element == "materials":
        return "、".join(sorted(m.name for m in entry.materials))
    if element == "legal_limit":
        return str(entry.legal_limit) if entry.legal_limit else ""
    if element == "promised_limit":
        return str(entry.promised_limit) if entry.promised_limit else ""
    if element == "fee":
        return ("收费" + (f"（{entry.fee_basis}）" if entry.fee_basis else "")) if entry.fee else "不收费"
    if element == "departments":
        return "、".join(f"{d.name}({d.code})" if d.code else d.name for d in entry.departments)
    raise ValueError(f"unknown element {element!r}")


__all__ = ["ELEMENTS", "ELEMENT_LABELS", "element_key", "element_text", "set_key", "text_key"]
