"""Certificates: query by holder and type for a stated purpose, fetch one (metadata and file), verify.

Whose data a certificate is: every holder's. A jointly held certificate (co-owners, say) is released on the
applicant's consent — the applicant presents it, as at a 一网通办 window — and every holder's access log shows the
release, as it shows every refusal. The file is served with its status today said (and a certificate that is not
valid today only on request), and verification by identifier alone answers only a client the sharing policy lets
read that type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Collection
from operator import itemgetter
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.responses import Response

from gateway.contract.errors import ConfigError
from gateway.crypto.pii import DamagedSeal, mask
from gateway.models.identifiers import IdentifierError
from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.access.clients import Client
from gateway.sharing.certificates import library
from gateway.sharing.certificates.library import StoredCertificate
from gateway.store import sharing_queries

from ..deps import Api, Caller, audit_refusal, authenticate, get_api, now_iso, require
from ..problems import PROBLEM_RESPONSES, ProblemError, problem_doc
from ..release import (
    CaseFacts,
    case_facts_from,
    check_policy,
    consent_problem,
    deny,
    load_case,
    purpose_problem,
)
from ..schemas import (
    CertificateResponse,
    Purpose,
    QueryRequest,
    QueryResponse,
    VerifyRequest,
    VerifyResponse,
    holder_id_number,
)

router = APIRouter(prefix="/v1/certificates", tags=["certificates"], responses=PROBLEM_RESPONSES)


async def _fetch_refused(request: Request, api: Api, client: Client, kind: str, detail: str) -> None:
    """A fetch by identifier refused an unscoped client: audited for the certificate's holders
    when the identifier and the case name one (the answer is the same either way). The purpose is audited only
    when it is one the route itself would take (:class:`Purpose`): this runs before the route checks its
    parameters, and an item code of any length was written into every holder's "who used my data" view (on
    PostgreSQL, a 500 and no entry)."""
    identifier = request.path_params.get("identifier")
    if not identifier or len(identifier) > 200:
        return
    try:
        purpose = Purpose(item_code=request.query_params.get("item_code"), case_no=request.query_params.get("case_no"))
    except ValidationError:
        return
    case_no = purpose.case_no
    try:
        cert, holders, _, _ = await api.run(_fetch_facts, api, identifier, case_no)
    except ProblemError:
        return
    if cert is not None:
        await audit_refusal(api, client, kind, detail, action="release", holder_ref=holders, case_no=case_no,
                            item_code=purpose.item_code, certificate=cert.identifier)


async def _query_refused(request: Request, api: Api, client: Client, kind: str, detail: str) -> None:
    """A query refused an unscoped client: audited for the holder its body names, if it names one with a valid
    ID number — read from the JSON as it is, not through the schema: a body with one field too many (or any
    other schema error) named its holder all the same, and the attempt on their data was in nobody's log."""
    try:
        body = orjson.loads(await request.body())
        holder = body.get("holder") if isinstance(body, dict) else None
        number = holder.get("id_number") if isinstance(holder, dict) else None
        bidx = api.gw.pii.bidx(holder_id_number(number)) if isinstance(number, str) else None
    except (orjson.JSONDecodeError, IdentifierError):
        return
    if bidx is None:
        return
    purpose = body.get("purpose") if isinstance(body.get("purpose"), dict) else {}

    def text(value: Any) -> str | None:
        return value[:64] if isinstance(value, str) and value else None

    await audit_refusal(api, client, kind, detail, action="query", holder_ref=bidx,
                        case_no=text(purpose.get("case_no")), item_code=text(purpose.get("item_code")))


