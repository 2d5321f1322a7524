"""Consents: the hall reports that a holder agreed (the gateway issues a token bound to that agreement), or that
the holder withdrew it (every gateway process refuses the token from then on; see gateway.sharing.access.revocations).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.access.clients import row_to_client
from gateway.sharing.access.revocations import withdraw
from gateway.sharing.access.tokens import ConsentClaims
from gateway.store import access as store

from ..deps import Api, Caller, get_api, require
from ..problems import PROBLEM_RESPONSES, ProblemError
from ..schemas import ConsentRequest, ConsentResponse, WithdrawRequest, WithdrawResponse

router = APIRouter(prefix="/v1/consents", tags=["consents"], responses=PROBLEM_RESPONSES)


def _store(api: Api, row: dict[str, object], types: list[str]) -> ProblemError | None:
    """Store the consent, if the client it is for can use one: an active client (a consent for a revoked or expired
    client would be a token nobody may redeem, shown to the holder as if it mattered) that the sharing policy gives
    each of ``types`` for the item (one it gives none of them for the item would be the same: the holder's list
    showed it active). The refusal otherwise."""
    with api.gw.engine.begin() as conn:
        found = store.find_client(conn, str(row["client_id"]))
        client = row_to_client(found) if found is not None else None
        if client is None or not client.active():
            return ProblemError(404, "not-found", f"no active client {row['client_id']}")
        item = str(row["item_code"])
        refused = [t for t in types if not api.gw.policy.decide((client.name, client.client_id), t, item).allowed]
        if refused:
            detail = (f"the sharing policy gives client {client.client_id} ({client.name}) no {', '.join(refused)} "
                      f"for item {item}: a consent for it could never be used")
            return ProblemError(422, "invalid-request", detail, errors=[
                {"loc": ["body", "certificate_types"], "msg": detail, "type": "consent.not_in_policy"}])
        store.insert_consent(conn, row)
        return None


@router.post("", response_model=ConsentResponse, status_code=201,
             summary="Issue a consent token after the holder agreed (called by the hall)")
async def issue_consent(body: ConsentRequest, caller: Caller = Depends(require("consents:issue")),
                        api: Api = Depends(get_api)) -> Response:
    settings = api.gw.settings
    ttl = timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else settings.consent_ttl
    ttl = min(ttl, settings.consent_max_ttl)
    now = datetime.now(timezone.utc)
    expires = now + ttl
    bidx = api.gw.pii.bidx(body.holder.id_number)
    consent_id = secrets.token_hex(8)
    types = list(dict.fromkeys(body.certificate_types))
    refused = await api.run(_store, api, {
        "consent_id": consent_id, "holder_bidx": bidx, "client_id": body.client_id,
        "certificate_types": orjson.dumps(types).decode(), "item_code": body.purpose.item_code,
        "case_no": body.purpose.case_no, "issued_by": caller.client.client_id, "issued_at": now, "expires_at": expires},
        types)
    if refused is not None:
        raise refused
    token = api.gw.consents.issue(ConsentClaims(consent_id, bidx, body.client_id, tuple(types), body.purpose.item_code,
                                                body.purpose.case_no, int(expires.timestamp())))
    await api.audit([AuditEntry(action="consent", outcome="granted", client_id=caller.client.client_id,
                                holder_ref=bidx, item_code=body.purpose.item_code, case_no=body.purpose.case_no,
                                detail=f"for client {body.client_id}: {','.join(types)} until {expires.isoformat()}")])
    return await api.signed_json({"consent_id": consent_id, "token": token, "expires_at": expires.isoformat()}, status=201)


ConsentP = Annotated[str, Path(min_length=1, max_length=32, description="The consent_id issued with the token")]


@router.post("/{consent_id}/withdraw", response_model=WithdrawResponse,
             summary="The holder withdraws a consent before it expires (called by the hall)")
async def withdraw_consent(consent_id: ConsentP, body: WithdrawRequest,
                           caller: Caller = Depends(require("consents:issue")),
                           api: Api = Depends(get_api)) -> Response:
    bidx = api.gw.pii.bidx(body.holder.id_number)
    done = await api.run(withdraw, api.gw.engine, api.gw.consents, consent_id, bidx)
    if done is None:
        raise ProblemError(404, "not-found", "the holder has no consent with this id")
    if done.newly:
        await api.audit([AuditEntry(action="consent", outcome="withdrawn", client_id=caller.client.client_id,
                                    holder_ref=bidx, detail=f"consent {consent_id}")])
    return await api.signed_json({"consent_id": consent_id, "withdrawn_at": done.revoked_at.isoformat(),
                                  "already_withdrawn": not done.newly})
