"""Request and response bodies of the gateway API (what ``/openapi.json`` publishes)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from gateway.crypto.pii import normalize_id
from gateway.models.codes import IdType
from gateway.models.identifiers import (
    IdentifierError,
    validate_id_number,
    validate_resident_id,
    validate_uscc,
)

_Str = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_CONFIG = ConfigDict(extra="forbid")


class Purpose(BaseModel):
    """The stated purpose: the service item and the case (办件编号) the certificate is needed for."""

    model_config = _CONFIG
    item_code: _Code
    case_no: _Code


_RESIDENT_SHAPED = re.compile(r"[0-9]+X?")
"""Digits, perhaps ending in X: what a caller meant as a resident ID, so its refusal names the resident ID rule."""


def holder_id_number(value: str, id_type: str | None = None) -> str:
    """The holder's ID number in the one form the blind index, the purpose check and the masked echo all use
    (:func:`normalize_id`, then the form its check gives: a 15-digit resident ID as 18 digits, a USCC without
    hyphens) — or :class:`IdentifierError` naming the rule it breaks.

    Checked, not just normalised: a mistyped number is no holder — it reached the purpose check and was refused as
    "case does not name this holder", and a consent issued for it was a token nobody could use. Without
    ``id_type`` the number must be one of the two kinds cases and certificates name holders by, a resident ID
    (GB 11643; 18 characters or the 15-digit old form) or a USCC (GB 32100); another kind of ID (a passport, a
    name reservation number) is checked as its ``id_type`` demands (:func:`validate_id_number`). A number that
    is no resident ID but a valid USCC is taken as a USCC: some are all digits."""
    text = normalize_id(value)  # first: it drops the zero-width characters the identifier checks do not
    if not text:
        raise IdentifierError("holder_id.empty", "the ID number is empty (only spaces or invisible characters)")
    if id_type is not None:
        return validate_id_number(id_type, text)[0]
    resident_shaped = _RESIDENT_SHAPED.fullmatch(text) is not None
    try:
        return validate_resident_id(text)[0]
    except IdentifierError as resident:
        if resident_shaped and resident.rule == "resident_id.checksum" and _has_birth_date(text):
            # a resident ID with one digit wrong — a place code, a birth date, a check digit a person can have —
            # not a USCC that happens to pass GB 32100's check (one typo in 31 did, and was taken for a company)
            raise
        if len(text.replace("-", "")) == 18:  # a USCC may be written with a hyphen (91370100-MA3C7B8X2M)
            try:
                return validate_uscc(text)[0]
            except IdentifierError as uscc:  # the refusal names the rule of the kind it looks like
                raise (resident if resident_shaped else uscc) from None
        if resident_shaped:
            raise
    raise IdentifierError("holder_id.format", "neither a resident ID (18 characters, or the 15-digit old form) nor a "
                                              "unified social credit code (18 characters): give id_type for "
                                              "another kind of ID")


def _has_birth_date(text: str) -> bool:
    """Whether an 18-character number carries a birth date where a resident ID does (characters 7–14, a real day
    from 1900 on): what tells a mistyped resident ID from an all-digit USCC (whose characters there are the end of
    a division code and the start of an organisation code, a real date only by chance). A USCC that is all
    digits and looks like one is given with ``id_type`` 001."""
    if len(text) != 18 or not text[6:14].isdigit():
        return False
    try:
        born = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


class HolderRef(BaseModel):
    """The holder a request is about. ``id_number`` is checked (:func:`holder_id_number`) and held normalised, so a
    holder is filed, compared and echoed one way however the number was written."""

    model_config = _CONFIG
    id_type: IdType | None = Field(default=None, description="证件类型 (GB/T 36903): needed only for an ID that is "
                                   "neither a resident ID (111) nor a unified social credit code (001)")
    id_number: Annotated[str, StringConstraints(min_length=1, max_length=64)]

    @field_validator("id_number")
    @classmethod
    def _checked(cls, value: str, info: ValidationInfo) -> str:
        """After ``id_type`` (declared first for this): a refused ``id_type`` is that field's error alone."""
        if "id_type" not in info.data:
            return value
        id_type = info.data["id_type"]
        try:
            return holder_id_number(value, id_type.value if id_type is not None else None)
        except IdentifierError as exc:  # the rule is the error's type, as every 422 names one
            raise PydanticCustomError(exc.rule, exc.message) from None


class QueryRequest(BaseModel):
    model_config = _CONFIG
    holder: HolderRef
    certificate_types: Annotated[list[_Code], Field(min_length=1, max_length=20)]
    purpose: Purpose
    consent_token: Annotated[str, StringConstraints(max_length=2000)] | None = None


class HolderOut(BaseModel):
    name: str
    id_type: str
    id_number: str


class QualityFlagOut(BaseModel):
    """A finding about a served certificate, shaped as a case's quality flags. ``certificate.newer_version_refused``
    (field ``status``): the issuer sent a newer version the harvest refused (quarantined) — the message says when
    and why; what is served may be out of date, revoked even: check with the issuer."""

    rule: str
    field: str
    message: str


