"""Where and how a case came in, and the clocks and promises it carries: the parts of a :class:`~.case.Case`
that the 一窗受理 / 全城通办 / 跨省通办 processes need (issue 15).

- :class:`Office` — the accepting office (受理点: a street office's window, another province's hall). It is
  *not* the competent department (``Case.dept_code``, 实施主体): a case accepted in 历下区's 泉城路街道 for a
  民政 item is handled by 民政 and its result returns to the street office.
- :class:`Agent` — 帮办代办: who filed for the applicant and on whose authorisation. The agent's ID number is
  deliberately *not* carried: the ledger seals only ``applicant.id_number``, and an unsealed second ID number in
  every case document would be personal data nobody needs for routing or supervision.
- :class:`StageRecord` — one stage of a staged flow (受理/转办 1 working day, 审核 3, 核查 20 …) with its own
  limit, owner and times: the deadline scan clocks each stage separately.
- :class:`DeferredMaterial` — a material accepted as missing (容缺) or promised (承诺) with the day it is due.

Like the other parts these models have no validators: :class:`~.case.Case` checks them in its one validator,
and what real data breaks here (an office with a retired division code, a proxy without an authorisation
reference, a stage ending before it starts, a deferred material due before acceptance) is a quality flag,
never a rejection. Every field is optional on the case, so records written before these existed still
validate unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from .codes import AgentRole, DeferredKind
from .identifiers import normalise
from .limits import MAX_DAYS, FreeText

_CONFIG = ConfigDict(extra="forbid", frozen=False, use_attribute_docstrings=True)
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_TypeCode = Annotated[FreeText, AfterValidator(lambda code: normalise(code) or None)]

LimitUnitName = Literal["working_day", "calendar_day"]
"""The unit of a stage's limit: working days (the calendar of :mod:`gateway.ops.deadlines`) or calendar days."""


class Office(BaseModel):
    """受理点: the office where the application was accepted (a hall window, a street office, another
    province's hall). Its division decides 全城通办 vs 跨省通办 in the KPIs."""

    model_config = _CONFIG

    code: _Text
    """The office's code as the accepting system names it (a USCC, or the hall's own window code)."""
    name: FreeText | None = None
    """The office's name (泉城路街道便民服务中心 …)."""
    division: FreeText | None = None
    """行政区划 of the office (GB/T 2260, 6 or 12 digits); an unknown code is flagged (``case.office_division``)."""


class Agent(BaseModel):
    """帮办代办: the person who filed for the applicant."""

    model_config = _CONFIG

    name: _Text
    """The agent's name."""
    role: AgentRole
    """``proxy`` (代办, acts on a written authorisation) or ``assistant`` (帮办, helps; the applicant signs)."""
    organisation: FreeText | None = None
    """Who the agent works for (a hall's 帮办代办 desk, an agency), if anyone."""
    authorised_by: FreeText | None = None
    """On whose authorisation the agent acts: the principal's name (usually the applicant)."""
    authorisation: FreeText | None = None
    """The reference of the authorisation (授权委托书 number); a proxy without one is flagged
    (``case.agent_authorisation``)."""


class StageRecord(BaseModel):
    """One stage of the case's flow with its own time limit (a subsidy: routed 1, reviewed 3, checked 20 …)."""

    model_config = _CONFIG

    name: _Text
    """The stage's name (转办, 审核, 核查, 公示, 拨付 …)."""
    owner: FreeText | None = None
    """Who owns the stage: a department code or a role."""
    limit_days: Annotated[int, Field(ge=0, le=MAX_DAYS)] | None = None
    """The stage's limit, in ``unit`` (at most 3,650: a larger one is left out and flagged, ``range.implausible``)."""
    unit: LimitUnitName | None = None
    """``working_day`` or ``calendar_day``; empty when the source does not say: the item's stage plan in the
    通办目录 decides, else working days."""
    started_at: AwareDatetime | None = None
    """When the stage started (its clock starts the next day, as for the case). The stage's times are stored at
    +08:00 like every other; one before 1900 is left out and flagged (``case.implausible_time``)."""
    ended_at: AwareDatetime | None = None
    """When the stage ended; empty while it runs."""
    due_at: AwareDatetime | None = None
    """The due time the source gives, if any (the scan computes its own from the limit)."""


class DeferredMaterial(BaseModel):
    """A material the case was accepted without (容缺) or that the applicant promised (承诺), and when it is due."""

    model_config = _CONFIG

    name: _Text
    """The material's name."""
    kind: DeferredKind
    """``tolerated`` (容缺) or ``pledged`` (告知承诺)."""
    due_at: AwareDatetime | None = None
    """When it must be supplied; one without a due date, or due before acceptance, is flagged
    (``case.deferred_due``). Overdue and not received raises a ``deferred_material`` alert."""
    received_at: AwareDatetime | None = None
    """When it was supplied; empty while outstanding."""
    certificate_type: _TypeCode | None = None
    """The certificate type code (证照类型代码) that satisfies it when such a certificate of the applicant
    arrives in the certificate library; kept as codes are compared (NFKC, no spaces, upper case: a full-width,
    padded or lower-case code copied from a form would never find the certificate)."""


__all__ = ["Agent", "DeferredMaterial", "LimitUnitName", "Office", "StageRecord"]
