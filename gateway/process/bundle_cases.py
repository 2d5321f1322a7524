"""A bundle part as a canonical case, and the consent that lets the part's system fetch the licence.

Each part becomes an ordinary case of the ledger (its own 办件编号, the competent department, the item) written by
Tongban and queued for the part's system through the outbox: the push sends it with *that system's* mapping, like
any front-desk case, so the bundle needs no per-system code. What the case carries:

- the applicant: for the licence, the company-to-be under its name-reservation number (名称自主申报, ID type 099);
  for the parts after it, the company the licence made, under its 统一社会信用代码;
- the part's fields of the merged form that the canonical case has room for (applicant, address, phone, division)
  and a one-line ``summary`` of the rest (印章种类, 会计制度 …); the canonical model has no item-specific form
  section, so this is deliberately the only place they travel;
- its materials by reference: ``tongban:<bundle_no>/<code>#sha256=<digest>`` to the one stored copy, and, for the
  licence it needs, a ``certificate_reuse`` material naming the licence's number whose ``attachment`` is the
  consent token issued for this part's department and case (a bearer token bound to that client, that holder,
  that certificate type and that case: useless to anyone else, the hall included).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from gateway.contract.errors import RecordRejected
from gateway.models.case import Case
from gateway.models.datetimes import BEIJING
from gateway.models.hashing import case_document
from gateway.models.validation import issues_from_error
from gateway.process.bundle_spec import BundleSpec, PartSpec
from gateway.sharing.access.audit import AuditEntry, append_entries
from gateway.sharing.access.clients import row_to_client
from gateway.sharing.access.tokens import ConsentClaims, ConsentTokens
from gateway.store import access as access_store

__all__ = ["ACTOR", "grant_consent", "material_ref", "part_case"]

ACTOR = "tongban.bundle"
"""The origin of the cases the bundles write, the issuer of their consents, the actor of their audit trail."""


def material_ref(bundle_no: str, code: str, sha256: str) -> str:
    return f"tongban:{bundle_no}/{code}#sha256={sha256}"


def part_case(spec: BundleSpec, part: PartSpec, *, bundle_no: str, case_no: str, form: dict[str, Any],
              materials: list[dict[str, Any]], applicant_id: str, licence_no: str | None, consent_token: str | None,
              applied_at: datetime, channel: str | None, now: datetime, pii: Any,
              material_parts: Mapping[str, Sequence[str]] | None = None) -> tuple[str, str]:
    """The part's case as the ledger stores it: ``(document JSON, content hash)``, the applicant's ID number sealed
    when keys exist. Raises ``RecordRejected`` naming the part's case, the field and the rule if the form cannot
    make a valid case (a check the merged form should have caught). ``material_parts``: which parts each material
    was for when the bundle was applied (what the bundle keeps, whatever the definition says later). The phone,
    address and division go only where the form's definition gives them (their ``parts``)."""
    mine = {m["code"]: m for m in materials}
    if material_parts is not None:  # the definition as the bundle was applied with
        chosen = [(m["code"], m["name"]) for m in materials if part.code in material_parts.get(m["code"], ())]
    else:  # a bundle applied before Tongban kept it: the definition as it stands
        chosen = [(m.code, m.name) for m in spec.materials_of(part.code) if m.code in mine]
    listed = [{"name": name, "source": "electronic", "count": 1,
               "attachment": material_ref(bundle_no, code, mine[code]["sha256"])} for code, name in chosen]
    listed += [{"name": name, "source": "certificate_reuse", "count": 1, "certificate_no": licence_no,
                "attachment": consent_token} for _, name in part.reuses]
    data = {
        "case_no": case_no, "item_code": part.item_code, "catalog_code": part.catalog_code,
        "item_name": part.item_name, "summary": spec.render_summary(part, form) or None, "case_type": "promised",
        "applicant": {"type": part.applicant.type, "name": str(form.get(part.applicant.name_field, "")),
                      "id_type": part.applicant.id_type, "id_number": applicant_id,
                      "phone": spec.field_for(part.code, "phone", form),
                      "address": spec.field_for(part.code, "address", form)},
        "applied_at": _iso(applied_at), "dept_name": part.dept_name, "dept_code": part.dept_code,
        "division_code": str(spec.field_for(part.code, "division", form) or spec.division), "status": "submitted",
        "materials": listed, "channel": channel, "updated_at": _iso(now),
    }
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:  # each broken rule by its field (a model validator's several issues unfolded)
        raise RecordRejected(case_no, issues_from_error(case_no, exc)) from None
    document, digest = case_document(case)
    if pii is not None:
        number = case.applicant.id_number
        document = document.replace(f'"id_number":"{number}"', f'"id_number":"{pii.seal(number)}"', 1)
    return document, digest


def grant_consent(conn: Any, *, tokens: ConsentTokens, pii: Any, holder_id: str, client_name: str,
                  type_code: str, item_code: str, case_no: str, ttl: timedelta, now: datetime,
                  audit_algorithm: str = "sha256") -> tuple[str, str] | None:
    """Record the applicant's consent, given on the merged form, for one part: the department's client may fetch
    the holder's certificate of ``type_code`` for this item and case until ``now + ttl``. The same row and token
    the hall gets from ``POST /v1/consents``, and the same audit entry, in the caller's transaction; the holder
    sees it among their consents and may withdraw it. ``(consent_id, token)``, or None when the department has
    no active client at the gateway (its system will hold the part: "no consent")."""
    row = access_store.latest_client_named(conn, client_name)
    if row is None or not row_to_client(row).active(now):  # revoked, or past its expiry: as POST /v1/consents
        return None
    bidx = pii.bidx(holder_id)
    consent_id = secrets.token_hex(8)
    expires = now + ttl
    access_store.insert_consent(conn, {
        "consent_id": consent_id, "holder_bidx": bidx, "client_id": row.client_id,
        "certificate_types": orjson.dumps([type_code]).decode(), "item_code": item_code, "case_no": case_no,
        "issued_by": ACTOR, "issued_at": now, "expires_at": expires})
    token = tokens.issue(ConsentClaims(consent_id, bidx, row.client_id, (type_code,), item_code, case_no,
                                       int(expires.timestamp())))
    append_entries(conn, [AuditEntry(action="consent", outcome="granted", client_id=ACTOR, holder_ref=bidx,
                                     item_code=item_code, case_no=case_no,
                                     detail=f"for client {row.client_id} ({client_name}): {type_code} until "
                                            f"{expires.isoformat()} (一件事 form)")], audit_algorithm)
    return consent_id, token


def _iso(moment: datetime) -> str:
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()
