"""Check digits of Chinese identifiers, so that generated data passes real validators.

The sandbox stands for foreign software and may not use ``python-stdnum``; the algorithms are short enough to
carry here. Tests verify the output against ``stdnum`` independently.
"""

from __future__ import annotations

__all__ = [
    "ric_check_digit",
    "make_ric",
    "uscc_check_char",
    "make_uscc",
    "org_code_check_char",
    "USCC_ALPHABET",
    "break_check",
]

_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RIC_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def ric_check_digit(first17: str) -> str:
    """GB 11643 check character for the first 17 digits of a resident ID."""
    total = sum(int(c) * w for c, w in zip(first17, _RIC_WEIGHTS))
    return _RIC_CHECK[total % 11]


def make_ric(division: str, birth_yyyymmdd: str, seq: int) -> str:
    """An 18-digit resident ID; ``seq`` (0-999) is odd for men, even for women, as on real cards."""
    body = f"{division}{birth_yyyymmdd}{seq % 1000:03d}"
    return body + ric_check_digit(body)


def org_code_check_char(first8: str) -> str:
    """GB 11714 organisation-code check character (the 9th character of the code inside a USCC)."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(first8, _ORG_WEIGHTS))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character over the 31-character alphabet (no I, O, S, V, Z)."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def make_uscc(authority: str, kind: str, division: str, org8: str) -> str:
    """A unified social credit code: authority + kind + division + organisation code (with its check) + check.

    ``authority``/``kind`` follow GB 32100: ``9``/``1`` enterprise, ``5``/``1`` social group, ``5``/``2``
    private non-enterprise unit, ``5``/``3`` foundation, ``1``/``1`` government body.
    """
    body = f"{authority}{kind}{division}{org8}{org_code_check_char(org8)}"
    return body + uscc_check_char(body)


def break_check(code: str) -> str:
    """The same identifier with a wrong check character (for the ``bad_checksum`` malformation).

    A USCC can be all digits too, so a code that is a valid USCC is broken as one, whatever it looks like."""
    if len(code) == 18 and all(c in _USCC_VALUE for c in code) and uscc_check_char(code[:17]) == code[-1]:
        return code[:17] + USCC_ALPHABET[(_USCC_VALUE[code[-1]] + 1) % 31]
    if len(code) == 18 and code[:17].isdigit() and code[-1] in _RIC_CHECK:
        good = ric_check_digit(code[:17])
        return code[:17] + _RIC_CHECK[(_RIC_CHECK.index(good) + 1) % 11]
    if len(code) == 18 and all(c in _USCC_VALUE for c in code):
        good = uscc_check_char(code[:17])
        return code[:17] + USCC_ALPHABET[(_USCC_VALUE[good] + 1) % 31]
    return break_check(make_ric("370102", "19800101", 123))
