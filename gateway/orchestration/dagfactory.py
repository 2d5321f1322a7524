"""Build Tongban's Airflow DAGs from the systems configuration.

Parse time is what the dag-processor pays every few seconds for every file, so building the DAGs reads the
systems file and nothing else: no database, no network, no Airflow Variables, no connector or mapping file. The
result is stable (systems sorted, no time-dependent values), so re-parsing never creates a new DAG version by
itself. Task bodies live in :mod:`gateway.orchestration.tasks` and open what they need when they run.

    # dags/tongban.py: the DAGs the systems file shapes (sync per system, push, reconcile)
    from gateway.orchestration.dagfactory import build_system_dags
    globals().update(build_system_dags())

    # dags/tongban_processes.py: the DAGs that need no systems list (deadlines, handoff, citizen, ...)
    from gateway.orchestration.dagfactory import build_process_dags
    globals().update(build_process_dags())

Two files, because Airflow drops every DAG of a file that fails to import (and the scheduler then fails their
queued tasks without a word): a systems file that does not parse at all leaves the process DAGs running. Within
the systems file each system is built on its own: an invalid entry gets a placeholder DAG whose one task fails
with the error (file, line, setting) — every other system's DAGs are built as usual.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param, task
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from gateway.contract.errors import ConfigError
from gateway.crypto.error_text import describe_error, masked_traceback
from gateway.kernel.config import REPO_ROOT, SYSTEM_NAME, SystemConfig, SystemsConfig, load_systems_isolated
from gateway.orchestration import citizen_tasks as ct
from gateway.orchestration import tasks
from gateway.orchestration.callbacks import clear_failure, record_failure, record_run_timeout
from gateway.orchestration.naming import (
    ALERT_CHECK_TASK,
    CATALOGUE_DAG,
    CERTIFICATES_DAG,
    CITIZEN_DAG,
    DEADLINES_DAG,
    HANDOFF_ASSET,
    HANDOFF_DAG,
    PUSH_DAG,
    RECONCILE_DAG,
    SYNC_PREFIX,
    asset_uri,
    console_url,
    sync_dag_id,
)

DAG_FILE = REPO_ROOT / "dags" / "tongban.py"
"""The DAG file of the DAGs the systems file shapes: sync per system, push, reconcile (and their placeholders)."""
PROCESS_DAG_FILE = REPO_ROOT / "dags" / "tongban_processes.py"
"""The DAG file of the DAGs that need no systems list at parse time: deadlines, handoff, citizen, certificates,
catalogue."""
CONFIG_ERROR_DAG = "tongban_config_error"
"""The placeholder DAG of a systems file that cannot be read at all, or of systems whose name is unusable."""
TIMEZONE = "Asia/Shanghai"
START = datetime(2000, 1, 1, tzinfo=timezone.utc)
"""Every DAG's start date. Far back on purpose (catchup is off: it schedules nothing): Airflow accepts a manual run
dated before a DAG's start date and runs it with no task at all, green — a run for a night of 2025 did nothing."""
SCHEDULES = {
    PUSH_DAG: "*/5 * * * *",
    CERTIFICATES_DAG: "20 * * * *",
    DEADLINES_DAG: "*/30 * * * *",
    RECONCILE_DAG: "30 2 * * *",
    CATALOGUE_DAG: "40 2 * * *",
    HANDOFF_DAG: "* * * * *",
    CITIZEN_DAG: "*/5 * * * *",
}
"""Cron schedules (Beijing time) of the shared DAGs; sync DAGs take theirs from the systems file."""
NOW_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([+-]\d{2}:?\d{2}|Z)$"
"""What a ``now`` parameter must look like, checked by Airflow when the run is triggered (the form refuses a typo):
an ISO 8601 instant with its offset. The task still reads it (a 13th month passes this and fails there)."""
SHARED_RETRIES: tuple[int, timedelta, timedelta] = (3, timedelta(minutes=1), timedelta(minutes=30))
"""retries, first retry delay, longest retry delay of the deadline and certificate DAGs."""
BACKOFF = 2.0  # each retry waits twice as long as the one before, up to max_retry_delay
TASK_TIMEOUTS: dict[str, timedelta] = {
    PUSH_DAG: timedelta(minutes=15),
    CERTIFICATES_DAG: timedelta(minutes=45),
    DEADLINES_DAG: timedelta(minutes=20),
    CATALOGUE_DAG: timedelta(hours=1),
    HANDOFF_DAG: timedelta(minutes=10),
    CITIZEN_DAG: timedelta(minutes=15),
}
"""``execution_timeout`` of each task of the shared DAGs: a task still running after this is failed (and retried
where it retries). Sync and reconcile tasks take their system's ``execution_timeout`` (default 2 h)."""
STEP_TIMEOUT = timedelta(minutes=5)
"""``execution_timeout`` of the bookkeeping steps that call nothing outside (``publish``, ``quality``)."""
RUN_MARGIN = timedelta(minutes=30)
"""A DAG's ``dagrun_timeout`` is its longest chain of tasks at their worst — every try running into its
``execution_timeout``, every retry waiting ``max_retry_delay`` — plus this margin: it never cuts short what the
task timeouts and retries would still finish (those fail the task, and alert); it ends a run stuck outside its
tasks (queued with no worker to take them), which with ``max_active_runs=1`` held the DAG for ever."""
PRIORITIES: dict[str, int] = {
    HANDOFF_DAG: 100,  # every minute: a front-desk case waits for its department
    CITIZEN_DAG: 90,  # a 12345 order must be routed within 15 minutes
    PUSH_DAG: 80,  # the hall and the departments see the changes
    DEADLINES_DAG: 60,
    SYNC_PREFIX: 40,  # every task of a sync DAG
    CERTIFICATES_DAG: 30,
    RECONCILE_DAG: 10,  # nightly, hours long: takes what the others leave
    CATALOGUE_DAG: 10,
}
"""Absolute ``priority_weight`` of each DAG's tasks: which queued task takes a free worker slot first. With
Airflow's default (a task's weight is the count of its downstream tasks) the 100 syncs of one cron tick, each with
two steps after it, went ahead of the one-task hand-off that runs every minute."""
SOURCES_POOL_ENV = "TONGBAN_SOURCES_POOL"
"""The Airflow pool (created by the deployment: the compose file's init step) that the tasks reading the department
systems — syncs and reconciles — run in, when set: its slots are the most of them that run at once, so the hand-off,
push and 12345 tasks always find a worker slot free even when a hundred systems sync on the same tick or the nightly
reconcile runs for hours. Unset: Airflow's ``default_pool``, shared with every task."""
RECONCILE_MAX_ACTIVE_TASKS = 2
"""At most this many systems reconciled at once: a full read of every source must not take every worker slot, nor
— in the sources pool, whose default is 6 slots — most of the syncs' slots for the hours it runs."""
PLACEHOLDER_SCHEDULE = "*/15 * * * *"
"""How often a placeholder DAG (a system whose entry is invalid) fails, saying why."""

