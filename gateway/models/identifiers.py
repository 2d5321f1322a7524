"""Identifier checks that run once per record: resident ID, USCC, division code.

Why not ``stdnum.cn.ric.validate``? Two reasons. It rejects place codes outside their period of validity
(``310115`` became Pudong in 1992, so a Pudong resident born in 1985 fails), and old codes stay
legitimate for the people who carry them: here an unknown or out-of-period place code is a *warning*.
And it runs at ~22,000 calls/s, too slow for the sync path; these checks do well over 100,000/s because the
common input (18 ASCII characters, already clean) skips normalisation, the checksum is one C-level
``int(body, 13)`` (the GB 11643 weights are 2**k mod 11 and 13 ≡ 2 mod 11: the same trick stdnum uses),
and place-code / birth-date / USCC / division answers are cached.

Every check returns ``(normalised_value, warnings)`` and raises :class:`IdentifierError` with a stable rule
name on failure:

    >>> validate_resident_id("310115198506011233")[1][0].rule
    'resident_id.place_code'
    >>> validate_uscc("91110000600037341L")
    ('91110000600037341L', [])
"""

from __future__ import annotations

import time
import unicodedata
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple

from stdnum import numdb

_BEIJING = timezone(timedelta(hours=8))


class IdentifierError(ValueError):
    """An identifier is wrong for good: ``rule`` is the stable rule name, ``message`` says why."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class IdentifierWarning(NamedTuple):
    """Something odd but legitimate (an old place code, a converted 15-digit ID): keep the record, say so."""

    rule: str
    message: str


def normalise(value: str) -> str:
    """NFKC (full-width → half-width), every whitespace removed (U+3000 included), upper-cased."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


# --- GB/T 2260 place table (from stdnum's cn/loc data) -------------------------------------------------


@lru_cache(maxsize=8192)
def _place_periods(code6: str) -> tuple[tuple[int, int, str], ...] | None:
    """``((start_year, end_year, name), ...)`` for a 6-digit code; ``None`` if the table doesn't know it."""
    results = numdb.get("cn/loc").info(code6)
    county = None
    for _part, props in results:
        county = props.get("county", county)
    if not county:
        return None
    periods = []
    for entry in county.split(","):
        if entry.startswith("["):
            span, name = entry[1:].split("]", 1)
            start, _, end = span.partition("-")
            periods.append((int(start) if start else 0, int(end) if end else 9999, name))
        else:
            periods.append((0, 9999, entry))
    return tuple(periods)


@lru_cache(maxsize=65536)
def _place_warning(code6: str, year: int) -> IdentifierWarning | None:
    periods = _place_periods(code6)
    if periods is None:
        return IdentifierWarning("resident_id.place_code", "the ID's place code is not in GB/T 2260")
    # An ID carries the place code in use when it was *issued*, which for people born before 1984 (the first
    # resident IDs) or who registered later is after the birth year: a code introduced later is legitimate.
    # Only a code retired before the holder was born cannot have been issued to them.
    if any(year <= end for _start, end, _name in periods):
        return None
    # No place, no year in the message: with the birth year they narrow the holder down, and flags travel
    # unsealed (the case JSON, the hall, the run reports). The ID itself is sealed where it is stored.
    return IdentifierWarning(
        "resident_id.place_code", "the ID's place code was retired before the holder's birth year"
    )


def is_known_division(code6: str) -> bool:
    """True if the 6-digit code is (or was) in GB/T 2260."""
    return _place_periods(code6) is not None


# --- GB 11643 resident ID ------------------------------------------------------------------------------

_CHECK_CHARS = "0123456789X"
_today_key = ""
_today_until = 0.0


def _today() -> str:
    """Today in Beijing as ``YYYYMMDD``, recomputed only when the clock passes midnight."""
    global _today_key, _today_until
    now = time.time()
    if now >= _today_until:
        d = datetime.now(_BEIJING)
        _today_key = d.strftime("%Y%m%d")
        midnight = d.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        _today_until = midnight.timestamp()
    return _today_key


