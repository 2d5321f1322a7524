"""What real data breaks in a case's optional details: repaired and flagged, never a rejection of the case.

"A rule that real data breaks is a quality flag on the record, not a dead letter": a case whose only fault is
in a detail it does not depend on is kept, with the detail repaired or left out and a quality flag that says
so. The repairs run only when pydantic has rejected a record (:func:`revalidate`), so a sound record pays
nothing for them:

- an integer where text is expected (``office.division: 370102``, ``handler: 10086``) is read as its decimal
  text, as the top-level codes are (no flag: it is what the source said);
- optional free text holding lone surrogates (bad decoding upstream; no encoding can write them) has them
  replaced by U+FFFD (``text.replaced``);
- optional free text longer than its limit (an opinion over 2,000 characters) is kept truncated: its first
  ``limit - 1`` characters and "…" (``text.truncated``);
- a catalogue code (``catalog_code``) that is not 12 characters is left out (``case.catalog_code``);
- a step without a start time is kept, started when the step before it ended (else when that one started,
  else when the case was accepted or applied for) (``case.step_start_missing``);
- an optional number above its bound (a promise of 9999 days, a common "no limit" filler; a count of two
  million pages; one beyond 64 bits, which the ledger could not even write) is left out — ``promised_days`` and
  ``stages[].limit_days`` empty, ``materials[].count`` its default 1 — and the flag names the field and the value
  given (``range.implausible``). A negative one still rejects (``range.ge``), as it always did.

What remains wrong after the repairs rejects the record as before, with its own rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from .issues import Issue
from .text import without_surrogates

TEXT_REPLACED = "text.replaced"
TEXT_TRUNCATED = "text.truncated"
CATALOG_CODE = "case.catalog_code"
STEP_START_MISSING = "case.step_start_missing"
IMPLAUSIBLE_TIME = "case.implausible_time"
IMPLAUSIBLE_NUMBER = "range.implausible"

OPTIONAL_NUMBERS: dict[str, Any] = {"promised_days": None, "stages[].limit_days": None, "materials[].count": 1}
"""Optional numbers (generic paths) and what one above its bound is replaced by: empty, or the field's default."""

FREE_TEXT = frozenset({
    "item_version", "summary", "result_reason", "certificate_no", "applicant.phone", "applicant.address",
    "events[].handler", "events[].opinion", "events[].reason", "events[].result", "materials[].attachment",
    "materials[].certificate_no", "office.name", "office.division", "agent.organisation", "agent.authorised_by",
    "agent.authorisation", "stages[].owner", "deferred_materials[].certificate_type",
})
"""Optional free text (generic paths): repaired when it holds lone surrogates or is too long."""

_ATTEMPTS = 3
"""Repairs can uncover one another (an integer read as text that is then too long): a few rounds at most."""


def revalidate(handler: Callable[[Any], Any], data: dict[str, Any], error: ValidationError,
               flags: list[Issue]) -> tuple[Any, dict[str, Any]]:
    """The case validated again after repairing what ``error`` found in ``data`` (a copy; the input is not
    changed), with the repairs' flags appended to ``flags``; ``error`` (or what is left) re-raised otherwise.

    The error is never left in a local when it is raised: its traceback holds this frame, and through the frames'
    callers the whole page being validated — a reference cycle that kept every page of a run alive until the
    cyclic collector walked it (~12 µs a record of the write path's insert round)."""
    try:
        for _ in range(_ATTEMPTS):
            fixed = repaired(data, error, flags)
            if fixed is None:
                raise error
            data = fixed
            try:
                return handler(data), data
            except ValidationError as exc:
                error = exc
        raise error
    finally:
        del error


