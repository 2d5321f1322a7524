"""Cases: status and timeline across systems; which materials need not be submitted (once-only)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Header, Path, Request
from starlette.responses import Response

from gateway.crypto.pii import mask
from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.access.clients import Client
from gateway.sharing.certificates import library
from gateway.sharing.certificates.materials import replaceable_materials
from gateway.store import sharing_queries

from ..deps import Api, Caller, audit_refusal, get_api, require
from ..problems import PROBLEM_RESPONSES, ProblemError
from ..release import check_policy, consent_problem, deny, purpose_lapsed
from ..schemas import CaseResponse, MaterialsResponse, Purpose

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=PROBLEM_RESPONSES)
CaseP = Annotated[str, Path(min_length=1, max_length=64, description="The national case number (办件编号)")]


def _case(api: Api, case_no: str) -> dict[str, Any] | None:
    with api.gw.read_engine.connect() as conn:
        row = sharing_queries.find_case(conn, case_no)
        if row is None:
            return None
        copies = sharing_queries.case_source_copies(conn, case_no)
        deliveries = sharing_queries.case_deliveries(conn, case_no)
    return {"row": dict(row), "copies": copies, "deliveries": deliveries}


def _visible(caller: Caller, dept_code: str | None) -> bool:
    """A department's client sees its own department's cases; the hall (the client holding ``holders:read``)
    sees every department's, because every case is pushed to it anyway (the front desk: 统一窗口出件) — which
    certificates an applicant holds is still only what the sharing policy grants the hall (see
    :func:`case_materials`)."""
    return "holders:read" in caller.client.scopes or (bool(caller.client.department_code)
                                                      and dept_code == caller.client.department_code)


NOT_VISIBLE = "no such case among the cases this client may see"


async def _refuse_invisible(api: Api, caller: Caller, action: str, case_no: str, holder: str | None) -> ProblemError:
    """Another department's case: answered as a case that does not exist (case numbers cannot be probed), and the
    attempt audited in its applicant's access log (``denied:visibility``) — it was an attempt on their data."""
    await api.audit([caller.deny_entry(action, "denied:visibility", case_no=case_no, holder_ref=holder,
                                       detail="another department's case")])
    api.metrics.denials.labels("visibility").inc()
    return ProblemError(404, "not-found", NOT_VISIBLE)


def _refused_on(action: str) -> Any:
    async def refused(request: Request, api: Api, client: Client, kind: str, detail: str) -> None:
        """An unscoped read of a case: audited for its applicant (the answer says nothing more)."""
        case_no = request.path_params.get("case_no")
        if not case_no or len(case_no) > 64:
            return
        row, holder = await api.run(_case_and_holder, api, case_no)
        if row is not None:
            await audit_refusal(api, client, kind, detail, action=action, holder_ref=holder, case_no=case_no)
    return refused


