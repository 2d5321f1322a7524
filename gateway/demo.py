"""``tongban demo``: the whole path on the embedded default, in one command.

It starts the sandbox systems on 127.0.0.1 (ephemeral ports), points the systems file at them through the
environment variables its endpoints name, syncs every system into a fresh SQLite ledger, pushes to the hall
and back, reads the departments again, and checks the outcome against the sandbox itself: every live
department case is in the hall, every front-desk case reached its department once, nothing is left queued.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from gateway.config import SystemsConfig, load_systems
from gateway.runtime import Runtime
from gateway.status import system_status
from gateway.store.db import make_engine
from gateway.store.migrate import upgrade
from gateway.sync.engine import SyncFailed, sync_system
from gateway.sync.push import push

_ENDPOINT_TEMPLATE = re.compile(r"^\$\{([A-Z0-9_]+):-https?://[^:/]+:(\d+)[^}]*\}$")


def wire_sandbox(systems: SystemsConfig, handle: Any) -> dict[str, str]:
    """Point each configured system at the sandbox server that stands for it.

    A system's endpoint reads ``${VAR:-http://127.0.0.1:PORT}``; the sandbox system whose default port is PORT
    stands for it, so VAR is set to that server's URL and the system's secret variables to the sandbox's demo
    credentials. Returns ``system name → sandbox system``.
    """
    from sandbox.server import DEFAULT_PORTS

    by_port = {port: name for name, port in DEFAULT_PORTS.items()}
    wired: dict[str, str] = {}
    for system in systems.systems.values():
        match = _ENDPOINT_TEMPLATE.match(system.endpoint or "")
        sandbox_name = by_port.get(int(match.group(2))) if match else None
        if match is None or sandbox_name is None or sandbox_name not in handle.urls:
            continue
        os.environ[match.group(1)] = handle.urls[sandbox_name]
        credentials = handle.credentials.get(sandbox_name, {})
        for secret, env_name in system.secrets.items():
            if secret in credentials:
                os.environ.setdefault(env_name, credentials[secret])
        wired[system.name] = sandbox_name
    return wired


def run_demo(
    *,
    records: int = 300,
    frontdesk: int = 10,
    seed: int = 42,
    workdir: Path = Path(".tongban"),
    systems_path: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    from sandbox.server import start_all

    say = progress or (lambda _message: None)
    systems = load_systems(systems_path)
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "demo.db"
    for leftover in workdir.glob("demo.db*"):
        leftover.unlink()
    department_counts = {"civil": records, "estate": records, "market": records}
    started = time.perf_counter()
    handle = start_all(seed=seed, records=department_counts)
    try:
        wired = wire_sandbox(systems, handle)
        say(f"sandbox systems: {', '.join(f'{k} {v}' for k, v in sorted(handle.urls.items()))}")
        engine = make_engine(f"sqlite:///{db_path}")
        upgrade(engine)
        runtime = Runtime(systems=systems, engine=engine)
        names = [n for n in systems.names() if n in wired]
        departments = [n for n in names if systems.get(n).role == "department"]
        halls = [n for n in names if systems.get(n).role == "hall"]

        created: list[dict[str, Any]] = []
        for hall in halls:
            admin = handle.admin_urls[wired[hall]]
            codes = [c for d in departments for c in systems.get(d).departments]
            while codes and len(created) < frontdesk:
                code = codes[len(created) % len(codes)]
                reply = requests.post(f"{admin}/_sandbox/frontdesk", json={"count": 1, "dept_code": code}, timeout=30)
                if reply.ok:
                    created.extend(reply.json()["created"])
                else:  # the hall's windows do not take cases for this department
                    codes.remove(code)
        say(f"{len(created)} cases accepted at the hall's front desk")

        failures: list[str] = []
        for round_no in (1, 2):
            for name in departments + halls + (departments if round_no == 2 else []):
                try:
                    report = sync_system(runtime, name)
                    c = report.counts
                    say(f"sync {name}: read {c.read}, new {c.inserted}, changed {c.updated}, rejected {c.rejected}, "
                        f"queued {c.queued}")
                except SyncFailed as exc:
                    failures.append(str(exc))
                    say(f"[red]{exc}[/]")
            result = push(runtime)
            for target in result.targets:
                if target.delivered or target.duplicates or target.error:
                    say(f"push → {target.target}: delivered {target.delivered}, pending {target.pending}"
                        + (f", error {target.error}" if target.error else ""))
                if target.error:
                    failures.append(f"push to {target.target}: {target.error}")

        checks = _check(handle, wired, systems, runtime, created)
        status = system_status(runtime.engine, systems)
        runtime.close()
    finally:
        handle.stop()
    ok = not failures and all(v is True for k, v in checks.items() if k.startswith("ok:"))
    return {
        "ok": ok,
        "ledger": str(db_path),
        "duration_s": round(time.perf_counter() - started, 1),
        "failures": failures,
        "checks": checks,
        "status": status,
    }


def _check(handle: Any, wired: dict[str, str], systems: SystemsConfig, runtime: Runtime,
           created: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the outcome with the sandbox's own view."""
    from sqlalchemy import func, select

    from gateway.store.tables import cases as ledger_cases
    from gateway.store.tables import dead_letters, outbox

    checks: dict[str, Any] = {}
    hall_systems = [n for n in wired if systems.get(n).role == "hall"]
    with runtime.engine.connect() as conn:
        pending = conn.execute(select(func.count()).select_from(outbox).where(outbox.c.status == "pending")).scalar_one()
        dead = conn.execute(select(func.count()).select_from(dead_letters).where(dead_letters.c.status == "open")
                            ).scalar_one()
        live_department_cases = set(
            conn.execute(select(ledger_cases.c.case_no).where(ledger_cases.c.deleted.is_(False))).scalars()
        )
    frontdesk_numbers = {c["case_no"] for c in created}
    for hall in hall_systems:
        cases = requests.get(f"{handle.admin_urls[wired[hall]]}/_sandbox/cases", timeout=60).json()
        held = {c["case_no"] for c in cases if not c["deleted"]}
        expected = live_department_cases - frontdesk_numbers
        checks["cases in the ledger (live, from departments)"] = len(expected)
        checks[f"cases the hall {hall} holds"] = len(held)
        checks["ok: the hall holds every department case"] = expected <= held
        checks["ok: every write to the hall applied once"] = all(c["applied_writes"] == 1 for c in cases)
    delivered = 0
    for name, sandbox_name in wired.items():
        if systems.get(name).role != "department":
            continue
        stats = requests.get(f"{handle.admin_urls[sandbox_name]}/_sandbox/stats", timeout=30).json()
        delivered += stats.get("writes_applied", 0)
    checks["front-desk cases accepted at the hall"] = len(created)
    checks["ok: each front-desk case reached its department once"] = delivered == len(created)
    checks["ok: nothing left in the outbox"] = pending == 0
    checks["open dead letters (broken source data)"] = dead
    return checks


