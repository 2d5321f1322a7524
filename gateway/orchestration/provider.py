"""Tongban as an Airflow provider (entry point ``apache_airflow_provider`` in ``pyproject.toml``).

Airflow's ProvidersManager reads :func:`get_provider_info` and offers the two connection types in the UI, the
CLI (``airflow connections add sd_civil --conn-type tongban_rest --conn-host http://… --conn-password …``) and
secrets backends. A system then names only its connection in the systems file (``airflow_conn_id: sd_civil``):
host (+ port + schema) is its endpoint, login/password and every extra field are secrets by name.
This module must not import Airflow (the manager imports it while Airflow itself is starting).
"""

from __future__ import annotations

from typing import Any

_SECRET = {"type": ["string", "null"]}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "tongban",
        "name": "Tongban (通办)",
        "description": "Integration middleware for government approval systems: department systems (REST, SOAP) "
                       "as Airflow connections, sync / push / deadline / reconciliation DAGs.",
        "versions": ["0.1.0"],
        "hooks": [{"integration-name": "Tongban", "python-modules": ["gateway.orchestration.hooks"]}],
        "connection-types": [
            {
                "connection-type": "tongban_rest",
                "hook-class-name": "gateway.orchestration.hooks.TongbanRestHook",
                "hook-name": "Tongban REST department system",
                "conn-fields": {
                    "api_key": {"label": "API key (if the system uses one)", "schema": _SECRET},
                    "client_id": {"label": "OAuth2 client id", "schema": _SECRET},
                    "client_secret": {"label": "OAuth2 client secret", "schema": _SECRET},
                    "app_id": {"label": "App id (HMAC signing)", "schema": _SECRET},
                    "secret": {"label": "App secret (HMAC signing)", "schema": _SECRET},
                    "scheme": {"label": "Scheme", "schema": {"type": ["string", "null"], "default": "https",
                                                             "enum": ["http", "https"]}},
                },
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"host": "Base URL or host", "schema": "Base path"},
                    "placeholders": {"host": "https://approval.example.gov.cn"},
                },
            },
            {
                "connection-type": "tongban_soap",
                "hook-class-name": "gateway.orchestration.hooks.TongbanSoapHook",
                "hook-name": "Tongban SOAP department system",
                "conn-fields": {
                    "scheme": {"label": "Scheme", "schema": {"type": ["string", "null"], "default": "https",
                                                             "enum": ["http", "https"]}},
                },
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"host": "Service URL or host", "schema": "Service path",
                                   "login": "WS-Security username", "password": "WS-Security password"},
                    "placeholders": {"host": "https://market.example.gov.cn/services"},
                },
            },
        ],
    }


__all__ = ["get_provider_info"]