log = logging.getLogger(__name__)


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a task body; errors a retry cannot fix fail the task at once instead of burning the retries. What reaches
    Airflow — and its task log, and the failure alert — is the error's masked text with its chain cut, after the
    masked traceback is logged: Airflow prints a chained cause whole, parameters and refused rows included."""
    try:
        return _bounded(function(*args, **kwargs))
    except AirflowException:  # the body's own word to Airflow (skip, fail): passed on as it is
        raise
    except Exception as exc:
        log.error("%s", masked_traceback(exc))
        if tasks.permanent(exc):
            raise AirflowFailException(describe_error(exc)) from None
        raise tasks.TaskFailed(describe_error(exc)) from None
    except BaseException as exc:  # Airflow's timeout or termination, raised while an error was being handled: it
        exc.__suppress_context__ = True  # goes on up as it is, without that error's text (a refused row's data)
        raise


XCOM_LIST_LIMIT = 200
"""The most items of a list a task returns to XCom (the rest counted): a hand-off scan that deemed 30,000 cases
accepted after a holiday put every case number into Airflow's metadata database, and into the UI."""


def _bounded(result: Any) -> Any:
    """``result`` with every list (top-level, or a value of the top-level dict) cut to :data:`XCOM_LIST_LIMIT`
    items; a cut list's full length is under ``<key>_count``. The task's log and the ledger keep the whole report."""
    if isinstance(result, list):
        return result[:XCOM_LIST_LIMIT]
    if not isinstance(result, dict):
        return result
    bounded = dict(result)
    for key, value in result.items():
        if isinstance(value, list) and len(value) > XCOM_LIST_LIMIT:
            bounded[key] = value[:XCOM_LIST_LIMIT]
            bounded[f"{key}_count"] = len(value)
    return bounded


