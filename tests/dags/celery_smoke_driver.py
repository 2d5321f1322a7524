"""Run by test_celery_smoke.py in its own interpreter (Airflow configured for the CeleryExecutor through the
environment before import): schedules the DAGs through the executor — the Celery worker process runs the
tasks — and prints what happened as JSON on the last line."""

from __future__ import annotations

import json
import os
import sys

from gateway.orchestration.dagfactory import build_dags

dags = build_dags()
out = {"driver_pid": os.getpid(), "runs": []}
for dag_id in sys.argv[1:]:
    run = dags[dag_id].test(use_executor=True)
    out["runs"].append({
        "dag_id": dag_id, "state": str(run.state),
        "tasks": {ti.task_id: {"state": str(ti.state), "queue": ti.queue, "hostname": ti.hostname, "pid": ti.pid,
                               "executor": ti.executor}
                  for ti in run.get_task_instances()},
    })
print(json.dumps(out))
