"""Deferred materials (容缺受理 / 告知承诺) satisfied by the certificate library: once-only, applied afterwards.

A case accepted with a material missing or promised names the material, its due date and — where a certificate
can stand for it — the certificate type (证照类型代码). When a certificate of that type held by the applicant,
valid on the day (its validity started and has not ended) and not standing under a refused newer version from its
issuer (nobody is there to check with the issuer), is in the library (harvested, signature verified), the material
is received:
the case gets a new version with ``received_at`` set and the certificate listed among its materials (source
``certificate_reuse``), sent to the hall and the department like any change, and the ``deferred_material``
alert does not fire. Nobody asks the applicant for what another department has already issued.

Holders are found by the blind index of their ID number (:meth:`gateway.crypto.pii.PiiCodec.bidx`), as the
certificate gateway finds them: without the PII keys there is no lookup, and this step does nothing.

The look-up is a use of the holder's data by the case's department, so it takes the certificate gateway's
decisions, as ``GET /v1/cases/{case_no}/materials`` does: a type is looked up only if the sharing policy lets one
of the department's active clients use it for the case's item (``denied`` otherwise: the material stays
outstanding, its alert fires as usual), and, where the rule requires the holder's consent, only under a consent
the holder gave for this case and item that is neither withdrawn nor expired (``awaiting_consent``). A certificate
used is an audit entry in the chain (action ``materials``, outcome ``released``, the client it was used for), in
the transaction that writes the case: the holder sees it in "who used my data". A look-up that finds nothing
releases nothing and is not logged (the step runs every few minutes for every outstanding material).

Only a case still owed the material is looked at, by the deadline scan's rule
(:func:`~gateway.ops.deadlines.stages.owed_material_kinds`): none that ended unaccepted (withdrawn, refused at the
desk: :func:`~gateway.process.unaccepted.ended_unaccepted`), voided, returned or ended without what was asked for
(不予许可), and of a case finished with the licence granted only its pledged (告知承诺) materials — the licence is
issued first and the pledge checked afterwards. A front-desk
case the 一窗受理 hand-off has not yet given to a department (pending, or not registered yet) waits: the look-up
is the department's use of the holder's data, and the department gets the case from the hand-off, never from
this step. One case the step cannot look at (a seal no configured key opens, say) is that case's error — named,
alerted (``deferred_scan``) — and the others are still looked at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from gateway.crypto.error_text import describe_error
from gateway.kernel.config import SystemsConfig
from gateway.models.certificate import status_on
from gateway.models.datetimes import BEIJING
from gateway.models.identifiers import normalise
from gateway.ops.deadlines.stages import owed_material_kinds
from gateway.process.unaccepted import ended_unaccepted
from gateway.sharing.access.audit import AuditEntry, append_entries
from gateway.sharing.access.clients import Client, row_to_client
from gateway.sharing.access.policy import Policy
from gateway.store import access as access_store
from gateway.store import process as store
from gateway.store.certificates import find_certificates_for_holder, holders_of_certificate
from gateway.store.ledger import utcnow

__all__ = ["ACTOR", "DeferredReport", "satisfy_deferred_materials"]

ACTOR = "tongban.deferred"


@dataclass
class DeferredReport:
    checked: int = 0
    satisfied: int = 0
    cases: list[str] = field(default_factory=list)
    denied: int = 0
    """Outstanding materials of a type no client of the case's department may use for its item (not looked up)."""
    awaiting_consent: int = 0
    """Outstanding materials whose type needs the holder's consent, not given (not looked up)."""
    awaiting_handoff: int = 0
    """Front-desk cases no department has accepted yet through the 一窗受理 hand-off (not looked up yet)."""
    ended: int = 0
    """Cases that ended owing nothing any more (withdrawn, refused, voided; finished with no pledge outstanding)."""
    errors: dict[str, str] = field(default_factory=dict)
    """``case_no → why`` of the cases this pass could not look at (each a ``deferred_scan`` alert)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def satisfy_deferred_materials(engine: Engine, systems: SystemsConfig, pii: Any, *, policy: Policy,
                               audit_algorithm: str = "sha256", now: datetime | None = None) -> DeferredReport:
    """Mark received every outstanding deferred material whose certificate the applicant now holds and the case's
    department may use (``policy``: the certificate gateway's; ``audit_algorithm``: its chain's hash)."""
    now = now or utcnow()
    report = DeferredReport()
    if pii is None:
        return report
    after = ""
    while True:
        with engine.connect() as conn:
            rows = store.cases_with_certificate_deferrals(conn, after=after)
        if not rows:
            break
        after = rows[-1]["case_no"]
        for row in rows:
            report.checked += 1
            try:
                if _satisfy(engine, systems, pii, policy, audit_algorithm, row, now, report):
                    report.satisfied += 1
                    report.cases.append(row["case_no"])
            except (OperationalError, InterfaceError):
                raise  # the database, not this case: the task fails and is retried
            except Exception as exc:  # this case's own trouble: said, and the other cases are still looked at
                report.errors[row["case_no"]] = describe_error(exc, 1000)
    _scan_alerts(engine, report, now)
    return report


SCAN_ALERT = "deferred_scan"
"""The alert kind of a case the step could not look at (key: the case number); resolved by a pass that can."""


def _scan_alerts(engine: Engine, report: DeferredReport, now: datetime) -> None:
    from gateway.ops.alerts import item_error_alerts

    item_error_alerts(engine, SCAN_ALERT, report.errors, lambda case_no, error: (
        f"case {case_no}: its deferred materials cannot be looked up in the certificate library ({error}); the "
        "other cases are looked at, this one's materials stay outstanding until it is fixed"), now=now)


class _CaseProblem(Exception):
    """What stops the step on one case, naming the field and the rule."""

    def __init__(self, case_no: str, field_name: str, rule: str, message: str) -> None:
        super().__init__(f"case {case_no}: {field_name}: {rule}: {message}")


def _owed_kinds(row: dict[str, Any]) -> frozenset[str]:
    """Which kinds of deferred material the case is still owed: the deadline scan's rule
    (:func:`~gateway.ops.deadlines.stages.owed_material_kinds`), and none once it ended before anyone accepted it."""
    if ended_unaccepted(row, row["case_no"], None) is not None:
        return frozenset()
    return owed_material_kinds(row["data"])


def _handoff_stage(conn: Connection, systems: SystemsConfig, row: dict[str, Any]) -> str | None:
    """Where a front-desk case stands at the 一窗受理 hand-off: ``waiting`` (not registered yet, or not accepted
    yet: the hand-off gives it to the department), ``ended`` (refused, withdrawn), or None — accepted or deemed
    accepted, left with the hall that handles it (``not_handled``), or no front-desk case at all."""
    handoff = store.get_handoff(conn, row["case_no"])
    if handoff is not None:
        if handoff["state"] in ("accepted", "deemed", "not_handled"):  # not_handled: the hall keeps and handles it
            return None
        return "waiting" if handoff["state"] in ("pending", "awaiting_delivery") else "ended"
    halls = [name for name, system in systems.systems.items() if system.intake == "handoff"]
    # not registered yet: a hall's front-desk record, whoever wrote the newest version (a department's echo may)
    return "waiting" if store.held_by(conn, row["case_no"], halls) else None


def _satisfy(engine: Engine, systems: SystemsConfig, pii: Any, policy: Policy, audit_algorithm: str,
             row: dict[str, Any], now: datetime, report: DeferredReport) -> bool:
    data = row["data"]
    owed = _owed_kinds(row)
    outstanding = [(i, {**m, "certificate_type": normalise(str(m["certificate_type"]))})  # as a version stored
                   for i, m in enumerate(data.get("deferred_materials") or [])  # before codes were normalised
                   if isinstance(m, dict) and m.get("certificate_type") and not m.get("received_at")
                   and m.get("kind") in owed]
    number = (data.get("applicant") or {}).get("id_number")
    if not outstanding or not number:
        if not owed:
            report.ended += 1
        return False
    try:
        holder = pii.bidx(pii.open(number))
    except Exception as exc:  # noqa: BLE001 - a seal no configured key opens, a damaged one: this case's alone
        raise _CaseProblem(row["case_no"], "applicant.id_number", "pii.open", describe_error(exc, 500)) from exc
    item_code = row.get("item_code") or data.get("item_code") or ""
    stamp = now.astimezone(BEIJING).replace(microsecond=0).isoformat()
    today = now.astimezone(BEIJING).date()
    with engine.begin() as conn:
        stage = _handoff_stage(conn, systems, row)
        if stage is not None:
            if stage == "waiting":
                report.awaiting_handoff += 1
            else:
                report.ended += 1
            return False
        entitled = _Entitlement(conn, policy, row.get("dept_code"), holder, item_code, row["case_no"], now)
        found = {}
        for i, m in outstanding:
            user = entitled.client_for(m["certificate_type"])
            if user is None:
                if entitled.waiting:
                    report.awaiting_consent += 1
                else:
                    report.denied += 1
                continue
            valid = [c for c in find_certificates_for_holder(conn, holder, [m["certificate_type"]])
                     if status_on(c.status, c.valid_from, c.valid_until, today) == "valid" and c.refused_reason is None]
            if valid:
                found[i] = (valid[0], user)
        if not found:
            return False
        deferred = [dict(m) for m in data.get("deferred_materials") or []]
        materials = list(data.get("materials") or [])
        for i, (cert, _) in found.items():
            deferred[i]["received_at"] = stamp
            materials.append({"name": deferred[i]["name"], "source": "certificate_reuse", "count": 1,
                              "attachment": None, "certificate_no": cert.number})
        version = store.write_case_version(conn, row["case_no"], row["version"],
                                           {**data, "deferred_materials": deferred, "materials": materials,
                                            "updated_at": stamp}, origin=ACTOR)
        if version is None:
            return False  # the case moved on: the next run looks again
        # every holder's access log shows the use (a jointly held certificate's data is the co-holders' too), as
        # the API's releases do
        append_entries(conn, [AuditEntry(
            action="materials", outcome="released", client_id=user.client_id, holder_ref=ref,
            certificate=cert.identifier, item_code=item_code, case_no=row["case_no"], at=now,
            detail=f"deferred material {deferred[i]['name']} (容缺) received by reuse, for {user.name}"
                   + ("" if ref == holder else "; co-holder: released for the case's applicant"))
            for i, (cert, user) in found.items()
            for ref in [holder, *sorted(holders_of_certificate(conn, cert.identifier) - {holder})]], audit_algorithm)
        told = systems.targets_for(row.get("dept_code"), origin=ACTOR)
        store.queue(conn, row["case_no"], version, told, now)
        store.log(conn, row["case_no"], now, "deferred_satisfied", ACTOR, version=version, told=told,
                  materials=[deferred[i]["name"] for i in found],
                  certificates=[c.identifier for c, _ in found.values()])
    return True


_MATERIALS_SCOPE = "cases:read"
"""The scope ``GET /v1/cases/{case_no}/materials`` requires: the look-up is that route's release."""


