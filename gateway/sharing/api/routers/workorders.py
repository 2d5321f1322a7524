"""12345 work orders for the department they were routed to: its queue, one order, sign for it (签收), reply (答复).

Tongban routes each order from the hotline platform to the competent department within the platform's 15 minutes
(:mod:`gateway.citizen.workorders`); this is how the department's own system takes it from there — it polls
its queue, signs, and replies, and Tongban sends each step back to the platform once (the citizen outbox). A
client sees only the orders of its own department (``department_code``): another department's order is "not
found", not "forbidden", so order numbers cannot be probed. An order not routed yet (``received``) or returned to
the platform has no department, so no client sees it. Every answer is signed and every step audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from gateway.citizen import CitizenError, reply_workorder, sign_workorder
from gateway.citizen.workorders import LISTED, list_workorders
from gateway.crypto.pii import PiiCodec, open_text
from gateway.sharing.access.audit import AuditEntry
from gateway.store import citizen as store

from ..deps import Api, Caller, get_api, require
from ..problems import PROBLEM_RESPONSES, ProblemError, problem_doc
from ..schemas import WorkOrder, WorkOrderList, WorkOrderReplied, WorkOrderReply, WorkOrderSigned

router = APIRouter(prefix="/v1/workorders", tags=["workorders"], responses=PROBLEM_RESPONSES)
SCOPE = "workorders"
OrderP = Annotated[str, Path(min_length=1, max_length=64, description="The 12345 order number (工单编号)")]
Status = Literal["dispatched", "replied", "redo", "closed"]
_REFUSED = {409: problem_doc("The rules refuse this step now (record, field and rule named)")}


def _department(caller: Caller) -> str:
    dept = caller.client.department_code
    if not dept:
        raise ProblemError(403, "no-department", f"client {caller.client.name} belongs to no department: "
                                                 "work orders are routed to departments")
    return dept


def _wire(row: dict[str, Any], *, content_opened_with: PiiCodec | None = None) -> dict[str, Any]:
    """An order as a department reads it; with ``content_opened_with``, with the citizen's complaint, opened with
    that codec (the ledger keeps it sealed)."""
    out = {k: (v.isoformat() if isinstance(v := row[k], datetime) else v) for k in LISTED}
    if content_opened_with is not None:
        out["content"] = open_text(row.get("content"), content_opened_with)
    return out


def _own_order(api: Api, order_no: str, dept: str) -> dict[str, Any] | None:
    with api.gw.read_engine.connect() as conn:
        row = store.workorder(conn, order_no)
    return dict(row) if row is not None and row["dept_code"] == dept else None


async def _order_or_404(api: Api, order_no: str, dept: str) -> dict[str, Any]:
    row = await api.run(_own_order, api, order_no, dept)
    if row is None:
        raise ProblemError(404, "not-found", "no such work order routed to this client's department")
    return row


def _refused(exc: CitizenError) -> ProblemError:
    issue = exc.issue
    return ProblemError(409, "conflict", issue.message, record=issue.record, field=issue.field, rule=issue.rule)


@router.get("", response_model=WorkOrderList, summary="This department's work orders, oldest first")
async def department_queue(status: Annotated[Status | None, Query(description="Only orders in this state")] = None,
                           after: Annotated[str | None, Query(max_length=64, description="next_after of the page "
                                                                                          "before")] = None,
                           limit: Annotated[int, Query(ge=1, le=500)] = 100,
                           caller: Caller = Depends(require(SCOPE)), api: Api = Depends(get_api)) -> Response:
    dept = _department(caller)
    if after is not None and await api.run(_own_order, api, after, dept) is None:
        raise ProblemError(422, "invalid-request", "after is not an order of this department's queue (pass the "
                                                   "next_after of the page before)",
                           errors=[{"loc": ["query", "after"], "msg": "unknown cursor", "type": "cursor"}])
    rows = await api.run(lambda: list_workorders(api.gw.read_engine, dept_code=dept, status=status, after=after,
                                                 limit=limit))
    await api.audit([AuditEntry(action="workorders", outcome="listed", client_id=caller.client.client_id,
                                detail=f"{len(rows)} of department {dept}" + (f" ({status})" if status else ""))])
    return await api.signed_json({"orders": [_wire(r) for r in rows],
                                  "next_after": rows[-1]["order_no"] if len(rows) == limit else None})


@router.get("/{order_no}", response_model=WorkOrder, summary="One work order of this department, with its content")
async def one_order(order_no: OrderP, caller: Caller = Depends(require(SCOPE)),
                    api: Api = Depends(get_api)) -> Response:
    row = await _order_or_404(api, order_no, _department(caller))
    await api.audit([AuditEntry(action="workorders", outcome="read", client_id=caller.client.client_id,
                                case_no=row["case_no"], detail=f"order {order_no}")])
    return await api.signed_json(_wire(row, content_opened_with=api.gw.pii))


@router.post("/{order_no}/sign", response_model=WorkOrderSigned, responses=_REFUSED,
             summary="Sign for a dispatched order (签收)")
async def sign(order_no: OrderP, caller: Caller = Depends(require(SCOPE)), api: Api = Depends(get_api)) -> Response:
    await _order_or_404(api, order_no, _department(caller))
    try:
        done = await api.run(lambda: sign_workorder(api.gw.engine, order_no, pii=api.gw.pii))
    except CitizenError as exc:
        raise _refused(exc) from exc
    await api.audit([AuditEntry(action="workorders", outcome="signed", client_id=caller.client.client_id,
                                detail=f"order {order_no}" + ("" if done["on_time"] else " (late)"))])
    return await api.signed_json({"order_no": order_no, "signed_at": done["signed_at"].isoformat(),
                                  "on_time": done["on_time"]})


@router.post("/{order_no}/reply", response_model=WorkOrderReplied, responses=_REFUSED,
             summary="Reply to an order (答复): the first reply, or the redo's")
async def reply(order_no: OrderP, body: WorkOrderReply, caller: Caller = Depends(require(SCOPE)),
                api: Api = Depends(get_api)) -> Response:
    await _order_or_404(api, order_no, _department(caller))
    try:
        done = await api.run(lambda: reply_workorder(api.gw.engine, order_no, body.text, pii=api.gw.pii))
    except CitizenError as exc:
        raise _refused(exc) from exc
    await api.audit([AuditEntry(action="workorders", outcome="replied", client_id=caller.client.client_id,
                                detail=f"order {order_no} round {done['round']}" + ("" if done["on_time"] else " (late)"))])
    return await api.signed_json({"order_no": order_no, "round": done["round"],
                                  "replied_at": done["replied_at"].isoformat(), "on_time": done["on_time"],
                                  "sent": done["sent"], "signed_now": done["signed_now"]})
