"""The canonical shapes of the citizen's voice: an evaluation (好差评) and a 12345 work order, with their code
tables. Each foreign system spells these its own way; :mod:`gateway.citizen.conventions` translates.

Levels are ordered so that a larger number is a better rating (5 非常满意 … 1 非常不满意): the evaluator
collection point counts that way, the provincial system the other way round (01 is the best), and keeping one
order here is what lets a report compare them.
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from gateway.contract.errors import FieldIssue
from gateway.models.identifiers import IdentifierError, validate_division_code

__all__ = ["BAD_LEVELS", "CHANNEL_NAMES", "Channel", "DivisionCode", "Evaluation", "Level", "MATTER_TYPES",
           "MatterType", "OUT_OF_SCOPE", "Quality", "Rating", "RATING_NAMES", "WorkOrder"]


def _division_code(value: object) -> object:
    """A division code as the case model reads one (:func:`~gateway.models.identifiers.validate_division_code`:
    full-width digits and spaces normalised to ASCII): ``３７０１０２`` routes and reports as ``370102``. Digits of
    other scripts (``٣٧٠١٠٢``) are refused, as they are for a case; an unknown code is legitimate (old codes)."""
    if not isinstance(value, str) or (value.isascii() and value.isdigit()):
        return value
    try:
        return validate_division_code(value)[0]
    except IdentifierError as exc:
        raise PydanticCustomError("division.format", "{message}", {"message": exc.message}) from None


DivisionCode = Annotated[str, BeforeValidator(_division_code)]
"""A division code normalised to ASCII digits; the length (6, or 6 or 12) is each model's own pattern (``[0-9]``,
never ``\\d``: pydantic's ``\\d`` matches any script's digits)."""

Quality = Annotated[tuple[FieldIssue, ...], Field(exclude=True)]
"""The rules a record broke that did not stop it (a character no store can hold replaced by U+FFFD, a rating
time after the record's own change time): each names record, field and rule, for the caller to count and keep.
Not content: excluded from dumps, so from the content hash (a flag never makes a rating "changed")."""


class Level(IntEnum):
    """The five levels of 好差评."""

    VERY_DISSATISFIED = 1
    DISSATISFIED = 2
    BASIC = 3
    SATISFIED = 4
    VERY_SATISFIED = 5

    @property
    def label(self) -> str:
        return {1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意"}[self.value]


BAD_LEVELS = frozenset({Level.VERY_DISSATISFIED, Level.DISSATISFIED})
MAX_LIMIT_DAYS = 60
"""The longest time limit a 12345 order holds, in working days (办理时限 runs from 1 to a few dozen days)."""
"""差评: 不满意 and 非常不满意 — each opens a callback the same working day."""

Channel = Literal["pc", "app", "qrcode", "device", "sms"]
CHANNEL_NAMES: dict[str, str] = {"pc": "PC端", "app": "移动端", "qrcode": "二维码", "device": "评价器", "sms": "短信"}

MatterType = Literal["consult", "help", "complaint", "report", "suggestion", "praise"]
MATTER_TYPES: dict[str, str] = {"consult": "咨询", "help": "求助", "complaint": "投诉", "report": "举报",
                                "suggestion": "建议", "praise": "表扬"}
OUT_OF_SCOPE: frozenset[str] = frozenset({"涉法涉诉", "涉密", "警情", "火情", "病情"})
"""Categories outside 12345's scope: the order goes back to the platform with the reason, never to a department."""

Rating = Literal["satisfied", "basic", "unsatisfied"]
RATING_NAMES: dict[str, str] = {"satisfied": "满意", "basic": "基本满意", "unsatisfied": "不满意"}


class Evaluation(BaseModel):
    """One rating of one case. ``device``/``window``/``staff`` are set for ratings given at the window."""

    model_config = ConfigDict(frozen=True)

    rating_id: Annotated[str, Field(min_length=1, max_length=64)]
    case_no: Annotated[str, Field(min_length=1, max_length=64)]
    level: Level
    channel: Channel
    rated_at: AwareDatetime
    device: Annotated[str, Field(max_length=64)] | None = None
    window: Annotated[str, Field(max_length=32)] | None = None
    staff: Annotated[str, Field(max_length=32)] | None = None
    dept_code: Annotated[str, Field(max_length=32)] | None = None
    division: Annotated[DivisionCode, Field(pattern=r"^[0-9]{6}([0-9]{6})?$")] | None = None
    comment: str = ""
    revoked: bool = False
    quality: Quality = ()

    @property
    def bad(self) -> bool:
        return self.level in BAD_LEVELS


class WorkOrder(BaseModel):
    """A 12345 work order as the district sees it (the platform's state; routing is Tongban's)."""

    model_config = ConfigDict(frozen=True)

    order_no: Annotated[str, Field(min_length=1, max_length=64)]
    matter_type: MatterType
    category: Annotated[str, Field(min_length=1, max_length=32)]
    division: Annotated[DivisionCode, Field(pattern=r"^[0-9]{6}$")]
    content: str
    citizen: str | None = None
    case_no: Annotated[str, Field(max_length=64)] | None = None
    received_at: AwareDatetime
    limit_days: Annotated[int, Field(ge=0, le=MAX_LIMIT_DAYS)]
    platform_status: str
    dept_code: Annotated[str, Field(max_length=32)] | None = None
    dept_name: str | None = None
    dispatched_at: AwareDatetime | None = None
    signed_at: AwareDatetime | None = None
    replied_at: datetime | None = None
    rating: Rating | None = None
    rated_at: AwareDatetime | None = None
    redo_count: Annotated[int, Field(ge=0)] = 0
    return_reason: str | None = None
    changed_at: AwareDatetime
    quality: Quality = ()
