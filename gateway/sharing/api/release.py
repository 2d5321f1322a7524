"""The checks before anything is released: purpose (the case), policy (client × type × item), consent.

A stated purpose is checked, not just logged: the case must be in the ledger (and not deleted), its item must be
the stated item, it must be handled by the client's department, it must name the holder (its applicant), and it
must be open or finished within ``purpose_after_finish`` (30 days).
Every denial is written to the audit log before the 403 goes out.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import Connection

from gateway.crypto.pii import normalize_id
from gateway.models.datetimes import BEIJING, parse_instant
from gateway.sharing.access.audit import AuditEntry
from gateway.sharing.access.tokens import ConsentError
from gateway.store import sharing_queries

from .deps import Api, Caller
from .problems import ProblemError
from .schemas import Purpose

__all__ = ["CaseFacts", "case_facts_from", "check_policy", "consent_problem", "deny", "load_case", "purpose_lapsed",
           "purpose_problem"]


@dataclass(slots=True)
class CaseFacts:
    case_no: str
    dept_code: str | None
    item_code: str | None
    deleted: bool
    applicant_id: str | None
    applicant_name: str | None
    finished_at: str | None = None
    """办结时间 as the document writes it (ISO 8601, +08:00); None while the case is open."""


def case_facts_from(row: tuple[Any, ...]) -> CaseFacts:
    """From ``case_no, dept_code, item_code, deleted, applicant id, finished_at`` (the first columns of
    :func:`gateway.store.sharing_queries.find_case_and_certificates`)."""
    return CaseFacts(row[0], row[1], row[2], bool(row[3]), row[4], None, row[5])


def load_case(conn: Connection, case_no: str) -> CaseFacts | None:
    row = sharing_queries.case_for_release(conn, case_no)
    if row is None:
        return None
    data = orjson.loads(row.data)
    applicant = data.get("applicant") or {}
    return CaseFacts(row.case_no, row.dept_code, row.item_code, bool(row.deleted), applicant.get("id_number"),
                     applicant.get("name"), data.get("finished_at"))


def purpose_lapsed(api: Api, case_no: str, finished_at: Any, *, now: datetime | None = None) -> str | None:
    """Why a case finished too long ago serves as no purpose any more (None: it still does, or it is open):
    ``purpose_after_finish`` after its 办结时间 the case needs no certificate and no material (DOMAIN.md: access is
    limited to what the case needs). A finish time the document writes unreadably is no finish here: the case
    stays a purpose (its record is flagged where it was validated)."""
    finished = parse_instant(finished_at, naive=BEIJING)
    if finished is None:
        return None
    grace = api.gw.settings.purpose_after_finish
    if (now or datetime.now(timezone.utc)) <= finished + grace:
        return None
    return (f"case {case_no} finished on {finished.astimezone(BEIJING):%Y-%m-%d}, more than {grace.days} days ago: "
            f"no longer a purpose (purpose_after_finish)")


async def deny(api: Api, caller: Caller, kind: str, detail: str, *, action: str,
               holder_ref: str | Collection[str] | None, purpose: Purpose | None,
               certificate: str | None = None) -> ProblemError:
    """Audit the denial (committed before answering), count it, and return the error to raise. ``holder_ref``:
    whose data the attempt was on — one entry per holder, so each sees it in their access log and nobody else
    does (a certificate's holders, not the applicant of a case that names someone else)."""
    refs = [holder_ref] if holder_ref is None or isinstance(holder_ref, str) else sorted(holder_ref) or [None]
    await api.audit([AuditEntry(action=action, outcome=f"denied:{kind}", client_id=caller.client.client_id,
                                holder_ref=ref, certificate=certificate,
                                item_code=purpose.item_code if purpose else None,
                                case_no=purpose.case_no if purpose else None, detail=detail) for ref in refs])
    api.metrics.denials.labels(kind).inc()
    return ProblemError(403, kind, detail)


def purpose_problem(api: Api, caller: Caller, case: CaseFacts | None, purpose: Purpose,
                    holder_id: str | None) -> str | None:
    """Why the stated purpose does not hold (None: it holds). ``holder_id``: the holder's ID number as asked
    for, compared with the case's applicant after :func:`normalize_id` (the form the blind index hashes)."""
    if case is None or case.deleted or not caller.client.department_code \
            or case.dept_code != caller.client.department_code:
        # one answer for "no such case" and "another department's case": a client cannot probe which case numbers
        # exist elsewhere, or of which item they are
        return f"case {purpose.case_no} is not a live case of the client's department"
    if case.item_code != purpose.item_code:
        return f"case {purpose.case_no} is not a case of item {purpose.item_code}"
    lapsed = purpose_lapsed(api, purpose.case_no, case.finished_at)
    if lapsed is not None:
        return lapsed
    if holder_id is not None:
        applicant = api.gw.pii.open(case.applicant_id) if case.applicant_id else None
        if applicant is None or normalize_id(applicant) != normalize_id(holder_id):
            return f"case {purpose.case_no} does not name this holder"
    return None


def check_policy(api: Api, caller: Caller, types: list[str], item_code: str) -> tuple[list[str], bool]:
    """(types the policy denies, whether consent is required for the allowed ones)."""
    denied, consent = [], False
    for type_code in types:
        decision = api.gw.policy.decide(caller.names, type_code, item_code)
        if not decision.allowed:
            denied.append(type_code)
        consent = consent or decision.consent_required
    return denied, consent


def consent_problem(api: Api, caller: Caller, token: str | None, *, holder_bidx: str, types: list[str],
                    purpose: Purpose) -> str | None:
    if not token:
        return "the holder's consent is required: pass the consent token issued at POST /v1/consents"
    try:
        claims = api.gw.consents.check(token)
    except ConsentError as exc:
        return str(exc)
    for type_code in types:
        if not claims.covers(holder=holder_bidx, client_id=caller.client.client_id, type_code=type_code,
                             item_code=purpose.item_code, case_no=purpose.case_no):
            return "the consent token does not cover this holder, client, certificate type and purpose"
    return None

