"""The ledger's stored form of a case: its canonical JSON without the top-level fields that hold their default.

Most cases leave most optional parts of the model empty — no agent, office, stages, deferred materials or quality
flags, often no summary, acceptance time or reason. Written out, those ``null``\\ s and ``[]``\\ s were 284 of the
965 bytes of ``cases.data`` for the bench's civil cases (a third of the ledger's largest table), and they carry
nothing the model does not already say. So ``cases.data`` stores the document without them
(:func:`stored_case_json`, :func:`compact_case_json`) and gives every reader the whole document back
(:func:`expand_case_json`, applied by the column type ``gateway.store.tables.CaseJson``): key for key in model
order, the same JSON ``case_document`` writes. The content hash is still taken over the whole document, so
stored hashes did not change; rows written whole before keep reading the same.

Only top-level fields are left out (``None``, ``[]``, ``deleted: false``): nested parts keep their nulls, so a
reader of a nested part never depends on this module.

    >>> compact_case_json('{"case_no":"A1","summary":null,"events":[],"deleted":false}')
    '{"case_no":"A1"}'
"""

from __future__ import annotations

from typing import Any

import orjson

from .case import Case
from .hashing import _model_fields  # the same walk case_document serialises with

FIELDS: tuple[str, ...] = tuple(Case.model_fields)
"""The case's top-level fields in model order: the order of the whole document's keys."""

DEFAULTS: dict[str, Any] = {
    name: (info.default_factory() if info.default_factory is not None else info.default)  # type: ignore[call-arg]
    for name, info in Case.model_fields.items()
    if not info.is_required()
}
"""Every optional top-level field and its default (``None``, ``[]`` or ``False``)."""

_BLANK = {name for name, value in DEFAULTS.items() if value is None}
_EMPTY = {name for name, value in DEFAULTS.items() if value == []}
_FALSE = {name for name, value in DEFAULTS.items() if value is False}
if _BLANK | _EMPTY | _FALSE != set(DEFAULTS):  # a new default kind must be taught here, not silently stored
    raise TypeError(f"Case has optional fields with defaults this module cannot leave out: "
                    f"{sorted(set(DEFAULTS) - _BLANK - _EMPTY - _FALSE)}")


def _is_default(name: str, value: Any) -> bool:
    if value is None:
        return name in _BLANK
    if value is False:
        return name in _FALSE
    return value.__class__ is list and not value and name in _EMPTY


def stored_case_json(case: Case) -> str:
    """The stored JSON of a validated case, written straight from the model (the sync path's form).

    One test per field and no call: in a validated case only the optional fields can be ``None``, ``[]`` or
    ``False`` (required ones are non-empty text, times, codes and the applicant; ``deleted`` is the one bool),
    so "holds its default" is the same as "is None, False or an empty list"."""
    return orjson.dumps({k: v for k, v in case.__dict__.items() if v is not None and v is not False and v != []},
                        default=_model_fields).decode()


def compact_case_json(text: str) -> str:
    """Leave the top-level defaults out of a case document; anything that is not a JSON object is kept as is."""
    doc = _object(text)
    if doc is None:
        return text
    return orjson.dumps({k: v for k, v in doc.items() if not _is_default(k, v)}).decode()


def expand_case_json(text: str) -> str:
    """The whole document from a stored one: every top-level field in model order (defaults put back), then any
    key the model does not know, as it was. Idempotent: a whole document comes back equal."""
    doc = _object(text)
    if doc is None:
        return text
    whole = {name: doc[name] if name in doc else _default(name) for name in FIELDS if name in doc or name in DEFAULTS}
    put_back = sum(1 for name in DEFAULTS if name not in doc)
    if len(doc) + put_back > len(whole):  # the stored form has keys the model does not know: kept, after its own
        whole.update((k, v) for k, v in doc.items() if k not in whole)
    return orjson.dumps(whole).decode()


def _object(text: str) -> dict[str, Any] | None:
    """The JSON object in ``text``, or None when it is not one (left alone by both directions)."""
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return doc if doc.__class__ is dict else None


def _default(name: str) -> Any:
    value = DEFAULTS[name]
    return [] if value.__class__ is list else value


__all__ = ["DEFAULTS", "FIELDS", "compact_case_json", "expand_case_json", "stored_case_json"]
