"""Scale-out, measured: N configured systems × K changed records each, synced by the unchanged sync DAGs through
Airflow's CeleryExecutor on PostgreSQL (the compose shape), with one Celery worker and then with two.

    python bench/scale_out.py                                # 100 systems × 10,000 records (1,000,000)
    python bench/scale_out.py --systems 10 --records 1000    # the quick shape
    python bench/scale_out.py --postgres postgresql://postgres@127.0.0.1:5432/postgres \\
                              --redis redis://127.0.0.1:6379/0 --workers 1,2 --concurrency 1

Everything runs on 127.0.0.1, as docker-compose.yml lays it out:

- **sources**: ``--servers`` processes (default 4) each serving its share of the N systems over real HTTP,
  one port per system: the sandbox's civil approval system (API key, page-number paging, 100 records a page)
  with K base records. Every system serves the same generated cases except their national case numbers
  (办件编号), which are made unique per system, so no two systems write the same case;
- **the systems file**: the N systems (``bench_000`` …, connector ``rest``, the civil mapping, no schedule)
  plus one hall that receives every case (one outbox row per changed case, as in production; its push DAG
  stays paused); every sync task goes to a Celery queue of this run only;
- **Airflow 3** with the CeleryExecutor: ``api-server``, ``scheduler``, ``dag-processor``, metadata on a fresh
  PostgreSQL database, Redis as the broker; the DAGs are ``dags/tongban.py`` unchanged;
- **per round** (one per ``--workers`` entry, default 1 then 2): a fresh PostgreSQL ledger (migrated), that
  many ``airflow celery worker`` processes (``--concurrency`` task slots each, default 1), then every sync DAG
  is triggered at once through the REST API and the bench waits until every run has finished.

Printed per round: wall time (first trigger → last run finished), records/s (N × K / wall), the sync tasks'
busy time (the ledger's run durations summed: their parallelism = busy / wall), and the ratio of the rounds.
Checked per round, failing the bench (exit 1) when wrong:

- **no lost records**: for every system, the distinct source ids in the ledger (stored records plus dead
  letters) are exactly its K records;
- **no double writes**: every source row was inserted by exactly one run (the runs' ``inserted`` summed per
  system equals its stored rows), every case has version 1 and at most one outbox row (the hall's; none for a
  case the hall need not hold), and no two sync runs of one system overlapped in time (the lease);
- **the lease under contention** (``--contend``, default 3): as soon as Airflow's syncs hold leases, the bench
  runs ``sync_system`` — what ``tongban sync`` runs — for up to that many of those systems at the same time, a
  second writer; the lease must refuse each (or, had the Airflow run finished in between, the second run finds
  nothing new). Counted as lease conflicts.

What to expect here: this machine has 2 cores, shared with other work, and everything above — the source
servers, PostgreSQL, Redis, the scheduler, the api-server, the workers and their task processes — competes for
them. A sync task is CPU-bound Python (parse, map, validate, hash, seal) plus PostgreSQL's own CPU, and each
Airflow task pays a process start and a DAG-file parse, so a second worker can use at most the second core
that everything else also needs: expect a ratio well under 2 (anything from ~1.0 to ~1.5). On hosts with
spare cores per worker (the compose shape with ``--scale airflow-worker=N`` on more machines) the sync work
itself scales with workers, because runs of different systems share nothing but the ledger. Absolute
figures are for information only.

Measured here at the full shape (100 × 10,000, 2026-12-04, run one round at a time): one worker 1,066 s, 938
records/s, the syncs busy 534 s (parallelism 0.50); two workers 841 s, 1,189 records/s, busy 666 s (0.79) —
1.27×; every check passed. In every two-worker round Airflow 3.3's api-server segfaulted (libpython; its
faulthandler stacks in the thread serving a large ``dagRuns/list``, which the bench therefore no longer polls): it is
supervised and restarted here, as the compose file does, and the restarts are printed (3 in that round).

Earlier (20 systems × 5,000 records, the machine shared with other work, load average 2.5–5): one worker
354 s, 282 records/s; two workers 253 s, 396 records/s — 1.40×; every check passed. The sync runs themselves
were busy 103 s and 156 s of those walls (parallelism 0.29 and 0.62): each Airflow task costs ~4 s of process
start, DAG parse and scheduling on this machine, three tasks per DAG run, and that overhead, not the sync, is
most of the wall time at this size. The full shape (100 × 10,000) would take over an hour for both rounds here.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SEED = 20261121
API_KEY = "civil-demo-key"


# -- the sources (a child process per --servers) ----------------------------------------------------------------

def serve_sources(first: int, count: int, records: int) -> None:
    """Serve systems ``first`` … ``first + count - 1``, one port each; print their URLs as one JSON line, then
    serve until stdin closes (the parent exits or closes it)."""
    from sandbox.civil import CivilApp, generate, timeline
    from sandbox.harness import Listener
    from sandbox.table import LazyTable

    listeners = {}
    tl = timeline(SEED)
    for k in range(first, first + count):
        app = CivilApp(SEED, records, API_KEY)

        def make(i: int, offset: int = k * records) -> dict[str, Any]:
            rec = generate(SEED, i)  # the case number's serial made unique across systems
            rec["projectNo"] = rec["projectNo"][:-7] + f"{offset + i + 1:07d}"
            return rec

        app.table = LazyTable(records, tl.time, tl.first_at_or_after, make)
        listener = Listener(app, "127.0.0.1", 0)
        listener.start()
        listeners[system_name(k)] = listener
    print(json.dumps({name: lst.url for name, lst in listeners.items()}), flush=True)
    sys.stdin.read()
    for listener in listeners.values():
        listener.stop()


def system_name(k: int) -> str:
    return f"bench_{k:03d}"


# -- processes ----------------------------------------------------------------------------------------------

class Procs:
    """Child processes in their own sessions, stopped (SIGTERM, then SIGKILL) by :meth:`stop`."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.supervised: dict[str, tuple[list[str], dict[str, str]]] = {}
        self.restarts: dict[str, int] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str], *, supervise: bool = False,
              **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start ``name``; ``supervise``: restart it when it dies (up to 5 times), as systemd or Kubernetes would."""
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - the child writes to it
        proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=kwargs.pop("stdout", out), stderr=out,
                                start_new_session=True, **kwargs)
        out.close()
        self.running[name] = proc
        if supervise:
            self.supervised[name] = (argv, env)
        return proc

    def check(self) -> None:
        for name, proc in list(self.running.items()):
            if proc.poll() is None:
                continue
            if name in self.supervised and self.restarts.get(name, 0) < 5:
                self.restarts[name] = self.restarts.get(name, 0) + 1
                print(f"  {name} died ({_exit(proc.returncode)}); restarted, as a supervisor would", flush=True)
                self.start(name, *self.supervised[name], supervise=True)
                continue
            raise RuntimeError(f"{name} exited ({_exit(proc.returncode)}):\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, *names: str) -> None:
        chosen = names or tuple(self.running)
        for name in chosen:
            proc = self.running.get(name)
            if proc is not None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name in chosen:
            proc = self.running.pop(name, None)
            if proc is None:
                continue
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _exit(code: int | None) -> str:
    """An exit status in words: a negative code is the signal that ended the process (-11: SIGSEGV)."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def wait_for(what: str, check: Any, timeout: float, procs: Procs | None = None, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if procs is not None:
            procs.check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


