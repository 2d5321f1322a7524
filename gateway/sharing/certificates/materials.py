"""Once-only (材料复用): which materials of a case need not be submitted, because a certificate replaces them.

A service item lists its materials and, for each, the certificate types that replace it. A material is
saved when the holder has a certificate of one of those types in the library that is valid today — not before
its validity starts (``not_yet_valid``), nor after it ends (``expired``); the caller decides that
(:meth:`~gateway.sharing.certificates.library.StoredCertificate.effective_status`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.models import ServiceItem

__all__ = ["MaterialAnswer", "replaceable_materials"]


@dataclass(frozen=True, slots=True)
class MaterialAnswer:
    name: str
    required: bool
    replaced: bool
    by_certificate: str | None
    certificate_types: tuple[str, ...]


def replaceable_materials(item: ServiceItem, valid_certificates: Iterable[tuple[str, str]]) -> list[MaterialAnswer]:
    """``valid_certificates``: ``(type_code, identifier)`` pairs the holder has, valid today; of a type, the first
    one replaces (put the ones to prefer first)."""
    by_type: dict[str, str] = {}
    for type_code, identifier in valid_certificates:
        by_type.setdefault(type_code, identifier)
    answers = []
    for material in item.materials:
        found = next((by_type[t] for t in material.replaced_by_certificate_types if t in by_type), None)
        answers.append(MaterialAnswer(material.name, material.required, found is not None, found,
                                      tuple(material.replaced_by_certificate_types)))
    return answers
