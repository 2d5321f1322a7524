"""The bodies of Tongban's Airflow tasks: thin calls into ``gateway`` that return JSON-able summaries (XCom).

No Airflow import here: each function opens a :class:`~gateway.kernel.runtime.Runtime` from the environment
(``TONGBAN_SYSTEMS``, ``TONGBAN_DATABASE_URL``; Airflow workers carry them), does one thing and closes it. A
failure raises; the DAG decides about retries. :func:`permanent` tells the DAG which errors retrying cannot fix.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.contract.errors import ConfigError, TongbanError
from gateway.crypto.error_text import describe_error

HARVEST_FUNCTION = "gateway.sharing.certificates:harvest"
"""What the certificate DAG calls, for every issuer of the gateway file (``tongban harvest`` does the same):
``harvest(gateway_runtime, issuer) -> HarvestReport``, with ``gateway.sharing.settings.GatewayRuntime.create(runtime)``."""


class TaskFailed(TongbanError):
    """A task body's error as Airflow receives it: its text masked (:func:`describe_error`) and its chain cut — a
    chained SQLAlchemy or driver error printed under it quoted the records' names and ID numbers into the task
    log. The task logs the masked traceback first (:func:`gateway.crypto.error_text.masked_traceback`). Retried
    as any error is."""


class HarvestUnavailable(TongbanError):
    """The certificate library's harvest entry point is not installed in this deployment."""


@contextmanager
def _runtime() -> Iterator[Any]:
    """The task's runtime. The ledger is not migrated here (a new one is created): that is the deployment's init
    step, ``tongban db upgrade`` — a behind ledger fails the task, permanently, saying so."""
    from gateway.kernel.runtime import Runtime
    from gateway.orchestration.connections import install_airflow_resolver

    install_airflow_resolver()
    from gateway.store.db import safe_url

    url = worker_ledger_url()
    log.info("ledger: %s", safe_url(url))
    runtime = Runtime.from_env(database_url=url, migrate="new")
    try:
        yield runtime
    finally:
        runtime.close()


log = logging.getLogger(__name__)


def permanent(exc: BaseException | None) -> bool:
    """Errors a retry cannot fix: a broken systems file, a missing secret, a missing feature — also when a
    recorded run failure (``SyncFailed``) carries one as its cause."""
    while exc is not None:
        if isinstance(exc, ConfigError | HarvestUnavailable | OpenErrorAlerts):
            return True
        exc = exc.__cause__
    return False


def run_sync(system: str, *, full_refresh: bool = False) -> dict[str, Any]:
    """One sync of ``system``; a success resolves the system's ``sync_failed`` and ``behind`` alerts. A failure is
    recorded in the run and alerted only when Airflow gives up on it (the failure callback), not on a try that a
    retry may fix."""
    from gateway.sync.engine import sync_system

    with _runtime() as runtime:
        report = sync_system(runtime, system, full_refresh=full_refresh, alert_failures=False)  # resolves them
        summary = report.as_dict()
        for line in run_summary(summary):
            log.info("%s", line)
        return summary


def run_summary(report: dict[str, Any]) -> list[str]:
    """The end of a sync task's log, like dlt's load info: what came in, what was kept, what was flagged."""
    lines = [f"sync {report['system']} {report['status']} (run {report['run_id']}, {report['duration_s']} s): "
             f"read {report['read']}, inserted {report['inserted']}, updated {report['updated']}, "
             f"unchanged {report['unchanged']}, rejected {report['rejected']}, deleted {report['deleted']}, "
             f"queued {report.get('queued', 0)} pushes; watermark {report['watermark_before']} -> "
             f"{report['watermark_after']}"]
    lines += [f"  quality flag {rule}: {count} records" for rule, count in (report.get("warnings") or {}).items()]
    if report.get("unmapped_source_fields"):
        lines.append("  source fields the mapping does not read: " + ", ".join(report["unmapped_source_fields"]))
    if report.get("error"):
        lines.append(f"  {report['error']}")
    return lines