@router.get("/{case_no}", response_model=CaseResponse, summary="A case's status and timeline across systems")
async def get_case(case_no: CaseP, caller: Caller = Depends(require("cases:read", _refused_on("case"))),
                   api: Api = Depends(get_api)) -> Response:
    found = await api.run(_case, api, case_no)
    if found is None:
        raise ProblemError(404, "not-found", NOT_VISIBLE)
    row = found["row"]
    data = orjson.loads(row["data"])
    applicant = data.get("applicant") or {}
    number = api.gw.pii.open(applicant["id_number"]) if applicant.get("id_number") else None
    if not _visible(caller, row["dept_code"]):
        raise await _refuse_invisible(api, caller, "case", case_no, api.gw.pii.bidx(number) if number else None)
    timeline: list[dict[str, Any]] = []
    for name, at in (("applied", data.get("applied_at")), ("accepted", data.get("accepted_at")),
                     ("finished", data.get("finished_at"))):
        if at:
            timeline.append({"at": at, "kind": "milestone", "name": name, "system": row["origin_system"]})
    for event in data.get("events") or []:
        timeline.append({"at": event.get("started_at"), "kind": event.get("kind", "step"), "name": event.get("name", ""),
                         "system": row["origin_system"], "detail": event.get("opinion") or event.get("result")})
    for d in found["deliveries"]:
        if d.delivered_at is not None:
            timeline.append({"at": d.delivered_at.isoformat(), "kind": "delivery", "name": f"version {d.version}",
                             "system": d.target_system, "detail": d.status})
    timeline.sort(key=lambda e: e["at"] or "")
    await api.audit([AuditEntry(action="case", outcome="read", client_id=caller.client.client_id, case_no=case_no,
                                holder_ref=api.gw.pii.bidx(number) if number else None)])
    return await api.signed_json({
        "case_no": row["case_no"], "version": row["version"], "status": data.get("status", "unknown"),
        "deleted": bool(row["deleted"]), "item_code": row["item_code"], "item_name": data.get("item_name"),
        "dept_code": row["dept_code"], "applicant_name": applicant.get("name"),
        "applicant_id_number": number if caller.full_ids else mask(number),
        "applied_at": data.get("applied_at"), "finished_at": data.get("finished_at"), "timeline": timeline,
        "systems": [{"system": c.system, "source_id": c.source_id, "updated_at": c.updated_at.isoformat(),
                     "deleted": bool(c.deleted)} for c in found["copies"]],
        "deliveries": [{"target_system": d.target_system, "version": d.version, "status": d.status,
                        "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None}
                       for d in found["deliveries"]],
    })


ConsentH = Annotated[str | None, Header(alias="Tongban-Consent", max_length=2000, description=(
    "The holder's consent token (``POST /v1/consents``) for this client, item and case: without it a "
    "certificate type whose policy rule requires consent is not looked up (the material lists it in "
    "``needs_consent``)"))]


def _case_and_holder(api: Api, case_no: str) -> tuple[Any, str | None]:
    """The case (None: not in the ledger) and its applicant's blind index (None: the case names nobody)."""
    with api.gw.read_engine.connect() as conn:
        row = sharing_queries.case_for_materials(conn, case_no)
    if row is None:
        return None, None
    applicant = (orjson.loads(row.data).get("applicant") or {}).get("id_number")
    return row, api.gw.pii.bidx(api.gw.pii.open(applicant)) if applicant else None


def _holdings(api: Api, holder: str, types: list[str]) -> list[Any]:
    with api.gw.read_engine.connect() as conn:
        return library.find_for_holder(conn, holder, types)


def _co_holders(api: Api, holder: str, found: list[Any], awaiting: list[str]) -> list[str]:
    """The other holders of the certificates looked up (``found``) and, for a refused consent, of the holder's
    certificates of the types awaiting it (the ones the refused look-up was after), sorted."""
    with api.gw.read_engine.connect() as conn:
        certs = list(found) + (library.find_for_holder(conn, holder, awaiting) if awaiting else [])
        refs = {h for c in certs for h in library.holders_of(conn, c.identifier)}
    return sorted(refs - {holder})


def _lookable(api: Api, caller: Caller, types: list[str], purpose: Purpose, holder: str,
              consent: str | None) -> tuple[list[str], list[str], str | None]:
    """``(types the holder's certificates may be looked up for, types awaiting the holder's consent, why the
    presented consent token covers none of those awaiting)``.

    Whether a material is spared tells the caller whether the holder has a valid certificate of a type: that
    is a look-up, so it takes the release's decisions (:func:`~gateway.sharing.api.release.check_policy`,
    :func:`~gateway.sharing.api.release.consent_problem`), type by type. A type the policy denies this client
    for this item is in neither list: it spares nothing, and the holder's certificates of it are not read. A
    type whose rule requires consent, without a token that covers it, awaits consent: not read either. A token
    was presented and covers none of the types that need one (forged, expired, withdrawn, another holder's or
    case's): that is the query route's consent denial, and the third value says why."""
    lookable: list[str] = []
    awaiting: list[str] = []
    consented = False
    problem: str | None = None
    for type_code in types:
        denied, needs_consent = check_policy(api, caller, [type_code], purpose.item_code)
        if denied:
            continue
        found = consent_problem(api, caller, consent, holder_bidx=holder, types=[type_code],
                                purpose=purpose) if needs_consent else None
        if found:
            awaiting.append(type_code)
            problem = problem or found
        else:
            lookable.append(type_code)
            consented = consented or needs_consent
    return lookable, awaiting, (problem if consent and awaiting and not consented else None)


@router.get("/{case_no}/materials", response_model=MaterialsResponse,
            summary="Which materials of this case need not be submitted (a certificate replaces them)")
async def case_materials(case_no: CaseP, caller: Caller = Depends(require("cases:read", _refused_on("materials"))),
                         api: Api = Depends(get_api), consent: ConsentH = None) -> Response:
    """A material is spared by a valid certificate of the applicant only of a type the sharing policy lets this
    client read for the case's item, with the holder's consent where the rule requires it — what
    ``POST /v1/certificates/query`` would release. Other types are not looked up: a material only they replace
    is not replaced, and its ``needs_consent`` lists those a consent token would let the gateway look up."""
    row, holder = await api.run(_case_and_holder, api, case_no)
    if row is None or row.deleted:
        raise ProblemError(404, "not-found", NOT_VISIBLE)
    if not _visible(caller, row.dept_code):
        raise await _refuse_invisible(api, caller, "materials", case_no, holder)
    lapsed = purpose_lapsed(api, case_no, orjson.loads(row.data).get("finished_at"))
    if lapsed is not None:  # the department's own case, finished long ago: it needs no material any more
        raise await deny(api, caller, "purpose", lapsed, action="materials", holder_ref=holder,
                         purpose=Purpose(item_code=row.item_code, case_no=case_no) if row.item_code else None)
    item = api.gw.settings.items_by_code.get(row.item_code or "")
    if item is None:
        raise ProblemError(404, "not-found", f"item {row.item_code} is not in the gateway's catalogue")
    types = sorted({t for m in item.materials for t in m.replaced_by_certificate_types})
    purpose = Purpose(item_code=item.item_code, case_no=case_no)
    lookable, awaiting, refused = _lookable(api, caller, types, purpose, holder, consent) if holder \
        else ([], [], None)
    found = await api.run(_holdings, api, holder, lookable) if lookable else []
    # the co-holders of a jointly held certificate: looked up for them too (and, refused, attempted on their data)
    co_holders = await api.run(_co_holders, api, holder, found, awaiting if refused else []) if holder else []
    # valid today (not before its validity starts, nor after it ends); of a type, one without flags first
    usable = sorted((c for c in found if c.effective_status() == "valid"),
                    key=lambda c: bool(c.refused_reason))
    valid = [(c.type_code, c.identifier) for c in usable]
    quality = {c.identifier: list(c.quality()) for c in usable}
    answers = replaceable_materials(item, valid)
    saved = sum(1 for a in answers if a.replaced)
    api.metrics.saved.inc(saved)
    looked = f"looked up {','.join(lookable) or 'none'}" + (f"; awaiting consent {','.join(awaiting)}"
                                                           if awaiting else "")
    # what the answer spared, always (the 材料减免 KPI reads ``saved:N``: a refused token spares what needs no consent)
    entries = [AuditEntry(action="materials", outcome=f"saved:{saved}", client_id=caller.client.client_id,
                          case_no=case_no, item_code=item.item_code, holder_ref=ref,
                          detail=looked if ref == holder else f"{looked}; co-holder of a certificate looked up")
               for ref in [holder, *co_holders]]
    if refused:  # and a consent token that does not hold is a consent denial, in the log of the holder and of each
        # co-holder of a certificate it would have looked up, as on the query route
        entries += [AuditEntry(action="materials", outcome="denied:consent", client_id=caller.client.client_id,
                               case_no=case_no, item_code=item.item_code, holder_ref=ref,
                               detail=f"{refused}; {looked}") for ref in [holder, *co_holders]]
        api.metrics.denials.labels("consent").inc()
    await api.audit(entries)
    type_of = dict((ident, t) for t, ident in valid)
    return await api.signed_json({"case_no": case_no, "item_code": item.item_code, "submissions_saved": saved,
                                  "consent_problem": refused,
                            "materials": [{"name": a.name, "required": a.required, "replaced": a.replaced,
                                           "certificate_type": type_of.get(a.by_certificate or ""),
                                           "quality": quality.get(a.by_certificate or "", []),
                                           "needs_consent": [] if a.replaced else
                                           [t for t in a.certificate_types if t in awaiting]}
                                          for a in answers]})
