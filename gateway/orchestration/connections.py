"""Airflow connections as the source of each system's endpoint and secrets.

Outside Airflow, :func:`gateway.kernel.config.airflow_connection` reads ``AIRFLOW_CONN_<ID>`` variables. Inside an
Airflow task, connections may live in the metadata database (created in the UI or with
``airflow connections add``) or in a secrets backend (Vault, AWS, …); :func:`install_airflow_resolver` lets the
systems configuration find them there too, through Airflow's own lookup. It is a no-op where Airflow is not
installed.
"""

from __future__ import annotations

import json

from gateway.contract.errors import TongbanError
from gateway.kernel import config


class ConnectionLookupFailed(TongbanError):
    """Airflow could not say whether the connection exists (its secrets backend or API server failed): a retry
    may succeed — unlike a connection that is not there, which is a configuration error."""


def _from_airflow(conn_id: str) -> str | None:
    """The connection as JSON, or None when Airflow has no such connection. Anything else Airflow raises (a
    Vault timeout, the API server restarting) is :class:`ConnectionLookupFailed`: it used to read as "not found",
    a ConfigError, which fails a task for good — no retry, and an alert telling the operator to create a
    connection that exists."""
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # pragma: no cover - Airflow not installed
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # noqa: BLE001 - whatever the backend raised: named, and retriable
        raise ConnectionLookupFailed(f"Airflow connection {conn_id!r} could not be read ({type(exc).__name__}: "
                                     f"{exc}); retried") from exc
    extra = conn.extra_dejson if conn.extra else {}
    return json.dumps({"conn_type": conn.conn_type, "host": conn.host, "port": conn.port, "schema": conn.schema,
                       "login": conn.login, "password": conn.password, "extra": extra})


def install_airflow_resolver() -> None:
    if _from_airflow not in config.CONNECTION_RESOLVERS:
        config.CONNECTION_RESOLVERS.append(_from_airflow)


__all__ = ["ConnectionLookupFailed", "install_airflow_resolver"]
