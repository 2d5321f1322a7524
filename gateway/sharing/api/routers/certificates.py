"""Certificates: query by holder and type for a stated purpose, fetch one (metadata and file), verify."""

from __future__ import annotations

import base64
import binascii
import hashlib
from operator import itemgetter
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response

from gateway.crypto.pii import mask
from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.certificates import library
from gateway.store import sharing_queries

from ..deps import Api, Caller, authenticate, get_api, now_iso, require
from ..problems import PROBLEM_RESPONSES, ProblemError
from ..release import (
    CaseFacts,
    case_facts_from,
    check_policy,
    consent_problem,
    deny,
    load_case,
    purpose_problem,
)
from ..schemas import CertificateResponse, Purpose, QueryRequest, QueryResponse, VerifyRequest, VerifyResponse

router = APIRouter(prefix="/v1/certificates", tags=["certificates"], responses=PROBLEM_RESPONSES)
Query_ = Depends(require("certificates:query"))
_SIGNED = {"headers": {
    "Tongban-Signature": {"description": "JWS (EdDSA; SM2 as an option) over the root of a Merkle tree of answers "
                                         "(gateway.crypto.batchsign)", "schema": {"type": "string"}},
    "Tongban-Signature-Proof": {"description": "RFC 9162 inclusion proof of this body: `<index>:<b64url hash>.…`",
                                "schema": {"type": "string"}}}}


def _query_facts(api: Api, case_no: str, bidx: str, types: list[str]) -> tuple[CaseFacts | None, list[Any]]:
    """The case and the holder's certificates of these types, in one indexed statement (the hot path): a row
    per certificate, each carrying the case; one row with no certificate when the holder has none; no row
    when the case is not in the ledger (nothing is released then, so the certificates do not matter)."""
    rows = sharing_queries.find_case_and_certificates(api.reader, case_no, bidx, types)
    if not rows:
        return None, []
    # by identifier, sorted here: a few rows cost less than SQL's sorter
    found = sorted((r[5:] for r in rows if r[5] is not None), key=itemgetter(0))
    return case_facts_from(rows[0]), [library.stored_from_row(r) for r in found]


@router.post("/query", response_model=QueryResponse, responses={200: _SIGNED},
             summary="Certificates of a holder, of the given types, for a stated purpose",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/QueryRequest"}}}},
                 "security": [{"HTTPBearer": []}]})
async def query_certificates(request: Request) -> Response:
    """The hot path, so without FastAPI's dependency machinery: the body is validated in one pydantic call
    (Rust), authentication is a function call; the OpenAPI description is given explicitly above."""
    api: Api = request.app.state.api
    caller = await authenticate(request, api, "certificates:query", request.headers.get("authorization"))
    try:
        body = QueryRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None
    consent = request.headers.get("tongban-consent")
    gw = api.gw
    bidx = gw.pii.bidx(body.holder.id_number)
    types = list(dict.fromkeys(body.certificate_types))
    purpose = body.purpose
    case, found = await api.read(_query_facts, api, purpose.case_no, bidx, types)
    problem = purpose_problem(api, caller, case, purpose, body.holder.id_number)
    if problem:
        raise await deny(api, caller, "purpose", problem, action="query", holder_ref=bidx, purpose=purpose)
    denied, needs_consent = check_policy(api, caller, types, purpose.item_code)
    if denied:
        raise await deny(api, caller, "policy", f"the sharing policy does not allow {', '.join(denied)} for item "
                         f"{purpose.item_code}", action="query", holder_ref=bidx, purpose=purpose)
    if needs_consent:
        problem = consent_problem(api, caller, body.consent_token or consent, holder_bidx=bidx, types=types,
                                  purpose=purpose)
        if problem:
            raise await deny(api, caller, "consent", problem, action="query", holder_ref=bidx, purpose=purpose)
    entries = [AuditEntry(action="release", outcome="released", client_id=caller.client.client_id, holder_ref=bidx,
                          certificate=c.identifier, item_code=purpose.item_code, case_no=purpose.case_no,
                          detail=f"query {','.join(types)}") for c in found]
    if not entries:
        entries = [AuditEntry(action="query", outcome="none-found", client_id=caller.client.client_id,
                              holder_ref=bidx, item_code=purpose.item_code, case_no=purpose.case_no,
                              detail=f"query {','.join(types)}")]
    seqs = await api.audit(entries)
    api.metrics.releases.inc(len(found))
    number = body.holder.id_number
    return await api.signed_json({
        "request_sha256": caller.request_sha256, "client_id": caller.client.client_id,
        "purpose": {"item_code": purpose.item_code, "case_no": purpose.case_no}, "audit_seq": seqs,
        "released_at": now_iso(), "holder_id_number": number if caller.full_ids else mask(number),
        "certificates": [c.metadata_json(gw.pii, full_ids=caller.full_ids) for c in found],
    })