Query_ = Depends(require("certificates:query"))
Fetch_ = Depends(require("certificates:query", _fetch_refused))
_SIGNED = {"headers": {
    "Tongban-Signature": {"description": "JWS (EdDSA; SM2 as an option) over the root of a Merkle tree of answers "
                                         "(gateway.crypto.batchsign)", "schema": {"type": "string"}},
    "Tongban-Signature-Proof": {"description": "this answer's own leaf salt and its RFC 9162 inclusion proof: "
                                               "`<index>:<b64url salt>:<b64url hash>.…`, "
                                               "leaf = SHA-256(0x00 ‖ salt ‖ body), the salt exactly 16 bytes "
                                               "(payload `leaf: salted`; "
                                               "answers signed before 2026-12-05 have no `leaf`, a proof "
                                               "`<index>:<hashes>` and leaf SHA-256(0x00 ‖ body): "
                                               "gateway.crypto.batchsign.verify_answer checks both)",
                                "schema": {"type": "string"}}}}
STATUS_HEADER = "Tongban-Certificate-Status"
"""The certificate's status today on its file (and on a refusal to serve it): a file says nothing of its standing."""


def _release_entries(caller: Caller, identifier: str, applicant: str, holders: Collection[str], purpose: Purpose,
                     detail: str) -> list[AuditEntry]:
    """One ``release`` entry per holder of the certificate: the applicant's (whose consent, or the policy, let it
    out), then each co-holder's of a jointly held certificate — the data is theirs too, so their access log shows
    the release as it shows a refusal."""
    refs = [applicant, *sorted(h for h in holders if h != applicant)]
    return [AuditEntry(action="release", outcome="released", client_id=caller.client.client_id, holder_ref=ref,
                       certificate=identifier, item_code=purpose.item_code, case_no=purpose.case_no,
                       detail=detail if ref == applicant else f"{detail}; co-holder: released for the case's applicant")
            for ref in refs]


def _query_facts(api: Api, case_no: str, bidx: str,
                 types: list[str]) -> tuple[CaseFacts | None, list[tuple[StoredCertificate, list[str]]]]:
    """The case and the holder's certificates of these types, each with all its holders, in one indexed statement
    (the hot path): a row per certificate, each carrying the case; one row with no certificate when the holder has
    none; no row when the case is not in the ledger (nothing is released then, so the certificates do not
    matter)."""
    rows = sharing_queries.find_case_and_certificates(api.reader, case_no, bidx, types)
    if not rows:
        return None, []
    # by identifier, sorted here: a few rows cost less than SQL's sorter
    first = sharing_queries.CASE_COLUMNS  # the certificate's identifier
    found = sorted((r for r in rows if r[first] is not None), key=itemgetter(first))
    return case_facts_from(rows[0]), [(library.stored_from_row(r[first:-1]), sharing_queries.holders_in(r[-1]))
                                      for r in found]


@router.post("/query", response_model=QueryResponse, responses={200: _SIGNED},
             summary="Certificates of a holder, of the given types, for a stated purpose",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"$ref": "#/components/schemas/QueryRequest"}}}},
                 "security": [{"HTTPBearer": []}]})
