"""The environment of an embedded Airflow: one place that knows which variables the demo, the tests and the
bench set before Airflow is imported (Airflow reads its configuration once, at import).

    env = airflow_env(Path(".tongban/airflow"))     # SQLite, LocalExecutor, 127.0.0.1, our dags/ folder
    os.environ.update(env)                           # before `import airflow`
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway.kernel.config import REPO_ROOT

DAGS_FOLDER = REPO_ROOT / "dags"
SQLITE_LOCK_WAIT_S = 60  # seconds a writer to Airflow's SQLite metadata database waits for the lock
EXECUTION_API_TIMEOUT_S = SQLITE_LOCK_WAIT_S + 30  # a task's wait for the execution API: past one lock wait


def airflow_env(
    home: Path,
    *,
    executor: str = "LocalExecutor",
    sql_alchemy_conn: str | None = None,
    parallelism: int = 4,
    api_port: int = 8080,
    dags_folder: Path = DAGS_FOLDER,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Variables for an Airflow whose home, metadata database and logs live under ``home``."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor,
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn or sqlite_metadata_url(home / "airflow.db"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__WEBSERVER__EXPOSE_CONFIG": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        # a task's calls to the execution API wait for the API server, which waits up to SQLITE_LOCK_WAIT_S for the
        # metadata database's lock: with Airflow's 5 s client timeout, sync tasks failed in a loaded CI run
        # ("API_SERVER_ERROR … ReadTimeout") whose work was fine
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": str(EXECUTION_API_TIMEOUT_S),
        # no OpenTelemetry exporter is running: do not let the SDK try to reach one
        "OTEL_SDK_DISABLED": "true",
    }
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    if conn.startswith("postgresql+psycopg://"):  # Airflow would guess asyncpg; psycopg 3 does async itself
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = conn.replace("+psycopg://", "+psycopg_async://", 1)
    # `airflow standalone` and the Celery worker start `airflow …` subcommands by name: this environment's first
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        env["PATH"] = os.pathsep.join([bin_dir, path]) if path else bin_dir
    if extra:
        env.update(extra)
    return env


def sqlite_metadata_url(path: Path) -> str:
    """Airflow's SQLite metadata database with a lock wait of a minute, not sqlite3's 5 s.

    `airflow standalone` runs the scheduler, the DAG processor, the API server and the triggerer against one
    file; on a machine loaded by other work a writer can hold the lock past 5 s, and the scheduler then dies on
    "database is locked" (seen in CI). The sync and the async driver both take ``timeout`` from the URL.
    """
    return f"sqlite:///{path}?timeout={SQLITE_LOCK_WAIT_S}"


def airflow_command() -> list[str]:
    """``airflow`` of this interpreter's environment."""
    candidate = Path(sys.executable).with_name("airflow")
    return [str(candidate)] if candidate.exists() else [sys.executable, "-m", "airflow"]


def migrate_metadata(env: dict[str, str], *, timeout: float = 300) -> None:
    """``airflow db migrate`` in a subprocess (a few seconds on SQLite)."""
    result = subprocess.run([*airflow_command(), "db", "migrate"], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


__all__ = ["DAGS_FOLDER", "SQLITE_LOCK_WAIT_S", "airflow_command", "airflow_env", "migrate_metadata", "sqlite_metadata_url"]