class _Entitlement:
    """Which of the department's clients may use a certificate type for the case: the sharing policy's decision
    for the client, and the holder's consent where its rule requires one (read once per case)."""

    def __init__(self, conn: Connection, policy: Policy, dept_code: str | None, holder: str, item_code: str,
                 case_no: str, now: datetime) -> None:
        rows = access_store.department_clients(conn, dept_code) if dept_code else []
        # as GET /v1/cases/{case_no}/materials would: an active client holding the scope that route requires
        self.clients: list[Client] = [c for c in map(row_to_client, rows)
                                      if c.active(now) and _MATERIALS_SCOPE in c.scopes]
        self.policy = policy
        self.item_code = item_code
        consents = access_store.live_case_consents(
            conn, holder_bidx=holder, client_ids=[c.client_id for c in self.clients], item_code=item_code,
            case_no=case_no, now=now) if self.clients else []
        self.consented: dict[str, set[str]] = {}
        for consent in consents:
            self.consented.setdefault(consent.client_id, set()).update(orjson.loads(consent.certificate_types))
        self.waiting = False

    def client_for(self, type_code: str) -> Client | None:
        """The first client that may use ``type_code`` now, or None (``waiting``: one could, with consent)."""
        self.waiting = False
        for client in self.clients:
            decision = self.policy.decide((client.name, client.client_id), type_code, self.item_code)
            if not decision.allowed:
                continue
            if not decision.consent_required or type_code in self.consented.get(client.client_id, ()):
                return client
            self.waiting = True
        return None
