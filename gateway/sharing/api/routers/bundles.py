"""一件事 applications from the hall's own intake window: one application, checked against the bundle's merged form,
stored once with each material once, its first parts queued to their department systems at once; and where each
part stands afterwards.

The same as ``tongban bundles apply|status`` (:func:`gateway.process.bundles.apply_bundle`), over HTTP for the hall
(scope ``bundles:apply``). The hall's ``reference`` makes a retried submission the same bundle (200, ``created:
false``) instead of a second company; a different application under a used reference is a 409. References are
each client's own: another client's reference neither finds nor blocks the hall's, and a client reads only the
bundles it applied for (404 for the others, read or not, so a number cannot be probed); each read is audited
under each holder whose data it shows, so it is in their access log ("who used my data"). A broken application
is a 422 problem listing every broken rule — the application, the field, the rule — and nothing is stored; the
hall shows them to the applicant.

The materials are stored once per bundle, and each part's case lists those of its item as references
``tongban:<bundle_no>/<code>#sha256=<digest>``. A department system dereferences one at
``GET /v1/bundles/{bundle_no}/materials/{code}`` (scope ``cases:read``): served only to the client of a system
handling a part that lists the material, once that part has been released to it (404 for everyone else, as for
a bundle that does not exist), the sealed copy opened and checked against its SHA-256, the answer's
``Tongban-Release`` a JWS binding that SHA-256 to the request, and every holder of the bundle sees the read in
their access log.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from gateway.contract.errors import ConfigError, RecordRejected, ReferenceConflict
from gateway.process.bundle_spec import BundleCatalogue
from gateway.process.bundles import (
    BundleConsents,
    MaterialNotServed,
    ServedMaterial,
    apply_bundle,
    bundle_detail,
    bundle_material,
    find_bundle,
)
from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.certificates import library
from gateway.store import bundles as bundle_store
from gateway.store.ledger import loads

from ..deps import Api, Caller, get_api, now_iso, require
from ..problems import PROBLEM_RESPONSES, ProblemError, problem_doc
from ..schemas import BundleApplicationIn, BundleStatus

router = APIRouter(prefix="/v1/bundles", tags=["bundles"], responses={
    **PROBLEM_RESPONSES, 503: problem_doc("This gateway has no bundles file or no systems file")})
SCOPE = "bundles:apply"
MATERIAL_SCOPE = "cases:read"
"""A material belongs to the part's case: its system's client reads it as it reads the case."""
BundleP = Annotated[str, Path(min_length=1, max_length=64, description="The bundle number Tongban gave, or the "
                                                                     "hall's own reference")]
_PART = ("part", "system", "case_no", "state", "reason", "released_at", "finished_at", "certificate_no")
_HEAD = ("bundle_no", "bundle_code", "reference", "status", "reason", "failed_part", "submitted_at", "due_at",
         "finished_at")


def _catalogue(api: Api) -> BundleCatalogue:
    """The bundles file, read once per server (``TONGBAN_BUNDLES``, else the defaults)."""
    found = getattr(api, "bundle_catalogue", None)
    if found is None:
        try:
            found = BundleCatalogue.load()
        except ConfigError as exc:
            raise ProblemError(503, "unavailable", f"no 一件事 bundles on this gateway: {exc}") from exc
        api.bundle_catalogue = found  # type: ignore[attr-defined]
    return found


def _apply(api: Api, application: dict[str, Any], client_id: str) -> tuple[Any, dict[str, Any]]:
    from gateway.ops.deadlines import WorkCalendar

    gw = api.gw
    if gw.systems is None:
        raise ProblemError(503, "unavailable", "this gateway was started without a systems file: it cannot route "
                                               "a bundle's parts to their systems")
    try:
        spec = _catalogue(api).chosen(application.get("bundle"), ask="`bundle` in the body")
    except ConfigError as exc:
        raise ProblemError(422, "invalid", str(exc), field="bundle", rule="bundle.unknown") from exc
    result = apply_bundle(gw.engine, spec, application, systems=gw.systems, pii=gw.pii,
                          consents=BundleConsents.from_gateway(gw),
                          calendar=WorkCalendar.load(systems_path=getattr(gw.systems, "path", None)),
                          submitted_by=client_id)
    return result, bundle_detail(gw.engine, result.bundle_no) or {}


def _wire(detail: dict[str, Any]) -> dict[str, Any]:
    """The answer's fields of :func:`bundle_detail` (its times are ISO 8601 text already, Beijing time)."""
    def plain(row: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        return {k: row.get(k) for k in keys}

    return {**plain(detail, _HEAD), "parts": [plain(p, _PART) for p in detail.get("parts", [])],
            "materials": [plain(m, ("code", "name", "sha256", "size", "media_type"))
                          for m in detail.get("materials", [])]}


@router.post("", response_model=BundleStatus, status_code=201,
             responses={200: {"description": "Applied before under this reference: the same bundle"},
                        409: problem_doc("A different application under a reference this client used before")},
             summary="Apply for a 一件事 bundle (the hall's intake)")
async def apply(body: BundleApplicationIn, caller: Caller = Depends(require(SCOPE)),
                api: Api = Depends(get_api)) -> Response:
    try:
        result, detail = await api.run(_apply, api, body.model_dump(), caller.client.client_id)
    except ReferenceConflict as exc:
        await api.audit([caller.deny_entry("bundle", "conflict", case_no=exc.existing,
                                           detail=f"reference {body.reference}: different content")])
        raise ProblemError(409, "conflict", str(exc), field="reference", rule="bundle.reference_reused") from exc
    except RecordRejected as exc:
        await api.audit([caller.deny_entry("bundle", "rejected", detail=f"reference {body.reference}: "
                                                                       f"{len(exc.issues)} rule(s) broken")])
        raise ProblemError(422, "rejected", f"{exc.record}: not applied ({len(exc.issues)} rule(s) broken)",
                           record=exc.record, issues=[{"record": i.record, "field": i.field, "rule": i.rule,
                                                       "message": i.message} for i in exc.issues]) from exc
    await api.audit([AuditEntry(action="bundle", outcome="applied" if result.created else "again",
                                client_id=caller.client.client_id, case_no=result.bundle_no,
                                detail=f"reference {body.reference}; released {','.join(result.released) or 'none'}")])
    return await api.signed_json({**_wire(detail), "created": result.created},
                                 status=201 if result.created else 200)


def _find(api: Api, ref: str, client_id: str) -> tuple[dict[str, Any] | None, list[str], str | None]:
    """The bundle (None: not one of this client's), the holders whose data reading it shows — or, when ``ref``
    is the number of another client's bundle, that bundle's holders (the refused read is theirs to see) — and
    the number of the bundle the holders are of."""
    found = find_bundle(api.gw.read_engine, ref, sorted(_catalogue(api).bundles), submitted_by=client_id)
    if found is None:  # another client's reference names nothing here; another client's bundle number does
        found = bundle_detail(api.gw.read_engine, ref)
        return None, _holders(api, found) if found is not None else [], found["bundle_no"] if found else None
    return found, _holders(api, found), found["bundle_no"]


def _refused(caller: Caller, action: str, outcome: str, holders: list[str], *, case_no: str | None,
             detail: str) -> list[AuditEntry]:
    """A refused attempt on a bundle, audited once under each of its holders (none: once, under nobody), so that
    each sees it in their access log as they see a read."""
    return [caller.deny_entry(action, outcome, case_no=case_no, holder_ref=holder, detail=detail)
            for holder in holders or [None]]


def _holders(api: Api, detail: dict[str, Any]) -> list[str]:
    """Blind indexes of whose data the bundle is: the applicant of each released part's case as the ledger
    holds it (the name reservation at first; the company's 统一社会信用代码 once its licence is issued) and
    the holders of the certificates its parts issued. A read is audited once under each, as a denial is
    (:func:`gateway.sharing.api.release.deny`): each holder sees it, nobody else does."""
    parts = detail.get("parts", [])
    refs: set[str] = set()
    with api.gw.read_engine.connect() as conn:
        cases = bundle_store.cases_by_number(conn, [p["case_no"] for p in parts])
        for identifier in {p["certificate_id"] for p in parts if p.get("certificate_id")}:
            refs |= library.holders_of(conn, identifier)
    for case in cases.values():
        number = ((loads(case["data"]) or {}).get("applicant") or {}).get("id_number")
        if number:
            refs.add(api.gw.pii.bidx(api.gw.pii.open(number)))
    return sorted(refs)


@router.get("/{ref}", response_model=BundleStatus, summary="Where a bundle this client applied for stands")
async def status(ref: BundleP, caller: Caller = Depends(require(SCOPE)), api: Api = Depends(get_api)) -> Response:
    detail, holders, bundle_no = await api.run(_find, api, ref, caller.client.client_id)
    if detail is None:
        await api.audit(_refused(caller, "bundle", "denied" if bundle_no else "not_found", holders,
                                 case_no=bundle_no, detail=f"read {ref[:64]}"))
        raise ProblemError(404, "not-found", "no bundle of this client under that number or reference")
    parts = ",".join(p["part"] for p in detail.get("parts", []))
    materials = ",".join(m["code"] for m in detail.get("materials", [])) or "none"
    await api.audit([AuditEntry(action="bundle", outcome="read", client_id=caller.client.client_id,
                                case_no=detail["bundle_no"], holder_ref=holder,
                                detail=f"parts {parts}; materials {materials}")
                     for holder in holders or [None]])
    return await api.signed_json(_wire(detail))


BundleNoP = Annotated[str, Path(min_length=1, max_length=40, description="The bundle number Tongban gave (as in "
                                                                        "the part case's `tongban:` reference)")]
CodeP = Annotated[str, Path(min_length=1, max_length=32, description="The material's code in the bundle")]


def _material(api: Api, bundle_no: str, code: str, system: str) -> tuple[ServedMaterial | None, str | None,
                                                                             list[str]]:
    """The material (or None and why not) and the holders of the bundle (whose access log shows the read)."""
    detail = bundle_detail(api.gw.read_engine, bundle_no)
    holders = _holders(api, detail) if detail is not None else []
    try:
        return bundle_material(api.gw.read_engine, _catalogue(api), bundle_no, code, system=system,
                               pii=api.gw.pii), None, holders
    except MaterialNotServed as exc:
        return None, exc.reason, holders


@router.get("/{bundle_no}/materials/{code}", summary="One material of a bundle, for a department handling a part",
            responses={
                200: {"description": "The material as the applicant submitted it (its own media type); "
                                     "`Tongban-Release` is a JWS binding its SHA-256 to the request",
                      "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                      "headers": {"Tongban-Release": {"schema": {"type": "string"}},
                                  "Tongban-Content-SHA256": {"description": "The SHA-256 of the body, as in the "
                                                                            "part case's reference",
                                                             "schema": {"type": "string"}}}},
                404: problem_doc("No such bundle or material, or not one released to this client's system")})
