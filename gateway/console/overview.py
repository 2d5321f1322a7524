"""Every number the console shows, read from the ledger into one JSON-ready dict.

The pages render this dict and ``/console/api/overview`` returns it as it is, so what an operator sees and what
a test (or another tool) reads are the same figures by construction. The per-system figures come from
:func:`gateway.ops.status.system_status` and the alerts from :func:`gateway.ops.alerts.open_alerts` — the same
functions ``tongban status`` uses, so the console and the CLI never disagree.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from gateway.catalogue.audit import latest_findings_summary, tracked_findings
from gateway.citizen.evaluations import evaluation_summary
from gateway.citizen.workorders import workorder_summary
from gateway.kernel.runtime import Runtime
from gateway.models.datetimes import beijing_iso
from gateway.ops.alerts import open_alerts
from gateway.ops.dead_letters import grouped_dead_letters
from gateway.ops.humanize import human_age, human_duration
from gateway.ops.kpi import kpi_summary
from gateway.ops.status import system_status
from gateway.store import alerts as alert_store
from gateway.store import console as reads
from gateway.store import queries
from gateway.store.process import WAITING as ATTENTION
from gateway.store.process import handoff_state_counts, handoffs_waiting_first

_RED_DEADLINES_SHOWN = 20
_RUN_HISTORY = timedelta(days=7)
_FINDINGS_SHOWN = 12
_FINDINGS_PER_KIND = 3
_HANDOFFS_SHOWN = 12
HANDOFF_PAGE = 100
"""Hand-offs listed a page on ``/console/handoffs``."""

Health = str
"""``ok`` | ``warning`` | ``error`` | ``never``: the colour of a system's row."""


def _health(row: dict[str, Any], behind: bool, system_errors: int) -> Health:
    last = row["last_run"]
    if last is None:
        return "never"
    if last["status"] == "failed" or system_errors:
        return "error"
    if last["status"] == "degraded" or behind:
        return "warning"
    return "ok"


