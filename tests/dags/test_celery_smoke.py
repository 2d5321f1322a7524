"""Distributed smoke test: the sync and push DAGs, unchanged, executed by Airflow's CeleryExecutor with a real
Celery worker process, Airflow's metadata and the ledger on PostgreSQL, the broker on Redis (127.0.0.1).

The pytest process plays the scheduler's part (``dag.test(use_executor=True)`` queues each task instance on the
CeleryExecutor); an ``airflow api-server`` serves the Execution API the worker's task runner talks to; the
worker parses ``dags/`` itself and runs the task bodies against the sandbox over HTTP. Skips with the reason when
PostgreSQL or Redis is not there (.ci/run has both).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from dags_testlib import REPO, orchestrated_systems
from sqlalchemy import create_engine, text

from gateway.orchestration.airflow_env import airflow_command, airflow_env, migrate_metadata

pytestmark = pytest.mark.slow
REDIS = ("127.0.0.1", 6379)
HERE = Path(__file__).resolve().parent


def _redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def airflow_database() -> Iterator[str]:
    admin_url = os.environ.get("TONGBAN_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("Celery smoke test skipped: TONGBAN_TEST_POSTGRES_URL is not set (.ci/run sets it)")
    if not _redis_up():
        pytest.skip("Celery smoke test skipped: no Redis answering at 127.0.0.1:6379")
    admin = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    name = f"tongban_airflow_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = admin_url.replace("postgresql://", "postgresql+psycopg://", 1).rpartition("/")[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_sync_dag_runs_on_a_celery_worker_unchanged(make_world, airflow_database, tmp_path) -> None:
    world = make_world(civil=200, estate=20)
    if not world.database_url.startswith("postgresql"):
        pytest.skip("the distributed smoke test runs on the PostgreSQL ledger (its [postgres] variant)")
    queue = f"tongban_smoke_{uuid.uuid4().hex[:8]}"  # our worker only: never a task for someone else's worker
    systems = orchestrated_systems(world, queue=queue)
    port = _free_port()
    env = {
        **world.env,
        **airflow_env(tmp_path / "airflow", executor="CeleryExecutor", sql_alchemy_conn=airflow_database,
                      api_port=port, extra={
                          "AIRFLOW__CELERY__BROKER_URL": "redis://127.0.0.1:6379/0",
                          "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_database,
                          "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
                          "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
                          "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("SMOKE_LOG_LEVEL", "WARNING"),
                      }),
        "TONGBAN_SYSTEMS": str(systems),
        "TONGBAN_DATABASE_URL": world.database_url,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]),
    }
    migrate_metadata(env, timeout=600)
    logs = tmp_path / "logs"
    logs.mkdir()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv in (("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(port)]),
                           ("worker", ["celery", "worker", "--queues", queue, "--concurrency", "2",
                                       "--without-gossip", "--without-mingle", "--skip-serve-logs"])):
            with open(logs / f"{name}.log", "wb") as out:
                procs.append(subprocess.Popen([*airflow_command(), *argv], env=env, stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + 240
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v2/version", timeout=3).ok:
                    break
            except requests.RequestException:
                pass
            assert all(p.poll() is None for p in procs), "\n".join(
                f.read_text(errors="replace")[-2500:] for f in sorted(logs.iterdir()))
            assert time.monotonic() < deadline, "the api-server did not come up"
            time.sleep(1)
        with open(logs / "driver.log", "wb") as out:  # Airflow logs to stdout: the result is the last line
            driver = subprocess.run([sys.executable, str(HERE / "celery_smoke_driver.py"), "tongban_sync_sd_civil",
                                     "tongban_push"], env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600)
        driver_log = (logs / "driver.log").read_text(errors="replace")
        worker_log = (logs / "worker.log").read_text(errors="replace")
        assert driver.returncode == 0, driver_log[-3000:] + worker_log[-3000:]
        result = json.loads(driver_log.strip().splitlines()[-1])
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(timeout=10)
        import redis

        broker = redis.Redis(host=REDIS[0], port=REDIS[1], db=0)
        for key in broker.scan_iter(match=f"*{queue}*"):  # our queue's bindings (and any undelivered message)
            broker.delete(key)

    runs = {r["dag_id"]: r for r in result["runs"]}
    sync = runs["tongban_sync_sd_civil"]
    assert sync["state"] == "success", (sync, worker_log[-3000:])
    assert runs["tongban_push"]["state"] == "success", runs["tongban_push"]
    for run in runs.values():
        for task_id, ti in run["tasks"].items():
            if ti["state"] == "success":
                assert ti["queue"] == queue and ti["executor"] in (None, "CeleryExecutor"), (task_id, ti)
                assert ti["pid"] != result["driver_pid"], f"{task_id} ran in the driver, not on the worker"
    assert world.ledger_records("sd_civil") == world.source_records("sd_civil")
    hall = {c["case_no"] for c in world.admin("sd_hall", "GET", "/_sandbox/cases") if not c["deleted"]}
    assert len(hall) > 150