async def get_material(bundle_no: BundleNoP, code: CodeP, caller: Caller = Depends(require(MATERIAL_SCOPE)),
                       api: Api = Depends(get_api)) -> Response:
    """What a part case's `tongban:<bundle_no>/<code>#sha256=…` material reference names: the one copy the hall
    submitted. Only for the client of the system that handles a part listing this material, once that part has
    been released to it; checked against its SHA-256 before it is served. Every holder of the bundle (its
    applicant, the company once licensed) sees each read, and each refused attempt, in their access log."""
    served, reason, holders = await api.run(_material, api, bundle_no, code, caller.client.name)
    if served is None:
        outcome = {"not_found": "not_found", "not_yours": "denied", "corrupt": "corrupt"}.get(reason or "", "denied")
        await api.audit(_refused(caller, "bundle_material", outcome, holders if reason != "not_found" else [],
                                 case_no=bundle_no, detail=f"material {code[:32]}"))
        if reason == "corrupt":
            raise ProblemError(500, "integrity", f"material {code} of bundle {bundle_no}: the stored copy does not "
                                                 "match its SHA-256; it is not served")
        raise ProblemError(404, "not-found", "no material of that code in a bundle released to this client")
    digest = hashlib.sha256(served.content).hexdigest()
    cases = ",".join(p["case_no"] for p in served.parts)
    seqs = await api.audit([AuditEntry(action="bundle_material", outcome="released",
                                       client_id=caller.client.client_id, case_no=bundle_no, holder_ref=holder,
                                       detail=f"material {code} ({served.name}) sha256 {digest} for {cases}")
                            for holder in holders or [None]])
    manifest = orjson.dumps({"request_sha256": caller.request_sha256, "client_id": caller.client.client_id,
                             "bundle_no": bundle_no, "material": code, "content_sha256": digest,
                             "media_type": served.media_type, "parts": served.parts, "audit_seq": seqs,
                             "released_at": now_iso()})
    return Response(served.content, media_type=served.media_type, headers={
        "Tongban-Release": api.gw.signer.sign(manifest), "Tongban-Content-SHA256": digest,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="{bundle_no}-{code}"'.encode("ascii", "replace").decode()})