class CertificateOut(BaseModel):
    """GB/T 36903 metadata as released (holder ID numbers masked unless the client's scope allows more).
    ``status`` is the status today: the issuer's (``valid``, ``suspended``, ``revoked``, ``cancelled``,
    ``transferred``, ``withdrawn``, ``other``), or, for a valid one outside its validity, ``not_yet_valid``
    (before ``valid_from``) or ``expired`` (after ``valid_until``)."""

    identifier: str
    legacy_identifier: str | None = None
    name: str
    type_code: str
    number: str
    issuer_name: str
    issuer_code: str
    issued_on: str
    holders: list[HolderOut]
    valid_from: str
    valid_until: str | None = None
    division_code: str
    status: str
    content_hash: str | None = None
    signer: str | None = None
    signed_at: str | None = None
    signature_algorithm: str | None = None
    seal_name: str | None = None
    renewed_as: str | None = None
    updated_at: str
    quality: list[QualityFlagOut] = Field(default_factory=list)


class Release(BaseModel):
    """What every certificate-releasing answer carries: the request it answers and its audit entries — one per
    holder of each certificate released (a jointly held certificate's co-holders are told too)."""

    request_sha256: str
    client_id: str
    purpose: Purpose
    audit_seq: list[int]
    released_at: str


class QueryResponse(Release):
    holder_id_number: str
    certificates: list[CertificateOut]


class CertificateResponse(Release):
    certificate: CertificateOut


class VerifyRequest(BaseModel):
    model_config = _CONFIG
    identifier: Annotated[str, StringConstraints(max_length=200)] | None = None
    file_base64: Annotated[str, StringConstraints(max_length=10_000_000)] | None = None
    sha256: Annotated[str, StringConstraints(min_length=64, max_length=64, pattern=r"^[0-9a-fA-F]{64}$")] | None = None


class VerifyResponse(BaseModel):
    """``genuine``: the file (or hash, or identifier) is a verified certificate's. Whether to rely on it today is
    ``status`` (as in :class:`CertificateOut`) and ``quality`` (a newer version the issuer sent was refused)."""

    request_sha256: str | None = None
    client_id: str | None = None
    genuine: bool
    identifier: str | None = None
    type_code: str | None = None
    issuer_code: str | None = None
    status: str | None = None
    valid_from: str | None = None
    valid_until: str | None = None
    quality: list[QualityFlagOut] = Field(default_factory=list)
    detail: str


class TimelineEntry(BaseModel):
    at: str | None
    kind: str
    name: str
    system: str | None = None
    detail: str | None = None


class SystemCopy(BaseModel):
    system: str
    source_id: str
    updated_at: str
    deleted: bool


class Delivery(BaseModel):
    target_system: str
    version: int
    status: str
    delivered_at: str | None = None


class CaseResponse(BaseModel):
    case_no: str
    version: int
    status: str
    deleted: bool
    item_code: str | None
    item_name: str | None
    dept_code: str | None
    applicant_name: str | None
    applicant_id_number: str | None
    applied_at: str | None
    finished_at: str | None
    timeline: list[TimelineEntry]
    systems: list[SystemCopy]
    deliveries: list[Delivery]


class MaterialOut(BaseModel):
    name: str
    required: bool
    replaced: bool
    certificate_type: str | None = None
    quality: list[QualityFlagOut] = Field(default_factory=list, description="Flags of the certificate that "
                                          "replaces the material (a newer version from its issuer was refused)")
    needs_consent: list[str] = Field(default_factory=list, description="Certificate types that would replace the "
                                     "material which this client may read only with the holder's consent, and "
                                     "none was presented (Tongban-Consent): not looked up")


class MaterialsResponse(BaseModel):
    case_no: str
    item_code: str
    materials: list[MaterialOut]
    submissions_saved: int
    consent_problem: str | None = Field(default=None, description="Why the presented consent token (Tongban-Consent) "
                                        "lets the gateway look up none of the types that need consent (forged, "
                                        "expired, withdrawn, another holder's or case's); null when none was "
                                        "presented or it covers one. Audited as a consent denial")


class HolderViewRequest(HolderRef):
    """The signed-in holder whose view the hall reads (checked and normalised as :class:`HolderRef`)."""


class AccessLogRequest(HolderViewRequest):
    after: int = Field(default=0, ge=0, le=2**63 - 1,  # a sequence number: one past BIGINT is a 422, not a 500
                       description="The ``next_after`` of the previous page (0: from the start)")
    limit: int = Field(default=500, ge=1, le=1000, description="Entries per page")


class AccessLogEntry(BaseModel):
    seq: int
    at: str
    action: str
    outcome: str
    client_id: str | None
    client_name: str | None
    certificate: str | None
    item_code: str | None
    case_no: str | None


class AccessLogResponse(BaseModel):
    holder_id_number: str
    entries: list[AccessLogEntry]
    next_after: int | None = Field(default=None, description="Pass as ``after`` for the next page; null on the last")


