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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from gateway.kernel.config import SystemsConfig
from gateway.models.certificate import status_on
from gateway.models.datetimes import BEIJING
from gateway.store import process as store
from gateway.store.certificates import find_certificates_for_holder
from gateway.store.ledger import utcnow

__all__ = ["ACTOR", "DeferredReport", "satisfy_deferred_materials"]

ACTOR = "tongban.deferred"


@dataclass
class DeferredReport:
    checked: int = 0
    satisfied: int = 0
    cases: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def satisfy_deferred_materials(engine: Engine, systems: SystemsConfig, pii: Any, *,
                               now: datetime | None = None) -> DeferredReport:
    """Mark received every outstanding deferred material whose certificate the applicant now holds."""
    now = now or utcnow()
    report = DeferredReport()
    if pii is None:
        return report
    after = ""
    while True:
        with engine.connect() as conn:
            rows = store.cases_with_certificate_deferrals(conn, after=after)
        if not rows:
            return report
        after = rows[-1]["case_no"]
        for row in rows:
            report.checked += 1
            if _satisfy(engine, systems, pii, row, now):
                report.satisfied += 1
                report.cases.append(row["case_no"])


def _satisfy(engine: Engine, systems: SystemsConfig, pii: Any, row: dict[str, Any], now: datetime) -> bool:
    data = row["data"]
    outstanding = [(i, m) for i, m in enumerate(data.get("deferred_materials") or [])
                   if isinstance(m, dict) and m.get("certificate_type") and not m.get("received_at")]
    number = (data.get("applicant") or {}).get("id_number")
    if not outstanding or not number:
        return False
    holder = pii.bidx(pii.open(number))
    stamp = now.astimezone(BEIJING).replace(microsecond=0).isoformat()
    today = now.astimezone(BEIJING).date()
    with engine.begin() as conn:
        found = {}
        for i, m in outstanding:
            valid = [c for c in find_certificates_for_holder(conn, holder, [m["certificate_type"]])
                     if status_on(c.status, c.valid_from, c.valid_until, today) == "valid" and c.refused_reason is None]
            if valid:
                found[i] = valid[0]
        if not found:
            return False
        deferred = [dict(m) for m in data.get("deferred_materials") or []]
        materials = list(data.get("materials") or [])
        for i, cert in found.items():
            deferred[i]["received_at"] = stamp
            materials.append({"name": deferred[i]["name"], "source": "certificate_reuse", "count": 1,
                              "attachment": None, "certificate_no": cert.number})
        version = store.write_case_version(conn, row["case_no"], row["version"],
                                           {**data, "deferred_materials": deferred, "materials": materials,
                                            "updated_at": stamp}, origin=ACTOR)
        if version is None:
            return False  # the case moved on: the next run looks again
        told = systems.targets_for(row.get("dept_code"), origin=ACTOR)
        store.queue(conn, row["case_no"], version, told, now)
        store.log(conn, row["case_no"], now, "deferred_satisfied", ACTOR, version=version, told=told,
                  materials=[deferred[i]["name"] for i in found], certificates=[c.identifier for c in found.values()])
    return True