def _fetch_facts(api: Api, identifier: str, case_no: str) -> tuple[Any, set[str], CaseFacts | None]:
    with api.gw.read_engine.connect() as conn:
        cert = library.get_certificate(conn, identifier)
        holders = library.holders_of(conn, cert.identifier) if cert is not None else set()
        return cert, holders, load_case(conn, case_no)


async def _authorize_fetch(api: Api, caller: Caller, identifier: str, purpose: Purpose, consent: str | None,
                           action: str) -> tuple[Any, str]:
    cert, holders, case = await api.run(_fetch_facts, api, identifier, purpose.case_no)
    if cert is None:
        raise ProblemError(404, "not-found", "no such certificate")
    applicant_bidx = None
    if case is not None and case.applicant_id:
        applicant_bidx = api.gw.pii.bidx(api.gw.pii.open(case.applicant_id))
    problem = purpose_problem(api, caller, case, purpose, None)
    if problem is None and applicant_bidx not in holders:
        problem = f"case {purpose.case_no} does not name a holder of this certificate"
    if problem:  # the attempt was on the certificate's holders' data: their access log shows it
        raise await deny(api, caller, "purpose", problem, action=action,
                         holder_ref=applicant_bidx if applicant_bidx in holders else holders, purpose=purpose,
                         certificate=cert.identifier)
    denied, needs_consent = check_policy(api, caller, [cert.type_code], purpose.item_code)
    if denied:
        raise await deny(api, caller, "policy", f"the sharing policy does not allow {cert.type_code} for item "
                         f"{purpose.item_code}", action=action, holder_ref=applicant_bidx, purpose=purpose,
                         certificate=cert.identifier)
    assert applicant_bidx is not None
    if needs_consent:
        problem = consent_problem(api, caller, consent, holder_bidx=applicant_bidx, types=[cert.type_code],
                                  purpose=purpose)
        if problem:
            raise await deny(api, caller, "consent", problem, action=action, holder_ref=applicant_bidx,
                             purpose=purpose, certificate=cert.identifier)
    return cert, applicant_bidx


ItemQ = Annotated[str, Query(min_length=1, max_length=64, description="Purpose: the service item code")]
CaseQ = Annotated[str, Query(min_length=1, max_length=64, description="Purpose: the case number (办件编号)")]
IdentP = Annotated[str, Path(min_length=1, max_length=200, description="GB/T 36904 (or legacy) identifier")]
ConsentH = Annotated[str | None, Header(alias="Tongban-Consent", max_length=2000)]


@router.get("/{identifier}", response_model=CertificateResponse, responses={200: _SIGNED},
            summary="One certificate's metadata, for a stated purpose")
async def get_certificate(identifier: IdentP, item_code: ItemQ, case_no: CaseQ, caller: Caller = Query_,
                          api: Api = Depends(get_api), consent: ConsentH = None) -> Response:
    purpose = Purpose(item_code=item_code, case_no=case_no)
    cert, holder = await _authorize_fetch(api, caller, identifier, purpose, consent, "release")
    seqs = await api.audit([AuditEntry(action="release", outcome="released", client_id=caller.client.client_id,
                                       holder_ref=holder, certificate=cert.identifier, item_code=item_code,
                                       case_no=case_no, detail="metadata")])
    api.metrics.releases.inc()
    return await api.signed_json({
        "request_sha256": caller.request_sha256, "client_id": caller.client.client_id,
        "purpose": purpose.model_dump(), "audit_seq": seqs, "released_at": now_iso(),
        "certificate": cert.metadata_json(api.gw.pii, full_ids=caller.full_ids),
    })


