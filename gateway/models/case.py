"""The canonical case (办件): what every mapping produces and what the ledger stores and pushes.

Field-level rules (types, lengths, code lists, aware datetimes) run inside pydantic-core, in Rust. Everything
that needs Python — identifier checksums, GB18030, the cross-field rules — runs in *one* model validator
on :class:`Case`, because a Python call per field per record is what makes a sync slow. The nested parts
(:class:`Applicant`, :class:`CaseEvent`, :class:`Material`) have no validators of their own for the same
reason: the case checks them, and its issues carry full paths (``applicant.id_number``,
``events.2.started_at``).

Tombstones (``deleted=True``, or results 作废/删除) are full records and pass the same rules: a deletion
propagates like any change.

Structural rules (types, identifiers, GB18030) reject the record. Quality rules (a refusal without a reason,
dates out of order, an old place code …) do not: the case keeps a :class:`~gateway.models.quality.QualityFlag`
per finding in ``Case.quality``, which is *derived* — recomputed on every validation, whatever the input
held. A mapping may raise a quality rule to ``reject`` or lower it to ``ignore``; the policy reaches the
validator through the validation context (``{"rules": {rule: severity}}``, see :mod:`gateway.models.rules`),
and the flags of a batch are collected in ``context["flags"]`` as ``(index, field, rule, message)``.

    >>> case = Case.model_validate(record, context={"flags": [], "rules": {"case.date_order": "reject"}})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from .codes import (
    AgentRole,
    ApplicantType,
    CaseChannel,
    CaseResult,
    CaseStatus,
    CaseType,
    IdType,
    MaterialSource,
    SpecialProcedureType,
    StepAction,
)
from .datetimes import BEIJING
from .identifiers import (
    IdentifierError,
    validate_division_code,
    validate_id_number,
    validate_resident_id,
    validate_uscc,
)
from .intake import Agent, DeferredMaterial, Office, StageRecord
from .issues import Issue, emit_warnings, raise_issues
from .limits import MAX_COUNT, MAX_DAYS, MAX_SEQ, TIME_FLOOR, FreeText
from .quality import QualityFlag, make_flag
from .repair import IMPLAUSIBLE_TIME, revalidate, step_start
from .text import gb18030_problem, outside_gbk

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
CaseNo = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[0-9A-Za-z-]+$")]
ItemCode = Annotated[str, StringConstraints(min_length=1, max_length=36)]
CatalogCode = Annotated[str, StringConstraints(min_length=12, max_length=12)]
Opinion = Annotated[str, StringConstraints(max_length=2000)]
"""An opinion longer than this is kept truncated, with a ``text.truncated`` flag (:mod:`.repair`)."""

_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=False, use_attribute_docstrings=True)
_CERTIFICATE_REQUIRED = "case.certificate_required"
_DATE_ORDER = "case.date_order"
_OPEN_STATUSES = frozenset({CaseStatus.SUBMITTED, CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS, CaseStatus.SUSPENDED})
_EIGHT_HOURS = timedelta(hours=8)

#: Results that end a case without the thing asked for: the applicant is owed a reason.
REASON_REQUIRED_RESULTS = frozenset(
    {CaseResult.NOT_PERMITTED, CaseResult.RETURNED, CaseResult.NOT_ACCEPTED, CaseResult.CORRECTION_TIMEOUT}
)


class Applicant(BaseModel):
    """申请人. Checked by the :class:`Case` that holds it (ID number per ``id_type``, name in GB18030)."""

    model_config = _MODEL_CONFIG

    type: ApplicantType
    """申请人类型: a person, a company, an agency … (code list ApplicantType)."""
    name: Name
    """Name of the person or organisation; must be encodable in GB18030."""
    id_type: IdType
    """证件类型 (code list IdType, GB/T 36903 / GA/T 2000.156 codes)."""
    id_number: NonEmptyStr
    """证件号码, checked as ``id_type`` demands (GB 11643 for 111 and the residence permits, GB 32100 for
    001) and stored normalised (upper-case X, 15-digit IDs converted to 18)."""
    phone: FreeText | None = None
    """Contact phone as the source wrote it."""
    address: FreeText | None = None
    """Contact address as the source wrote it."""


class CaseEvent(BaseModel):
    """One process step (环节, ``kind="step"``) or special procedure (特别程序, ``kind="special"``)."""

    model_config = _MODEL_CONFIG

    seq: Annotated[int, Field(ge=0, le=MAX_SEQ)]
    """Order of the event in the case (1-based; the source's own number when it has one); 0 to 2,147,483,647."""
    kind: Literal["step", "special"]
    """``step`` (办理环节) or ``special`` (特别程序: the deadline clock stops while it runs)."""
    name: NonEmptyStr
    """The step's or procedure's name as the source wrote it (受理, 审核, 补正 …)."""
    action: StepAction | None = None
    """What the step does (code list StepAction); steps only."""
    special_type: SpecialProcedureType | None = None
    """Which special procedure (code list SpecialProcedureType); special events only."""
    started_at: AwareDatetime
    """When the event started (+08:00). A step the source gives without a start (or with one before 1900) is
    kept, started when the step before it ended (else when that one started, else at acceptance or
    application), and flagged (``case.step_start_missing``)."""
    ended_at: AwareDatetime | None = None
    """When it ended; empty while it runs."""
    handler: FreeText | None = None
    """Who handled the step (经办人)."""
    opinion: Opinion | None = None
    """The handler's opinion (审批意见), at most 2,000 characters: a longer one is kept truncated (its first
    1,999 characters and "…") and flagged (``text.truncated``)."""
    reason: FreeText | None = None
    """Why a special procedure was started."""
    result: FreeText | None = None
    """The outcome of a special procedure, as the source wrote it."""


class Material(BaseModel):
    """A material received for the case; ``certificate_reuse`` means it came from the certificate library."""

    model_config = _MODEL_CONFIG

    name: NonEmptyStr
    """The material's name (申请书, 营业执照 …)."""
    source: MaterialSource | None = None
    """How it was received (code list MaterialSource); none when the source system's code for it is not known (a
    mapping's ``on_unknown: flag``: the material is kept, the finding counted as ``mapping.code_unknown``)."""
    count: Annotated[int, Field(ge=0, le=MAX_COUNT)] = 1
    """How many copies or pages were received (0 to 1,000,000; a larger count is taken as the default 1 and
    flagged, ``range.implausible``)."""
    attachment: FreeText | None = None
    """A reference to the stored file, if the source gives one."""
    certificate_no: FreeText | None = None
    """For ``certificate_reuse``: the number of the certificate that replaced the material."""


class Case(BaseModel):
    """办件, the national case-aggregation record in canonical form (see DOMAIN.md).

    Rules beyond the field types, each with a stable name (catalogue: :data:`gateway.models.rules.RULES`).
    Structural, always rejecting: ``text.gb18030`` and the identifier errors of
    :mod:`gateway.models.identifiers` on ``applicant.id_number``, ``dept_code`` and ``division_code``.
    Quality, flagging by default: ``case.certificate_required``, ``case.reason_required``,
    ``case.result_requires_finish``, ``case.finished_while_open``, ``case.special_open_at_finish``,
    ``case.date_order``, ``case.instant_promise``,
    ``resident_id.place_code``, ``resident_id.converted_15``, ``residence_permit.address_code``,
    ``division.unknown``, and for the intake parts ``case.office_division``, ``case.agent_authorisation``,
    ``case.deferred_due`` (and ``case.date_order`` on stages). Identifiers are stored normalised (upper-case X, 15-digit IDs converted);
    datetimes at +08:00, the intake parts' included.

    Bounds: integers have real ranges (days ≤ 3,650, counts ≤ 1,000,000, step numbers ≤ 2³¹ − 1; none negative,
    ``range.ge``): a step number above it rejects the record (``range.le``), an optional number above it is left
    out and flagged (``range.implausible``); a time before 1900 is no real time, nor is a number (pydantic would
    read ``20261105123900`` as Unix milliseconds, the year 2612: epoch times are the mapping's ``date: epoch_ms``):
    ``applied_at``/``updated_at`` reject the record (``datetime.implausible``), an optional time is left out and
    flagged (``case.implausible_time``). Optional
    details real data breaks are repaired and flagged (:mod:`gateway.models.repair`): ``text.truncated``,
    ``text.replaced``, ``case.catalog_code``, ``case.step_start_missing``; a number given for text is read as
    its text anywhere.
    """

    model_config = _MODEL_CONFIG

    case_no: CaseNo
    """办件编号 (project_no / PROJID / SBLSH): the national case number that links the same case across
    systems; letters, digits and hyphens, at most 50."""
    item_code: ItemCode
    """实施编码 (task_code) of the service item; opaque (its format differs by province), at most 36."""
    catalog_code: CatalogCode | None = None
    """基本编码 (catalog_code) of the item in the national catalogue, 12 characters; one of another length is
    left out and flagged (``case.catalog_code``)."""
    item_name: NonEmptyStr
    """事项名称; must be encodable in GB18030."""
    item_version: FreeText | None = None
    """Version of the item's implementation list entry."""
    summary: FreeText | None = None
    """办理摘要: a one-line description of the case."""
    case_type: CaseType
    """办理类型: instant (即办件) or promised (承诺件)."""
    applicant: Applicant
    """申请人."""
    applied_at: AwareDatetime
    """申请时间 (+08:00)."""
    accepted_at: AwareDatetime | None = None
    """受理时间; empty before acceptance."""
    promised_at: AwareDatetime | None = None
    """承诺办结时间: the deadline promised to the applicant."""
    promised_days: Annotated[int, Field(ge=0, le=MAX_DAYS)] | None = None
    """承诺时限 in days; 0 for an instant case, at most 3,650 (ten years: more is a typo or a filler value such as
    9999, left out and flagged, ``range.implausible``)."""
    dept_name: NonEmptyStr
    """受理部门: the department handling the case."""
    dept_code: NonEmptyStr
    """The department's unified social credit code (GB 32100), checked; decides which system gets the case."""
    handler: str | None = None
    """受理人员."""
    division_code: NonEmptyStr
    """行政区划 (GB/T 2260), 6 or 12 digits; unknown or retired codes are flagged, not rejected."""
    finished_at: AwareDatetime | None = None
    """办结时间; empty while the case is open."""
    result: CaseResult | None = None
    """办结结果 (code list CaseResult); empty while the case is open."""
    result_reason: FreeText | None = None
    """Why the case was refused or returned (owed to the applicant for the results that need one)."""
    certificate_name: str | None = None
    """结果证照名称 of the certificate issued."""
    certificate_no: FreeText | None = None
    """结果证照编号 of the certificate issued."""
    status: CaseStatus
    """Where the case stands now (code list CaseStatus)."""
    deleted: bool = False
    """A tombstone: the source deleted or voided the case; it still propagates."""
    events: list[CaseEvent] = Field(default_factory=list)
    """Process steps (环节) and special procedures (特别程序), in order."""
    materials: list[Material] = Field(default_factory=list)
    """Materials received for the case."""
    channel: CaseChannel | None = None
    """申办渠道: window, online, mobile, kiosk or post (code list CaseChannel)."""
    office: Office | None = None
    """受理点: where the case was accepted, distinct from the competent department (``dept_code``)."""
    agent: Agent | None = None
    """帮办代办: who filed for the applicant, on whose authorisation."""
    stages: list[StageRecord] = Field(default_factory=list)
    """Stages of a staged flow, each with its own limit (the deadline scan clocks each)."""
    deferred_materials: list[DeferredMaterial] = Field(default_factory=list)
    """Materials accepted as missing (容缺) or promised (承诺), with their due dates."""
    quality: list[QualityFlag] = Field(default_factory=list)
    """Quality findings: one flag per quality rule the case breaks (derived on validation; any input value is
    replaced). Pushed with the case so the hall sees them."""
    updated_at: AwareDatetime
    """The source's change time of the record (its cursor); kept last: the ledger's hash leaves it out. One before
    1900 (.NET's DateTime.MinValue ``0001-01-01``, a "no value" default) rejects the record
    (``datetime.implausible``), as it does for ``applied_at``."""

    @model_validator(mode="wrap")
    @classmethod
    def _check_rules(cls, data: Any, handler: ModelWrapValidatorHandler[Case], info: ValidationInfo) -> Case:
        # A wrap validator rather than an "after" one: it also sees the raw input, and a raw timestamp
        # already in the canonical "YYYY-MM-DDTHH:MM:SS+08:00" form orders correctly as a string, which is
        # several times cheaper than comparing the parsed datetimes (pydantic gives each its own tzinfo).
        dropped: list[Issue] = []  # incomplete optional parts left out: flags (the case itself is sound)
        if data.__class__ is dict:
            # A JSON source may send a code or a number as a JSON number (areaCode: 370102): an integer is
            # carried as its decimal text, exactly what it said (a float or a bool is not: a type error still).
            for key in _NUMBER_TEXT_FIELDS:
                if data.get(key).__class__ is int:
                    data = {**data, key: str(data[key])}
            part = data.get("applicant")
            if part.__class__ is dict and any(part.get(k).__class__ is int for k in _APPLICANT_NUMBER_FIELDS):
                data = {**data, "applicant": {k: str(v) if k in _APPLICANT_NUMBER_FIELDS and v.__class__ is int
                                              else v for k, v in part.items()}}
            # A mapping fills a nested part field by field (office.code, office.division …): a source without
            # those facts gives a part whose fields are all empty, which is no part at all. A part without
            # what it cannot exist without (an office without its code, an agent without a name or a known
            # role) is left out too, and flagged: real data breaks it, and the case does not depend on it.
            for key in _OPTIONAL_PARTS:
                part = data.get(key)
                if part.__class__ is dict:
                    missing = None if all(v is None for v in part.values()) else _incomplete_part(key, part)
                    if missing is None and all(v is None for v in part.values()):
                        data = {**data, key: None}
                    elif missing is not None:
                        data = {**data, key: None}
                        dropped.append(missing)
        try:
            self = handler(data)
        except ValidationError as exc:
            # What real data breaks in optional details is repaired and flagged, not rejected (see .repair): a
            # number for text, an over-long opinion, a catalogue code of the wrong length, a step without a start.
            # Only a failing record pays for this; the rest of its errors (if any) still reject it.
            if data.__class__ is not dict:
                raise
            self, data = revalidate(handler, data, exc, dropped)
        raw: dict[str, Any] = data if data.__class__ is dict else _NO_RAW
        errors: list[Issue] = []  # structural: the record is rejected
        flags: list[Issue] = dropped  # quality: the case is kept and flagged (unless the mapping's policy says)
        d = self.__dict__
        applicant = self.applicant

        # Identifiers: stored normalised; odd-but-legitimate values (old place codes, 15-digit IDs) are flagged.
        try:
            if applicant.id_type is IdType.RESIDENT_ID:
                number, id_warnings = validate_resident_id(applicant.id_number)
            else:
                number, id_warnings = validate_id_number(applicant.id_type, applicant.id_number)
            if number != applicant.id_number:
                applicant.__dict__["id_number"] = number
            for w in id_warnings:
                flags.append(("applicant.id_number", w.rule, w.message))
        except IdentifierError as exc:
            errors.append(("applicant.id_number", exc.rule, exc.message))
        try:
            code, _ = validate_uscc(self.dept_code)
            if code != self.dept_code:
                d["dept_code"] = code
        except IdentifierError as exc:
            errors.append(("dept_code", exc.rule, exc.message))
        try:
            code, division_warnings = validate_division_code(self.division_code)
            if code != self.division_code:
                d["division_code"] = code
            for w in division_warnings:
                flags.append(("division_code", w.rule, w.message))
        except IdentifierError as exc:
            errors.append(("division_code", exc.rule, exc.message))

        # Names must survive a GB18030 system: one test for all of them, detail only on failure.
        names = applicant.name + self.item_name + self.dept_name
        if gb18030_problem(names + (self.handler or "") + (self.certificate_name or "")):
            for path, text in (
                ("applicant.name", applicant.name),
                ("item_name", self.item_name),
                ("dept_name", self.dept_name),
                ("handler", self.handler),
                ("certificate_name", self.certificate_name),
            ):
                problem = gb18030_problem(text) if text else None
                if problem is not None:
                    errors.append((path, "text.gb18030", problem))
        for path, text in (("applicant.name", applicant.name), ("agent.name", self.agent.name if self.agent else None)):
            beyond = outside_gbk(text) if text else None
            if beyond is not None:
                flags.append((path, "text.outside_gbk", f"{beyond} is outside GBK: a system storing GBK cannot hold "
                                                        "this name"))

        # What the result demands (quality rules: real systems break each of them often).
        result = self.result
        if result is not None:
            if self.finished_at is None:
                flags.append(
                    ("finished_at", "case.result_requires_finish", f"result {result.value} needs finished_at")
                )
            if result is CaseResult.ISSUED:
                if not self.certificate_name:
                    message = "a case finished with a certificate (出证办结) names the certificate"
                    flags.append(("certificate_name", _CERTIFICATE_REQUIRED, message))
                if not self.certificate_no:
                    message = "a case finished with a certificate (出证办结) gives the certificate number"
                    flags.append(("certificate_no", _CERTIFICATE_REQUIRED, message))
            elif result in REASON_REQUIRED_RESULTS and not self.result_reason:
                flags.append(("result_reason", "case.reason_required", f"{result.value} needs a reason"))
        if self.finished_at is not None and self.status in _OPEN_STATUSES:
            flags.append(("finished_at", "case.finished_while_open",
                          f"status {self.status.value} is open, yet finished_at is given: the finish time stops the "
                          "case's clocks"))
        if self.case_type is CaseType.INSTANT and self.promised_days not in (None, 0):
            message = f"an instant case promises 0 days, not {self.promised_days}"
            flags.append(("promised_days", "case.instant_promise", message))

        # Time order (applied <= accepted <= each event start <= finished; start <= end), +08:00 everywhere.
        # A time before 1900 is no real time (0001-01-01 is .NET's DateTime.MinValue, a common "no value"): the
        # record's own times reject it, an optional time is dropped and flagged (the ledger could not even
        # convert year 1 at +08:00 to UTC).
        applied = _time_key(raw.get("applied_at"), d, "applied_at")
        if applied < TIME_FLOOR:  # type: ignore[operator]
            errors.append(("applied_at", "datetime.implausible", _before_floor(applied)))
        updated = _time_key(raw.get("updated_at"), d, "updated_at")
        if updated < TIME_FLOOR:  # type: ignore[operator]
            errors.append(("updated_at", "datetime.implausible", _before_floor(updated)))
        floor = applied
        accepted = _time_key(raw.get("accepted_at"), d, "accepted_at")
        if accepted is not None and accepted < TIME_FLOOR:
            accepted = _drop_time(d, "accepted_at", "accepted_at", accepted, flags)
        if accepted is not None:
            if accepted < applied:  # type: ignore[operator]
                flags.append(("accepted_at", _DATE_ORDER, "accepted before it was applied for"))
            else:
                floor = accepted
        finished = _time_key(raw.get("finished_at"), d, "finished_at")
        if finished is not None and finished < TIME_FLOOR:
            finished = _drop_time(d, "finished_at", "finished_at", finished, flags)
        if finished is not None and finished < floor:  # type: ignore[operator]
            flags.append(("finished_at", _DATE_ORDER, "finished before it was applied for or accepted"))
        promised = _time_key(raw.get("promised_at"), d, "promised_at")
        if promised is not None and promised < TIME_FLOOR:
            _drop_time(d, "promised_at", "promised_at", promised, flags)
        events = self.events
        if events:
            raw_events = raw.get("events")
            if raw_events.__class__ is not list or len(raw_events) != len(events):  # type: ignore[arg-type]
                raw_events = [_NO_RAW] * len(events)
            for i, (event, raw_event) in enumerate(zip(events, raw_events)):  # type: ignore[arg-type]
                if raw_event.__class__ is not dict:
                    raw_event = _NO_RAW
                ed = event.__dict__
                start = _time_key(raw_event.get("started_at"), ed, "started_at")
                if start < TIME_FLOOR:  # type: ignore[operator]
                    bad = start
                    ed["started_at"] = step_start(events, i, d)
                    start = _time_key(None, ed, "started_at")
                    flags.append((f"events.{i}.started_at", "case.step_start_missing",
                                  f"step {i}: {_before_floor(bad)}: taken as {start}"))
                if start < floor:  # type: ignore[operator]
                    flags.append((f"events.{i}.started_at", _DATE_ORDER, "step starts before acceptance"))
                elif finished is not None and start > finished:  # type: ignore[operator]
                    flags.append((f"events.{i}.started_at", _DATE_ORDER, "step starts after the finish"))
                end = _time_key(raw_event.get("ended_at"), ed, "ended_at")
                if end is not None and end < TIME_FLOOR:
                    end = _drop_time(ed, "ended_at", f"events.{i}.ended_at", end, flags)
                if end is not None and end < start:  # type: ignore[operator]
                    flags.append((f"events.{i}.ended_at", _DATE_ORDER, "step ends before it starts"))
                if event.kind == "special" and finished is not None and start <= finished \
                        and (end is None or end > finished):  # type: ignore[operator]
                    flags.append((f"events.{i}.ended_at", "case.special_open_at_finish",
                                  f"special procedure {event.name} still open when the case finished: its stop of "
                                  "the clock counts up to its bound, no further"))

        if d["office"] is not None or d["agent"] is not None or d["stages"] or d["deferred_materials"]:
            _check_intake(self, raw, accepted, flags)

        if flags:
            ctx = info.context
            policy = ctx.get("rules") if ctx is not None else None
            if policy:
                flags = _apply_policy(policy, flags, errors)
        if errors:
            raise_issues(errors)
        if flags:
            d["quality"] = [make_flag(f, r, m) for f, r, m in flags]
            emit_warnings(info, flags, sink="flags")
        elif d["quality"]:
            d["quality"] = []  # derived, never taken from the input
        return self


_NO_RAW: dict[str, Any] = {}
_OPTIONAL_PARTS = ("office", "agent")
_NUMBER_TEXT_FIELDS = ("case_no", "item_code", "catalog_code", "item_version", "dept_code", "division_code",
                       "certificate_no")
_APPLICANT_NUMBER_FIELDS = ("id_number", "phone")
"""Text fields holding codes and numbers: an integer given for one is read as its decimal text."""
_AGENT_ROLES = frozenset(role.value for role in AgentRole)


def _blank(value: Any) -> bool:
    return value is None or (value.__class__ is str and not value.strip())


def _incomplete_part(key: str, part: dict[str, Any]) -> Issue | None:
    """The flag for an office or agent that lacks what it cannot exist without (then it is left out), or None.
    The message names no person: flags travel unsealed."""
    if key == "office":
        if _blank(part.get("code")):
            return ("office.code", "case.office_incomplete",
                    "the accepting office has no code: the office is left out of the case")
        return None
    if _blank(part.get("name")):
        return ("agent.name", "case.agent_incomplete",
                "the agent (帮办代办) has no name: the agent is left out of the case")
    role = part.get("role")
    if not (isinstance(role, AgentRole) or (role.__class__ is str and role in _AGENT_ROLES)):
        return ("agent.role", "case.agent_incomplete",
                "the agent (帮办代办) has no known role (proxy or assistant): the agent is left out")
    return None


def _check_intake(case: Case, raw: Mapping[str, Any], accepted: str | None, flags: list[Issue]) -> None:
    """The quality rules of the intake parts (issue 15): all flags, since real data breaks each of them."""
    office = case.office
    if office is not None and office.division is not None:
        try:
            _, warnings = validate_division_code(office.division)
            for w in warnings:
                flags.append(("office.division", "case.office_division", w.message))
        except IdentifierError as exc:
            flags.append(("office.division", "case.office_division", exc.message))
    agent = case.agent
    if agent is not None and agent.role is AgentRole.PROXY and not agent.authorisation:
        flags.append(("agent.authorisation", "case.agent_authorisation",
                      "a proxy (代办) acts without an authorisation reference (授权委托书)"))
    for i, stage in enumerate(case.stages):
        _intake_times(stage.__dict__, _raw_part(raw, "stages", i), f"stages.{i}", _STAGE_TIMES, flags)
        if stage.started_at is not None and stage.ended_at is not None and stage.ended_at < stage.started_at:
            flags.append((f"stages.{i}.ended_at", _DATE_ORDER, f"stage {stage.name} ends before it starts"))
    accepted_at = case.accepted_at if accepted is not None else None
    for i, material in enumerate(case.deferred_materials):
        _intake_times(material.__dict__, _raw_part(raw, "deferred_materials", i), f"deferred_materials.{i}",
                      _DEFERRED_TIMES, flags)
        if material.due_at is None:
            flags.append((f"deferred_materials.{i}.due_at", "case.deferred_due",
                          f"deferred material {material.name} has no due date"))
        elif accepted_at is not None and material.due_at < accepted_at:
            flags.append((f"deferred_materials.{i}.due_at", "case.deferred_due",
                          f"deferred material {material.name} is due before the case was accepted"))


_STAGE_TIMES = ("started_at", "ended_at", "due_at")
_DEFERRED_TIMES = ("due_at", "received_at")


def _raw_part(raw: Mapping[str, Any], key: str, index: int) -> Mapping[str, Any]:
    """The input the ``index``-th item of the list ``key`` was validated from (empty when it cannot be told)."""
    items = raw.get(key)
    if items.__class__ is list and index < len(items) and items[index].__class__ is dict:  # type: ignore[arg-type]
        return items[index]  # type: ignore[index,no-any-return]
    return _NO_RAW


def _intake_times(values: dict[str, Any], raw: Mapping[str, Any], path: str, names: tuple[str, ...],
                  flags: list[Issue]) -> None:
    """The times of a stage or deferred material at +08:00, like every other time of the case (the same instant
    must hash the same whatever offset the source wrote); one before 1900, or given as a number, dropped and
    flagged."""
    for name in names:
        value = values[name]
        if value is None:
            continue
        if _is_number(raw.get(name)):
            _drop_time(values, name, f"{path}.{name}", f"{NUMBER_TIME}{raw.get(name)}", flags)
            continue
        if value.utcoffset() != _EIGHT_HOURS:
            try:
                value = values[name] = value.astimezone(BEIJING)
            except OverflowError:  # the last hours of year 9999 at a western offset: kept as given
                continue
        if value.year < 1900:
            _drop_time(values, name, f"{path}.{name}", value.isoformat(), flags)


NUMBER_TIME = "0000 number "
"""The key :func:`_time_key` gives a time the source sent as a number: below every real time, so the floor
checks refuse it (the record's own times) or leave it out (an optional one), with :func:`_before_floor`'s text."""
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _is_number(raw: Any) -> bool:
    """Whether a time was given as a number or a numeral — which pydantic reads as Unix time: ``20261105123900``
    (yyyyMMddHHmmss without a ``date:`` format) would be the year 2612, ``20261103`` a day of 1970."""
    if raw.__class__ is str:
        return _NUMBER_TEXT.fullmatch(raw) is not None
    return raw.__class__ in (int, float, Decimal)


def _before_floor(key: str) -> str:
    if key.startswith(NUMBER_TIME):
        number = key[len(NUMBER_TIME):]
        return (f"{number} is a number, not a time (read as Unix time it would be a date nobody meant): give the "
                "mapping's field a date format — date: yyyyMMddHHmmss, date: epoch_ms, date: epoch_s …")
    return f"{key} is before 1900: not a real time (a 'no value' default such as 0001-01-01?)"


def _drop_time(values: dict[str, Any], name: str, path: str, key: str, flags: list[Issue]) -> None:
    """Leave out an optional time before 1900 (returns its new key, None) and flag it."""
    values[name] = None
    flags.append((path, IMPLAUSIBLE_TIME, f"{_before_floor(key)}: left out"))
    return None


def _apply_policy(policy: Mapping[str, str], flags: list[Issue], errors: list[Issue]) -> list[Issue]:
    """Route each finding by the mapping's severity for its rule: kept as a flag, moved to the errors, dropped."""
    kept: list[Issue] = []
    for issue in flags:
        severity = policy.get(issue[1], "flag")
        if severity == "flag":
            kept.append(issue)
        elif severity == "reject":
            errors.append(issue)
    return kept


def _time_key(raw: Any, values: dict[str, Any], name: str) -> str | None:
    """A string that sorts like the instant in ``values[name]``, which is left at +08:00.

    The raw input itself when it is ``YYYY-MM-DDTHH:MM:SS+08:00`` (what mappings produce; pydantic parsed it
    without changing the offset). Otherwise the value is converted to +08:00 and its ``isoformat()`` used:
    with the same offset and a 4-digit year such strings sort chronologically, with or without fractions
    of a second ("…:00+08:00" < "…:00.5+08:00" < "…:01+08:00").
    """
    if raw.__class__ is str and len(raw) == 25 and raw[10] == "T" and raw.endswith("+08:00"):
        return raw  # type: ignore[no-any-return]
    value = values[name]
    if value is None:
        return None
    if _is_number(raw):
        return f"{NUMBER_TIME}{raw}"  # sorts before TIME_FLOOR: refused or left out as an implausible time
    if value.utcoffset() != _EIGHT_HOURS:
        try:
            value = values[name] = value.astimezone(BEIJING)
        except OverflowError:  # the last hours of year 9999 at a western offset: kept as given
            pass
    return value.isoformat()  # type: ignore[no-any-return]


__all__ = ["REASON_REQUIRED_RESULTS", "Agent", "Applicant", "Case", "CaseEvent", "DeferredMaterial", "Material",
           "Office", "QualityFlag", "StageRecord"]