def _systems(runtime: Runtime, alerts: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Per system, as :func:`gateway.ops.status.system_status` reports it (``lag_s`` since the last successful
    sync, ``source_change_age_s`` since the newest source change), with the row's health and human units."""
    errors = Counter(a["system"] for a in alerts if a["level"] == "error")
    rows = []
    for row in system_status(runtime.engine, runtime.systems, now=now):
        last = row["last_run"] or {}
        read = int(last.get("read") or 0)
        rejected = int(last.get("rejected") or 0)
        row.update(
            health=_health(row, row["behind"], errors[row["system"]]),
            lag_human=human_duration(row["lag_s"]) if row["lag_s"] is not None else "never succeeded",
            source_change_human=human_age(row["source_change_age_s"]),
            rejected_share=round(rejected / read, 4) if read else 0.0,
            flagged=sum((last.get("quality_flags") or {}).values()),
        )
        rows.append(row)
    order = {"error": 0, "warning": 1, "never": 2, "ok": 3}
    return sorted(rows, key=lambda r: (order[r["health"]], r["system"]))


_TIME_LIMIT_LEVELS = ("red", "yellow")
"""Alerts at these levels are clocks running out (case and stage deadlines, deferred materials, 好差评 callbacks,
12345 orders): there may be thousands, so they are counted, never listed one by one among the errors."""


def _deadlines(runtime: Runtime) -> dict[str, Any]:
    """Time-limit alerts as counts by kind × system × stage (there may be hundreds of thousands: counted in SQL,
    never read one by one) and the most overdue reds."""
    by: dict[tuple[str, str, str], dict[str, int]] = {}
    with runtime.engine.connect() as conn:
        groups = alert_store.time_limit_counts(conn, _TIME_LIMIT_LEVELS)
        reds = alert_store.most_overdue(conn, "red", _RED_DEADLINES_SHOWN)
    for kind, system, stage, level, count in groups:
        label = stage or ("whole case" if kind == "deadline" else "")
        counts = by.setdefault((kind, system or "", label), {"yellow": 0, "red": 0})
        counts[level] = counts.get(level, 0) + count
    return {
        "by_stage": [{"kind": k, "system": s, "stage": st, **c} for (k, s, st), c in sorted(by.items())],
        "yellow": sum(c["yellow"] for c in by.values()),
        "red": sum(c["red"] for c in by.values()),
        "most_overdue": [{"kind": r["kind"], "case_no": r["case_no"] or r["key"], "system": r["system"],
                          "stage": r["stage"] or ("whole case" if r["kind"] == "deadline" else ""),
                          "message": r["message"], "due_at": r["due_at"]}
                         for r in reds],
    }


def _catalogue(runtime: Runtime) -> dict[str, Any]:
    """The last audit, open findings by kind, and a few open findings of each kind — "no case for N months"
    (the most common, least urgent) after the others, so a time-limit conflict is not buried under 3,000 of them."""
    summary = latest_findings_summary(runtime.engine, top=_FINDINGS_SHOWN)
    kinds = sorted((k for k, n in summary["open_by_kind"].items() if n), key=lambda k: k == "dormant")
    per_kind = [tracked_findings(runtime.engine, kind=kind)[:_FINDINGS_PER_KIND] for kind in kinds]
    # round by round (the first of every kind, then the second …): taken kind by kind, the first four kinds
    # filled the list and the others never showed, under a heading that read like the whole list
    shown = [found[i] for i in range(_FINDINGS_PER_KIND) for found in per_kind if i < len(found)]
    summary["top"] = shown[:_FINDINGS_SHOWN]
    return summary


def handoff_listing(runtime: Runtime, *, state: str | None = None, offset: int = 0,
                    limit: int = HANDOFF_PAGE) -> list[dict[str, Any]]:
    """Hand-offs, ``limit`` from ``offset`` (in ``state`` when given), those waiting first
    (:func:`gateway.store.process.handoffs_waiting_first`), times in Beijing time."""
    with runtime.engine.connect() as conn:
        rows = handoffs_waiting_first(conn, state=state, offset=offset, limit=limit)
    return [{k: (beijing_iso(v) if isinstance(v, datetime) else v) for k, v in r.items()} for r in rows]


def handoff_counts(runtime: Runtime) -> tuple[dict[str, int], int]:
    """``({state: hand-offs}, late answers)`` over every hand-off, counted in SQL."""
    with runtime.engine.connect() as conn:
        return handoff_state_counts(conn)


def _handoffs(runtime: Runtime) -> dict[str, Any]:
    """The panel's hand-offs: counts over all of them, how many need attention, and the first
    :data:`_HANDOFFS_SHOWN` in :func:`handoff_listing`'s order."""
    counts, late = handoff_counts(runtime)
    return {"counts": counts, "late_answers": late, "total": sum(counts.values()),
            "attention": sum(counts.get(s, 0) for s in ATTENTION),
            "handoffs": handoff_listing(runtime, limit=_HANDOFFS_SHOWN)}


def console_overview(runtime: Runtime, *, now: datetime | None = None, kpi_period: str | None = None,
                     kpi_month_of: str = "applied") -> dict[str, Any]:
    """The whole console state. Errors are never cut: every non-deadline alert is listed, most severe first.
    ``kpi_period``: the month (or year) the KPI table sets against the one before (default: this month), by the
    months of ``kpi_month_of`` (applied, accepted, finished)."""
    now = now or datetime.now(timezone.utc)
    operational = open_alerts(runtime.engine, levels=("error", "warning"))  # every error, every warning
    with runtime.engine.connect() as conn:
        runs = reads.sync_totals_by_system(conn, since=now - _RUN_HISTORY)  # summed in SQL
        outbox = reads.outbox_by_target_and_status(conn)
        reconciled = reads.latest_reconciliations(conn)
        day = reads.first_audit_seq_since(conn, now - timedelta(days=1))  # each window's start found once
        week = reads.first_audit_seq_since(conn, now - timedelta(days=7))
        uses_day = reads.certificate_uses_by_action(conn, first=day)
        uses_week = reads.certificate_uses_by_action(conn, first=week)
        by_client = reads.certificate_uses_by_client(conn, first=week)
        recent_uses = reads.recent_certificate_uses(conn)
        dead_total = queries.open_dead_letter_total(conn)  # records, not rule breaks: a record may break several
    groups = grouped_dead_letters(runtime.engine)
    kpis = kpi_summary(runtime.engine, period=kpi_period, month_of=kpi_month_of)  # type: ignore[arg-type]  # the facts the nightly DAG (or tongban kpi) refreshed; no refresh here
    catalogue = _catalogue(runtime)
    handoffs = _handoffs(runtime)  # counts over all of them, in SQL; those needing attention listed first
    evaluations = evaluation_summary(runtime.engine, now=now, rateable_cases=kpis["facts"]["rateable_cases"])
    workorders = workorder_summary(runtime.engine, now=now)
    deadlines = _deadlines(runtime)
    levels = Counter(a["level"] for a in operational) + Counter(red=deadlines["red"], yellow=deadlines["yellow"])
    return {
        "generated_at": now,
        "systems": _systems(runtime, operational, now),
        "alerts": operational,
        "alert_counts": {lvl: levels.get(lvl, 0) for lvl in ("error", "warning", "red", "yellow")},
        "deadlines": deadlines,
        "dead_letters": {"total": dead_total, "groups": [g.as_dict() for g in groups]},
        "outbox": [{"target": target, **counts} for target, counts in sorted(outbox.items())],
        "reconciliations": reconciled,
        "runs_by_system": runs,
        "certificate_uses": {"last_day": uses_day, "last_week": uses_week, "by_client": by_client,
                             "recent": recent_uses},
        "kpis": kpis,
        "catalogue": catalogue,
        "handoffs": handoffs,
        "evaluations": evaluations,
        "workorders": workorders,
    }


__all__ = ["ATTENTION", "HANDOFF_PAGE", "console_overview", "handoff_counts", "handoff_listing"]