def _default_args(retries: int, retry_delay: timedelta, max_retry_delay: timedelta,
                  execution_timeout: timedelta) -> dict[str, Any]:
    return {
        "owner": "tongban",
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": BACKOFF,
        "max_retry_delay": max_retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": record_failure,
        "on_success_callback": clear_failure,
    }


def _retry_args(system: SystemConfig) -> dict[str, Any]:
    """Per-system task settings: its retry policy and timeout, and its Celery queue when it names one."""
    args: dict[str, Any] = {"retries": system.retries, "retry_delay": system.retry_delay,
                            "max_retry_delay": system.max_retry_delay, "execution_timeout": system.execution_timeout}
    if system.queue:
        args["queue"] = system.queue
    return args


def _priority(dag_id: str) -> dict[str, Any]:
    """The ``priority_weight`` (absolute) of a DAG's tasks, by :data:`PRIORITIES`."""
    key = SYNC_PREFIX if dag_id.startswith(SYNC_PREFIX) else dag_id
    return {"priority_weight": PRIORITIES.get(key, 1), "weight_rule": "absolute"}


def _sources_pool(system: SystemConfig) -> dict[str, Any]:
    """``{"pool": …}`` for a task that reads ``system``, when :data:`SOURCES_POOL_ENV` names one — not for a system
    on a Celery ``queue`` of its own: its workers (inside its network) are not the shared ones the pool protects,
    and a queued task holds a pool slot, so a queue with no live worker would starve every other sync."""
    pool = os.environ.get(SOURCES_POOL_ENV, "").strip()
    return {"pool": pool} if pool and not system.queue else {}


def _worst_case(task_: Any) -> timedelta:
    """How long a task can take before it fails for good: every try up to its timeout, every retry's wait."""
    tries = (task_.retries or 0) + 1
    wait = max(task_.max_retry_delay or task_.retry_delay, task_.retry_delay) if task_.retries else timedelta(0)
    return tries * (task_.execution_timeout or timedelta(0)) + (tries - 1) * wait


def _with_run_timeout(dag: DAG) -> DAG:
    """Set ``dagrun_timeout``: the longest chain of the DAG's tasks at their worst, plus — when the DAG has more
    tasks than it may run at once (``max_active_tasks``) — the waves the rest must wait for (Graham's bound for a
    list schedule: the whole work over the slots, plus the longest chain), plus :data:`RUN_MARGIN`. The chain alone
    cut the push run of 100 targets at 45 minutes, 16 at a time, and skipped the rest unsaid. A run that times out
    all the same raises ``run_timed_out`` (:func:`record_run_timeout`)."""
    longest: dict[str, timedelta] = {}
    total = timedelta(0)
    for task_ in dag.topological_sort():
        before = [longest[u] for u in task_.upstream_task_ids]
        longest[task_.task_id] = max(before, default=timedelta(0)) + _worst_case(task_)
        total += _worst_case(task_)
    slots = max(int(dag.max_active_tasks or 1), 1)
    waves = total / slots if len(longest) > slots else timedelta(0)
    dag.dagrun_timeout = max(longest.values(), default=timedelta(0)) + waves + RUN_MARGIN
    return dag


def _timetable(cron: str) -> CronTriggerTimetable:
    return CronTriggerTimetable(cron, timezone=TIMEZONE)


def _console_link() -> str:
    return f"\n\nOps console (per-system health, alerts, dead letters, deadlines): [{console_url()}]({console_url()})"


