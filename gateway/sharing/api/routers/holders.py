"""The holder's view, read by the hall on behalf of a signed-in citizen: the access log ("who used my data")
and the consents given (who may still use it, until when), each of which the holder can withdraw."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import orjson
from fastapi import APIRouter, Depends
from starlette.responses import Response

from gateway.crypto.pii import mask
from gateway.sharing.access.audit import AuditEntry
from gateway.store import sharing_queries

from ..deps import Api, Caller, get_api, require
from ..problems import PROBLEM_RESPONSES
from ..schemas import AccessLogRequest, AccessLogResponse, HolderConsentsResponse, HolderViewRequest

router = APIRouter(prefix="/v1/holders", tags=["holders"], responses=PROBLEM_RESPONSES)
_SHOWN = ("release", "query", "case", "materials", "verify", "bundle", "bundle_material", "notify")
"""The uses of a holder's data the holder sees: certificates released or asked for, their cases read, their
certificates looked up to spare a material, checked as genuine (or looked up by identifier and refused), their
一件事 bundles read, each material of a bundle a department read (or was refused), and each status change of
their certificates a department was told of by webhook."""


@router.post("/access-log", response_model=AccessLogResponse,
             summary="Every use of a holder's certificates: who, when, which certificate, for which case (paged)")
async def access_log(body: AccessLogRequest, caller: Caller = Depends(require("holders:read")),
                     api: Api = Depends(get_api)) -> Response:
    def read(api: Api, bidx: str) -> list[Any]:
        with api.gw.read_engine.connect() as conn:
            return list(sharing_queries.holder_access_log(conn, bidx, _SHOWN, after=body.after, limit=body.limit))

    def page_end(rows: list[Any]) -> dict[str, Any]:
        return {"next_after": rows[-1].seq if len(rows) == body.limit else None}

    return await _holder_view(api, caller, body.id_number, read, "access-log", "entries", lambda r: {
        "seq": r.seq, "at": r.at.isoformat(), "action": r.action, "outcome": r.outcome, "client_id": r.client_id,
        "client_name": r.name, "certificate": r.certificate, "item_code": r.item_code, "case_no": r.case_no},
        page_end)


async def _holder_view(api: Api, caller: Caller, id_number: str, read: Callable[[Api, str], list[Any]],
                       action: str, key: str, render: Callable[[Any], dict[str, Any]],
                       extra: Callable[[list[Any]], dict[str, Any]] | None = None) -> Response:
    """What the hall shows a signed-in holder: read by blind index, the reading itself audited, signed.
    ``id_number`` is the normalised number (:class:`HolderViewRequest`), so the echo is one person's one form."""
    bidx = api.gw.pii.bidx(id_number)
    rows = await api.run(read, api, bidx)
    await api.audit([AuditEntry(action=action, outcome="read", client_id=caller.client.client_id,
                                holder_ref=bidx)])
    return await api.signed_json({"holder_id_number": id_number if caller.full_ids else mask(id_number),
                                  key: [render(r) for r in rows], **(extra(rows) if extra else {})})


def _consents(api: Api, bidx: str) -> list[Any]:
    with api.gw.read_engine.connect() as conn:
        return list(sharing_queries.holder_consents(conn, bidx))


def _status(row: Any, now: datetime) -> str:
    if row.revoked_at is not None:
        return "withdrawn"
    return "active" if row.expires_at > now else "expired"


@router.post("/consents", response_model=HolderConsentsResponse,
             summary="The consents a holder has given: to whom, for what, until when, and which are withdrawn")
async def holder_consents(body: HolderViewRequest, caller: Caller = Depends(require("holders:read")),
                          api: Api = Depends(get_api)) -> Response:
    now = datetime.now(timezone.utc)
    return await _holder_view(api, caller, body.id_number, _consents, "consent-list", "consents", lambda r: {
        "consent_id": r.consent_id, "client_id": r.client_id, "client_name": r.name,
        "certificate_types": orjson.loads(r.certificate_types), "item_code": r.item_code, "case_no": r.case_no,
        "issued_at": r.issued_at.isoformat(), "expires_at": r.expires_at.isoformat(),
        "withdrawn_at": r.revoked_at.isoformat() if r.revoked_at else None, "status": _status(r, now)})