async def query_certificates(request: Request) -> Response:
    """The hot path, so without FastAPI's dependency machinery: the body is validated in one pydantic call
    (Rust), authentication is a function call; the OpenAPI description is given explicitly above."""
    api: Api = request.app.state.api
    caller = await authenticate(request, api, "certificates:query", request.headers.get("authorization"),
                                _query_refused)
    try:
        body = QueryRequest.model_validate_json(await request.body())
    except ValidationError as exc:  # located as FastAPI locates a body's errors (["body", "holder", "id_number"])
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in exc.errors(include_url=False)]) from None
    consent = request.headers.get("tongban-consent")  # given once (the RequestGuard refuses two)
    if consent and body.consent_token and consent != body.consent_token:
        # two different consents: which one the caller meant is ambiguous, as with a repeated header (the body's
        # was taken without a word, the header's ignored even when the body's was refused)
        raise ProblemError(400, "repeated-header", "the consent is given twice, differently: as the Tongban-Consent "
                           "header and as the body's consent_token; send one", header="Tongban-Consent")
    gw = api.gw
    bidx = gw.pii.bidx(body.holder.id_number)
    types = list(dict.fromkeys(body.certificate_types))
    purpose = body.purpose
    case, found = await api.read(_query_facts, api, purpose.case_no, bidx, types)
    # a refusal is on the data of everyone the query would have released: the holder asked for and each co-holder
    # of a jointly held certificate found (one entry each), as a refused fetch of that certificate would be
    refused_for = {bidx, *(h for _, holders in found for h in holders)}
    problem = purpose_problem(api, caller, case, purpose, body.holder.id_number)
    if problem:
        raise await deny(api, caller, "purpose", problem, action="query", holder_ref=refused_for, purpose=purpose)
    denied, needs_consent = check_policy(api, caller, types, purpose.item_code)
    if denied:
        raise await deny(api, caller, "policy", f"the sharing policy does not allow {', '.join(denied)} for item "
                         f"{purpose.item_code}", action="query", holder_ref=refused_for, purpose=purpose)
    if needs_consent:
        problem = consent_problem(api, caller, body.consent_token or consent, holder_bidx=bidx, types=types,
                                  purpose=purpose)
        if problem:
            raise await deny(api, caller, "consent", problem, action="query", holder_ref=refused_for,
                             purpose=purpose)
    entries = [e for c, holders in found for e in _release_entries(caller, c.identifier, bidx, holders, purpose,
                                                                   f"query {','.join(types)}")]
    if not entries:
        entries = [AuditEntry(action="query", outcome="none-found", client_id=caller.client.client_id,
                              holder_ref=bidx, item_code=purpose.item_code, case_no=purpose.case_no,
                              detail=f"query {','.join(types)}")]
    seqs = await api.audit(entries)
    api.metrics.releases.inc(len(found))
    number = body.holder.id_number  # normalised (HolderRef): one person is echoed one way, however written
    return await api.signed_json({
        "request_sha256": caller.request_sha256, "client_id": caller.client.client_id,
        "purpose": {"item_code": purpose.item_code, "case_no": purpose.case_no}, "audit_seq": seqs,
        "released_at": now_iso(), "holder_id_number": number if caller.full_ids else mask(number),
        "certificates": [c.metadata_json(gw.pii, full_ids=caller.full_ids) for c, _ in found],
    })


def _fetch_facts(api: Api, identifier: str,
                 case_no: str) -> tuple[Any, set[str], CaseFacts | None, str | None]:
    """The certificate (a legacy identifier two issuers share: the one the case's applicant holds), its holders,
    the case and its applicant's blind index (None: no case, or one naming nobody)."""
    with api.gw.read_engine.connect() as conn:
        case = load_case(conn, case_no)
        applicant = api.gw.pii.bidx(api.gw.pii.open(case.applicant_id)) if case and case.applicant_id else None
        try:
            cert = library.get_certificate(conn, identifier, holder_bidx=applicant)
        except library.AmbiguousIdentifier as exc:  # never one picked at random: another holder's, in their log
            return exc, set(), case, applicant
        holders = library.holders_of(conn, cert.identifier) if cert is not None else set()
        return cert, holders, case, applicant


UNKNOWN_CERTIFICATE = "no such certificate"


def unknown_certificate() -> ProblemError:
    """The one answer to a fetch refused before the caller may know the certificate: an unknown identifier, a case
    that is not the caller's (or names none of its holders), a type the policy does not give the caller, a missing
    or insufficient consent — the same 404 and detail, so a fetch cannot tell which identifiers exist, of which
    type, or who holds them (as ``/v1/certificates/verify`` answers "unknown identifier"). Each refusal is still
    audited for the holders, naming its reason."""
    return ProblemError(404, "not-found", UNKNOWN_CERTIFICATE)