def _shared_dag(dag_id: str, description: str, tag: str, doc_md: str, schedule: Any = None,
                params: dict[str, Any] | None = None, max_active_tasks: int | None = None) -> DAG:
    """A DAG of the shared kind: its cron from :data:`SCHEDULES` unless ``schedule`` is given, one run at a time,
    no catch-up, the shared retry policy."""
    return DAG(
        dag_id=dag_id,
        description=description,
        schedule=schedule if schedule is not None else _timetable(SCHEDULES[dag_id]),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args={**_default_args(*SHARED_RETRIES, TASK_TIMEOUTS[dag_id] if dag_id in TASK_TIMEOUTS
                                      else STEP_TIMEOUT), **_priority(dag_id)},
        tags=["tongban", tag],
        doc_md=doc_md + _console_link(),
        on_failure_callback=record_run_timeout,  # a run cut at its dagrun_timeout; resolved by a task's success
        **({"params": params} if params else {}),
        **({"max_active_tasks": max_active_tasks} if max_active_tasks else {}),
    )


def sync_dag(system: SystemConfig) -> DAG:
    """``tongban_sync_<system>``: ``sync`` (retried with exponential backoff; alerts when it fails for good) →
    ``publish`` (emits the system's asset when the run queued changes for other systems, else skipped) and
    ``quality`` (fails, without retries, when the run ended ``degraded``: Airflow shows what the ledger knows).
    Trigger with ``{"full_refresh": true}`` to re-read the source from the start."""
    asset = Asset(name=f"tongban_ledger_{system.name}", uri=asset_uri(system.name))
    with DAG(
        dag_id=sync_dag_id(system.name),
        description=f"Sync {system.title or system.name} into the ledger",
        schedule=_timetable(system.schedule) if system.schedule else None,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args={**_default_args(system.retries, system.retry_delay, system.max_retry_delay,
                                      system.execution_timeout),
                      **({"queue": system.queue} if system.queue else {}), **_priority(sync_dag_id(system.name))},
        tags=["tongban", "sync", system.role],
        on_failure_callback=record_run_timeout,
        params={"full_refresh": Param(False, type="boolean",
                                      description="Re-read the source from its start instead of from the watermark "
                                                  "(a source read in windows: from its initial_lookback ago)")},
        doc_md=f"Incremental sync of **{system.name}** ({system.title}, {system.connector}). "
               f"Retries {system.retries}× from {system.retry_delay} with exponential backoff, each try at most "
               f"{system.execution_timeout}; a final failure "
               "raises a `sync_failed` alert (`tongban status`). The `quality` task fails when the run rejected "
               f"more than {system.max_rejected_share:.0%} of what it read (`tongban dead-letters list --system "
               f"{system.name}`). Trigger with `{{\"full_refresh\": true}}` to re-read the source from its start (a source "
               "read in windows: from its `initial_lookback` ago)." + _console_link(),
    ) as dag:
        name = system.name

        @task(task_id="sync", **_sources_pool(system))
        def sync(params: dict[str, Any] | None = None) -> dict[str, Any]:
            full = bool((params or {}).get("full_refresh", False))
            return _call(tasks.run_sync, name, full_refresh=full)  # type: ignore[no-any-return]

        @task(task_id="quality", retries=0, execution_timeout=STEP_TIMEOUT)
        def quality(report: dict[str, Any]) -> dict[str, Any]:
            if report.get("status") == "degraded":
                raise AirflowFailException(f"sync of {name} ended degraded: {report.get('error')}; "
                                           f"see tongban dead-letters list --system {name}")
            return {"system": name, "rejected": report.get("rejected", 0), "flags": report.get("warnings", {})}

        @task(task_id="publish", outlets=[asset], retries=0, execution_timeout=STEP_TIMEOUT)
        def publish(report: dict[str, Any]) -> dict[str, Any]:
            if not report.get("queued"):
                raise AirflowSkipException("no changes queued for other systems: no asset event")
            return {"system": name, "queued": report["queued"]}

        report = sync()
        publish(report)  # type: ignore[arg-type]  # an XComArg stands for the dict at run time
        quality(report)  # type: ignore[arg-type]
    return _with_run_timeout(dag)


