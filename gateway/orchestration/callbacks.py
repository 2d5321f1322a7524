"""Failure callbacks: a task that failed for good (after its retries) becomes an alert in the ledger.

Attached at task level (``on_failure_callback`` in each DAG's ``default_args``): in Airflow 3 the task runner
calls it in the worker right after the final failure, whichever executor ran the task. A failed sync raises
``sync_failed`` for its system (resolved by the next successful sync); any other task raises ``task_failed``
(resolved when that task next succeeds: :func:`clear_failure`).
``tests/dags/test_dag_failure_alert.py`` proves it fires in the installed Airflow version.
"""

from __future__ import annotations

import logging
from typing import Any

from gateway.orchestration.naming import PUSH_DAG, SYNC_PREFIX

log = logging.getLogger(__name__)


def record_failure(context: Any) -> None:
    """Airflow ``on_failure_callback``: write (or count up) the alert. Never raises."""
    try:
        _record(context)
    except Exception:  # noqa: BLE001 - a callback must not hide the task's own failure
        log.exception("could not record the failure alert")


def clear_failure(context: Any) -> None:
    """Airflow ``on_success_callback``: a task that succeeds resolves its own ``task_failed`` alert (one UPDATE
    that matches nothing in the usual case). Never raises."""
    try:
        from gateway.orchestration.tasks import resolve_task_alert

        ti = context.get("ti") or context.get("task_instance")
        if ti is not None:
            resolve_task_alert(ti.dag_id, ti.task_id)
    except Exception:  # noqa: BLE001 - a callback must not fail a task that succeeded
        log.exception("could not resolve the task's failure alert")


def record_run_timeout(context: Any) -> None:
    """Airflow's DAG-level ``on_failure_callback``: a run the scheduler ended at its ``dagrun_timeout`` becomes a
    ``run_timed_out`` alert. The scheduler then marks every unfinished task skipped — no task failure callback
    fires, so nothing else said that the syncs, pushes or scans of that run never happened. A run that failed
    because a task failed is that task's alert already. Resolved by the next task of that DAG that succeeds
    (:func:`gateway.orchestration.tasks.resolve_task_alert`). Never raises."""
    try:
        if context.get("reason") != "timed_out":
            return
        from gateway.ops.alerts import raise_alert
        from gateway.orchestration.tasks import alert_ledger

        run = context.get("dag_run")
        dag = context.get("dag")
        dag_id = getattr(run, "dag_id", None) or getattr(dag, "dag_id", None) or "?"
        run_id = getattr(run, "run_id", None) or context.get("run_id")  # the DAG processor's context may lack the run
        limit = getattr(dag, "dagrun_timeout", None)
        system = dag_id[len(SYNC_PREFIX):] if dag_id.startswith(SYNC_PREFIX) else None
        with alert_ledger() as engine:
            raise_alert(engine, "run_timed_out", dag_id, level="error", system=system,
                        message=f"{dag_id} run {run_id} timed out after {limit}: its unfinished tasks were skipped, "
                                "not retried (workers too few or busy, or tasks queued with no worker to take "
                                "them); the next run starts from where the ledger is",
                        details={"dag_id": dag_id, "run_id": run_id})
    except Exception:  # noqa: BLE001 - a callback must not fail the scheduler's bookkeeping
        log.exception("could not record the run timeout alert")


def _record(context: Any) -> None:
    from gateway.crypto.error_text import describe_error
    from gateway.ops.alerts import raise_alert
    from gateway.orchestration.tasks import TaskFailed, alert_ledger

    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or "?"
    task_id = getattr(ti, "task_id", None) or "?"
    try_number = getattr(ti, "try_number", None)
    exception = context.get("exception")
    # an exception's text may quote a record (a value, a name, an ID number): masked as the logs are (a TaskFailed
    # is already the masked text of the task body's error)
    error = ("failed" if exception is None else str(exception) if isinstance(exception, TaskFailed)
             else describe_error(exception))
    details = {"dag_id": dag_id, "task_id": task_id, "run_id": getattr(ti, "run_id", None),
               "try_number": try_number, "error": error[:2000]}
    with alert_ledger() as engine:
        if dag_id.startswith(SYNC_PREFIX) and task_id == "sync":
            system = dag_id[len(SYNC_PREFIX):]
            raise_alert(engine, "sync_failed", system, level="error", system=system,
                        message=f"sync of {system} failed after {try_number} tries: {error}"[:2000],
                        details=details)
        elif task_id.startswith("push_") and dag_id == PUSH_DAG:  # the alert the push itself keeps (one per target)
            system = task_id[len("push_"):]
            from gateway.ops.alerts import open_alerts

            if not [a for a in open_alerts(engine, kind="push_failed", system=system) if a["key"] == system]:
                # the drain failed before it could say so itself (its ledger, its keys): said here; otherwise
                # the push's own alert stands as it wrote it (a target asking to wait is a warning, not an error)
                raise_alert(engine, "push_failed", system, level="error", system=system,
                            message=f"push to {system} failed after {try_number} tries: {error}"[:2000],
                            details=details)
        else:
            system = (dag_id[len(SYNC_PREFIX):] if dag_id.startswith(SYNC_PREFIX)  # its publish, its quality check
                      else next((task_id.split("_", 1)[1] for prefix in ("push_", "reconcile_")
                                 if task_id.startswith(prefix)), None))
            raise_alert(engine, "task_failed", f"{dag_id}.{task_id}", level="error", system=system,
                        message=f"{dag_id}.{task_id} failed after {try_number} tries: {error}"[:2000],
                        details=details)


__all__ = ["clear_failure", "record_failure", "record_run_timeout"]