# -- databases ----------------------------------------------------------------------------------------------

@contextmanager
def fresh_database(admin_url: str, prefix: str, keep: bool) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    url = admin_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{url.rpartition('/')[0]}/{name}"
    finally:
        if keep:
            print(f"  kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def write_systems(path: Path, urls: dict[str, str], queue: str) -> Path:
    import yaml

    config = REPO / "config"
    systems: dict[str, Any] = {}
    for name, url in sorted(urls.items()):
        systems[name] = {"title": f"bench source {name}", "role": "department", "connector": "rest",
                         "connector_config": str(config / "connectors" / "sd_civil.yaml"),
                         "mapping": str((config / "../mappings/sd_civil.yaml").resolve()), "stream": "cases",
                         "endpoint": url, "secrets": {"api_key": "TONGBAN_SD_CIVIL_API_KEY"}, "schedule": None}
    systems["bench_hall"] = {"title": "the hall (receives every case; never pushed to here)", "role": "hall",
                             "connector": "rest", "connector_config": str(config / "connectors" / "sd_hall.yaml"),
                             "mapping": str((config / "../mappings/sd_hall.yaml").resolve()), "stream": "frontdesk",
                             "endpoint": "http://127.0.0.1:9", "schedule": None,
                             "secrets": {"client_id": "TONGBAN_SD_HALL_CLIENT_ID",
                                         "client_secret": "TONGBAN_SD_HALL_CLIENT_SECRET"},
                             "push": {"stream": "cases"}}
    data = {"defaults": {"lookback": "10m", "batch_size": 500, "retries": 2, "retry_delay": "5s",
                         "max_retry_delay": "30s", "queue": queue}, "systems": systems}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# -- Airflow's REST API (simple auth manager, every request an admin) ---------------------------------------------

class AirflowApi:
    def __init__(self, port: int) -> None:
        import requests

        self.base = f"http://127.0.0.1:{port}/api/v2"
        self.http = requests.Session()

    def up(self) -> bool:
        try:
            return self.http.get(self.base + "/version", timeout=5).ok
        except Exception:  # noqa: BLE001 - not up yet
            return False

    def dag_ids(self, pattern: str) -> list[str]:
        answer = self.http.get(self.base + "/dags", params={"dag_id_pattern": pattern, "limit": 5000}, timeout=30)
        answer.raise_for_status()
        return [d["dag_id"] for d in answer.json()["dags"]]

    def unpause(self, dag_id: str) -> None:
        self.http.patch(f"{self.base}/dags/{dag_id}", json={"is_paused": False}, timeout=30).raise_for_status()

    def trigger(self, dag_id: str, run_id: str) -> None:
        answer = self.http.post(f"{self.base}/dags/{dag_id}/dagRuns", timeout=30,
                                json={"dag_run_id": run_id, "logical_date": None})
        if answer.status_code >= 300:
            raise RuntimeError(f"triggering {dag_id}: {answer.status_code} {answer.text[:500]}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"{self.base}/dags/{dag_id}/dagRuns/{run_id}/taskInstances", timeout=30)
        answer.raise_for_status()
        return list(answer.json()["task_instances"])


def run_states(metadata: Any, prefix: str) -> list[dict[str, Any]]:
    """``dag_id, dag_run_id, state`` of the DAG runs whose run id starts with ``prefix``, from the metadata database."""
    from sqlalchemy import text

    with metadata.connect() as conn:
        rows = conn.execute(text("SELECT dag_id, run_id, state FROM dag_run WHERE run_id LIKE :p"),
                            {"p": prefix + "%"}).all()
    return [{"dag_id": d, "dag_run_id": r, "state": s} for d, r, s in rows]


def celery_ping(broker: str, names: list[str]) -> bool:
    from celery import Celery

    app = Celery(broker=broker)
    try:
        replies = app.control.ping(destination=names, timeout=2.0) or []
    finally:
        app.close()
    answered = {name for reply in replies for name in reply}
    return set(names) <= answered


# -- the ledger's account of a round ----------------------------------------------------------------------------

def ledger_checks(url: str, systems: list[str], records: int) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    problems: list[str] = []
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT system, count(*) FROM source_records GROUP BY system")).all())
        seen = dict(conn.execute(text(
            "SELECT system, count(DISTINCT source_id) FROM (SELECT system, source_id FROM source_records UNION "
            "SELECT system, source_id FROM dead_letters WHERE kind = 'record') s GROUP BY system")).all())
        rejected = dict(conn.execute(text(
            "SELECT system, count(*) FROM dead_letters WHERE kind = 'record' GROUP BY system")).all())
        runs = conn.execute(text(
            "SELECT system, status, started_at, finished_at, duration_s, inserted, updated, error FROM runs "
            "WHERE kind = 'sync' ORDER BY system, started_at")).mappings().all()
        cases = conn.execute(text("SELECT count(*), max(version), min(version) FROM cases")).one()
        outbox = conn.execute(text(
            "SELECT count(*), count(DISTINCT (case_no, version, target_system)), "
            "(SELECT count(*) FROM (SELECT case_no FROM outbox GROUP BY case_no HAVING count(*) > 1) d) "
            "FROM outbox")).one()
        leases = conn.execute(text("SELECT count(*) FROM leases")).scalar_one()
    engine.dispose()

    for name in systems:
        if seen.get(name, 0) != records:
            problems.append(f"{name}: {seen.get(name, 0)} of {records} records in the ledger (lost records)")
    by_system: dict[str, list[Any]] = {}
    for run in runs:
        by_system.setdefault(run["system"], []).append(run)
    inserted = {name: sum(r["inserted"] + r["updated"] for r in rs) for name, rs in by_system.items()}
    overlaps = 0
    for name, rs in by_system.items():
        if inserted[name] != stored.get(name, 0):
            problems.append(f"{name}: runs wrote {inserted[name]} records for {stored.get(name, 0)} rows (double writes)")
        spans = sorted((r["started_at"], r["finished_at"] or r["started_at"]) for r in rs)
        overlaps += sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
    if overlaps:
        problems.append(f"{overlaps} pairs of sync runs of one system overlapped in time (the lease failed)")
    if cases[0] and (cases[1] != 1 or cases[2] != 1):
        problems.append(f"case versions {cases[2]}..{cases[1]}: a case was written more than once")
    if outbox[0] != outbox[1] or outbox[2]:
        problems.append(f"{outbox[0]} outbox rows ({outbox[1]} distinct), {outbox[2]} cases queued more than once")
    if leases:
        problems.append(f"{leases} leases still held after every run finished")
    failed_runs = [r for r in runs if r["status"] not in ("succeeded", "degraded")]
    busy = sum(r["duration_s"] or 0 for r in runs if r["status"] in ("succeeded", "degraded"))
    return {"stored": sum(stored.values()), "rejected": sum(rejected.values()), "cases": cases[0],
            "outbox": outbox[0], "sync_runs": len(runs), "failed_runs": len(failed_runs),
            "lease_refusals_in_runs": sum(1 for r in failed_runs if "lease" in (r["error"] or "").lower()
                                          or "held by" in (r["error"] or "")),
            "busy_s": busy, "problems": problems}


# -- one round ----------------------------------------------------------------------------------------------

def run_round(args: argparse.Namespace, workers: int, env: dict[str, str], api: AirflowApi, procs: Procs,
              dag_ids: list[str], systems: list[str], queue: str) -> dict[str, Any]:
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade

    total = len(systems) * args.records
    print(f"\n== {workers} worker(s) × {args.concurrency} slot(s): {len(systems)} systems × {args.records:,} "
          f"records = {total:,}")
    with fresh_database(args.postgres, "tongban_bench_ledger", args.keep) as ledger_url:
        engine = make_engine(ledger_url)
        upgrade(engine)
        engine.dispose()
        round_env = {**env, "TONGBAN_DATABASE_URL": ledger_url}
        names = [f"bench-w{i}-{uuid.uuid4().hex[:6]}@127.0.0.1" for i in range(workers)]
        worker_procs = [f"worker-{workers}-{i}" for i in range(workers)]
        for proc_name, celery_name in zip(worker_procs, names):
            procs.start(proc_name, [*AIRFLOW, "celery", "worker", "--queues", queue, "--concurrency",
                                    str(args.concurrency), "--celery-hostname", celery_name, "--without-gossip",
                                    "--without-mingle", "--skip-serve-logs"], round_env)
        wait_for(f"{workers} Celery worker(s)", lambda: celery_ping(args.redis, names), 300, procs, 2)
        prefix = f"bench_{workers}w_{uuid.uuid4().hex[:6]}"
        restarted = procs.restarts.get("api-server", 0)
        started = time.monotonic()
        for dag_id in dag_ids:
            api.trigger(dag_id, f"{prefix}_{dag_id}")
        contention = contend(args, round_env, ledger_url, procs) if args.contend else {}

        metadata = make_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])

        def finished() -> list[dict[str, Any]] | None:
            # read from Airflow's metadata database, not asked of its api-server every second: that listing (100
            # DAG ids) is where the api-server segfaulted in rounds with two workers (PYTHONFAULTHANDLER's stacks)
            runs = run_states(metadata, prefix)
            done = [r for r in runs if r["state"] in ("success", "failed")]
            return runs if len(done) == len(dag_ids) else None

        try:
            runs = wait_for("every sync run to finish", finished, args.timeout, procs, 2.0)
        finally:
            metadata.dispose()
        wall = time.monotonic() - started
        procs.stop(*worker_procs)
        failed = [r for r in runs if r["state"] != "success"]
        for run in failed[:5]:
            states = {t["task_id"]: (t["state"], t["try_number"]) for t in api.task_instances(run["dag_id"],
                                                                                               run["dag_run_id"])}
            print(f"  FAILED {run['dag_id']}: {states}")
        checks = ledger_checks(ledger_url, systems, args.records)
    result = {"workers": workers, "wall_s": wall, "records": total, "records_per_s": total / wall,
              "failed_dag_runs": len(failed), "api_server_restarts": procs.restarts.get("api-server", 0) - restarted,
              **checks, **contention}
    print(f"  wall {wall:.1f} s, {total / wall:,.0f} records/s; sync runs busy {checks['busy_s']:.1f} s "
          f"(parallelism {checks['busy_s'] / wall:.2f}); stored {checks['stored']:,} records "
          f"({checks['rejected']:,} rejected to dead letters), {checks['cases']:,} cases, {checks['outbox']:,} "
          f"outbox rows; failed DAG runs {len(failed)}; lease conflicts: {contention.get('refused', 0)} second "
          f"writers refused, {contention.get('after', 0)} ran after (nothing new), {checks['lease_refusals_in_runs']} "
          f"sync runs refused; api-server restarts {result['api_server_restarts']}; load average "
          f"{os.getloadavg()[0]:.1f}")
    for problem in checks["problems"][:20]:
        print(f"  PROBLEM {problem}")
    return result