def push_dag(systems: SystemsConfig) -> DAG:
    """``tongban_push``: one task per receiving system. Triggered by any sync DAG's asset and on a schedule;
    the work itself is whatever the outbox holds (asset events only say "look now"). Push tasks are not retried
    by Airflow: the outbox backs off per row, and the DAG runs again within five minutes — an Airflow retry of a
    target that is down held the run (one at a time) for its whole retry schedule, and with it every other
    target. A push that fails still alerts (the target's ``push_failed``, the CLI's too), resolved by its next
    drain without an error."""
    assets = [Asset(name=f"tongban_ledger_{n}", uri=asset_uri(n)) for n in [*systems.names(), HANDOFF_ASSET]]
    cron = _timetable(SCHEDULES[PUSH_DAG])
    schedule = AssetOrTimeSchedule(timetable=cron, assets=AssetAny(*assets)) if assets else cron
    with _shared_dag(PUSH_DAG, "Deliver the outbox to the hall and the departments", "push",
                     "Drains the outbox (the work queue) into each receiving system; idempotency key "
                     "`case_no:version`. No Airflow retries: the outbox retries each row with its own back-off, "
                     "and a target that is down must not hold the run, and every other target, for minutes.",
                     schedule) as dag:
        for name in systems.names():
            system = systems.get(name)
            if system.writable:  # on its system's queue; no retries (the outbox's back-off is the retry)
                task(task_id=f"push_{name}", **{**_retry_args(system), "retries": 0,
                                                "execution_timeout": TASK_TIMEOUTS[PUSH_DAG]})(
                    lambda target=name: _call(tasks.run_push, target))()
    return _with_run_timeout(dag)


def certificates_dag() -> DAG:
    with _shared_dag(CERTIFICATES_DAG, "Harvest electronic certificates (电子证照) from the issuing systems",
                     "certificates", f"Calls `{tasks.HARVEST_FUNCTION}(runtime)`; fails loudly when the certificate "
                     "library is absent.") as dag:
        task(task_id="harvest")(lambda: _call(tasks.run_harvest))()
    return _with_run_timeout(dag)


def deadlines_dag() -> DAG:
    with _shared_dag(DEADLINES_DAG,
                     "Time-limit supervision (yellow at 80%, red past the limit) and the 'system behind' check",
                     "supervision", "Working days on the holiday calendar (`config/calendar.yaml`), special "
                     f"procedures stop the clock. `{ALERT_CHECK_TASK}` fails while an error alert is open (a failed "
                     "task, a failed or degraded sync): its log lists every error first. Trigger with "
                     '`{"now": "2026-10-09T09:36:00+08:00"}` to read the clocks as of another instant.',
                     params={"now": Param(None, type=["null", "string"], pattern=NOW_PATTERN,
                                          description="Read the clocks as of this ISO 8601 instant with its offset "
                                                      "(default: now)")}
                     ) as dag:
        received = task(task_id="satisfy_deferred")(lambda: _call(tasks.run_deferred))()

        @task(task_id="scan_deadlines", trigger_rule="all_done")
        def scan(params: dict[str, Any] | None = None) -> dict[str, Any]:
            return _call(tasks.run_deadlines, (params or {}).get("now"))  # type: ignore[no-any-return]

        scanned = scan()
        # after the deferred materials (a material the library just supplied raises no alert), but whatever became
        # of them: the library being down must not stop the time-limit supervision, nor the alert check
        received >> scanned  # type: ignore[operator]
        fresh = task(task_id="check_freshness")(lambda: _call(tasks.run_freshness))()
        check = task(task_id=ALERT_CHECK_TASK, retries=0, trigger_rule="all_done")(
            lambda: _call(tasks.run_alert_check))()
        [scanned, fresh] >> check  # type: ignore[operator]
    return _with_run_timeout(dag)


def reconcile_dag(systems: SystemsConfig) -> DAG:
    with _shared_dag(RECONCILE_DAG, "Per system and day: counts and content hashes of source, ledger and hall",
                     "reconcile", "The same as `tongban reconcile SYSTEM`; reports in the `reconciliations` "
                     f"table. At most {RECONCILE_MAX_ACTIVE_TASKS} systems at once.",
                     max_active_tasks=RECONCILE_MAX_ACTIVE_TASKS) as dag:
        for name in systems.names():  # each on its system's retry policy, timeout and queue
            task(task_id=f"reconcile_{name}", **_retry_args(systems.get(name)),
                 **_sources_pool(systems.get(name)))(
                # data_interval_end: filled in by Airflow from the run's context (its name is the context key)
                lambda system=name, data_interval_end=None: _call(tasks.run_reconcile, system, data_interval_end))()
    return _with_run_timeout(dag)


