"""A ledger for ``tongban handoff reroute`` tests: a case the civil department holds that the hall corrected to the
market department's item, and readers and writers of the outbox around it (on :mod:`handoff_ledger_testlib`)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from handoff_ledger_testlib import CALENDAR, CATALOGUE, case_doc, pending_handoff
from handoff_ledger_testlib import put_case as _put
from sqlalchemy import select

from gateway.models.datetimes import BEIJING
from gateway.process import scan_handoffs
from gateway.store.tables import cases, outbox, process_handoffs

MARKET = "11370100004301265T"  # sd_market's department
SUBSIDY = "BIZ-SUBSIDY-001"  # 企业扶持资金兑付: the market department's, in Jinan (3701)
HANDED = datetime(2026, 11, 2, 10, 0, tzinfo=BEIJING)  # a Monday morning
MOVED = HANDED + timedelta(minutes=4)


def corrected(case_no: str, **extra: Any) -> dict[str, Any]:
    """The hall's correction of a case taken at its own window: another item, whose department is the market's."""
    return case_doc(case_no, applied_at=HANDED, item_code=SUBSIDY, item_name="企业扶持资金兑付", dept_code=MARKET,
                    office=None, **extra)


def push_row(engine: Any, case_no: str, version: int, target: str, status: str, *, at: datetime | None = None) -> None:
    """An upsert of the case to ``target`` in ``status`` (``at``: when it was delivered)."""
    with engine.begin() as conn:
        conn.execute(outbox.insert().values(case_no=case_no, version=version, target_system=target, operation="upsert",
                                            status=status, attempts=0, next_attempt_at=HANDED, created_at=HANDED,
                                            delivered_at=at))


def outbox_rows(engine: Any, case_no: str) -> list[tuple[Any, ...]]:
    """``(version, target, operation, status)`` of every push of the case, by version and target."""
    o = outbox.c
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(o.version, o.target_system, o.operation, o.status)
                                               .where(o.case_no == case_no).order_by(o.version, o.target_system))]


def deliver(engine: Any, case_no: str, target: str, at: datetime) -> None:
    """``target``'s system takes the pending upserts of the case at ``at``."""
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.case_no == case_no, outbox.c.target_system == target,
                                           outbox.c.operation == "upsert", outbox.c.status == "pending")
                     .values(status="delivered", delivered_at=at))


def new_version(engine: Any, case_no: str, doc: dict[str, Any], origin: str) -> int:
    """The next version of the merged case, written by ``origin`` (what the sync merges)."""
    with engine.begin() as conn:
        version = conn.execute(select(cases.c.version).where(cases.c.case_no == case_no)).scalar_one() + 1
        conn.execute(cases.update().where(cases.c.case_no == case_no).values(
            version=version, data=json.dumps(doc, ensure_ascii=False), origin_system=origin,
            dept_code=doc.get("dept_code"), item_code=doc.get("item_code")))
    return version


def scan(engine: Any, systems: Any, at: datetime) -> Any:
    return scan_handoffs(engine, systems, CATALOGUE, now=at, calendar=CALENDAR)


def pending_at_civil(engine: Any, case_no: str) -> None:
    """A case the civil department took at HANDED (pending, window running till noon), then corrected at the hall."""
    _put(engine, corrected(case_no), version=3)
    pending_handoff(engine, case_no, handed=HANDED, forwarded_version=2)
    with engine.begin() as conn:
        conn.execute(process_handoffs.update().where(process_handoffs.c.case_no == case_no)
                     .values(due_at=HANDED + timedelta(hours=2)))
    push_row(engine, case_no, 2, "sd_civil", "delivered", at=HANDED)
