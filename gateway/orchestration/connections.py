"""Airflow connections as the source of each system's endpoint and secrets.

Outside Airflow, :func:`gateway.kernel.config.airflow_connection` reads ``AIRFLOW_CONN_<ID>`` variables. Inside an
Airflow task, connections may live in the metadata database (created in the UI or with
``airflow connections add``) or in a secrets backend (Vault, AWS, …); :func:`install_airflow_resolver` lets the
systems configuration find them there too, through Airflow's own lookup. It is a no-op where Airflow is not
installed.
"""

from __future__ import annotations

import json

from gateway.kernel import config


def _from_airflow(conn_id: str) -> str | None:
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # pragma: no cover - Airflow not installed
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - "not found" has several exception types across Airflow versions
        return None
    extra = conn.extra_dejson if conn.extra else {}
    return json.dumps({"conn_type": conn.conn_type, "host": conn.host, "port": conn.port, "schema": conn.schema,
                       "login": conn.login, "password": conn.password, "extra": extra})


def install_airflow_resolver() -> None:
    if _from_airflow not in config.CONNECTION_RESOLVERS:
        config.CONNECTION_RESOLVERS.append(_from_airflow)


__all__ = ["install_airflow_resolver"]
