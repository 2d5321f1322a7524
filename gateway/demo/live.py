"""``tongban demo`` (live): the sandbox systems, ``airflow standalone`` and the gateway API, until Ctrl+C.

Airflow runs on SQLite with the LocalExecutor and modest parallelism, bound to 127.0.0.1, its home in the work
directory. Its DAGs are created paused, so that nothing runs before everything it needs answers (a task that
starts before the API server does fails its first attempt): once Airflow's API, the gateway API and the console
answer, each system is registered as an Airflow connection (:mod:`gateway.demo.connections`), then every DAG is
unpaused and triggered; a short summary is printed whenever something changes (DAG run states, ledger, queue,
alerts). Ctrl+C (or SIGTERM) stops everything: each
child runs in its own process group, which is terminated as a whole, killed if it lingers, and checked to be gone.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from gateway.cli.output import console, print_table
from gateway.demo.connections import demo_connections, without_wiring, write_airflow_systems
from gateway.demo.once import DemoWorld, demo_world, rate_finished_cases
from gateway.demo.processes import PROC, group_members, session_members
from gateway.orchestration.airflow_env import airflow_command, airflow_env
from gateway.orchestration.naming import (
    CATALOGUE_DAG,
    DEADLINES_DAG,
    RECONCILE_DAG,
    SYNC_PREFIX,
    all_dag_ids,
)

STARTUP_TIMEOUT_S = 300
POLL_S = 5.0
UNPAUSE_SPACING_S = 1.0
#: Airflow's API server on SQLite waits up to its lock timeout (60 s, ``sqlite_metadata_url``) before it answers;
#: on a loaded machine (CI's two cores running the scheduler, the DAGs and the sandbox) 15 s was not enough.
API_TIMEOUT = (10.0, 90.0)
API_ATTEMPTS = 6
JUDGES = (RECONCILE_DAG, DEADLINES_DAG, CATALOGUE_DAG)
"""DAGs that judge what the syncs brought into the ledger (source vs ledger, time limits, KPIs): started only
once every sync DAG's first run has ended — run first, the reconcile reported every source case "missing in the
ledger" (an alert that stays until its next daily run) and the deadline scan saw an empty ledger."""
FIRST_SYNCS_TIMEOUT_S = 300


class Stop(Exception):
    """Ctrl+C or SIGTERM."""


def _on_signal(signum: int, _frame: Any) -> None:
    raise Stop(signal.Signals(signum).name)