def catalogue_dag() -> DAG:
    """``tongban_catalogue_kpi``: ``harvest`` (every catalogue of ``TONGBAN_CATALOGUES``) → ``audit``, and
    ``harvest`` → ``kpis``: the KPIs join the harvested legal limits in (提速率), so they are refreshed once the
    night's catalogue is in; ``all_done``, because a catalogue that is down must not hold back the case figures."""
    with _shared_dag(CATALOGUE_DAG, "Harvest the service catalogues, audit them (八统一), refresh the service KPIs",
                     "catalogue", "The same as `tongban catalogue harvest`, `tongban catalogue audit` and "
                     "`tongban kpi`; definitions in docs/kpi.md.") as dag:
        harvested = task(task_id="harvest")(lambda: _call(tasks.run_catalogue_harvest))()
        task(task_id="audit")(lambda found: _call(tasks.run_catalogue_audit, found))(harvested)
        kpis = task(task_id="kpis", trigger_rule="all_done")(lambda: _call(tasks.run_kpi_refresh))()
        harvested >> kpis  # type: ignore[operator]
    return _with_run_timeout(dag)


def handoff_dag() -> DAG:
    """``tongban_handoff``: the 一窗受理 hand-off scan every minute (register and route front-desk cases, start
    their windows, take the departments' answers, deem the overdue ones accepted); publishes the hand-off
    asset when it queued anything, which triggers the push. The timer is the stored due time, not this
    schedule: see :mod:`gateway.process.handoff` for why a scan and not a deferrable trigger."""
    asset = Asset(name="tongban_ledger_handoff", uri=asset_uri(HANDOFF_ASSET))
    with _shared_dag(HANDOFF_DAG, "一窗受理: hand front-desk cases to departments, deem unanswered ones accepted",
                     "process", f"Calls `{tasks.HANDOFF_FUNCTION}`. A front-desk case the department does not "
                     "answer within its window (config/tongban_catalogue.yaml, default 10 minutes) is deemed "
                     "accepted at the due time; department and hall are told once. Trigger with "
                     '`{"now": "2026-03-02T10:00:00+08:00"}` to scan as of an earlier instant (a catch-up); a '
                     "later one than this machine's clock is refused, as `tongban handoff scan --now` refuses it "
                     "(both scans: `scan_bundles` takes licences in force as of `now`).",
                     params={"now": Param(None, type=["null", "string"], pattern=NOW_PATTERN,
                                          description="Scan as of this ISO 8601 instant with its offset (default: "
                                                      "now; not later than this machine's clock)"),
                             "ahead_of_clock": Param(False, type="boolean",
                                                     description="A drill against the sandbox only (honoured where "
                                                                 "TONGBAN_DRILL=1 is set, as tongban demo does; "
                                                                 "refused elsewhere): scan as of a later now anyway, "
                                                                 "deeming cases whose window is still open")}) as dag:

        @task(task_id="scan_handoffs")
        def scan(params: dict[str, Any] | None = None) -> dict[str, Any]:
            given = params or {}
            return _call(tasks.run_handoffs, given.get("now"),  # type: ignore[no-any-return]
                         ahead_of_clock=bool(given.get("ahead_of_clock")))

        @task(task_id="publish", outlets=[asset], retries=0, execution_timeout=STEP_TIMEOUT)
        def publish(report: dict[str, Any]) -> dict[str, Any]:
            queued = report.get("registered", 0) + report.get("deemed", 0) + report.get("refused_routing", 0) \
                + report.get("forwarded", 0)
            if not queued:
                raise AirflowSkipException("nothing queued for other systems: no asset event")
            return {"queued": queued}

        publish(scan())  # type: ignore[arg-type]

        @task(task_id="scan_bundles")
        def bundles(params: dict[str, Any] | None = None) -> dict[str, Any]:
            # 一件事: the parts it releases go out with the push
            from gateway.orchestration.bundle_tasks import run_bundles

            given = params or {}
            return _call(run_bundles, given.get("now"),  # type: ignore[no-any-return]
                         ahead_of_clock=bool(given.get("ahead_of_clock")))

        @task(task_id="publish_bundles", outlets=[asset], retries=0, execution_timeout=STEP_TIMEOUT)
        def publish_bundles(report: dict[str, Any]) -> dict[str, Any]:
            if not report.get("released"):
                raise AirflowSkipException("no bundle part released: no asset event")
            return {"queued": report["released"]}

        publish_bundles(bundles())  # type: ignore[arg-type]
    return _with_run_timeout(dag)