class PushFailed(TongbanError):
    """The target could not be reached for the whole drain (an outage, 5xx only, refused credentials) or its
    lease is held: retriable — the rows stay queued, Airflow retries, and the failure callback alerts."""


def run_push(target: str) -> dict[str, Any]:
    """Drain the outbox into ``target``. An outage, refused credentials or a drain in which every write failed
    raise :class:`PushFailed` (rows stay pending, nothing is given up for it)."""
    from gateway.sync.push import push

    with _runtime() as runtime:
        report = push(runtime, targets=[target])
        summary = report.as_dict()
    log.info("push %s: %s", target, summary["targets"])
    if not report.ok:
        errors = "; ".join(f"{t.target}: {t.error}" for t in report.targets if t.error)
        raise PushFailed(f"push to {target} failed, rows stay queued and are retried: {errors}")
    return summary


def pending_outbox() -> dict[str, int]:
    """Pending outbox rows per target (what the push DAG has to do)."""
    from gateway.store.outbox import pending_by_target

    with _runtime() as runtime, runtime.engine.connect() as conn:
        return pending_by_target(conn)


_NOW_PARAM = "DAG run parameter now"
"""How an error names the ``now`` a DAG run was triggered with (``{"now": "…"}``)."""


def run_deadlines(now: str | None = None) -> dict[str, Any]:
    """The deadline scan (``tongban_deadlines``), as of ``now`` (an ISO 8601 instant with its offset) or the
    present. Any instant is allowed, as for reading: a scan after one as of a later instant reads every clock again
    (:func:`gateway.ops.deadlines.scan_deadlines`)."""
    from gateway.ops.deadlines import WorkCalendar, scan_deadlines
    from gateway.process import TongbanCatalogue
    from gateway.process.asof import parse_as_of

    moment = parse_as_of(now, name=_NOW_PARAM)  # before the runtime: a bad parameter is the run's, not the ledger's
    with _runtime() as runtime:
        calendar = WorkCalendar.load(systems_path=runtime.systems.path)
        catalogue = TongbanCatalogue.load(systems_path=runtime.systems.path)
        return scan_deadlines(runtime.engine, calendar, now=moment, catalogue=catalogue).as_dict()


HANDOFF_FUNCTION = "gateway.process.scan_handoffs"


def run_handoffs(now: str | None = None, *, ahead_of_clock: bool = False) -> dict[str, Any]:
    """The 一窗受理 hand-off scan (``tongban_handoff``), as of ``now`` (an ISO 8601 instant with its offset) or the
    present. A ``now`` later than this machine's clock is refused as ``tongban handoff scan --now`` refuses it: the
    scan would deem accepted, and tell departments and halls so, cases whose window is still open. Only a drill
    against the sandbox (``tongban demo``, which sets ``TONGBAN_DRILL=1``) says ``ahead_of_clock`` and runs there
    anyway (:func:`gateway.process.asof.guard_as_of`)."""
    from gateway.ops.deadlines import WorkCalendar
    from gateway.process import TongbanCatalogue, scan_handoffs
    from gateway.process.asof import guard_as_of, parse_as_of

    moment = parse_as_of(now, name=_NOW_PARAM)
    guard_as_of(moment, name=_NOW_PARAM, ahead_of_clock=ahead_of_clock,
                hint="trigger without now (the present), with an earlier instant (a catch-up), or drill with "
                     "tongban handoff scan --dry-run --now …")
    with _runtime() as runtime:
        catalogue = TongbanCatalogue.load(systems_path=runtime.systems.path)
        calendar = WorkCalendar.load(systems_path=runtime.systems.path)
        return scan_handoffs(runtime.engine, runtime.systems, catalogue, now=moment, calendar=calendar,
                             pii=runtime.pii).as_dict()


