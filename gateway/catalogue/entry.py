"""The canonical catalogue entry (实施清单 entry) as a catalogue mapping produces it, and its time limits.

A mapping translates a catalogue system's own words (levels, item types, 是/否) into the canonical codes, but
time limits arrive as text with their unit in it (``"20个工作日"``, ``"２０ 工作日"``, ``"二十个工作日内"``,
``"3个月"``, ``"即办"``, ``"当场"``): the entry parses that text itself, so that every catalogue mapping gets the
same reading. A limit it cannot read (``"1年"``, ``"20个工作日（不含公示时间）"``) does not cost the entry: the
limit is left empty and the entry carries an :class:`EntryFlag` naming the field, the rule and the text, which
the audit reports as a finding while it compares the rest of the entry.

    >>> TimeLimit.parse("２０ 个工作日")
    TimeLimit(days=20, unit='working_day')
    >>> TimeLimit.parse("二十个工作日内"), TimeLimit.parse("当场")
    (TimeLimit(days=20, unit='working_day'), TimeLimit(days=0, unit='working_day'))
    >>> CatalogueEntry.model_validate({"catalog_code": "1", "item_code": "X", "level": "1", "division": "100000",
    ...     "name": "婚姻登记", "item_type": "07", "legal_limit": "1年"}).quality[0].rule
    'catalogue.time_limit'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from gateway.models.codes import ItemLevel, ItemType

LimitUnit = Literal["working_day", "calendar_day", "month"]
TongbanScope = Literal["city", "cross_province"]

_UNITS: dict[str, LimitUnit] = {"个工作日": "working_day", "工作日": "working_day", "个自然日": "calendar_day",
                                "自然日": "calendar_day", "日": "calendar_day", "天": "calendar_day",
                                "个月": "month", "月": "month"}
_DIGIT = "一二两三四五六七八九"
_NUMBER = (r"[0-9]+|[零〇]|"  # 20, or a Chinese numeral below 10,000: 二十, 一百零五, 两千
           rf"(?=[{_DIGIT}十百千])(?:[{_DIGIT}]千)?(?:零?[{_DIGIT}]百)?(?:零?[{_DIGIT}]?十)?(?:零?[{_DIGIT}])?")
_LIMIT = re.compile(rf"^({_NUMBER})(" + "|".join(sorted(_UNITS, key=len, reverse=True)) +
                    r")(?:以内|之内|内)?(?:办结|办理完毕|完成)?$")
_INSTANT = {"即办", "即办件", "即时办结", "即时办理", "立即办结", "当场", "当场办结", "当场办理", "即来即办", "0"}
_CALENDAR_DAYS: dict[LimitUnit, float] = {"working_day": 7 / 5, "calendar_day": 1.0, "month": 30.0}
_VALUES = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_PLACES = {"十": 10, "百": 100, "千": 1000}
_CLOSING_PUNCTUATION = {"Po", "Pd"}
"""Unicode categories of what may close a limit's text and is not part of it (。；;,.、 and dashes)."""
_EXCLUSION_NOTE = re.compile(r"[(（](?:不含|不包含|不包括|不计|不计算|扣除)(?![^()（）]*(?:延长|延期|另有规定))"
                            r"[^()（）]*[)）]$")
"""A note after the limit naming time it does not count — ``20个工作日（不含公示时间）``, ``（不包括听证、专家评审时间）``:
the law's own rule (行政许可法 第四十五条: such procedures' time is not counted, as the case clocks stop for them),
restated. The limit is read; any other note (``（其中公示10日）``, an extension) still makes the text no limit."""
TIME_LIMIT_FORMS = "20个工作日, 二十日, 60日内, 3个月, 即办 or 当场"
LONGEST_LIMIT_DAYS = 36_500
"""No time limit is longer than a hundred years: a larger number is a typo (``3000000000个工作日``), read as one
it would not fit the store's integer column (a whole harvest page refused on PostgreSQL, night after night)."""
TIME_LIMIT_RULE = "catalogue.time_limit"
"""The rule an unreadable 法定时限 or 承诺时限 breaks: the entry is kept with a flag, the limit left empty."""


def _without_closing(text: str) -> str:
    """``text`` without the punctuation that closes it (:data:`_CLOSING_PUNCTUATION`)."""
    while text and unicodedata.category(text[-1]) in _CLOSING_PUNCTUATION:
        text = text[:-1]
    return text


