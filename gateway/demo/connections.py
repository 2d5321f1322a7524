"""The demo's systems as Airflow connections: what an operator of a real deployment does in the Airflow UI.

Each system the demo wired to the sandbox becomes a connection ``tongban_<system>`` of the provider's type
(``tongban_rest`` / ``tongban_soap``): the endpoint as its host, every secret in its extra. Airflow gets a systems
file of its own (``systems-airflow.yaml`` in the work directory) in which each system names its connection
(``airflow_conn_id``) and carries no endpoint, and Airflow's processes get none of the sandbox's environment
variables: a task can only reach a system through the connection Airflow holds. The Test button of the
connection form (the provider's hooks) works on them too.

The CLI in a second shell keeps using ``tongban.yaml`` and ``demo.env`` (:mod:`gateway.demo.handoff`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.demo.handoff import portable_entry
from gateway.kernel.config import SystemsConfig


@dataclass(frozen=True)
class DemoConnection:
    conn_id: str
    conn_type: str
    host: str
    extra: dict[str, str]
    system: str

    def as_api_body(self) -> dict[str, Any]:
        """The body of ``POST /api/v2/connections``."""
        return {"connection_id": self.conn_id, "conn_type": self.conn_type, "host": self.host,
                "extra": json.dumps(self.extra), "description": f"Tongban: {self.system} (written by tongban demo)"}


def conn_id_for(system: str) -> str:
    return f"tongban_{system}"


def demo_connections(systems: SystemsConfig, wired: Mapping[str, str]) -> list[DemoConnection]:
    """One connection per wired system, read from the process environment the demo wired (endpoint, secrets)."""
    found = []
    for name in sorted(wired):
        system = systems.get(name)
        endpoint = system.resolved_endpoint()
        if not endpoint:
            continue
        found.append(DemoConnection(conn_id=conn_id_for(name), conn_type=f"tongban_{system.connector}",
                                    host=endpoint, extra=system.resolve_secrets(), system=name))
    return found


def write_airflow_systems(systems: SystemsConfig, connections: list[DemoConnection], path: Path) -> Path:
    """The systems file Airflow's tasks read: each wired system names its connection and has no endpoint."""
    by_system = {c.system: c.conn_id for c in connections}
    entries = {}
    for name, system in systems.systems.items():
        entry = portable_entry(system)
        if name in by_system:
            entry.pop("endpoint", None)
            entry["airflow_conn_id"] = by_system[name]
        entries[name] = entry
    path.write_text("# written by `tongban demo`: the systems as Airflow sees them (connections, no endpoints)\n"
                    + yaml.safe_dump({"systems": entries}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def register_in_metadata_db(connections: list[DemoConnection]) -> None:
    """Store the connections in Airflow's metadata database (``airflow connections add``, in process)."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        for c in connections:
            session.query(Connection).filter(Connection.conn_id == c.conn_id).delete()
            session.add(Connection(conn_id=c.conn_id, conn_type=c.conn_type, host=c.host, extra=json.dumps(c.extra),
                                   description=f"Tongban: {c.system} (written by tongban demo)"))


def without_wiring(env: Mapping[str, str], systems: SystemsConfig, wired: Mapping[str, str]) -> dict[str, str]:
    """``env`` minus every variable that wires a system to the sandbox (its endpoint and secret variables):
    what Airflow's processes get, so that the connections are the only way to a system."""
    drop: set[str] = set()
    for name in wired:
        system = systems.get(name)
        drop.update(system.secrets.values())
        if system.endpoint and system.endpoint.startswith("${"):
            drop.add(system.endpoint[2:].split(":", 1)[0].split("}", 1)[0])
    return {k: v for k, v in env.items() if k not in drop}


__all__ = ["DemoConnection", "conn_id_for", "demo_connections", "register_in_metadata_db", "without_wiring",
           "write_airflow_systems"]