async def _authorize_fetch(api: Api, caller: Caller, identifier: str, purpose: Purpose, consent: str | None,
                           action: str) -> tuple[StoredCertificate, str, set[str]]:
    """The certificate, the case's applicant (a holder of it) and all its holders — or the denial, audited in
    every holder's access log (the attempt was on a jointly held certificate's data: theirs too, as a release).
    Every refusal is answered as an unknown identifier (:func:`unknown_certificate`), the consent refusal too:
    without the holder's consent a fetch must not tell whether the case's applicant holds this identifier (the
    query route and the materials check tell nothing of it either); the audit entry says why."""
    cert, holders, case, applicant_bidx = await api.run(_fetch_facts, api, identifier, purpose.case_no)
    if isinstance(cert, library.AmbiguousIdentifier):
        # said only to a caller whose own live case names a holder of more than one of them: it needs the national
        # identifier. To anyone else (another department's case, an applicant holding none) that several issuers
        # share this legacy identifier is no business of theirs: an unknown identifier, as every other refusal
        if cert.held and cert.held > 1 and purpose_problem(api, caller, case, purpose, None) is None:
            raise ProblemError(409, "ambiguous-identifier", str(cert))
        raise unknown_certificate()
    if cert is None:
        raise unknown_certificate()
    problem = purpose_problem(api, caller, case, purpose, None)
    if problem is None and applicant_bidx not in holders:
        problem = f"case {purpose.case_no} does not name a holder of this certificate"
    if problem:  # the attempt was on the certificate's holders' data: every holder's access log shows it
        await deny(api, caller, "purpose", problem, action=action, holder_ref=holders, purpose=purpose,
                   certificate=cert.identifier)
        raise unknown_certificate()  # a 403 here would tell that the identifier exists (identifiers are serials)
    denied, needs_consent = check_policy(api, caller, [cert.type_code], purpose.item_code)
    if denied:
        await deny(api, caller, "policy", f"the sharing policy does not allow {cert.type_code} for item "
                   f"{purpose.item_code}", action=action, holder_ref=holders, purpose=purpose,
                   certificate=cert.identifier)
        raise unknown_certificate()  # nor its type, nor that the case's applicant holds it
    assert applicant_bidx is not None
    if needs_consent:
        problem = consent_problem(api, caller, consent, holder_bidx=applicant_bidx, types=[cert.type_code],
                                  purpose=purpose)
        if problem:  # nor that the case's applicant holds it: the query route says consent is needed
            await deny(api, caller, "consent", problem, action=action, holder_ref=holders, purpose=purpose,
                       certificate=cert.identifier)
            raise unknown_certificate()
    return cert, applicant_bidx, holders


ItemQ = Annotated[str, Query(min_length=1, max_length=64, description="Purpose: the service item code")]
CaseQ = Annotated[str, Query(min_length=1, max_length=64, description="Purpose: the case number (办件编号)")]
IdentP = Annotated[str, Path(min_length=1, max_length=200, description="GB/T 36904 (or legacy) identifier")]
ConsentH = Annotated[str | None, Header(alias="Tongban-Consent", max_length=2000)]
InvalidQ = Annotated[bool, Query(description="Serve the file even if the certificate is not `valid` today "
                                             "(revoked, withdrawn, expired, not yet valid …); without it such a "
                                             "request is refused with 409")]


_AMBIGUOUS = problem_doc("A legacy identifier that certificates of more than one issuer carry, more than one of "
                         "them the case's applicant's: ask by the GB/T 36904 identifier (an applicant holding none "
                         "of them is answered 404, as an unknown identifier)")


@router.get("/{identifier}", response_model=CertificateResponse, responses={200: _SIGNED, 409: _AMBIGUOUS},
            summary="One certificate's metadata, for a stated purpose")