class ConsentRequest(BaseModel):
    model_config = _CONFIG
    holder: HolderRef
    client_id: _Code
    certificate_types: Annotated[list[_Code], Field(min_length=1, max_length=20)]
    purpose: Purpose
    # strict: read leniently, a JSON true was 1 second and "60" was 60 — a hall sending either has a bug to hear of
    ttl_seconds: Annotated[int, Field(strict=True, ge=1, le=86_400)] | None = None


class ConsentResponse(BaseModel):
    consent_id: str
    token: str
    expires_at: str


class WithdrawRequest(BaseModel):
    """The holder whose consent it is (the hall withdraws only a consent of the signed-in citizen)."""

    model_config = _CONFIG
    holder: HolderRef


class WithdrawResponse(BaseModel):
    consent_id: str
    withdrawn_at: str
    already_withdrawn: bool


class HolderConsent(BaseModel):
    consent_id: str
    client_id: str
    client_name: str | None
    certificate_types: list[str]
    item_code: str
    case_no: str
    issued_at: str
    expires_at: str
    withdrawn_at: str | None
    status: Literal["active", "expired", "withdrawn"]


class HolderConsentsResponse(BaseModel):
    holder_id_number: str
    consents: list[HolderConsent]


class SubscriptionRequest(BaseModel):
    model_config = _CONFIG
    url: Annotated[str, StringConstraints(min_length=8, max_length=2000, pattern=r"^https?://")]
    certificate_types: Annotated[list[_Code], Field(min_length=1, max_length=50)]


class SubscriptionOut(BaseModel):
    subscription_id: str
    url: str
    certificate_types: list[str]
    active: bool
    created_at: str


class SubscriptionList(BaseModel):
    subscriptions: list[SubscriptionOut]


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class Jwks(BaseModel):
    keys: list[dict[str, str]]


class WorkOrder(BaseModel):
    """A 12345 work order routed to the client's department (times ISO 8601, UTC)."""

    order_no: str
    matter_type: str
    category: str
    division: str
    status: str = Field(description="dispatched | replied | redo | closed (the department's part of the order)")
    case_no: str | None
    dept_code: str | None
    dept_name: str | None
    received_at: str
    dispatched_at: str | None
    sign_due_at: str | None
    signed_at: str | None
    reply_due_at: str | None
    replied_at: str | None
    redo_round: int
    redo_due_at: str | None
    rating: str | None
    content: str | None = Field(default=None, description="What the caller reported (one order's page only)")


class WorkOrderList(BaseModel):
    orders: list[WorkOrder]
    next_after: str | None = Field(description="Pass as ``after`` for the next page; null on the last page")


class WorkOrderReply(BaseModel):
    model_config = _CONFIG
    text: str = Field(min_length=1, max_length=4000, description="The department's reply (答复), sent to 12345")


class WorkOrderSigned(BaseModel):
    order_no: str
    signed_at: str
    on_time: bool


class WorkOrderReplied(BaseModel):
    order_no: str
    round: int = Field(description="0 for the first reply, 1 for the redo's")
    replied_at: str
    on_time: bool
    sent: bool = Field(description="False when the redo was opened outside the platform (it would refuse it)")
    signed_now: bool = Field(default=False, description="True when the order had not been signed for: the reply "
                                                        "signed for it first (签收 sent before the 答复)")


class BundleApplicationIn(BaseModel):
    """One 一件事 application from the hall's intake: the merged form once and each material once. The bundle's
    rules (``config/bundles.yaml``) check the form and the materials; every broken rule comes back named."""

    model_config = _CONFIG
    bundle: str | None = Field(default=None, max_length=32, description="The bundle's code (default: the only one)")
    reference: str = Field(min_length=1, max_length=64, description="The hall's own application number: applying "
                                                                     "again under it returns the same bundle")
    channel: str | None = Field(default=None, max_length=16,
                                description="How it reached the office: window | online | mobile | kiosk | post "
                                            "(also their labels 窗口 网上 移动端 自助终端 快递, the national codes "
                                            "1 2 3, and app = mobile); anything else is refused (bundle.channel)")
    form: dict[str, Any] = Field(description="The merged form, each field once")
    materials: list[dict[str, Any]] = Field(description="Each material once: code, content_base64 (or text), "
                                                        "name, media_type")


class BundlePart(BaseModel):
    part: str
    system: str
    case_no: str
    state: str = Field(description="waiting | released | in_progress | held | finished | refused")
    reason: str | None = None
    released_at: str | None = None
    finished_at: str | None = None
    certificate_no: str | None = None


class BundleMaterial(BaseModel):
    code: str
    name: str
    sha256: str
    size: int
    media_type: str


class BundleStatus(BaseModel):
    bundle_no: str
    bundle_code: str
    reference: str | None
    created: bool | None = Field(default=None, description="On apply: False when the reference was applied before")
    status: str = Field(description="submitted | in_progress | held | finished | failed")
    reason: str | None
    failed_part: str | None
    submitted_at: str
    due_at: str | None
    finished_at: str | None
    parts: list[BundlePart]
    materials: list[BundleMaterial]
