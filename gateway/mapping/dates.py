"""Date formats as the source systems write them, compiled to regexes once.

Mappings name formats the way the systems' own documentation does (Java/.NET style: ``yyyy-MM-dd HH:mm:ss``,
``yyyyMMddHHmmss``) plus ``iso8601``, ``epoch_ms`` and ``epoch_s``. Parsing a fixed format with a compiled regex
and emitting an ISO 8601 string with the system's offset is several times faster than ``strptime``; whether
the date *exists* (Feb 30) is then checked by pydantic's Rust parser when the canonical record is validated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from gateway.contract.errors import ConfigError
from gateway.models.datetimes import epoch_unit_problem

_TOKENS = {
    "yyyy": ("Y", r"(?P<Y>\d{4})", "{Y:04d}"),
    "MM": ("M", r"(?P<M>\d{2})", "{M:02d}"),
    "dd": ("D", r"(?P<D>\d{2})", "{D:02d}"),
    "HH": ("h", r"(?P<h>\d{2})", "{h:02d}"),
    "mm": ("m", r"(?P<m>\d{2})", "{m:02d}"),
    "ss": ("s", r"(?P<s>\d{2})", "{s:02d}"),
    "SSS": ("f", r"(?P<f>\d{3})", "{f:03d}"),
    # unpadded, as .NET writes them (zh-CN DateTime.ToString(): 2026/3/1 9:30:05): one or two digits read,
    # written without a leading zero
    "M": ("M", r"(?P<M>\d{1,2})", "{M}"),
    "d": ("D", r"(?P<D>\d{1,2})", "{D}"),
    "H": ("h", r"(?P<h>\d{1,2})", "{h}"),
    "m": ("m", r"(?P<m>\d{1,2})", "{m}"),
    "s": ("s", r"(?P<s>\d{1,2})", "{s}"),
}
_UNPADDED = frozenset({"M", "d", "H", "m", "s"})
_TOKEN_RE = re.compile("|".join(sorted(map(re.escape, _TOKENS), key=len, reverse=True)))
SPECIAL_FORMATS = ("iso8601", "epoch_ms", "epoch_s")
_FROM_STRFTIME = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%f": "SSS"}
_STRFTIME_RE = re.compile(r"%[YmdHMSf]")
_INTEGER_RE = re.compile(r"[+-]?\d+")
_ISO_OFFSET_RE = re.compile(r"([Zz]|[+-]\d{2}(?::?\d{2})?)$")
"""An offset at the end of an ISO time as systems print it: Z or z, +08:00, +0800 and the hour alone (+08)."""


def _offset_match(value: str) -> re.Match[str]:
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", value.strip(), flags=re.ASCII)
    if not match:
        raise ConfigError(f"timezone {value!r} is not an offset like +08:00")
    if int(match.group(2)) > 23 or int(match.group(3)) > 59:  # +25:00 failed in timezone(), +08:99 wrote every date
        raise ConfigError(f"timezone {value!r} is no offset: hours run to 23 and minutes to 59 (+08:00)")
    return match


def parse_offset(value: str) -> timezone:
    """``+08:00`` → a fixed-offset timezone (Beijing time has had no DST since 1991)."""
    match = _offset_match(value)
    sign = 1 if match.group(1) == "+" else -1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def offset_text(value: str) -> str:
    """An offset as dates are written with it: ``+08:00`` for ``"+08:00 "`` or ``+0800`` (the text as written is
    checked stripped and with the colon optional; spliced into every date as written, it made none valid)."""
    match = _offset_match(value)
    return f"{match.group(1)}{match.group(2)}:{match.group(3)}"


@dataclass(frozen=True, slots=True)
class PatternFormat:
    """A compiled ``yyyy-MM-dd HH:mm:ss``-style pattern."""

    pattern: str
    regex: re.Pattern[str]
    has_time: bool
    has_millis: bool
    output: str
    """A ``str.format`` template writing the pattern (outbound): ``{Y:04d}-{M:02d}-{D:02d}``; unpadded tokens
    without a width. (Not ``strftime``: glibc's ``%Y`` writes the year 202 as ``202``, and it has no portable
    unpadded month.)"""
    unpadded: frozenset[str] = frozenset()
    """The groups read from an unpadded token (``M``, ``d`` …): one digit is padded to two in the ISO text."""

    def iso_expression(self, groups: str, offset: str, *, date_only: bool = False) -> str:
        """Python source of an f-string that builds ISO 8601 from ``groups`` (the match's ``groups()`` tuple).

        Generated once per pattern so that, per value, the conversion is plain bytecode: no template parsing,
        no function call."""
        index = {name: i - 1 for name, i in self.regex.groupindex.items()}

        def g(name: str, default: str = "00") -> str:
            if name not in index:
                return default
            pad = ":0>2" if name in self.unpadded else ""  # only unpadded patterns pay for the padding
            return f"{{{groups}[{index[name]}]{pad}}}"

        day = f"{g('Y')}-{g('M')}-{g('D')}"
        if date_only:
            return "f" + repr(day)
        frac = f".{g('f')}" if "f" in index else ""
        return "f" + repr(f"{day}T{g('h')}:{g('m')}:{g('s')}{frac}{offset}")

    def format(self, moment: datetime) -> str:
        """``moment`` written in the pattern: four-digit years always (0202, not 202)."""
        return self.output.format(Y=moment.year, M=moment.month, D=moment.day, h=moment.hour, m=moment.minute,
                                  s=moment.second, f=moment.microsecond // 1000)


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> PatternFormat:
    if pattern in SPECIAL_FORMATS:
        raise ConfigError(f"{pattern!r} is a special format, not a pattern")
    if "yyyy" not in pattern and _STRFTIME_RE.search(pattern):  # the connector YAML's spelling: read as literal
        # text it matched nothing (a % beside Java tokens, ``{HH}%mm``, is literal text)
        java = _STRFTIME_RE.sub(lambda m: _FROM_STRFTIME.get(m.group(0), m.group(0)), pattern)
        raise ConfigError(f"date format {pattern!r} is a strftime pattern (as the connector YAML writes its cursor "
                          f"formats); a mapping writes the Java/.NET way: {java!r}")
    if "h" in pattern:
        # Java's hh (and .NET's h) is the 12-hour clock (meaningful only with an am/pm marker); read as literal
        # text it matched no record at all. Without the marker it is a slip for HH (H).
        clock = "hh" if "hh" in pattern else "h"
        fixed = pattern.replace("hh", "HH").replace("h", "H")
        raise ConfigError(f"date format {pattern!r} has {clock}, the 12-hour clock, which needs an am/pm marker and "
                          f"is not supported; for the 24-hour clock write {clock.upper()}: {fixed!r}")
    parts: list[str] = []
    groups: set[str] = set()
    unpadded: set[str] = set()
    output: list[str] = []
    pos = 0
    previous_end, previous_token = -1, ""
    for match in _TOKEN_RE.finditer(pattern):
        literal = pattern[pos : match.start()]
        parts.append(re.escape(literal))
        output.append(literal.replace("{", "{{").replace("}", "}}"))
        token = match.group(0)
        name, rx, out = _TOKENS[token]
        if name in groups:
            raise ConfigError(f"date format {pattern!r} repeats {token}")
        if match.start() == previous_end and previous_token in _UNPADDED:
            raise ConfigError(f"date format {pattern!r} has {previous_token} and {token} with nothing between: an "
                              f"unpadded number (one or two digits) needs a separator to be told from the next")
        groups.add(name)
        if token in _UNPADDED:
            unpadded.add(name)
        parts.append(rx)
        output.append(out)
        pos = previous_end = match.end()
        previous_token = token
    parts.append(re.escape(pattern[pos:]))
    output.append(pattern[pos:].replace("{", "{{").replace("}", "}}"))
    _refuse_split_digits(pattern)
    if not {"Y", "M", "D"} <= groups:
        raise ConfigError(f"date format {pattern!r} needs yyyy, MM and dd (or M and d, unpadded)")
    has_time = "h" in groups
    if has_time and not {"m"} <= groups:
        raise ConfigError(f"date format {pattern!r} has HH without mm")
    return PatternFormat(
        pattern=pattern,
        regex=re.compile("".join(parts), re.ASCII),  # ２０２４ is no year a format reads: nfkc first
        has_time=has_time,
        has_millis="f" in groups,
        output="".join(output),
        unpadded=frozenset(unpadded),
    )


def _refuse_split_digits(pattern: str) -> None:
    """Refuse two unpadded tokens with nothing but digits between them (``yyyyM1d``): the date's digits between
    two separators that are no digits can then be split between them more than one way (``2024111`` + ``1``: is
    it M 1 and d 11, or M 11 and d 1?), and the regex silently takes one. One unpadded token among fixed-width
    ones and digit literals (``yyyyMMd1``) reads one way only: the run's length fixes its width. Tokens directly
    side by side are refused by :func:`compile_pattern` itself."""
    pos = 0
    last: re.Match[str] | None = None  # the last unpadded token of the current run of digits
    for match in _TOKEN_RE.finditer(pattern):
        if not all(c.isdigit() for c in pattern[pos : match.start()]):
            last = None  # a separator that is no digit ends the run
        if match.group(0) in _UNPADDED:
            between = pattern[last.end() : match.start()] if last is not None else ""
            if last is not None and between:  # side by side ("" between): compile_pattern says so
                first, token = last.group(0), match.group(0)
                raise ConfigError(
                    f"date format {pattern!r} has {first} and {token} with only the digits {between!r} between: "
                    f"both are unpadded (one or two digits), so the digits of a date can be split between them in "
                    f"more than one way; put a separator that is no digit between them, or pad one "
                    f"({first * 2} or {token * 2})")
            last = match
        pos = match.end()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?")
"""An epoch number as text: digits with an optional fraction and a short exponent (``1.70960586E+12``); not
``1e999000``, ``NaN`` or ``Infinity``."""
_EPOCH_MAX_DIGITS = 24
"""No epoch time of the years 1–9999 has more digits before the point (milliseconds: 15); more is refused before
any arithmetic — ``Decimal('1E+999999') * 1000`` overflows, and its ``int()`` costs a minute."""


class EpochUnitError(ValueError):
    """An epoch number in the other unit (:func:`gateway.models.datetimes.epoch_unit_problem`): the mapping says so."""


def iso_from_epoch(value: object, tz: timezone, *, millis: bool, date_only: bool = False) -> str:
    """An epoch number (ms or s; a number or its text) as ISO 8601 in ``tz``, exactly: integer arithmetic, so no
    millisecond is lost to a float (``2167658993614`` is …53.614, not …53.613). A bool is no timestamp (true is
    not 1970-01-01T08:00:00.001): ValueError, as for any value that is not a number (the mapping names it)."""
    if value.__class__ is bool:
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int):
        number: int | Decimal = int(value)
    elif isinstance(value, (str, float, Decimal)):  # a SOAP client gives xsd:decimal as a Decimal
        if isinstance(value, str):
            text = value.strip()
            if len(text) > 64 or not _EPOCH_TEXT.fullmatch(text):
                raise ValueError("not an epoch number")
        else:
            text = repr(value) if isinstance(value, float) else str(value)
        try:
            number = int(text) if _INTEGER_RE.fullmatch(text) else Decimal(text)
        except ArithmeticError:
            raise ValueError("not a number") from None
        if isinstance(number, Decimal) and (not number.is_finite() or number.adjusted() >= _EPOCH_MAX_DIGITS):
            raise ValueError("not a finite number of a sane size")
    else:
        raise TypeError("not a timestamp")
    problem = epoch_unit_problem(number, millis=millis)
    if problem is not None:
        raise EpochUnitError(problem)
    micros = number * (1000 if millis else 1_000_000)
    if isinstance(micros, Decimal):
        micros = int(micros.to_integral_value(rounding=ROUND_HALF_EVEN))
    moment = (_EPOCH + timedelta(microseconds=micros)).astimezone(tz)
    return moment.date().isoformat() if date_only else moment.isoformat()


def iso_normalise(value: str, offset: str, *, date_only: bool = False) -> str:
    """An ISO 8601 string with the system's offset: added when it has none, and an instant given with another
    offset (a hall sending UTC, ``2026-10-31T16:30:00Z``) expressed in the system's — the same instant, as the
    canonical model keeps times (+08:00): whatever reads the month or the day from the text gets Beijing's."""
    text = value.strip()
    if date_only:  # the date it was in the system's zone: 2026-10-31T16:30:00Z is 1 November in Beijing
        if len(text) <= 10:
            return text
        full = iso_normalise(text, offset)
        try:  # "2024-03-05 garbage" is no date and time, nor is a range "2024-03-05至2024-03-10" its first day
            datetime.fromisoformat(full)
        except ValueError:
            raise ValueError("not an ISO 8601 date and time") from None  # the mapping names it (date_format)
        return full[:10]
    if len(text) == 10:
        return f"{text}T00:00:00{offset}"
    found = _ISO_OFFSET_RE.search(text)
    if found is None:
        return f"{text}{offset}"
    if found.group(0) == offset:
        return text
    if found.group(0) == "z":  # lowercase z is UTC as well (RFC 3339 allows it; fromisoformat does not read it)
        text = text[:-1] + "Z"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # not ISO after all: validation names it
    return _in_zone(moment, parse_offset(offset)).isoformat()


def _in_zone(moment: datetime, tz: timezone) -> datetime:
    """``moment`` in ``tz`` (a fixed offset); a ValueError (which the mapping names) when that falls outside the
    years 1–9999 (9999-12-31T23:00:00Z is in the year 10000 in Beijing), not the OverflowError ``astimezone``
    raises. The offsets' difference is added in one step: ``astimezone`` goes through UTC, which overflows for
    0001-01-01T05:00:00+09:00 although it is 04:00 the same day at +08:00."""
    offset, target = moment.utcoffset(), tz.utcoffset(None)
    if offset == target:
        return moment if moment.tzinfo is tz else moment.replace(tzinfo=tz)
    try:
        return (moment.replace(tzinfo=None) + (target - offset)).replace(tzinfo=tz)  # type: ignore[operator]
    except OverflowError:
        raise ValueError(f"outside the years 1-9999 in the system's time zone ({tz})") from None


def format_datetime(value: str | datetime, target: str, tz: timezone) -> str | int:
    """Canonical ISO (or datetime) → the target system's own format (outbound mappings)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    moment = _in_zone(moment, tz)
    if target == "iso8601":
        return moment.isoformat()
    if target == "epoch_ms":  # integer arithmetic: timestamp() * 1000 is a float and loses a millisecond
        return (moment - _EPOCH) // timedelta(milliseconds=1)
    if target == "epoch_s":
        return (moment - _EPOCH) // timedelta(seconds=1)
    return compile_pattern(target).format(moment)
