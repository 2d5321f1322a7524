"""Subscriptions to certificate status changes (webhooks with signed payloads)."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.certificates.webhook_targets import target_problem
from gateway.store import subscriptions as store

from ..deps import Api, Caller, get_api, require
from ..problems import PROBLEM_RESPONSES, ProblemError
from ..schemas import SubscriptionList, SubscriptionOut, SubscriptionRequest

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"], responses=PROBLEM_RESPONSES)
Sub = Depends(require("subscriptions"))


def _out(row: Any) -> dict[str, Any]:
    return {"subscription_id": row.subscription_id, "url": row.url,
            "certificate_types": orjson.loads(row.certificate_types), "active": bool(row.active),
            "created_at": row.created_at.isoformat()}


def _insert(api: Api, row: dict[str, Any]) -> Any:
    """The subscription as stored, or None when the client holds its limit of active ones already (counted in the
    transaction that inserts: two concurrent requests cannot both pass on SQLite; on PostgreSQL the limit may be
    passed by the requests in flight at once, no further)."""
    with api.gw.engine.begin() as conn:
        if store.count_active_subscriptions(conn, row["client_id"]) >= api.gw.settings.webhook_max_subscriptions:
            return None
        return store.insert_subscription(conn, row)


@router.post("", response_model=SubscriptionOut, status_code=201, summary="Subscribe to status changes")
async def subscribe(body: SubscriptionRequest, caller: Caller = Sub, api: Api = Depends(get_api)) -> Response:
    allowed = api.gw.policy.types_for(caller.names)
    refused = [t for t in body.certificate_types if t not in allowed]
    if refused:
        raise ProblemError(403, "policy", f"the sharing policy gives this client no access to {', '.join(refused)}")
    problem = await api.run(target_problem, body.url, api.gw.settings.webhook_allowed_hosts)
    if problem is not None:
        await api.audit([caller.deny_entry("subscribe", "refused", detail=problem[:500])])
        raise ProblemError(422, "invalid-request", problem, errors=[
            {"loc": ["body", "url"], "msg": problem, "type": "webhook_target"}])
    row = await api.run(_insert, api, {
        "subscription_id": secrets.token_hex(8), "client_id": caller.client.client_id, "url": body.url,
        "certificate_types": orjson.dumps(sorted(set(body.certificate_types))).decode(), "active": True,
        "created_at": datetime.now(timezone.utc)})
    if row is None:  # every event fans out to each subscription: unbounded, one client turned the gateway into a
        # POST amplifier aimed at the district's network
        limit = api.gw.settings.webhook_max_subscriptions
        await api.audit([caller.deny_entry("subscribe", "refused", detail=f"limit of {limit} subscriptions")])
        raise ProblemError(409, "conflict", f"this client holds {limit} active subscriptions, the gateway's limit "
                                            "(webhook_max_subscriptions): cancel one first")
    await api.audit([AuditEntry(action="subscribe", outcome="subscribed", client_id=caller.client.client_id,
                                detail=f"{row.subscription_id} {urlsplit(body.url).hostname} "
                                       f"{','.join(sorted(set(body.certificate_types)))}"[:500])])
    return await api.signed_json(_out(row), status=201)


def _list(api: Api, client_id: str) -> list[Any]:
    with api.gw.read_engine.connect() as conn:
        return list(store.active_subscriptions_of_client(conn, client_id))


@router.get("", response_model=SubscriptionList, summary="This client's active subscriptions")
async def list_subscriptions(caller: Caller = Sub, api: Api = Depends(get_api)) -> Response:
    rows = await api.run(_list, api, caller.client.client_id)
    return await api.signed_json({"subscriptions": [_out(r) for r in rows]})


def _cancel(api: Api, client_id: str, subscription_id: str) -> int:
    with api.gw.engine.begin() as conn:
        return store.cancel_subscription(conn, client_id, subscription_id)


@router.delete("/{subscription_id}", status_code=204, summary="Cancel a subscription",
               responses={204: {"description": "Cancelled"}})
async def cancel(subscription_id: Annotated[str, Path(min_length=1, max_length=64)], caller: Caller = Sub,
                 api: Api = Depends(get_api)) -> Response:
    if not await api.run(_cancel, api, caller.client.client_id, subscription_id):
        raise ProblemError(404, "not-found", "no such active subscription of this client")
    await api.audit([AuditEntry(action="subscribe", outcome="cancelled", client_id=caller.client.client_id,
                                detail=subscription_id)])
    return Response(status_code=204)