def repaired(data: dict[str, Any], error: ValidationError, flags: list[Issue]) -> dict[str, Any] | None:
    """``data`` with every repairable error of ``error`` repaired (flags appended), or None if none is."""
    fixes: list[tuple[tuple[Any, ...], Any]] = []
    for err in error.errors(include_url=False):
        loc, kind, value = err["loc"], err["type"], err.get("input")
        path = ".".join(map(str, loc))
        generic = _generic(loc)
        if kind == "string_type" and value.__class__ is int:
            fixes.append((loc, str(value)))
        elif generic == "catalog_code" and kind in ("string_too_long", "string_too_short", "string_unicode"):
            fixes.append((loc, None))
            flags.append((path, CATALOG_CODE, f"the catalogue code is {len(value)} characters, not 12: left out"))
        elif kind == "string_unicode" and generic in FREE_TEXT and isinstance(value, str):
            fixes.append((loc, without_surrogates(value)))
            flags.append((path, TEXT_REPLACED, "text held lone surrogates (bad decoding upstream): replaced by U+FFFD"))
        elif kind == "string_too_long" and generic in FREE_TEXT and isinstance(value, str):
            limit = int(err.get("ctx", {}).get("max_length", len(value)))
            fixes.append((loc, value[:limit - 1] + "…"))
            flags.append((path, TEXT_TRUNCATED, f"{len(value)} characters, more than {limit}: kept truncated"))
        elif kind in ("less_than_equal", "int_parsing_size") and generic in OPTIONAL_NUMBERS:
            replacement = OPTIONAL_NUMBERS[generic]
            fixes.append((loc, replacement))
            bound = (f"more than {err['ctx']['le']}" if kind == "less_than_equal"
                     else "beyond what a 64-bit integer holds")
            kept = "left out" if replacement is None else f"taken as the default {replacement}"
            flags.append((path, IMPLAUSIBLE_NUMBER, f"{path} {_number_text(value)} is {bound}: not a plausible value "
                                                    f"(a typo, or a filler such as 9999 for 'no limit'): {kept}"))
        elif generic == "events[].started_at" and (kind == "missing" or value is None or value == ""):
            start = _raw_step_start(data, loc[1])
            if start is not None:
                fixes.append((loc, start))
                flags.append((path, STEP_START_MISSING, f"step {loc[1]} has no start time: taken as {start}"))
    if not fixes:
        return None
    for loc, value in fixes:
        try:
            data = _replaced(data, loc, value)
        except (KeyError, IndexError, TypeError):
            return None
    return data


def step_start(events: list[Any], i: int, case: dict[str, Any]) -> Any:
    """The start a step without a real one is given: when the step before it ended (else started), else when
    the case was accepted, else applied for (validated values)."""
    for event in reversed(events[:i]):
        ed = event.__dict__
        if ed["ended_at"] is not None:
            return ed["ended_at"]
        return ed["started_at"]
    return case["accepted_at"] or case["applied_at"]


def _raw_step_start(data: dict[str, Any], i: Any) -> Any:
    """:func:`step_start` on the raw input (the repair runs before the case exists)."""
    events = data.get("events")
    if events.__class__ is not list or not isinstance(i, int):
        return None
    for event in reversed(events[:i]):
        if event.__class__ is dict:
            for key in ("ended_at", "started_at"):
                if event.get(key) not in (None, ""):
                    return event[key]
        break
    return data.get("accepted_at") or data.get("applied_at")


def _generic(loc: tuple[Any, ...]) -> str:
    """``("events", 2, "opinion")`` → ``events[].opinion``."""
    out: list[str] = []
    for part in loc:
        if isinstance(part, int) and out:
            out[-1] += "[]"
        else:
            out.append(str(part))
    return ".".join(out)


def _number_text(value: Any) -> str:
    """The value given, for the flag's message: a number as its digits (a very long one shortened), else its repr."""
    try:
        text = str(value) if isinstance(value, int | float) and not isinstance(value, bool) else repr(value)
    except ValueError:  # an integer of more digits than Python converts to text
        return "an integer of more than 4,300 digits"
    return text if len(text) <= 40 else f"{text[:20]}…{text[-4:]} ({len(text)} characters)"


def _replaced(data: Any, loc: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``data`` with the value at ``loc`` replaced (only the containers on the path are copied)."""
    key = loc[0]
    if data.__class__ is dict:
        copy: Any = dict(data)
    elif data.__class__ is list:
        copy = list(data)
    else:
        raise TypeError(type(data).__name__)
    copy[key] = value if len(loc) == 1 else _replaced(data[key], loc[1:], value)
    return copy


__all__ = ["CATALOG_CODE", "FREE_TEXT", "IMPLAUSIBLE_NUMBER", "IMPLAUSIBLE_TIME", "OPTIONAL_NUMBERS",
           "STEP_START_MISSING", "TEXT_REPLACED", "TEXT_TRUNCATED", "repaired", "revalidate", "step_start"]
