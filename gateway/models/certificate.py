"""The electronic certificate (电子证照) metadata, after GB/T 36903 (metadata) and GB/T 36904 (identifier).

Certificates are harvested from issuing systems and served to other departments, so what is checked here is
what a consumer relies on: a well-formed identifier, a real issuer code, holders whose ID numbers pass the
same rules as applicants, and a validity period that runs forwards. The file itself (OFD, signed with SM2)
is not part of this model; ``content_hash`` and the signature fields point at it.

What a certificate's status is *today* is :func:`status_on`: the issuer's status, unless the day lies outside
the validity period — before ``valid_from`` a ``valid`` certificate is :data:`NOT_YET_VALID`, after
``valid_until`` it is ``expired``. Derived from the clock on every read, never stored (a stored "not yet valid"
would be wrong the morning the validity starts)::

    >>> status_on("valid", "2027-01-01", None, date(2026, 12, 4))
    'not_yet_valid'
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, ValidationInfo, model_validator

from .certificate_id import parse_certificate_identifier
from .codes import CertificateStatus, IdType
from .identifiers import IdentifierError, validate_division_code, validate_id_number, validate_uscc
from .issues import Issue, emit_warnings, raise_issues
from .text import gb18030_problem

_NonEmpty = Annotated[str, StringConstraints(min_length=1)]
_Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_CONFIG = ConfigDict(extra="forbid", frozen=False, use_attribute_docstrings=True)


NOT_YET_VALID = "not_yet_valid"
"""未生效: a ``valid`` certificate before its ``valid_from``. Not a :class:`~.codes.CertificateStatus` code: no
issuer states it and no column holds it; the gateway derives it (:func:`status_on`)."""


def status_on(status: str, valid_from: str | date | None, valid_until: str | date | None, day: date) -> str:
    """The status a certificate has on ``day`` (Beijing date): ``status`` as the issuer last stated it, except that
    a ``valid`` certificate is :data:`NOT_YET_VALID` before ``valid_from`` and ``expired`` after ``valid_until``.
    Dates as ISO strings (the library's columns) or :class:`date`; ``None`` means open-ended."""
    if status != CertificateStatus.VALID.value:
        return status
    today = day.isoformat()
    if valid_from and str(valid_from) > today:
        return NOT_YET_VALID
    if valid_until and str(valid_until) < today:
        return CertificateStatus.EXPIRED.value
    return status


class CertificateHolder(BaseModel):
    """持证主体: a person or organisation the certificate is about (checked by :class:`Certificate`)."""

    model_config = _CONFIG

    name: _Name
    """The holder's name; must be encodable in GB18030."""
    id_type: IdType
    """证件类型 of the holder's ID (code list IdType)."""
    id_number: _NonEmpty
    """The holder's ID number, checked as ``id_type`` demands and stored normalised."""


class Certificate(BaseModel):
    """证照 metadata. Rules: ``certificate_id.*``, ``uscc.*`` on ``issuer_code``, the ID rules on
    ``holders.N.id_number``, ``division.*``, ``text.gb18030``, ``certificate.validity_order``,
    ``certificate.holder_required``."""

    model_config = _CONFIG

    identifier: _NonEmpty
    """证照标识 (GB/T 36904): ``1.2.156.3005.2.<type code>.<issuer code>.<serial>.<version>.<check>``, checked
    (ISO 7064 MOD 37,36) and stored normalised."""
    name: _Name
    """证照名称."""
    type_code: _NonEmpty
    """证照类型代码: the defining body's USCC + a 3-digit sequence; must equal the identifier's."""
    number: _NonEmpty
    """证照编号 as printed on the certificate."""
    issuer_name: _Name
    """颁发机构."""
    issuer_code: _NonEmpty
    """The issuer's unified social credit code (GB 32100), checked."""
    issued_on: date
    """颁发日期 (day precision)."""
    holders: list[CertificateHolder]
    """持证主体: at least one."""
    valid_from: date
    """有效期起."""
    valid_until: date | None = None
    """有效期止; empty for a certificate without an end; not before ``valid_from``."""
    division_code: _NonEmpty
    """属地编码 (GB/T 2260)."""
    status: CertificateStatus = CertificateStatus.VALID
    """证照状态 (code list CertificateStatus)."""
    content_hash: str | None = None
    """Hash of the certificate file (OFD), which is stored apart from this metadata."""
    signer: str | None = None
    """Who signed the file."""
    signed_at: AwareDatetime | None = None
    """When the file was signed."""
    signature: str | None = None
    """The issuer's signature over the file, verified against the issuer's registered key on harvest."""
    signature_algorithm: str | None = None
    """The signature algorithm (e.g. SM2 with SM3, Ed25519)."""
    seal_name: str | None = None
    """The electronic seal's name."""

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> Certificate:
        errors: list[Issue] = []
        warnings: list[Issue] = []
        d = self.__dict__
        try:
            parsed = parse_certificate_identifier(self.identifier)
            d["identifier"] = str(parsed)
            if parsed.type_code != self.type_code:
                message = f"type code {self.type_code} differs from the identifier's {parsed.type_code}"
                errors.append(("type_code", "certificate_id.type_mismatch", message))
        except IdentifierError as exc:
            errors.append(("identifier", exc.rule, exc.message))
        try:
            d["issuer_code"] = validate_uscc(self.issuer_code)[0]
        except IdentifierError as exc:
            errors.append(("issuer_code", exc.rule, exc.message))
        try:
            code, found = validate_division_code(self.division_code)
            d["division_code"] = code
            warnings.extend(("division_code", w.rule, w.message) for w in found)
        except IdentifierError as exc:
            errors.append(("division_code", exc.rule, exc.message))
        if not self.holders:
            errors.append(("holders", "certificate.holder_required", "a certificate has at least one holder"))
        for i, holder in enumerate(self.holders):
            try:
                number, found = validate_id_number(holder.id_type, holder.id_number)
                holder.__dict__["id_number"] = number
                warnings.extend((f"holders.{i}.id_number", w.rule, w.message) for w in found)
            except IdentifierError as exc:
                errors.append((f"holders.{i}.id_number", exc.rule, exc.message))
            problem = gb18030_problem(holder.name)
            if problem:
                errors.append((f"holders.{i}.name", "text.gb18030", problem))
        for path in ("name", "issuer_name"):
            problem = gb18030_problem(d[path])
            if problem:
                errors.append((path, "text.gb18030", problem))
        if self.valid_until is not None and self.valid_until < self.valid_from:
            errors.append(("valid_until", "certificate.validity_order", "valid_until is before valid_from"))
        if warnings:
            emit_warnings(info, warnings)
        if errors:
            raise_issues(errors)
        return self


__all__ = ["NOT_YET_VALID", "Certificate", "CertificateHolder", "status_on"]