def run_deferred() -> dict[str, Any]:
    """Deferred materials (容缺/承诺) received through the certificate library, before the deadline scan."""
    from gateway.process import satisfy_deferred_materials
    from gateway.sharing.access.policy import Policy
    from gateway.sharing.settings import load_gateway_settings

    settings = load_gateway_settings()  # the certificate gateway's policy decides what the look-up may use
    with _runtime() as runtime:
        return satisfy_deferred_materials(runtime.engine, runtime.systems, runtime.pii,
                                          policy=Policy(settings.policy),
                                          audit_algorithm=settings.audit_hash).as_dict()


class OpenErrorAlerts(TongbanError):
    """Error alerts are open in the ledger: the check task fails so that Airflow shows what the ledger knows."""


def run_alert_check() -> dict[str, Any]:
    """Fail while any error alert is open (a failed task, a failed or degraded sync, a reconcile difference...),
    listing every error first in the log, then the counts of the rest (red deadlines included) and the console's
    address. The check's own earlier failure is not counted: it would keep the check failing for ever."""
    from gateway.ops.alerts import open_alerts
    from gateway.orchestration.naming import ALERT_CHECK_TASK, DEADLINES_DAG, console_url

    own = f"{DEADLINES_DAG}.{ALERT_CHECK_TASK}"
    with _runtime() as runtime:
        alerts = [a for a in open_alerts(runtime.engine) if a["key"] != own]
    errors = [a for a in alerts if a["level"] == "error"]
    counts: dict[str, int] = {}
    for a in alerts:
        counts[a["level"]] = counts.get(a["level"], 0) + 1
    for a in errors:
        log.error("open %s alert %s%s: %s", a["kind"], a["key"], f" ({a['system']})" if a["system"] else "",
                  a["message"])
    log.info("open alerts by level: %s; ops console: %s", counts or "none", console_url())
    if errors:
        first = errors[0]
        raise OpenErrorAlerts(f"{len(errors)} open error alert(s), first {first['kind']} {first['key']}: "
                              f"{first['message'][:300]} (tongban status, or the console at {console_url()})")
    return {"open": counts}


def resolve_task_alert(dag_id: str, task_id: str) -> int:
    """A task that succeeds resolves the ``task_failed`` alert its earlier failure raised, and its DAG's
    ``run_timed_out`` (the DAG runs again). Runs after every successful task, whose own runtime has just checked
    the ledger's schema: no second check here, only the UPDATEs, on the ledger alone (:func:`alert_ledger`) — a DAG
    success callback instead would cost the DAG processor a parse of the file for every run of every DAG."""
    from gateway.store import alerts as alert_store
    from gateway.store.ledger import utcnow

    with alert_ledger() as engine, engine.begin() as conn:  # one transaction: this runs after every task
        now = utcnow()
        return alert_store.resolve_open(conn, "task_failed", [f"{dag_id}.{task_id}"], now=now) + \
            alert_store.resolve_open(conn, "run_timed_out", [dag_id], now=now)


def worker_ledger_url() -> str:
    """The ledger a worker writes: ``TONGBAN_DATABASE_URL``, else the systems file's ``database_url`` (read past an
    invalid system entry). Never the CLI's fallback, a SQLite file in the working directory: a worker on a host
    that lacked the variable created a fresh ledger there, read every source into it from the start, queued
    its pushes there and recorded its alerts there — green runs, and nothing in the real ledger said so."""
    import os

    url = os.environ.get("TONGBAN_DATABASE_URL")
    if not url:
        from gateway.kernel.config import load_systems_isolated

        url = load_systems_isolated()[0].ledger_url()
    if not url:
        raise ConfigError("no ledger is configured on this worker: set TONGBAN_DATABASE_URL (or database_url in "
                          "the systems file) as on the other workers; a task without it would write a new SQLite "
                          f"ledger in its working directory ({Path.cwd()})")
    return url