async def get_certificate(identifier: IdentP, item_code: ItemQ, case_no: CaseQ, caller: Caller = Fetch_,
                          api: Api = Depends(get_api), consent: ConsentH = None) -> Response:
    purpose = Purpose(item_code=item_code, case_no=case_no)
    cert, applicant, holders = await _authorize_fetch(api, caller, identifier, purpose, consent, "release")
    seqs = await api.audit(_release_entries(caller, cert.identifier, applicant, holders, purpose, "metadata"))
    api.metrics.releases.inc()
    return await api.signed_json({
        "request_sha256": caller.request_sha256, "client_id": caller.client.client_id,
        "purpose": purpose.model_dump(), "audit_seq": seqs, "released_at": now_iso(),
        "certificate": cert.metadata_json(api.gw.pii, full_ids=caller.full_ids),
    })


def _file(api: Api, identifier: str) -> tuple[bytes, str] | None:
    with api.gw.read_engine.connect() as conn:
        return library.certificate_file(conn, identifier, api.gw.pii)


async def _stored_file(api: Api, caller: Caller, cert: StoredCertificate, holders: set[str],
                       purpose: Purpose) -> bytes:
    """The certificate's file as the issuer signed it, or a refusal (audited for every holder, like any other):
    a file sealed under a key missing from this gateway's key file (503), one that changed since its metadata was
    read (a harvest committed meanwhile: 503, ask again), or one whose bytes are not those the harvest verified
    (500: never served under the certificate's name and hash)."""
    async def refuse(status: int, kind: str, detail: str, headers: dict[str, str] | None = None) -> ProblemError:
        await deny(api, caller, kind, detail, action="release", holder_ref=holders, purpose=purpose,
                   certificate=cert.identifier)
        return ProblemError(status, kind, detail, headers=headers)

    try:
        stored = await api.run(_file, api, cert.identifier)
    except DamagedSeal:
        raise await refuse(500, "integrity", f"certificate {cert.identifier}: its stored file does not "
                                             "authenticate (damaged or altered); it is not served") from None
    except ConfigError:
        raise await refuse(503, "unavailable", f"certificate {cert.identifier}: its file is sealed under a key "
                                               "this gateway's key file does not hold; an operator must restore "
                                               "the key") from None
    except ValueError:
        raise await refuse(500, "integrity", f"certificate {cert.identifier}: its stored file cannot be read; it "
                                             "is not served") from None
    if stored is None or stored[1] != cert.content_hash:
        raise await refuse(503, "changed", f"certificate {cert.identifier} changed while it was being served: "
                                           "ask again", headers={"Retry-After": "1"})
    content, digest = stored
    if hashlib.sha256(content).hexdigest() != digest:
        raise await refuse(500, "integrity", f"certificate {cert.identifier}: the stored file does not match its "
                                             "SHA-256; it is not served")
    return content


async def _refuse_not_valid(api: Api, caller: Caller, cert: StoredCertificate, status: str, holders: set[str],
                            purpose: Purpose) -> ProblemError:
    """A file carries no status: served, a revoked licence reads as good as a valid one. So a certificate that is
    not valid today is refused unless asked for with ``include_invalid=true`` — audited for every holder like any
    refusal (the attempt was on their data), answered 409 naming the status."""
    detail = (f"the certificate is {status} today, not valid: its file is served only with include_invalid=true "
              f"(the answer then says the status)")
    # deny() audits and counts the refusal; the answer is a conflict with the certificate's state, not its 403
    await deny(api, caller, "status", detail, action="release", holder_ref=holders, purpose=purpose,
               certificate=cert.identifier)
    return ProblemError(409, "certificate-not-valid", detail, headers={STATUS_HEADER: status},
                        certificate_status=status)


@router.get("/{identifier}/file", summary="One certificate's file (OFD), for a stated purpose", responses={
    200: {"description": "The file; `Tongban-Release` is a JWS binding its SHA-256 to the request, with the "
                         "certificate's status today and its quality flags",
          "content": {"application/ofd": {"schema": {"type": "string", "format": "binary"}}},
          "headers": {"Tongban-Release": {"schema": {"type": "string"}},
                      STATUS_HEADER: {"description": "The certificate's status today (as `status` in its metadata)",
                                      "schema": {"type": "string"}}}},
    409: problem_doc("The certificate is not valid today (`certificate_status` says what it is): ask with "
                     "`include_invalid=true` to have its file anyway; or a legacy identifier of more than one "
                     "issuer's certificates (`ambiguous-identifier`): ask by the GB/T 36904 identifier"),
    500: problem_doc("The stored file is not the one the harvest verified (`integrity`): it is not served"),
    503: problem_doc("The file cannot be opened by this gateway (`unavailable`: its key is not in the key file), "
                     "or the certificate changed while it was being served (`changed`: ask again)")})
