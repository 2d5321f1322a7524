"""The canonical case (办件): what every mapping produces and what the ledger stores and pushes.

Field-level rules (types, lengths, code lists, aware datetimes) run inside pydantic-core, in Rust. Everything
that needs Python — identifier checksums, GB18030, the cross-field rules — runs in *one* model validator
on :class:`Case`, because a Python call per field per record is what makes a sync slow. The nested parts
(:class:`Applicant`, :class:`CaseEvent`, :class:`Material`) have no validators of their own for the same
reason: the case checks them, and its issues carry full paths (``applicant.id_number``,
``events.2.started_at``).

Tombstones (``deleted=True``, or results 作废/删除) are full records and pass the same rules: a deletion
propagates like any change.

    >>> case = Case.model_validate(record, context={"warnings": []})
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationInfo,
    model_validator,
)

from .codes import (
    ApplicantType,
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
from .issues import Issue, emit_warnings, raise_issues
from .text import gb18030_problem

NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
CaseNo = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"^[0-9A-Za-z-]+$")]
ItemCode = Annotated[str, StringConstraints(min_length=1, max_length=36)]
CatalogCode = Annotated[str, StringConstraints(min_length=12, max_length=12)]
Opinion = Annotated[str, StringConstraints(max_length=2000)]

_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=False)
_CERTIFICATE_REQUIRED = "case.certificate_required"
_DATE_ORDER = "case.date_order"
_EIGHT_HOURS = timedelta(hours=8)

#: Results that end a case without the thing asked for: the applicant is owed a reason.
REASON_REQUIRED_RESULTS = frozenset(
    {CaseResult.NOT_PERMITTED, CaseResult.RETURNED, CaseResult.NOT_ACCEPTED, CaseResult.CORRECTION_TIMEOUT}
)


class Applicant(BaseModel):
    """申请人. Checked by the :class:`Case` that holds it (ID number per ``id_type``, name in GB18030)."""

    model_config = _MODEL_CONFIG

    type: ApplicantType
    name: Name
    id_type: IdType
    id_number: NonEmptyStr
    phone: str | None = None
    address: str | None = None


class CaseEvent(BaseModel):
    """One process step (环节, ``kind="step"``) or special procedure (特别程序, ``kind="special"``)."""

    model_config = _MODEL_CONFIG

    seq: int
    kind: Literal["step", "special"]
    name: NonEmptyStr
    action: StepAction | None = None
    special_type: SpecialProcedureType | None = None
    started_at: AwareDatetime
    ended_at: AwareDatetime | None = None
    handler: str | None = None
    opinion: Opinion | None = None
    reason: str | None = None
    result: str | None = None


class Material(BaseModel):
    """A material received for the case; ``certificate_reuse`` means it came from the certificate library."""

    model_config = _MODEL_CONFIG

    name: NonEmptyStr
    source: MaterialSource
    count: Annotated[int, Field(ge=0)] = 1
    attachment: str | None = None
    certificate_no: str | None = None


class Case(BaseModel):
    """办件, the national case-aggregation record in canonical form (see DOMAIN.md).

    Rules beyond the field types, each with a stable name:
    ``case.certificate_required``, ``case.reason_required``, ``case.result_requires_finish``,
    ``case.date_order``, ``case.instant_promise``, ``text.gb18030``, and the identifier rules of
    :mod:`gateway.models.identifiers` on ``applicant.id_number``, ``dept_code`` and ``division_code``.
    Identifiers are stored normalised (upper-case X, 15-digit IDs converted); datetimes at +08:00.
    """

    model_config = _MODEL_CONFIG

    case_no: CaseNo
    item_code: ItemCode
    catalog_code: CatalogCode | None = None
    item_name: NonEmptyStr
    item_version: str | None = None
    summary: str | None = None
    case_type: CaseType
    applicant: Applicant
    applied_at: AwareDatetime
    accepted_at: AwareDatetime | None = None
    promised_at: AwareDatetime | None = None
    promised_days: Annotated[int, Field(ge=0)] | None = None
    dept_name: NonEmptyStr
    dept_code: NonEmptyStr
    handler: str | None = None
    division_code: NonEmptyStr
    finished_at: AwareDatetime | None = None
    result: CaseResult | None = None
    result_reason: str | None = None
    certificate_name: str | None = None
    certificate_no: str | None = None
    status: CaseStatus
    deleted: bool = False
    events: list[CaseEvent] = []
    materials: list[Material] = []
    updated_at: AwareDatetime

    @model_validator(mode="wrap")
    @classmethod
    def _check_rules(cls, data: Any, handler: ModelWrapValidatorHandler[Case], info: ValidationInfo) -> Case:
        # A wrap validator rather than an "after" one: it also sees the raw input, and a raw timestamp
        # already in the canonical "YYYY-MM-DDTHH:MM:SS+08:00" form orders correctly as a string, which is
        # several times cheaper than comparing the parsed datetimes (pydantic gives each its own tzinfo).
        self = handler(data)
        raw: dict[str, Any] = data if data.__class__ is dict else _NO_RAW
        errors: list[Issue] = []
        warnings: list[Issue] = []
        d = self.__dict__
        applicant = self.applicant

        # Identifiers: stored normalised; odd-but-legitimate values warn.
        try:
            if applicant.id_type is IdType.RESIDENT_ID:
                number, id_warnings = validate_resident_id(applicant.id_number)
            else:
                number, id_warnings = validate_id_number(applicant.id_type, applicant.id_number)
            if number != applicant.id_number:
                applicant.__dict__["id_number"] = number
            for w in id_warnings:
                warnings.append(("applicant.id_number", w.rule, w.message))
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
                warnings.append(("division_code", w.rule, w.message))
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

        # What the result demands.
        result = self.result
        if result is not None:
            if self.finished_at is None:
                errors.append(
                    ("finished_at", "case.result_requires_finish", f"result {result.value} needs finished_at")
                )
            if result is CaseResult.ISSUED:
                if not self.certificate_name:
                    message = "a case finished with a certificate (出证办结) names the certificate"
                    errors.append(("certificate_name", _CERTIFICATE_REQUIRED, message))
                if not self.certificate_no:
                    message = "a case finished with a certificate (出证办结) gives the certificate number"
                    errors.append(("certificate_no", _CERTIFICATE_REQUIRED, message))
            elif result in REASON_REQUIRED_RESULTS and not self.result_reason:
                errors.append(("result_reason", "case.reason_required", f"{result.value} needs a reason"))
        if self.case_type is CaseType.INSTANT and self.promised_days not in (None, 0):
            message = f"an instant case promises 0 days, not {self.promised_days}"
            errors.append(("promised_days", "case.instant_promise", message))

        # Time order (applied <= accepted <= each event start <= finished; start <= end), +08:00 everywhere.
        applied = _time_key(raw.get("applied_at"), d, "applied_at")
        floor = applied
        accepted = _time_key(raw.get("accepted_at"), d, "accepted_at")
        if accepted is not None:
            if accepted < applied:  # type: ignore[operator]
                errors.append(("accepted_at", _DATE_ORDER, "accepted before it was applied for"))
            else:
                floor = accepted
        finished = _time_key(raw.get("finished_at"), d, "finished_at")
        if finished is not None and finished < floor:  # type: ignore[operator]
            errors.append(("finished_at", _DATE_ORDER, "finished before it was applied for or accepted"))
        _time_key(raw.get("promised_at"), d, "promised_at")
        _time_key(raw.get("updated_at"), d, "updated_at")
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
                if start < floor:  # type: ignore[operator]
                    errors.append((f"events.{i}.started_at", _DATE_ORDER, "step starts before acceptance"))
                elif finished is not None and start > finished:  # type: ignore[operator]
                    errors.append((f"events.{i}.started_at", _DATE_ORDER, "step starts after the finish"))
                end = _time_key(raw_event.get("ended_at"), ed, "ended_at")
                if end is not None and end < start:  # type: ignore[operator]
                    errors.append((f"events.{i}.ended_at", _DATE_ORDER, "step ends before it starts"))

        if warnings:
            emit_warnings(info, warnings)
        if errors:
            raise_issues(errors)
        return self


_NO_RAW: dict[str, Any] = {}


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
    if value.utcoffset() != _EIGHT_HOURS:
        value = values[name] = value.astimezone(BEIJING)
    return value.isoformat()  # type: ignore[no-any-return]


__all__ = ["REASON_REQUIRED_RESULTS", "Applicant", "Case", "CaseEvent", "Material"]
