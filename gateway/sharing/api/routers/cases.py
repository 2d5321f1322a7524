"""Cases: status and timeline across systems; which materials need not be submitted (once-only)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from gateway.crypto.pii import mask
from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.certificates import library
from gateway.sharing.certificates.materials import replaceable_materials
from gateway.store import sharing_queries

from ..deps import Api, Caller, get_api, require
from ..problems import PROBLEM_RESPONSES, ProblemError
from ..schemas import CaseResponse, MaterialsResponse

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
    return "holders:read" in caller.client.scopes or (bool(caller.client.department_code)
                                                      and dept_code == caller.client.department_code)


@router.get("/{case_no}", response_model=CaseResponse, summary="A case's status and timeline across systems")
async def get_case(case_no: CaseP, caller: Caller = Depends(require("cases:read")),
                   api: Api = Depends(get_api)) -> Response:
    found = await api.run(_case, api, case_no)
    if found is None or not _visible(caller, found["row"]["dept_code"]):
        raise ProblemError(404, "not-found", "no such case among the cases this client may see")
    row = found["row"]
    data = orjson.loads(row["data"])
    applicant = data.get("applicant") or {}
    number = api.gw.pii.open(applicant["id_number"]) if applicant.get("id_number") else None
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


def _materials(api: Api, case_no: str, types: list[str]) -> tuple[Any, list[Any], str | None]:
    """The case, the applicant's certificates of ``types``, and the applicant's blind index (whose data was used)."""
    with api.gw.read_engine.connect() as conn:
        row = sharing_queries.case_for_materials(conn, case_no)
        if row is None:
            return None, [], None
        applicant = (orjson.loads(row.data).get("applicant") or {}).get("id_number")
        if not applicant:
            return row, [], None
        bidx = api.gw.pii.bidx(api.gw.pii.open(applicant))
        return row, (library.find_for_holder(conn, bidx, types) if types else []), bidx


@router.get("/{case_no}/materials", response_model=MaterialsResponse,
            summary="Which materials of this case need not be submitted (a certificate replaces them)")
async def case_materials(case_no: CaseP, caller: Caller = Depends(require("cases:read")),
                         api: Api = Depends(get_api)) -> Response:
    probe = await api.run(_materials, api, case_no, [])
    row = probe[0]
    if row is None or row.deleted or not _visible(caller, row.dept_code):
        raise ProblemError(404, "not-found", "no such case among the cases this client may see")
    item = api.gw.settings.items_by_code.get(row.item_code or "")
    if item is None:
        raise ProblemError(404, "not-found", f"item {row.item_code} is not in the gateway's catalogue")
    types = sorted({t for m in item.materials for t in m.replaced_by_certificate_types})
    _, found, holder = await api.run(_materials, api, case_no, types)
    # valid today (not before its validity starts, nor after it ends); of a type, one without flags first
    usable = sorted((c for c in found if c.effective_status() == "valid"), key=lambda c: bool(c.refused_reason))
    valid = [(c.type_code, c.identifier) for c in usable]
    quality = {c.identifier: list(c.quality()) for c in usable}
    answers = replaceable_materials(item, valid)
    saved = sum(1 for a in answers if a.replaced)
    api.metrics.saved.inc(saved)
    await api.audit([AuditEntry(action="materials", outcome=f"saved:{saved}", client_id=caller.client.client_id,
                                case_no=case_no, item_code=item.item_code, holder_ref=holder)])
    type_of = dict((ident, t) for t, ident in valid)
    return await api.signed_json({"case_no": case_no, "item_code": item.item_code, "submissions_saved": saved,
                            "materials": [{"name": a.name, "required": a.required, "replaced": a.replaced,
                                           "certificate_type": type_of.get(a.by_certificate or ""),
                                           "quality": quality.get(a.by_certificate or "", [])}
                                          for a in answers]})