def contend(args: argparse.Namespace, env: dict[str, str], ledger_url: str, procs: Procs) -> dict[str, int]:
    """Run ``sync_system`` (what ``tongban sync`` runs) here, in threads, for up to ``--contend`` systems whose
    Airflow sync holds the lease right now: the lease must refuse each — or, had the Airflow run finished in
    between, the second run finds nothing new. Returns the counts."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import text

    from gateway.contract.errors import LeaseHeldError
    from gateway.kernel.runtime import Runtime
    from gateway.sync.engine import sync_system

    os.environ.update({k: env[k] for k in ("TONGBAN_KEY_FILE", "TONGBAN_SD_CIVIL_API_KEY")})
    runtime = Runtime.from_env(env["TONGBAN_SYSTEMS"], ledger_url, migrate=False)
    counts = {"refused": 0, "after": 0, "other": 0}
    try:
        def held() -> list[str]:
            with runtime.engine.connect() as conn:
                return [n.removeprefix("sync:") for n in conn.execute(text(
                    "SELECT name FROM leases WHERE name LIKE 'sync:bench_%' ORDER BY name")).scalars()]

        try:
            holders = wait_for("a sync holding its lease", held, 300, procs, 0.1)[:args.contend]
        except RuntimeError:
            return counts

        def second_writer(name: str) -> str:
            try:
                report = sync_system(runtime, name)
            except LeaseHeldError as exc:
                return "refused" if "held by" in str(exc) or "taken" in str(exc) else f"other: {exc}"
            data = report.as_dict()
            return "after" if data["inserted"] == 0 and data["updated"] == 0 else f"other: wrote {data}"

        with ThreadPoolExecutor(max_workers=len(holders)) as pool:
            for name, outcome in zip(holders, pool.map(second_writer, holders)):
                key = outcome.partition(":")[0]
                counts[key] += 1
                if key == "other":
                    print(f"  second writer on {name}: {outcome[:800]}")
    finally:
        runtime.engine.dispose()
    return counts


AIRFLOW: list[str] = []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--records", type=int, default=10_000, help="changed records per system")
    parser.add_argument("--workers", default="1,2", help="worker counts, one round each (default 1,2)")
    parser.add_argument("--concurrency", type=int, default=1, help="task slots per worker")
    parser.add_argument("--servers", type=int, default=4, help="source server processes")
    parser.add_argument("--contend", type=int, default=3, help="second writers started against held leases per round")
    parser.add_argument("--postgres", default=os.environ.get("TONGBAN_TEST_POSTGRES_URL",
                                                             "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="the Celery broker")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a round may take")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the work directory")
    parser.add_argument("--serve-sources", nargs=2, type=int, metavar=("FIRST", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_sources:
        serve_sources(*args.serve_sources, args.records)
        return 0
    if args.systems * args.records >= 10_000_000 or args.systems > 1000:
        parser.error("at most 999 systems and systems × records < 10,000,000 (case numbers have 7 serial digits)")

    from gateway.crypto import GatewayKeys
    from gateway.orchestration.airflow_env import airflow_command, airflow_env, migrate_metadata
    from gateway.orchestration.naming import sync_dag_id

    AIRFLOW[:] = airflow_command()
    # a SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so the services and workers are stopped, not orphaned
    signal.signal(signal.SIGTERM, _interrupted)
    work = Path(tempfile.mkdtemp(prefix="tongban-scale-out-"))
    logs = work / "logs"
    logs.mkdir()
    procs = Procs(logs)
    results: list[dict[str, Any]] = []
    print(f"scale-out bench: {args.systems} systems × {args.records:,} records, workers {args.workers} × "
          f"{args.concurrency} slot(s), {args.servers} source servers; {os.cpu_count()} cores; work dir {work}")
    try:
        # the sources
        per = -(-args.systems // args.servers)
        urls: dict[str, str] = {}
        for s, first in enumerate(range(0, args.systems, per)):
            count = min(per, args.systems - first)
            proc = procs.start(f"sources-{s}", [sys.executable, __file__, "--records", str(args.records),
                                                "--serve-sources", str(first), str(count)],
                               {**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                               stdin=subprocess.PIPE)
            assert proc.stdout is not None
            urls.update(json.loads(proc.stdout.readline()))
        systems = sorted(urls)
        queue = f"tongban_bench_{uuid.uuid4().hex[:8]}"
        systems_file = write_systems(work / "systems.yaml", urls, queue)
        key_file = GatewayKeys.generate().write(work / "keys.json")
        port = _free_port()
        with fresh_database(args.postgres, "tongban_bench_airflow", args.keep) as meta_url:
            env = {**os.environ, **airflow_env(work / "airflow", executor="CeleryExecutor", sql_alchemy_conn=meta_url,
                                               parallelism=64, api_port=port, extra={
                "AIRFLOW__CELERY__BROKER_URL": args.redis,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + meta_url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(args.concurrency),
                "AIRFLOW__API_AUTH__JWT_SECRET": uuid.uuid4().hex,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # only the sync DAGs are unpaused
                "AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG": "1",
                "AIRFLOW__API__MAXIMUM_PAGE_LIMIT": "5000",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            }), "PYTHONFAULTHANDLER": "1",  # a crash in C (the api-server's segfaults) leaves its Python stacks
                "TONGBAN_SYSTEMS": str(systems_file), "TONGBAN_KEY_FILE": str(key_file),
                "TONGBAN_SD_CIVIL_API_KEY": API_KEY, "PYTHONPATH": str(REPO),
                # the services' own ledger, should a DAG-level callback write one (each round's workers get theirs)
                "TONGBAN_DATABASE_URL": f"sqlite:///{work / 'services.db'}"}
            print("migrating Airflow's metadata database …", flush=True)
            migrate_metadata(env, timeout=900)
            for name, sub in (("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(port)]),
                              ("scheduler", ["scheduler"]), ("dag-processor", ["dag-processor"])):
                procs.start(name, [*AIRFLOW, *sub], env, supervise=name == "api-server")
            api = AirflowApi(port)
            wait_for("the api-server", api.up, 300, procs, 1)
            wanted = {sync_dag_id(name) for name in systems}
            dag_ids = sorted(wait_for(f"{len(wanted)} sync DAGs parsed",
                                      lambda: wanted if wanted <= set(api.dag_ids("tongban_sync_bench_")) else None,
                                      600, procs, 2))
            for dag_id in dag_ids:
                api.unpause(dag_id)
            for workers in (int(w) for w in args.workers.split(",")):
                results.append(run_round(args, workers, env, api, procs, dag_ids, systems, queue))
            procs.stop()
    except BaseException:
        print(f"the services' logs are kept in {work / 'logs'}", flush=True)
        args.keep = True
        raise
    finally:
        procs.stop()
        _forget_queue(args.redis, queue if "queue" in locals() else None)
        if not args.keep:
            import shutil

            shutil.rmtree(work, ignore_errors=True)

    print("\n== summary")
    print(f"{'workers':>8} {'wall s':>9} {'records/s':>10} {'busy s':>9} {'parallel':>8}  checks")
    for r in results:
        print(f"{r['workers']:>8} {r['wall_s']:>9.1f} {r['records_per_s']:>10,.0f} {r['busy_s']:>9.1f} "
              f"{r['busy_s'] / r['wall_s']:>8.2f}  {'ok' if not r['problems'] and not r['failed_dag_runs'] else 'FAILED'}")
    if len(results) >= 2:
        first, last = results[0], results[-1]
        print(f"ratio {last['workers']} workers / {first['workers']}: "
              f"{last['records_per_s'] / first['records_per_s']:.2f}× records/s "
              f"({os.cpu_count()} cores shared by sources, PostgreSQL, Airflow and the workers)")
    bad = [r for r in results if r["problems"] or r["failed_dag_runs"] or r.get("other")]
    return 1 if bad or not results else 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _forget_queue(broker: str, queue: str | None) -> None:
    if not queue:
        return
    try:
        import redis

        client = redis.Redis.from_url(broker)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.close()
    except Exception as exc:  # noqa: BLE001 - cleanup only
        print(f"could not clean the Celery queue {queue}: {exc}")


if __name__ == "__main__":
    sys.exit(main())
