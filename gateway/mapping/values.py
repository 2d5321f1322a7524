"""Helpers the generated mapping code calls on one source value: how it is shown in an issue, the key it is
compared and looked up by, and the conversions that must refuse rather than misread a value.

None of them raises on a value a record can hold — an integer of 5000 digits or a list nested 5000 deep (what a
Python-side client can hand over; no JSON parser produces them) included: a record's shape is its own business,
and its problems are ``(field, rule, message)`` issues, never an exception out of ``Mapper.map``.
"""

from __future__ import annotations

import reprlib
import sys
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

_SHOW = reprlib.Repr()
_SHOW.maxlevel = 3


def _short(value: Any) -> str:
    """``value`` as an issue message shows it: its ``repr``, cut to 60 characters; never an exception."""
    try:
        text = repr(value)
    except ValueError:  # an integer over sys.get_int_max_str_digits() (4300) digits
        if isinstance(value, int):
            return f"<an integer of more than {sys.get_int_max_str_digits()} digits>"
        text = _fallback(value)
    except RecursionError:  # a list or an object nested deeper than repr goes
        text = _fallback(value)
    except Exception:  # noqa: BLE001 - a value's own __repr__ failing is the record's business, not an exception
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _fallback(value: Any) -> str:
    try:
        return _SHOW.repr(value)
    except Exception:  # noqa: BLE001
        return f"<{type(value).__name__}>"


_NOT_SCALAR = object()
"""The condition key of an object or a list: equal to no condition value (never in a set of them)."""


def _cond_key(value: Any, tokens: frozenset[str] | None) -> Any:
    """What ``equals`` / ``in`` / ``not_in`` compare: the value as stripped text, as a code table reads it
    (``"1 "``, ``1`` and ``"1"`` are the same code); None for a null or a null token; a bool as ``"1"``/``"0"``;
    an object or a list matches no condition value (never an exception: a record's shape is its own business)."""
    cls = value.__class__
    if cls is str:
        text = value.strip()  # type: ignore[union-attr]
        return None if tokens is not None and text in tokens else text
    if value is None:
        return None
    if cls is bool:
        return "1" if value else "0"
    if cls is int:
        try:
            return str(value)
        except ValueError:  # over 4300 digits: no code
            return _NOT_SCALAR
    if cls is float:
        return str(int(value)) if value.is_integer() else str(value)  # type: ignore[union-attr]
    if cls is Decimal:  # a SOAP client's xsd:decimal: 5.0 is the code "5", as the float is
        whole = value.is_finite() and value == value.to_integral_value() and value.adjusted() < 64  # not 1E+99999
        return str(int(value)) if whole else str(value)
    if isinstance(value, (dict, list, tuple, set, frozenset, Mapping)):
        return _NOT_SCALAR
    try:
        return str(value).strip()
    except Exception:  # noqa: BLE001 - an int subclass over 4300 digits, a value whose __str__ fails
        return _NOT_SCALAR


class TextRefused(ValueError):
    """``type: str`` of a value that has no text a field should hold; ``str()`` is what it is (``an object``)."""


def _as_text(value: Any) -> str:
    """``type: str`` of a value that is not text: a number as its text (3 is "3", Decimal 1.10 "1.10"); an object, a
    list, true/false (``str(True)`` is "True", which validates as text) or NaN/infinity refused with what it is."""
    if isinstance(value, bool):
        raise TextRefused("true/false")
    if isinstance(value, (Mapping,)):
        raise TextRefused("an object")
    if isinstance(value, (list, tuple, set, frozenset)):
        raise TextRefused("a list")
    if isinstance(value, float) and (value != value or value - value != 0.0):
        raise TextRefused("not a finite number")
    if isinstance(value, Decimal) and not value.is_finite():
        raise TextRefused("not a finite number")
    try:
        return str(value)
    except ValueError:  # an integer over 4300 digits
        raise TextRefused("a number too long to write as text") from None


_INT_DIGITS = 4300
"""A Decimal's exponent past which ``type: int`` refuses it (Python's limit for an int written as text)."""


def _decimal_int(value: Decimal) -> int:
    """``type: int`` of a SOAP client's xsd:decimal: a whole number of sane size, else ValueError — as for a float,
    2.5 is not the int 2; ``int(Decimal('1E+999999'))`` would take a minute to build a number no field holds."""
    if not value.is_finite() or value.adjusted() >= _INT_DIGITS or value != value.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of sane size")
    return int(value)


__all__ = ["TextRefused"]