@contextmanager
def alert_ledger() -> Iterator[Any]:
    """An engine on the ledger and nothing else — no keys, no connectors, no migration — for the failure and
    success callbacks: the failure being recorded may be the runtime itself (a key file not mounted on this
    worker, a secret missing), and building the whole runtime there failed the same way and left no alert.
    The ledger is ``TONGBAN_DATABASE_URL``, else the systems file's ``database_url`` (read even when one of its
    systems is invalid: the placeholder DAG of such a system fails, and its failure must reach the ledger)."""
    from gateway.store.db import make_engine

    engine = make_engine(worker_ledger_url())
    try:
        yield engine
    finally:
        engine.dispose()


def run_freshness() -> dict[str, Any]:
    from gateway.ops.freshness import check_freshness

    with _runtime() as runtime:
        return check_freshness(runtime)


def run_reconcile(system: str, until: datetime | None = None) -> dict[str, Any]:
    """The whole source against the ledger and the hall — or, with ``TONGBAN_RECONCILE_DAYS=N``, the N whole
    Beijing days before ``until``'s day one by one, and that day so far (``until``: the run's end of interval under
    Airflow, so a backfill or a re-run of a missed night checks that night's days, not the last N by the wall
    clock; now when not given). The whole days are what is checked complete: a nightly run at 02:30 with N=1 once
    checked its own 2½ hours only, and the rest of every day never. At a million cases a nightly full read of
    every source costs hours, the last days' changes seconds; a full run stays one ``tongban reconcile SYSTEM``
    away."""
    import os
    from datetime import timedelta

    from gateway.ops.deadlines.calendar import BEIJING
    from gateway.sync.reconcile import reconcile_days, reconcile_system

    days = int(os.environ.get("TONGBAN_RECONCILE_DAYS", "0") or 0)
    with _runtime() as runtime:
        if days <= 0:
            report = reconcile_system(runtime, system)
        else:
            today = (until or datetime.now(BEIJING)).astimezone(BEIJING).date()
            report = reconcile_days(runtime, system, [today - timedelta(days=n) for n in range(days, -1, -1)])
        return {"system": system, "ok": report.ok, "hall_view": report.hall_view, "totals": report.totals(),
                "days_with_problems": [d.day for d in report.days if not d.ok]}


def run_catalogue_harvest() -> list[dict[str, Any]]:
    """Harvest every service catalogue of ``TONGBAN_CATALOGUES`` (``tongban catalogue harvest``)."""
    from gateway.catalogue import harvest_catalogue, load_catalogues

    with _runtime() as runtime:
        return [harvest_catalogue(runtime.engine, config).as_dict()
                for _, config in sorted(load_catalogues().items())]


def run_catalogue_audit(harvested: list[dict[str, Any]]) -> dict[str, Any]:
    """The consistency audit (八统一) over what is harvested (``tongban catalogue audit``)."""
    import os

    from gateway.catalogue import run_audit

    with _runtime() as runtime:
        report = run_audit(runtime.engine, dormant_months=int(os.environ.get("TONGBAN_DORMANT_MONTHS", "12")))
    log.info("catalogue audit: %s by kind %s", report.counts(), report.by_kind())
    return {**report.counts(), "by_kind": report.by_kind(), "harvested": [h["read"] for h in harvested]}


def run_kpi_refresh() -> dict[str, Any]:
    """Refresh the KPI facts of the cases that changed since the last refresh (``tongban kpi`` reads them), with
    the calendar and 通办目录 the deadline scan and the hand-off read (按时办结 is the deadline clock's judgement)."""
    from gateway.ops.deadlines import WorkCalendar
    from gateway.ops.kpi import refresh_facts
    from gateway.process import TongbanCatalogue

    with _runtime() as runtime:
        calendar = WorkCalendar.load(systems_path=runtime.systems.path)
        catalogue = TongbanCatalogue.load(systems_path=runtime.systems.path)
        return refresh_facts(runtime.engine, calendar=calendar,  # type: ignore[no-any-return]
                             catalogue=catalogue).as_dict()