def _file(api: Api, identifier: str) -> str | None:
    with api.gw.read_engine.connect() as conn:
        return library.certificate_file(conn, identifier)


@router.get("/{identifier}/file", summary="One certificate's file (OFD), for a stated purpose", responses={
    200: {"description": "The file; `Tongban-Release` is a JWS binding its SHA-256 to the request",
          "content": {"application/ofd": {"schema": {"type": "string", "format": "binary"}}},
          "headers": {"Tongban-Release": {"schema": {"type": "string"}}}}})
async def get_certificate_file(identifier: IdentP, item_code: ItemQ, case_no: CaseQ, caller: Caller = Query_,
                               api: Api = Depends(get_api), consent: ConsentH = None) -> Response:
    purpose = Purpose(item_code=item_code, case_no=case_no)
    cert, holder = await _authorize_fetch(api, caller, identifier, purpose, consent, "release")
    encoded = await api.run(_file, api, cert.identifier)
    content = base64.b64decode(encoded or "")
    seqs = await api.audit([AuditEntry(action="release", outcome="released", client_id=caller.client.client_id,
                                       holder_ref=holder, certificate=cert.identifier, item_code=item_code,
                                       case_no=case_no, detail="file")])
    api.metrics.releases.inc()
    manifest = orjson.dumps({"request_sha256": caller.request_sha256, "client_id": caller.client.client_id,
                             "identifier": cert.identifier, "content_sha256": hashlib.sha256(content).hexdigest(),
                             "purpose": purpose.model_dump(), "audit_seq": seqs, "released_at": now_iso()})
    return Response(content, media_type="application/ofd", headers={
        "Tongban-Release": api.gw.signer.sign(manifest),
        "Content-Disposition": f'attachment; filename="{cert.number}.ofd"'.encode("ascii", "replace").decode()})


def _verify_facts(api: Api, identifier: str | None, digest: str | None) -> tuple[Any, Any]:
    with api.gw.read_engine.connect() as conn:
        by_id = library.get_certificate(conn, identifier) if identifier else None
        by_hash = library.by_content_hash(conn, digest) if digest else None
        return by_id, by_hash


@router.post("/verify", response_model=VerifyResponse, summary="Is this file (or hash) a genuine certificate?")
async def verify_certificate(body: VerifyRequest, caller: Caller = Query_, api: Api = Depends(get_api)) -> Response:
    digest = body.sha256.lower() if body.sha256 else None
    if body.file_base64 is not None:
        try:
            digest = hashlib.sha256(base64.b64decode(body.file_base64, validate=True)).hexdigest()
        except (binascii.Error, ValueError):
            raise ProblemError(400, "bad-request", "file_base64 is not valid base64") from None
    if digest is None and not body.identifier:
        raise ProblemError(400, "bad-request", "give a file, its sha256, or an identifier")
    by_id, by_hash = await api.run(_verify_facts, api, body.identifier, digest)
    cert = by_hash or by_id
    if digest is not None:
        genuine = by_hash is not None and (by_id is None or by_id.identifier == by_hash.identifier)
        detail = "the file matches a verified certificate" if genuine else \
            "no verified certificate has this content" if by_hash is None else "the file belongs to another certificate"
    else:
        genuine = by_id is not None
        detail = "a verified certificate has this identifier" if genuine else "unknown identifier"
    await api.audit([AuditEntry(action="verify", outcome="genuine" if genuine else "not-genuine",
                                client_id=caller.client.client_id, certificate=cert.identifier if cert else None)])
    out: dict[str, Any] = {"genuine": genuine, "detail": detail}
    if genuine and cert is not None:
        quality = cert.quality()
        if quality:
            out["detail"] = f"{detail}, but a newer version from its issuer was refused: see quality"
        out.update(identifier=cert.identifier, type_code=cert.type_code, issuer_code=cert.issuer_code,
                   status=cert.effective_status(), valid_from=cert.valid_from, valid_until=cert.valid_until,
                   quality=list(quality))
    return await api.signed_json(out)