async def get_certificate_file(identifier: IdentP, item_code: ItemQ, case_no: CaseQ, caller: Caller = Fetch_,
                               api: Api = Depends(get_api), consent: ConsentH = None,
                               include_invalid: InvalidQ = False) -> Response:
    """The issuer's file, with its status today in the signed `Tongban-Release` manifest and the
    `Tongban-Certificate-Status` header. A certificate that is not `valid` today is refused (409,
    `certificate-not-valid`) unless `include_invalid=true`; either way every holder's access log shows it."""
    purpose = Purpose(item_code=item_code, case_no=case_no)
    cert, applicant, holders = await _authorize_fetch(api, caller, identifier, purpose, consent, "release")
    status = cert.effective_status()
    if status != "valid" and not include_invalid:
        raise await _refuse_not_valid(api, caller, cert, status, holders, purpose)
    content = await _stored_file(api, caller, cert, holders, purpose)
    detail = "file" if status == "valid" else f"file of a certificate {status} today (include_invalid)"
    seqs = await api.audit(_release_entries(caller, cert.identifier, applicant, holders, purpose, detail))
    api.metrics.releases.inc()
    manifest = orjson.dumps({"request_sha256": caller.request_sha256, "client_id": caller.client.client_id,
                             "identifier": cert.identifier, "content_sha256": hashlib.sha256(content).hexdigest(),
                             "status": status, "quality": list(cert.quality()), "purpose": purpose.model_dump(),
                             "audit_seq": seqs, "released_at": now_iso()})
    return Response(content, media_type="application/ofd", headers={
        "Tongban-Release": api.gw.signer.sign(manifest), STATUS_HEADER: status,
        "Content-Disposition": f'attachment; filename="{cert.number}.ofd"'.encode("ascii", "replace").decode()})


def _verify_facts(api: Api, identifier: str | None,
                  digest: str | None) -> tuple[StoredCertificate | None, StoredCertificate | None, set[str]]:
    """The certificate by identifier, the one by file hash, and the holders of the one the answer is about."""
    with api.gw.read_engine.connect() as conn:
        by_hash = library.by_content_hash(conn, digest) if digest else None
        try:
            by_id = library.get_certificate(conn, identifier) if identifier else None
        except library.AmbiguousIdentifier:  # the file says which; without one, as unknown (nothing told)
            by_id = by_hash if by_hash is not None and by_hash.legacy_identifier == identifier.strip() else None
        cert = by_hash or by_id
        return by_id, by_hash, library.holders_of(conn, cert.identifier) if cert is not None else set()


def _readable_by(api: Api, caller: Caller, cert: StoredCertificate) -> bool:
    """Whether verification by identifier alone may answer about ``cert``. An identifier proves nothing (they are
    sequential serials: the library could be enumerated), so only a client the sharing policy lets read the type
    for at least one item is told its type, status and validity; to any other it is an unknown identifier."""
    return cert.type_code in api.gw.policy.types_for(caller.names)


def _verdict(identifier: str | None, digest: str | None, by_id: StoredCertificate | None,
             by_hash: StoredCertificate | None) -> tuple[StoredCertificate | None, str]:
    """The certificate the request shows genuine (None: not genuine), and the detail that says why."""
    if digest is None:
        return (by_id, "a verified certificate has this identifier") if by_id is not None else \
            (None, "unknown identifier")
    if by_hash is None:
        return None, "no verified certificate has this content"
    if identifier and (by_id is None or by_id.identifier != by_hash.identifier):
        # named with a file, an identifier is "another certificate" whether it exists or not: a file in hand is no
        # way to learn which identifiers exist
        return None, "the file belongs to another certificate"
    return by_hash, "the file matches a verified certificate"


