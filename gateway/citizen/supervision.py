"""Supervision of the citizen's voice: the alerts a person must act on, recomputed from the whole picture.

- ``workorder_dispatch``: a 12345 order not routed 15 minutes after the platform handed it out (red: a time
  limit, like the case deadlines; an error would fail every DAG's alert check for a business matter);
- ``workorder_overdue``: a dispatched order not signed for (签收) in time (yellow), or a dispatched order or a redo
  not replied by its due time (red);
- ``workorder_callback``: a reply the platform has not called back (回访) within its working days (yellow: the
  platform's duty, but the district's satisfaction figure waits for it);
- ``callback_overdue``: a bad review not called back by the close of its working day (red);
- ``rectification_overdue``: a rectification not finished by its due time (red).

Each scan makes the open alerts of these kinds exactly the ones still true (as the deadline scan does); the
misuse alerts are :mod:`gateway.citizen.misuse`'s.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine

from gateway.models.datetimes import beijing_minute
from gateway.ops.alerts import AlertSpec, apply_alerts
from gateway.ops.deadlines.calendar import BEIJING, WorkCalendar
from gateway.store import alerts as alert_store
from gateway.store import citizen as store
from gateway.store import ledger

from .settings import Policy

__all__ = ["ALERT_KINDS", "scan_citizen"]

ALERT_KINDS = ("workorder_dispatch", "workorder_overdue", "workorder_callback", "callback_overdue",
               "rectification_overdue")


def _wanted(now: datetime, conn: Any, calendar: WorkCalendar,
            policy: Policy) -> dict[str, dict[str, tuple[str, str, str | None]]]:
    """kind → key → (level, message, case number)."""
    out: dict[str, dict[str, tuple[str, str, str | None]]] = {k: {} for k in ALERT_KINDS}
    for r in store.workorders_by_status(conn, ["replied"]):
        waited = calendar.add_days(r["replied_at"].astimezone(BEIJING).date(), policy.callback_days)
        if now.astimezone(BEIJING).date() > waited:
            out["workorder_callback"][r["order_no"]] = (
                "yellow", f"12345 工单 {r['order_no']}: replied {beijing_minute(r['replied_at'])}, no callback "
                          f"rating from the platform within {policy.callback_days} working days", r["case_no"])
    for r in store.workorders_by_status(conn, ["received", "dispatched", "redo"]):
        if r["status"] == "received" and r["dispatch_due_at"] < now:
            out["workorder_dispatch"][r["order_no"]] = (
                "red", f"12345 工单 {r['order_no']} ({r['category']}, {r['division']}) not dispatched "
                         f"{(now - r['received_at']).total_seconds() / 60:.0f} min after 派单 (due "
                         f"{beijing_minute(r['dispatch_due_at'])})", r["case_no"])
        due = r["redo_due_at"] if r["status"] == "redo" else r["reply_due_at"]
        if (r["status"] == "dispatched" and r["signed_at"] is None and r["sign_due_at"] is not None
                and r["sign_due_at"] < now and not (due is not None and due < now)):
            out["workorder_overdue"][r["order_no"]] = (
                "yellow", f"12345 工单 {r['order_no']}: not signed for (签收) since {beijing_minute(r['sign_due_at'])} "
                          f"({r['dept_name'] or r['dept_code']})", r["case_no"])
        if r["status"] != "received" and due is not None and due < now:
            what = "redo" if r["status"] == "redo" else "reply"
            out["workorder_overdue"][r["order_no"]] = (
                "red", f"12345 工单 {r['order_no']}: {what} overdue since {beijing_minute(due)} "
                       f"({r['dept_name'] or r['dept_code']})", r["case_no"])
    for c in store.callback_rows(conn):
        if c["appeal"] == "upheld" or c["revoked"] or not c["bad"] or c["predates"]:
            continue  # set aside, withdrawn, changed to good, or history from before the cut-over
        if c["done_at"] is None and c["due_at"] < now:
            out["callback_overdue"][c["rating_id"]] = (
                "red", f"差评 {c['rating_id']} (case {c['case_no']}) not called back by {beijing_minute(c['due_at'])}",
                c["case_no"])
        if c["rect_due_at"] is not None and c["rect_done_at"] is None and c["rect_due_at"] < now:
            out["rectification_overdue"][c["rating_id"]] = (
                "red", f"差评 {c['rating_id']} (case {c['case_no']}): rectification overdue since "
                       f"{beijing_minute(c['rect_due_at'])}", c["case_no"])
    return out


def scan_citizen(engine: Engine, *, now: datetime | None = None, calendar: WorkCalendar | None = None,
                 policy: Policy | None = None) -> dict[str, dict[str, int]]:
    """Open, refresh and resolve the citizen alerts; returns ``{kind: {"open": n, "new": n, "resolved": n}}``."""
    now = now or datetime.now(timezone.utc)
    calendar, policy = calendar or WorkCalendar.load(), policy or Policy()
    stamp = ledger.utcnow()
    result: dict[str, dict[str, int]] = {}
    with engine.begin() as conn:
        wanted = _wanted(now, conn, calendar, policy)
        for kind, alerts in wanted.items():
            system = "hotline" if kind.startswith("workorder") else "evaluator"
            specs = [AlertSpec(key=key, level=level, message=message, system=system, case_no=case_no)
                     for key, (level, message, case_no) in alerts.items()]
            result[kind] = apply_alerts(conn, kind, specs, alert_store.open_keys(conn, kind), now=stamp)
    return result