class Children:
    """Child processes, each the leader of its own process group (``start_new_session``)."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        out = open(log, "ab")  # noqa: SIM115 - the child keeps it
        guarded = [sys.executable, "-m", "gateway.demo.live", "--guard", *argv]
        proc = subprocess.Popen(guarded, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_terminate_with_parent)
        out.close()
        self.procs[name] = proc
        return proc

    def dead(self) -> list[str]:
        return [n for n, p in self.procs.items() if p.poll() is not None]

    def stop_all(self, grace: float = 20.0) -> list[int]:
        """SIGTERM every group, wait, SIGKILL what is left; returns pids still alive afterwards (none)."""
        groups = {}
        for proc in self.procs.values():
            try:
                groups[proc.pid] = os.getpgid(proc.pid)
            except ProcessLookupError:
                groups[proc.pid] = proc.pid
        for pgid in groups.values():
            _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_group_alive(g) for g in groups.values()):
            for proc in self.procs.values():
                proc.poll()
            time.sleep(0.3)
        for pgid in groups.values():
            if _group_alive(pgid):
                _signal_group(pgid, signal.SIGKILL)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # A child's descendants may have moved to process groups of their own (Airflow's executor workers and
        # task supervisors do) while staying in the child's session: sweep the sessions too, until empty.
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            stragglers = [p.pid for sid in groups for p in session_members(sid)]
            if not stragglers:
                break
            for pid in stragglers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.3)
        time.sleep(0.2)
        return [pid for g in groups.values() for pid in group_members(g)] + [
            p.pid for sid in groups for p in session_members(sid)]


def _terminate_with_parent() -> None:
    """In the child, before exec: SIGTERM when the demo process dies, even if it is killed with SIGKILL and
    never reaches its clean-up (Linux ``PR_SET_PDEATHSIG``; elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    if PROC.is_dir():
        return bool(group_members(pgid))
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


class AirflowClient:
    """The few calls of Airflow's public REST API (v2) the demo needs."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base, self.username, self.password = base, username, password
        self.session = requests.Session()

    def healthy(self) -> bool:
        try:
            health = self.session.get(f"{self.base}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        return health.get("scheduler", {}).get("status") == "healthy"

    def login(self) -> None:
        reply = self._send("POST", "/auth/token", json={"username": self.username, "password": self.password})
        self.session.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"

    def dag_ids(self) -> set[str]:
        reply = self._send("GET", "/api/v2/dags", params={"limit": 1000})
        return {d["dag_id"] for d in reply.json()["dags"] if not d.get("is_stale")}

    def _send(self, method: str, path: str, *, ok: frozenset[int] = frozenset(), retry_slow: bool = True,
              **kwargs: Any) -> requests.Response:
        """One call, retried on 5xx and on a slow or refused answer: Airflow's API server on SQLite behind a busy
        scheduler answers "database is locked" now and then, or waits up to its lock timeout (60 s) first. Every
        call the demo retries is idempotent (GET, PATCH, a token, a connection POST whose repeat is a 409) but
        :meth:`trigger`, which looks before it retries (``retry_slow=False``). ``ok``: error statuses the caller
        handles itself."""
        url = f"{self.base}{path}"
        for attempt in range(API_ATTEMPTS):
            last = attempt == API_ATTEMPTS - 1
            try:
                reply = self.session.request(method, url, timeout=API_TIMEOUT, **kwargs)
            except (requests.Timeout, requests.ConnectionError):
                if last or not retry_slow:
                    raise
            else:
                if reply.status_code < 500 or last:
                    break
            time.sleep(0.5 * 2 ** attempt)
        if reply.status_code not in ok:
            reply.raise_for_status()
        return reply

    def put_connection(self, body: dict[str, Any]) -> None:
        """Create the connection, or replace it (a second demo run in the same home, or a POST retried after an
        answer that came too late)."""
        reply = self._send("POST", "/api/v2/connections", json=body, ok=frozenset({409}))
        if reply.status_code == 409:
            self._send("PATCH", f"/api/v2/connections/{body['connection_id']}", json=body)

    def unpause(self, dag_id: str) -> None:
        self._send("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str) -> None:
        """Start a run, once: a POST whose answer came too late may have started one, so look before retrying."""
        for attempt in range(API_ATTEMPTS):
            try:
                self._send("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None}, retry_slow=False)
                return
            except (requests.Timeout, requests.ConnectionError):
                if self.runs(dag_id):
                    return
                if attempt == API_ATTEMPTS - 1:
                    raise
                time.sleep(0.5 * 2 ** attempt)

    def runs(self, dag_id: str) -> dict[str, int]:
        reply = self._send("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
        counts: dict[str, int] = {}
        for run in reply.json()["dag_runs"]:
            counts[run["state"]] = counts.get(run["state"], 0) + 1
        return counts


def unpause_order(dag_ids: set[str]) -> tuple[list[str], list[str]]:
    """``(first, judges)``: the sync DAGs, then the others (push, hand-off, citizen, certificates), then — once
    the first syncs have ended — the DAGs that judge what they brought (:data:`JUDGES`)."""
    syncs = sorted(d for d in dag_ids if d.startswith(SYNC_PREFIX))
    judges = [d for d in JUDGES if d in dag_ids]
    return syncs + sorted(dag_ids - set(syncs) - set(judges)), judges


def _start(client: AirflowClient, dag_ids: list[str], *, deadline: float) -> None:
    """Unpause ``dag_ids`` one at a time, then trigger those the scheduler did not start on its own by
    ``deadline``."""
    for dag_id in dag_ids:
        client.unpause(dag_id)
        time.sleep(UNPAUSE_SPACING_S)
    while time.monotonic() < deadline and not all(client.runs(d) for d in dag_ids):
        time.sleep(2)
    for dag_id in dag_ids:
        if not client.runs(dag_id):
            client.trigger(dag_id)
            time.sleep(UNPAUSE_SPACING_S)


def _ended(runs: dict[str, int]) -> bool:
    """A DAG whose first run has ended (either way)."""
    return bool(runs.get("success") or runs.get("failed"))


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _console_operator(workdir: Path) -> str:
    """An ``admin`` operator for the console with a fresh password (printed with the URLs)."""
    import secrets

    from gateway.console.operators import OperatorBook

    password = secrets.token_urlsafe(12)
    OperatorBook(workdir / "console-operators.json").add("admin", password, "admin")
    return password


def _password(home: Path, username: str, timeout: float = 60) -> str:
    """The password ``airflow standalone`` generated for the simple auth manager's user."""
    path = home / "simple_auth_manager_passwords.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return str(json.loads(path.read_text())[username])
        except (OSError, ValueError, KeyError):
            time.sleep(0.5)
    raise RuntimeError(f"Airflow did not write the admin password to {path}")


def _ledger_summary(world: DemoWorld) -> dict[str, Any]:
    from gateway.ops.alerts import alert_counts
    from gateway.store import outbox
    from gateway.store.db import make_engine
    from gateway.store.queries import live_case_count

    engine = make_engine(world.database_url)
    try:
        with engine.connect() as conn:
            held = live_case_count(conn)
            pending = outbox.pending_count(conn)
            delivered = outbox.count_with_status(conn, outbox.DELIVERED)
        return {"cases": held, "outbox pending": pending, "delivered": delivered, "alerts": alert_counts(engine)}
    except Exception as exc:  # noqa: BLE001 - a busy SQLite file must not end the demo
        return {"ledger": f"unavailable ({type(exc).__name__})"}
    finally:
        engine.dispose()


def run_demo_live(*, records: int = 300, frontdesk: int = 10, seed: int = 42, workdir: Path = Path(".tongban"),
                  airflow_port: int = 8080, api_port: int = 8400, console_port: int = 8500,
                  max_seconds: float | None = None) -> int:
    """Serve the demo until Ctrl+C / SIGTERM (or ``max_seconds``). Returns the exit code."""
    say = console.print
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    children = Children()
    world: DemoWorld | None = None
    code = 0
    try:
        workdir = workdir.resolve()
        world = demo_world(records=records, frontdesk=frontdesk, seed=seed, workdir=workdir, say=say)
        home = workdir / "airflow"
        shutil.rmtree(home, ignore_errors=True)
        username = "admin"
        connections = demo_connections(world.systems, world.wired)
        airflow_systems = write_airflow_systems(world.systems, connections, workdir / "systems-airflow.yaml")
        unwired = without_wiring(os.environ, world.systems, world.wired)  # connections are the only way in
        env = {**unwired, **airflow_env(home, api_port=airflow_port, extra={
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        }), "TONGBAN_SYSTEMS": str(airflow_systems),
            "TONGBAN_DRILL": "1",  # a drill against the sandbox: a hand-off run may say ahead_of_clock
            "TONGBAN_CONSOLE_URL": f"http://127.0.0.1:{console_port}/console/"}
        say(f"starting Airflow (standalone: SQLite, LocalExecutor, parallelism 4) in {home}")
        children.start("airflow", [*airflow_command(), "standalone"], env, home / "standalone.log")
        api_url = None
        if importlib.util.find_spec("gateway.sharing.api") is not None and hasattr(
                importlib.import_module("gateway.sharing.api"), "create_app"):
            children.start("gateway-api", [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1",
                                           "--port", str(api_port)], dict(os.environ), workdir / "gateway-api.log")
            api_url = f"http://127.0.0.1:{api_port}"
        else:
            say("[yellow]the gateway API (gateway.sharing.api) is not available in this checkout: not started[/]")

        console_password = _console_operator(workdir)
        children.start("console", [sys.executable, "-m", "gateway", "console", "serve", "--host", "127.0.0.1",
                                   "--port", str(console_port), "--operators",
                                   str(workdir / "console-operators.json")], dict(os.environ), workdir / "console.log")
        console_url = f"http://127.0.0.1:{console_port}/console/"

        base = f"http://127.0.0.1:{airflow_port}"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        waiting = {"Airflow": lambda: AirflowClient(base, "", "").healthy(),
                   "the console": lambda: _answers(console_url + "login")}
        if api_url:
            waiting["the gateway API"] = lambda: _answers(api_url + "/readyz")
        while waiting:
            waiting = {what: ready for what, ready in waiting.items() if not ready()}
            if children.dead():
                raise RuntimeError(f"{', '.join(children.dead())} exited during startup; see the logs in {workdir}")
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"{', '.join(waiting)} did not answer in {STARTUP_TIMEOUT_S} s; see the logs in "
                                   f"{workdir}")
            time.sleep(1)
        client = AirflowClient(base, username, _password(home, username))
        client.login()
        for connection in connections:
            client.put_connection(connection.as_api_body())
        say(f"Airflow connections: {', '.join(f'{c.conn_id} ({c.conn_type})' for c in connections)}")
        wanted = set(all_dag_ids([n for n in world.wired]))
        while not wanted <= client.dag_ids():
            if time.monotonic() > deadline:
                missing = ", ".join(sorted(wanted - client.dag_ids()))
                raise RuntimeError(f"DAGs not parsed in time: {missing}; see {home}/standalone.log")
            time.sleep(1)
        # One DAG at a time: unpausing makes the scheduler create the latest scheduled run, and a burst of
        # writes against Airflow's SQLite metadata database can crash the scheduler ("database is locked").
        first, judges = unpause_order(wanted)
        _start(client, first, deadline=time.monotonic() + 30)
        syncs = [d for d in first if d.startswith(SYNC_PREFIX)]
        say(f"waiting for the first runs of {len(syncs)} sync DAGs to end before {', '.join(judges)} start "
            "(they judge what the syncs brought into the ledger)")
        waited = time.monotonic() + FIRST_SYNCS_TIMEOUT_S
        while time.monotonic() < waited and not all(_ended(client.runs(d)) for d in syncs):
            if children.dead():
                raise RuntimeError(f"{', '.join(children.dead())} exited during startup; see the logs in {workdir}")
            time.sleep(2)
        rate_finished_cases(world, say)  # citizens rate what the departments finished (好差评), as --once does
        _start(client, judges, deadline=time.monotonic() + 30)
        say("")
        say(f"[bold]Airflow UI[/]   {base}   (login: {username} / {client.password})")
        say(f"[bold]Gateway API[/]  {api_url + '/docs' if api_url else 'not available'}")
        say(f"[bold]Ops console[/]  {console_url}   (login: admin / {console_password})")
        say(f"[bold]Ledger[/]       {world.database_url}    logs: {workdir}")
        say(f"every DAG triggered ({len(wanted)}); Ctrl+C stops everything")
        last: Any = None
        unhealthy_since: float | None = None
        warned = False
        started = time.monotonic()
        while max_seconds is None or time.monotonic() - started < max_seconds:
            if children.dead():
                raise RuntimeError(f"{', '.join(children.dead())} exited; see the logs in {workdir}")
            try:
                runs = {d: client.runs(d) for d in sorted(wanted)}
            except requests.RequestException:
                runs = last[0] if last else {}
            if not AirflowClient(base, "", "").healthy():
                unhealthy_since = unhealthy_since or time.monotonic()
                if time.monotonic() - unhealthy_since > 60 and not warned:
                    warned = True
                    say(f"[red]Airflow's scheduler has not been healthy for a minute: see {home}/standalone.log[/]")
            else:
                unhealthy_since, warned = None, False
            snapshot = (runs, _ledger_summary(world))
            if snapshot != last:
                last = snapshot
                print_table(f"demo at {time.strftime('%H:%M:%S')}", ["DAG", "runs by state"],
                            [[d, ", ".join(f"{s} {n}" for s, n in sorted(c.items())) or "none yet"]
                             for d, c in runs.items()])
                say("  ".join(f"{k}: {v}" for k, v in snapshot[1].items()))
            time.sleep(POLL_S)
    except Stop as why:
        say(f"\n{why}: stopping")
    except Exception as exc:  # noqa: BLE001 - report, then clean up like on Ctrl+C
        say(f"[red]demo failed: {exc}[/]")
        code = 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        left = children.stop_all()
        if world is not None:
            world.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
        if left:
            say(f"[red]processes still running: {left}[/]")
            code = code or 1
        else:
            say("stopped: Airflow, the gateway API, the console and the sandbox are down")
    return code


def guard(argv: list[str], grace: float = 20.0) -> int:
    """Leader of a child's process group: runs ``argv`` in the group and, when told to stop (SIGTERM from the
    demo, or from the kernel because the demo died), terminates the whole group — the grandchildren that
    ``airflow standalone`` starts included — then kills what is left."""
    _terminate_with_parent()
    child = subprocess.Popen(argv)
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while child.poll() is None and not stopping:
        time.sleep(0.2)
    me, pgid = os.getpid(), os.getpgid(0)
    others = [p for p in group_members(pgid) if p != me]
    for pid in others:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and [p for p in group_members(pgid) if p != me]:
        child.poll()
        time.sleep(0.2)
    for pid in [p for p in group_members(pgid) if p != me]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    child.poll()
    return child.returncode if child.returncode is not None and not stopping else 0


__all__ = ["guard", "run_demo_live"]


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[1] == "--guard":
    raise SystemExit(guard(sys.argv[2:]))
