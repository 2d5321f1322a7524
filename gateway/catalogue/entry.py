"""The canonical catalogue entry (实施清单 entry) as a catalogue mapping produces it, and its time limits.

A mapping translates a catalogue system's own words (levels, item types, 是/否) into the canonical codes, but
time limits arrive as text with their unit in it (``"20个工作日"``, ``"２０ 工作日"``, ``"3个月"``, ``"即办"``): the
entry parses that text itself, so that every catalogue mapping gets the same reading and an unreadable limit
is rejected with the field and the text named, instead of becoming a silent null.

    >>> TimeLimit.parse("２０ 个工作日")
    TimeLimit(days=20, unit='working_day')
    >>> TimeLimit.parse("即办")
    TimeLimit(days=0, unit='working_day')
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gateway.models.codes import ItemLevel, ItemType

LimitUnit = Literal["working_day", "calendar_day", "month"]
TongbanScope = Literal["city", "cross_province"]

_UNITS: dict[str, LimitUnit] = {"个工作日": "working_day", "工作日": "working_day", "自然日": "calendar_day",
                                "日": "calendar_day", "天": "calendar_day", "个月": "month", "月": "month"}
_LIMIT = re.compile(r"^(\d+)\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")$")
_INSTANT = {"即办", "即时办结", "当场办结", "0"}
_CALENDAR_DAYS: dict[LimitUnit, float] = {"working_day": 7 / 5, "calendar_day": 1.0, "month": 30.0}


@dataclass(frozen=True)
class TimeLimit:
    """A time limit in its own unit (never converted for storage: a 20-working-day limit is not 28 days)."""

    days: int
    unit: LimitUnit

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """``"20个工作日"`` → 20 working days; ``"即办"`` → 0. Raises ``ValueError`` naming the text."""
        clean = "".join(unicodedata.normalize("NFKC", text).split())
        if clean in _INSTANT:
            return cls(0, "working_day")
        match = _LIMIT.match(clean)
        if match is None:
            raise ValueError(f"{text!r} is not a time limit like 20个工作日, 30日, 3个月 or 即办")
        return cls(int(match.group(1)), _UNITS[match.group(2)])

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
    code: str | None = None


class EntryMaterial(BaseModel):
    """A material the entry asks for."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1)]
    required: bool = True
    replaced_by_certificate_type: str | None = None


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part for part in re.split(r"[、,，;；|/]+", value) if part.strip()]
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
    visits: Annotated[int, Field(ge=0)] | None = None
    """到现场次数: 0 is 一次不跑, 1 只跑一次."""
    materials: list[EntryMaterial] = []
    tongban: TongbanScope | None = None
    """The entry's place in the 通办目录: accepted at any office of the city, or across provinces."""
    status: Literal["active", "retired"] = "active"
    source_version: str | None = None
    changed_at: str | None = None

    _service_objects = field_validator("service_objects", "channels", mode="before")(_split)

    @field_validator("legal_limit", "promised_limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> Any:
        if value is None or isinstance(value, TimeLimit):
            return value
        if isinstance(value, dict):
            return TimeLimit(int(value["days"]), value["unit"])
        return TimeLimit.parse(str(value))

    def document(self) -> dict[str, Any]:
        """The entry as stored (JSON-ready), limits as ``{"days", "unit"}``."""
        doc = self.model_dump(mode="python")
        for key in ("legal_limit", "promised_limit"):
            limit = getattr(self, key)
            doc[key] = None if limit is None else {"days": limit.days, "unit": limit.unit}
        doc["level"], doc["item_type"] = self.level.value, self.item_type.value
        return doc


__all__ = ["CatalogueEntry", "Department", "EntryMaterial", "LimitUnit", "TimeLimit", "TongbanScope"]