def _birth_date_problem(ymd: str) -> str | None:
    """Why an 8-digit birth date is impossible (or in the future), or ``None``; the message never quotes the
    date (it is part of the ID number, and issue messages are stored and shown unsealed)."""
    year = int(ymd[:4])
    if year < 1850:
        return "the ID's birth year is before 1850"
    try:
        date(year, int(ymd[4:6]), int(ymd[6:8]))
    except ValueError:
        return "the ID's birth date does not exist"
    if ymd > _today():
        return "the ID's birth date is in the future"
    return None


@lru_cache(maxsize=262144)
def _place_and_birth(head: str) -> IdentifierWarning | None:
    """Check the first 14 characters (place code + birth date) of an 18-character ID.

    Cached on the pair: failures raise and are not cached, and a date once in the past stays there.
    """
    problem = _birth_date_problem(head[6:14])
    if problem is not None:
        raise IdentifierError("resident_id.birth_date", problem)
    return _place_warning(head[:6], int(head[6:10]))


def resident_id_check_char(body17: str) -> str:
    """The GB 11643 check character for 17 digits (``"10X98765432"[Σ wᵢ·dᵢ mod 11]``)."""
    return _CHECK_CHARS[(1 - 2 * int(body17, 13)) % 11]


def validate_resident_id(value: str) -> tuple[str, list[IdentifierWarning]]:
    """Check a 公民身份号码; convert a 15-digit one. Returns the 18-character form and warnings.

    Rejects on length, format, checksum and impossible birth dates; warns on place codes the table
    doesn't know for the birth year (``resident_id.place_code``) and on conversion
    (``resident_id.converted_15``).
    """
    v = value
    if not (len(v) == 18 and v.isascii() and v[:17].isdigit() and v[17] in "0123456789X"):
        v = normalise(v)
    n = len(v)
    if n == 15:
        return _convert_15(v)
    if n != 18:
        raise IdentifierError("resident_id.length", f"resident ID has {n} characters, expected 18 (or 15)")
    body = v[:17]
    if not (body.isascii() and body.isdigit()) or v[17] not in _CHECK_CHARS:
        raise IdentifierError("resident_id.format", "resident ID must be 17 digits and a digit or X")
    check = _CHECK_CHARS[(1 - 2 * int(body, 13)) % 11]
    if v[17] != check:
        raise IdentifierError("resident_id.checksum", "the check character is wrong (GB 11643)")
    warning = _place_and_birth(v[:14])
    return v, ([warning] if warning is not None else [])


def _convert_15(v: str) -> tuple[str, list[IdentifierWarning]]:
    if not (v.isascii() and v.isdigit()):
        raise IdentifierError("resident_id.format", "a 15-character resident ID must be all digits")
    body = v[:6] + "19" + v[6:]
    place = _place_and_birth(body[:14])
    new = body + resident_id_check_char(body)
    # Neither number in the message: flags are stored and pushed unsealed (only applicant.id_number is sealed).
    warnings = [IdentifierWarning("resident_id.converted_15", "a 15-digit resident ID was converted to 18 digits")]
    if place is not None:
        warnings.append(place)
    return new, warnings


_PERMIT_ADDRESS = {"hk_macao_residence_permit": ("810000", "820000"), "taiwan_residence_permit": ("830000",)}


def validate_residence_permit(id_type: str, value: str) -> tuple[str, list[IdentifierWarning]]:
    """Check the 公民身份号码 on a 港澳台居民居住证: GB 11643 length, checksum and birth date (rejecting), and
    the address code 810000/820000 (港澳) or 830000 (台湾) for ``id_type`` (flagged when it differs).

    No place-code check: 810000 and 820000 enter GB/T 2260 only in 1997 and 1999, and 830000 never; the
    address code of a permit is fixed by its holder's region, not by a place of birth.
    """
    v = value
    if not (len(v) == 18 and v.isascii() and v[:17].isdigit() and v[17] in "0123456789X"):
        v = normalise(v)
    if len(v) != 18:
        raise IdentifierError("resident_id.length", f"residence permit number has {len(v)} characters, expected 18")
    body = v[:17]
    if not (body.isascii() and body.isdigit()) or v[17] not in _CHECK_CHARS:
        raise IdentifierError("resident_id.format", "residence permit number must be 17 digits and a digit or X")
    check = _CHECK_CHARS[(1 - 2 * int(body, 13)) % 11]
    if v[17] != check:
        raise IdentifierError("resident_id.checksum", "the check character is wrong (GB 11643)")
    problem = _birth_date_problem(v[6:14])
    if problem is not None:
        raise IdentifierError("resident_id.birth_date", problem)
    allowed = _PERMIT_ADDRESS.get(id_type, ("810000", "820000", "830000"))
    if v[:6] not in allowed:
        message = f"a {id_type} number starts with {' or '.join(allowed)}"
        return v, [IdentifierWarning("residence_permit.address_code", message)]
    return v, []


