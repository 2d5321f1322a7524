"""The test command's Airflow smoke: ``airflow dags test`` (Airflow's own CLI, its own process) on one sync DAG
against the sandbox, in a throw-away AIRFLOW_HOME. Exit code 0 only when the run succeeded and the ledger holds
the source's records.

    .venv/bin/python scripts/airflow_smoke.py [DAG_ID]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> int:
    from sqlalchemy import func, select

    from gateway.kernel.config import load_systems
    from gateway.demo.once import wire_sandbox
    from gateway.orchestration.airflow_env import airflow_command, airflow_env, migrate_metadata
    from gateway.store.db import make_engine
    from gateway.store.tables import source_records
    from sandbox.server import start_all

    dag_id = sys.argv[1] if len(sys.argv) > 1 else "tongban_sync_sd_civil"
    system = dag_id.removeprefix("tongban_sync_")
    with tempfile.TemporaryDirectory(prefix="tongban-airflow-smoke-") as tmp:
        home = Path(tmp)
        handle = start_all(seed=3, records={"civil": 120, "estate": 40, "market": 40})
        try:
            wire_sandbox(load_systems(REPO / "config" / "systems.yaml"), handle)  # the file Airflow is given
            ledger = f"sqlite:///{home / 'ledger.db'}"
            env = {**os.environ, **airflow_env(home / "airflow"), "TONGBAN_DATABASE_URL": ledger,
                   "TONGBAN_SYSTEMS": str(REPO / "config" / "systems.yaml")}
            migrate_metadata(env)
            result = subprocess.run([*airflow_command(), "dags", "test", dag_id], env=env, capture_output=True,
                                    text=True, timeout=600)
            output = result.stdout + result.stderr
            engine = make_engine(ledger)
            with engine.connect() as conn:
                held = conn.execute(select(func.count()).select_from(source_records)
                                    .where(source_records.c.system == system)).scalar_one()
            engine.dispose()
        finally:
            handle.stop()
    succeeded = result.returncode == 0 and "state=success" in output and held > 0
    print(f"airflow dags test {dag_id}: exit {result.returncode}, "
          f"{'run succeeded' if 'state=success' in output else 'run did not succeed'}, ledger holds {held} records")
    if not succeeded:
        print(output[-5000:], file=sys.stderr)
    return 0 if succeeded else 1


if __name__ == "__main__":
    raise SystemExit(main())