def _number(text: str) -> int:
    """``"20"`` → 20; a Chinese numeral :data:`_NUMBER` accepted (``"十五"``, ``"一百零五"``) → its value. A last
    digit right after 百 or 千 counts in the place below it, as people read it: ``一百五`` is 150 (105 is ``一百零五``),
    ``一千二`` 1200."""
    if text.isdigit():
        return int(text)
    total = digit = 0
    before = ""
    for ch in text:
        if ch in _PLACES:
            total += (digit or 1) * _PLACES[ch]
            digit = 0
        else:
            digit = _VALUES[ch]
        last, before = before, ch
    if digit and text and last in ("百", "千"):
        return total + digit * _PLACES[last] // 10
    return total + digit


@dataclass(frozen=True)
class TimeLimit:
    """A time limit in its own unit (never converted for storage: a 20-working-day limit is not 28 days)."""

    days: int
    unit: LimitUnit

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """``"20个工作日"``, ``"二十个工作日内"`` → 20 working days; ``"60日内"`` → 60 calendar days; ``"即办"``,
        ``"当场"`` → 0. Raises ``ValueError`` naming the text."""
        clean = "".join(ch for ch in unicodedata.normalize("NFKC", text)
                        if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc"))  # ZWSP, BOM …
        # the sentence's end (20个工作日。 20日;) is not the limit's, before a note of time not counted and after it
        # (20个工作日。（不含公示时间）)
        clean = _without_closing(_EXCLUSION_NOTE.sub("", _without_closing(clean)))
        if clean in _INSTANT:
            return cls(0, "working_day")
        match = _LIMIT.match(clean)
        if match is None:
            raise ValueError(f"{text!r} is not a time limit like {TIME_LIMIT_FORMS}")
        limit = cls(_number(match.group(1)), _UNITS[match.group(2)])
        if limit.calendar_days() > LONGEST_LIMIT_DAYS:
            raise ValueError(f"{text!r} is longer than any time limit (at most {LONGEST_LIMIT_DAYS} days)")
        return limit

    def calendar_days(self) -> float:
        """Roughly how long in calendar days, only to compare limits given in different units."""
        return self.days * _CALENDAR_DAYS[self.unit]

    def __str__(self) -> str:
        return {"working_day": f"{self.days}个工作日", "calendar_day": f"{self.days}日",
                "month": f"{self.days}个月"}[self.unit]


class Department(BaseModel):
    """实施主体: the department that implements (claims) the entry."""

    model_config = ConfigDict(extra="forbid")

    name: str
    code: Annotated[str, StringConstraints(max_length=32)] | None = None
    """A 统一社会信用代码 (18 characters) or an older organisation code; longer is no department's code."""


class EntryMaterial(BaseModel):
    """A material the entry asks for."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1)]
    required: bool = True
    replaced_by_certificate_type: str | None = None


UNSTORABLE_RULE = "text.unstorable"
"""The flag of a text that held NUL or a lone surrogate (no store can hold them), kept with U+FFFD in their place."""


class EntryFlag(BaseModel):
    """A field of the entry the catalogue wrote so that it cannot be read: kept empty, the rest of the entry kept.

    The catalogue's counterpart of a case's :class:`~gateway.models.quality.QualityFlag`, with the text as written
    (an audit finding quotes it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    """``catalogue.time_limit``, or the mapping or schema rule the field broke (``mapping.type``, ``range.ge`` …)."""
    field: str
    """Dotted path in the canonical entry: ``legal_limit``, ``visits``, ``materials.2.name``."""
    message: str
    value: str | None = None
    """What the catalogue wrote there, when Tongban has it (at most 200 characters)."""


_SEPARATORS = re.compile(r"[、,，;；|｜/／]+")


def _split(value: Any) -> Any:
    """A list written as text: ``自然人、法人``, ``自然人／法人``, ``自然人; 法人`` — and, where none of those separators
    appears, ``自然人 法人`` — are the same two items (whitespace around an item is not part of it)."""
    if value is None:
        return []  # not stated (无, -, an empty cell: the mapping's null tokens), as an empty list is
    if isinstance(value, str):
        parts = _SEPARATORS.split(value) if _SEPARATORS.search(value) else value.split()
        return [part.strip() for part in parts if part.strip()]
    return value


class CatalogueEntry(BaseModel):
    """One 实施清单 entry, keyed by (基本编码, 实施编码, level, division).

    Text elements are kept as the catalogue wrote them: comparing them is the audit's job, and it must be able
    to show the original text in a finding.
    """

    model_config = ConfigDict(extra="forbid")

    catalog_code: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    """基本编码 (national basic code)."""
    item_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    """实施编码 (what cases name in ``item_code``)."""
    level: ItemLevel
    division: Annotated[str, StringConstraints(pattern=r"^\d{6}(\d{6})?$")]
    """行政区划 of the implementing level (``100000`` for the national entry)."""
    name: Annotated[str, StringConstraints(min_length=1)]
    item_type: ItemType
    departments: list[Department] = []
    """实施主体; an entry should have exactly one (none: 空头认领; several: nobody is accountable)."""
    legal_basis: str | None = None
    conditions: str | None = None
    service_objects: list[str] = []
    legal_limit: TimeLimit | None = None
    promised_limit: TimeLimit | None = None
    fee: bool = False
    fee_basis: str | None = None
    channels: list[str] = []
    visits: Annotated[int, Field(ge=0, le=99)] | None = None
    """到现场次数: 0 is 一次不跑, 1 只跑一次."""
    materials: list[EntryMaterial] = []
    tongban: TongbanScope | None = None
    """The entry's place in the 通办目录: accepted at any office of the city, or across provinces."""
    status: Literal["active", "retired"] = "active"
    source_version: Annotated[str, StringConstraints(max_length=32)] | None = None
    changed_at: str | None = None
    quality: list[EntryFlag] = []
    """Fields the catalogue wrote so that they cannot be read (left empty here); the audit reports each one."""

    _service_objects = field_validator("service_objects", "channels", mode="before")(_split)

    @model_validator(mode="before")
    @classmethod
    def _readable_limits(cls, data: Any) -> Any:
        """Parse the limits written as text; one that cannot be read is left empty and flagged, not fatal."""
        if not isinstance(data, dict):
            return data
        out = data
        for key in ("legal_limit", "promised_limit"):
            value = data.get(key)
            if value is None or isinstance(value, (TimeLimit, dict)):
                continue
            if out is data:
                out = dict(data)
            if isinstance(value, str) and not value.strip():
                out[key] = None  # not stated
                continue
            try:
                out[key] = TimeLimit.parse(str(value))
            except ValueError as exc:
                out[key] = None
                flag = EntryFlag(rule=TIME_LIMIT_RULE, field=key, message=str(exc), value=str(value)[:200])
                out["quality"] = [*(out.get("quality") or []), flag]
        return out

    @field_validator("legal_limit", "promised_limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return TimeLimit(int(value["days"]), value["unit"])
        return value

    def unreadable(self) -> set[str]:
        """The top-level fields the catalogue wrote so that they cannot be read (see :attr:`quality`); a text with a
        character replaced (:data:`UNSTORABLE_RULE`) is still read and compared."""
        return {flag.field.split(".", 1)[0] for flag in self.quality if flag.rule != UNSTORABLE_RULE}

    def replaced(self) -> set[str]:
        """The top-level fields in which the harvest replaced a character no store can hold by U+FFFD
        (:data:`UNSTORABLE_RULE`): compared without the U+FFFD, which is flagged once already."""
        return {flag.field.split(".", 1)[0] for flag in self.quality if flag.rule == UNSTORABLE_RULE}

    def document(self) -> dict[str, Any]:
        """The entry as stored (JSON-ready), limits as ``{"days", "unit"}``; ``quality`` only when flagged (an
        entry stored before entries carried flags keeps its content hash)."""
        doc = self.model_dump(mode="python")
        if not doc["quality"]:
            del doc["quality"]
        for key in ("legal_limit", "promised_limit"):
            limit = getattr(self, key)
            doc[key] = None if limit is None else {"days": limit.days, "unit": limit.unit}
        doc["level"], doc["item_type"] = self.level.value, self.item_type.value
        return doc


__all__ = ["TIME_LIMIT_FORMS", "TIME_LIMIT_RULE", "CatalogueEntry", "Department", "EntryFlag", "EntryMaterial",
           "LimitUnit", "TimeLimit", "TongbanScope"]