def harvest_function() -> Callable[..., Any]:
    """The certificate library's harvest entry point, or :class:`HarvestUnavailable` saying what is missing."""
    module_name, _, attr = HARVEST_FUNCTION.partition(":")
    if importlib.util.find_spec(module_name) is None:
        raise HarvestUnavailable(
            f"certificate harvest is not available: module {module_name} is not installed "
            f"(the DAG calls {HARVEST_FUNCTION}(runtime))")
    function = getattr(importlib.import_module(module_name), attr, None)
    if not callable(function):
        raise HarvestUnavailable(
            f"certificate harvest is not available: {module_name} has no function {attr}(runtime)")
    return function  # type: ignore[no-any-return]


def run_harvest() -> dict[str, Any]:
    """Harvest every issuer through :data:`HARVEST_FUNCTION`; fails loudly when the certificate library or its
    keys are missing (never a silent success)."""
    function = harvest_function()
    if importlib.util.find_spec("gateway.sharing.settings") is None:
        raise HarvestUnavailable("certificate harvest is not available: gateway.sharing.settings (GatewayRuntime) is missing")
    from gateway.sharing.settings import GatewayRuntime

    with _runtime() as runtime:
        gw = GatewayRuntime.create(runtime)
        issuers = sorted(gw.settings.issuers)
        reports, failures = _harvest_each(function, gw, issuers)
    out = [r.as_dict() if hasattr(r, "as_dict") else r for r in reports]
    if failures:
        raise _harvest_failed(failures, harvested=len(reports))
    return {"issuers": issuers, "reports": out}


class HarvestFailed(TongbanError):
    """Some issuers could not be harvested; the others' certificates, status changes and webhooks are committed.
    Retriable unless every failure is one a retry cannot fix (then :func:`permanent` sees it as the cause)."""


def _harvest_each(function: Callable[..., Any], gw: Any, issuers: list[str]) -> tuple[list[Any], dict[str, Exception]]:
    """Harvest the issuers one by one: an issuer that is down must not hold back every other issuer's
    certificates, revocations and subscriber notifications (each harvest commits its own pages)."""
    reports: list[Any] = []
    failures: dict[str, Exception] = {}
    for issuer in issuers:
        try:
            reports.append(function(gw, issuer))
        except Exception as exc:  # noqa: BLE001 - named at the end of the task, after the other issuers
            log.error("harvest of issuer %s failed: %s", issuer, describe_error(exc))
            failures[issuer] = exc
    return reports, failures


def _harvest_failed(failures: dict[str, Exception], *, harvested: int) -> HarvestFailed:
    named = "; ".join(f"{issuer}: {describe_error(exc, 500)}" for issuer, exc in failures.items())
    error = HarvestFailed(f"certificate harvest failed for {len(failures)} issuer(s) ({named}); {harvested} other "
                          f"issuer(s) harvested and committed — fix or wait for the failed ones, then "
                          f"tongban harvest ISSUER (or let Airflow retry)")
    if all(permanent(exc) for exc in failures.values()):
        error.__cause__ = next(iter(failures.values()))
    return error


__all__ = [
    "HARVEST_FUNCTION",
    "HarvestFailed",
    "HarvestUnavailable",
    "OpenErrorAlerts",
    "PushFailed",
    "TaskFailed",
    "resolve_task_alert",
    "run_alert_check",
    "run_catalogue_audit",
    "run_catalogue_harvest",
    "run_kpi_refresh",
    "harvest_function",
    "pending_outbox",
    "permanent",
    "HANDOFF_FUNCTION",
    "run_deadlines",
    "run_deferred",
    "run_handoffs",
    "run_freshness",
    "run_harvest",
    "run_push",
    "run_reconcile",
    "run_sync",
]