def citizen_dag() -> DAG:
    """``tongban_citizen``: 好差评 — ``evaluations`` → ``forward`` → ``appeals``, and ``misuse``; 12345 —
    ``workorders`` → ``replies``; then ``scan`` (the citizen alerts). Every five minutes: a work order must be
    routed within 15 minutes of the platform handing it out."""
    with _shared_dag(CITIZEN_DAG, "好差评 to the provincial system, 12345 work orders routed and answered",
                     "citizen", "The same as `tongban evaluations sync` and `tongban workorders sync`; settings in "
                     "`config/citizen.yaml` (`TONGBAN_CITIZEN`).") as dag:
        def step(function: Any, side: str | None) -> Any:
            reason = _call(lambda: ct.not_configured(side))  # settings that do not read fail the task
            if reason is not None:
                raise AirflowSkipException(f"citizen systems not connected here: {reason}")
            return _call(function)

        # No retries inside a run: the next run is five minutes away, the queues keep every item for it, and a
        # run held through a receiver's retries (one run at a time) held the 12345 orders behind it — they must be
        # routed within 15 minutes. A failure still alerts (task_failed), resolved by the next run that succeeds.
        once = {"retries": 0}
        read = task(task_id="evaluations", **once)(lambda: step(ct.run_evaluations, "好差评"))()
        forward = task(task_id="forward", **once)(lambda: step(ct.run_forward, "好差评"))()
        appeals = task(task_id="appeals", **once)(lambda: step(ct.run_appeals, "好差评"))()
        misuse = task(task_id="misuse", **once)(lambda: step(ct.run_misuse, "好差评"))()
        orders = task(task_id="workorders", **once)(lambda: step(ct.run_workorders, "12345"))()
        replies = task(task_id="replies", **once)(lambda: step(ct.run_workorder_replies, "12345"))()
        # the citizen alerts (orders unsigned, replies and callbacks overdue) matter most when a side is down
        scan = task(task_id="scan", trigger_rule="all_done", **once)(lambda: step(ct.run_citizen_scan, None))()
        # the run's state is its leaves': with the all_done scan the only leaf, a run whose forward failed was green
        outcome = task(task_id="outcome", **once)(lambda: None)()
        read >> forward >> appeals  # type: ignore[operator]
        read >> misuse  # type: ignore[operator]
        orders >> replies  # type: ignore[operator]
        [appeals, misuse, replies] >> scan  # type: ignore[operator]
        [appeals, misuse, replies, scan] >> outcome  # type: ignore[operator]
    return _with_run_timeout(dag)


def config_error_dag(dag_id: str, problems: list[str], *, task_id: str = "config_error") -> DAG:
    """A placeholder for DAGs the systems file does not let us build: one task that fails, without retries, with
    the errors (file, line, setting). It stands where the real DAG would (``tongban_sync_<system>``, task
    ``sync``, for a system whose name is usable), so that Airflow shows a failing DAG saying why instead of the
    DAG going stale — the scheduler fails the queued tasks of a stale DAG without a word."""
    message = "\n".join(problems)
    with DAG(
        dag_id=dag_id,
        description="Invalid systems file entry: this DAG fails until the file is fixed",
        schedule=_timetable(PLACEHOLDER_SCHEDULE),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False if dag_id == CONFIG_ERROR_DAG else None,
        default_args={**_default_args(0, timedelta(minutes=1), timedelta(minutes=1), STEP_TIMEOUT)},
        tags=["tongban", "config_error"],
        doc_md="**The systems file has an error**; this placeholder fails until it is fixed:\n\n"
               + "\n".join(f"- `{p}`" for p in problems) + _console_link(),
    ) as dag:

        def fail() -> None:
            raise AirflowFailException(message)

        task(task_id=task_id)(fail)()
    return _with_run_timeout(dag)