def _verify_answer(caller: Caller, cert: StoredCertificate | None, detail: str) -> dict[str, Any]:
    """A genuine certificate's type, issuer, status today, validity and quality flags; of anything else only that
    it is not genuine and why (so a hidden identifier's answer is an unknown one's, byte for byte). Either way
    bound to the question (``request_sha256``, ``client_id``): a signed "not genuine" said nothing of what it
    answered, and could be shown as the answer to any other question."""
    asked = {"request_sha256": caller.request_sha256, "client_id": caller.client.client_id}
    if cert is None:
        return {**asked, "genuine": False, "detail": detail}
    quality = cert.quality()
    return {**asked, "genuine": True,
            "detail": f"{detail}, but a newer version from its issuer was refused: see quality" if quality else detail,
            "identifier": cert.identifier, "type_code": cert.type_code, "issuer_code": cert.issuer_code,
            "status": cert.effective_status(), "valid_from": cert.valid_from, "valid_until": cert.valid_until,
            "quality": list(quality)}


@router.post("/verify", response_model=VerifyResponse, summary="Is this file (or hash) a genuine certificate?")
async def verify_certificate(body: VerifyRequest, caller: Caller = Query_, api: Api = Depends(get_api)) -> Response:
    """By file (`file_base64`) or `sha256` — proof the caller holds the file — for any client with the query scope;
    an `identifier` given with it must be the file's own. By `identifier` alone only for certificate types the
    sharing policy lets the client read: for any other type the answer is an unknown identifier's. A verification
    that shows a certificate genuine is in its holders' access log (action `verify`)."""
    digest = body.sha256.lower() if body.sha256 else None
    if body.file_base64 is not None:
        try:
            digest = hashlib.sha256(base64.b64decode(body.file_base64, validate=True)).hexdigest()
        except (binascii.Error, ValueError):
            raise ProblemError(400, "bad-request", "file_base64 is not valid base64") from None
    if digest is None and not body.identifier:
        raise ProblemError(400, "bad-request", "give a file, its sha256, or an identifier")
    by_id, by_hash, holders = await api.run(_verify_facts, api, body.identifier, digest)
    if digest is None and by_id is not None and not _readable_by(api, caller, by_id):
        await deny(api, caller, "policy", f"the sharing policy lets the client read no {by_id.type_code}: answered "
                   f"as an unknown identifier", action="verify", holder_ref=holders, purpose=None,
                   certificate=by_id.identifier)  # audited for the holders and counted; no 403 (that would tell)
        return await api.signed_json(_verify_answer(caller, *_verdict(body.identifier, None, None, None)))
    cert, detail = _verdict(body.identifier, digest, by_id, by_hash)
    if cert is not None:
        how = "identifier" if digest is None else "file" if body.file_base64 is not None else "sha256"
        entries = [AuditEntry(action="verify", outcome="genuine", client_id=caller.client.client_id, holder_ref=ref,
                              certificate=cert.identifier, detail=f"by {how}") for ref in sorted(holders) or [None]]
    else:
        named = by_hash or by_id
        # a holder's own file shown with another identifier told the caller it is a genuine certificate's file:
        # that is in the holder's log too (``holders`` are by_hash's when it matched)
        refs = sorted(holders) if by_hash is not None and holders else [None]
        entries = [AuditEntry(action="verify", outcome="not-genuine", client_id=caller.client.client_id,
                              holder_ref=ref, certificate=named.identifier if named else None,
                              detail="the file belongs to another certificate" if by_hash is not None else None)
                   for ref in refs]
    await api.audit(entries)
    return await api.signed_json(_verify_answer(caller, cert, detail))
