"""The holder's access log ("who used my data"), read by the hall on behalf of a signed-in citizen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select
from starlette.responses import Response

from gateway.security.audit import AuditEntry
from gateway.security.pii import mask
from gateway.store.tables import api_clients, audit_log

from ..deps import Api, Caller, get_api, require
from ..problems import PROBLEM_RESPONSES
from ..schemas import AccessLogRequest, AccessLogResponse

router = APIRouter(prefix="/v1/holders", tags=["holders"], responses=PROBLEM_RESPONSES)
_SHOWN = ("release", "query")


def _entries(api: Api, bidx: str) -> list[Any]:
    a, k = audit_log.c, api_clients.c
    with api.gw.read_engine.connect() as conn:
        return list(conn.execute(
            select(a.seq, a.at, a.action, a.outcome, a.client_id, k.name, a.certificate, a.item_code, a.case_no)
            .select_from(audit_log.outerjoin(api_clients, k.client_id == a.client_id))
            .where(a.holder_ref == bidx, a.action.in_(_SHOWN)).order_by(a.seq)).all())


@router.post("/access-log", response_model=AccessLogResponse,
             summary="Every use of a holder's certificates: who, when, which certificate, for which case")
async def access_log(body: AccessLogRequest, caller: Caller = Depends(require("holders:read")),
                     api: Api = Depends(get_api)) -> Response:
    bidx = api.gw.pii.bidx(body.id_number)
    rows = await api.run(_entries, api, bidx)
    await api.audit([AuditEntry(action="access-log", outcome="read", client_id=caller.client.client_id,
                                holder_ref=bidx)])
    return await api.signed_json({
        "holder_id_number": body.id_number if caller.full_ids else mask(body.id_number),
        "entries": [{"seq": r.seq, "at": r.at.isoformat(), "action": r.action, "outcome": r.outcome,
                     "client_id": r.client_id, "client_name": r.name, "certificate": r.certificate,
                     "item_code": r.item_code, "case_no": r.case_no} for r in rows]})