# --- GB 32100 unified social credit code ---------------------------------------------------------------

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(body17: str) -> str:
    """The GB 32100 check character: ``31 − (Σ mod 31)``, 31 → 0."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body17, _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


@lru_cache(maxsize=16384)
def _uscc(value: str) -> str:
    v = value
    if not (len(v) == 18 and v.isascii() and v.isalnum() and v.isupper()):
        v = normalise(v).replace("-", "")
    if len(v) != 18:
        raise IdentifierError("uscc.length", f"USCC has {len(v)} characters, expected 18")
    # Registering authorities 1-9 plus A, N, Y (e.g. N2… rural collectives), so only 3–8 must be digits.
    bad = [c for c in v if c not in _USCC_VALUE]
    if bad or not v[2:8].isdigit():
        raise IdentifierError(
            "uscc.charset",
            f"unified social credit code has characters outside 0-9 A-H J-N P-R T U W-Y: {''.join(bad)}"
            if bad
            else "unified social credit code positions 3-8 (division code) must be digits",
        )
    check = uscc_check_char(v[:17])
    if v[17] != check:
        raise IdentifierError("uscc.checksum", f"USCC check character is {v[17]}, expected {check}")
    return v


def validate_uscc(value: str) -> tuple[str, list[IdentifierWarning]]:
    """Check a 统一社会信用代码 (GB 32100-2015). Cached: department codes repeat on every record."""
    return _uscc(value), []


# --- GB/T 2260 division code ---------------------------------------------------------------------------


@lru_cache(maxsize=16384)
def _division(value: str) -> tuple[str, IdentifierWarning | None]:
    v = value if (value.isascii() and value.isdigit()) else normalise(value)
    if len(v) not in (6, 12) or not (v.isascii() and v.isdigit()):
        raise IdentifierError("division.format", f"division code {value!r} must be 6 or 12 digits")
    if _place_periods(v[:6]) is None:
        return v, IdentifierWarning("division.unknown", f"division code {v[:6]} is not in GB/T 2260")
    return v, None


def validate_division_code(value: str) -> tuple[str, list[IdentifierWarning]]:
    """Check a 行政区划代码 (6 digits; 12 in statistics). Unknown codes warn: old codes stay legitimate."""
    v, warning = _division(value)
    return v, ([warning] if warning is not None else [])


# --- by ID type ----------------------------------------------------------------------------------------


def validate_id_number(id_type: str, value: str) -> tuple[str, list[IdentifierWarning]]:
    """Check an ID number as its GB/T 36903 type demands: 111 resident ID, 001 USCC, the 港澳台居民居住证 as
    GB 11643 numbers, others non-empty."""
    if id_type == "111":
        return validate_resident_id(value)
    if id_type == "001":
        return _uscc(value), []
    if id_type in _PERMIT_ADDRESS:
        return validate_residence_permit(id_type, value)
    v = value
    if not (v.isascii() and v.isalnum()):
        v = "".join(unicodedata.normalize("NFKC", v).split())
    if not v:
        raise IdentifierError("id_number.empty", "ID number is empty")
    return v, []


__all__ = [
    "IdentifierError",
    "IdentifierWarning",
    "is_known_division",
    "normalise",
    "resident_id_check_char",
    "uscc_check_char",
    "validate_division_code",
    "validate_id_number",
    "validate_residence_permit",
    "validate_resident_id",
    "validate_uscc",
]