def _place(dags: list[DAG], fileloc: Path) -> dict[str, DAG]:
    for dag in dags:  # where a worker finds them again: the DAG file, not this factory
        dag.fileloc = str(fileloc)
    return {dag.dag_id: dag for dag in dags}


def build_system_dags(systems_path: str | Path | None = None) -> dict[str, DAG]:
    """The DAGs of ``dags/tongban.py``: a sync DAG per system, push and reconcile, by DAG id. A system whose entry
    is invalid gets a placeholder (:func:`config_error_dag`) and is left out of push and reconcile; systems whose
    name is unusable, or a systems file that cannot be read at all, give ``tongban_config_error``."""
    try:
        systems, problems = load_systems_isolated(systems_path)  # parse time reads this file only
    except ConfigError as exc:  # no file, YAML that does not parse, no systems mapping: nothing to build per system
        return _place([config_error_dag(CONFIG_ERROR_DAG, [str(exc)])], DAG_FILE)
    except Exception as exc:  # noqa: BLE001 — a reader's own failure: still a DAG that says so, not an import error
        return _place([config_error_dag(CONFIG_ERROR_DAG, [f"the systems file could not be read: "
                                                           f"{type(exc).__name__}: {exc}"])], DAG_FILE)
    placeholders = {sync_dag_id(name): config_error_dag(sync_dag_id(name), [str(error)], task_id="sync")
                    for name, error in problems.items() if SYSTEM_NAME.fullmatch(name)}
    unusable = [str(error) for name, error in problems.items() if not SYSTEM_NAME.fullmatch(name)]
    dags = [_sync_dag_or_placeholder(systems.get(name)) for name in systems.names()]
    dags += [placeholders[dag_id] for dag_id in sorted(placeholders)]
    dags += [push_dag(systems), reconcile_dag(systems)]
    if unusable:
        dags.append(config_error_dag(CONFIG_ERROR_DAG, unusable))
    return _place(dags, DAG_FILE)


def _sync_dag_or_placeholder(system: SystemConfig) -> DAG:
    """The system's sync DAG, or — when Airflow refuses what its entry says (a schedule its timetable cannot run)
    — the placeholder naming the system and the setting: one system's entry never hides the others' DAGs."""
    try:
        dag = sync_dag(system)
        dag.timetable.validate()
    except Exception as exc:  # noqa: BLE001 — Airflow's own refusal, whichever class it raises
        return config_error_dag(sync_dag_id(system.name), [
            f"system {system.name}: Airflow cannot build its sync DAG (schedule {system.schedule!r}): "
            f"{type(exc).__name__}: {exc}"], task_id="sync")
    return dag


def build_process_dags() -> dict[str, DAG]:
    """The DAGs of ``dags/tongban_processes.py``: those that read no systems file at parse time (their tasks
    read it when they run)."""
    return _place([certificates_dag(), deadlines_dag(), catalogue_dag(), handoff_dag(), citizen_dag()],
                  PROCESS_DAG_FILE)


def build_dags(systems_path: str | Path | None = None) -> dict[str, DAG]:
    """Every Tongban DAG for the systems file (``TONGBAN_SYSTEMS`` by default), by DAG id: those of both DAG files
    (for ``dag.test()``, the demo and the tests)."""
    built = {**build_system_dags(systems_path), **build_process_dags()}
    order = [PUSH_DAG, CERTIFICATES_DAG, DEADLINES_DAG, RECONCILE_DAG, CATALOGUE_DAG, HANDOFF_DAG, CITIZEN_DAG]
    first = sorted(dag_id for dag_id in built if dag_id not in order)  # sync DAGs (and placeholders) by id
    return {dag_id: built[dag_id] for dag_id in first + [d for d in order if d in built]}


__all__ = ["CONFIG_ERROR_DAG", "SCHEDULES", "TASK_TIMEOUTS", "build_dags", "build_process_dags",
           "build_system_dags", "catalogue_dag", "certificates_dag", "citizen_dag", "config_error_dag",
           "deadlines_dag", "handoff_dag", "push_dag", "reconcile_dag", "sync_dag"]
