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
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from gateway.contract.errors import ConfigError, RecordRejected, ReferenceConflict
from gateway.process.bundle_spec import BundleCatalogue
from gateway.process.bundles import BundleConsents, apply_bundle, bundle_detail, find_bundle
from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.certificates import library
from gateway.store import bundles as bundle_store
from gateway.store.ledger import loads

from ..deps import Api, Caller, get_api, require
from ..problems import PROBLEM_RESPONSES, ProblemError, problem_doc
from ..schemas import BundleApplicationIn, BundleStatus

router = APIRouter(prefix="/v1/bundles", tags=["bundles"], responses={
    **PROBLEM_RESPONSES, 503: problem_doc("This gateway has no bundles file or no systems file")})
SCOPE = "bundles:apply"
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


def _find(api: Api, ref: str, client_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The bundle (None: not one of this client's) and the holders whose data reading it shows."""
    found = find_bundle(api.gw.read_engine, ref, sorted(_catalogue(api).bundles), submitted_by=client_id)
    return found, _holders(api, found) if found is not None else []


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
    detail, holders = await api.run(_find, api, ref, caller.client.client_id)
    if detail is None:
        await api.audit([caller.deny_entry("bundle", "not_found", detail=f"read {ref[:64]}")])
        raise ProblemError(404, "not-found", "no bundle of this client under that number or reference")
    parts = ",".join(p["part"] for p in detail.get("parts", []))
    materials = ",".join(m["code"] for m in detail.get("materials", [])) or "none"
    await api.audit([AuditEntry(action="bundle", outcome="read", client_id=caller.client.client_id,
                                case_no=detail["bundle_no"], holder_ref=holder,
                                detail=f"parts {parts}; materials {materials}")
                     for holder in holders or [None]])
    return await api.signed_json(_wire(detail))
