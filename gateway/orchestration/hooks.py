"""Airflow hooks for Tongban's connection types: ``tongban_rest`` and ``tongban_soap`` department systems.

The hooks make Airflow connections first-class for Tongban: ``test_connection`` (the UI's Test button and
``airflow connections test``) builds the system's connector from the systems file entry that names this
connection and makes one authenticated call, exactly ``tongban connector check SYSTEM``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.sdk import BaseHook

from gateway.contract.errors import ConfigError


class _TongbanHook(BaseHook):
    conn_name_attr: ClassVar[str] = "tongban_conn_id"
    default_conn_name: ClassVar[str] = "tongban_default"
    connector_kind: ClassVar[str]

    def __init__(self, tongban_conn_id: str = "tongban_default", system: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tongban_conn_id = tongban_conn_id
        self.system = system

    def system_config(self) -> Any:
        """The systems-file entry that uses this connection (or the one named ``system``)."""
        from gateway.kernel.config import load_systems_isolated

        systems = load_systems_isolated()[0]  # another system's typo must not fail this one's connection test
        if self.system:
            return systems.get(self.system)
        matches = [s for s in systems.systems.values() if s.airflow_conn_id == self.tongban_conn_id]
        if not matches:
            raise ConfigError(f"no system in {systems.path} names airflow_conn_id: {self.tongban_conn_id}")
        return matches[0]

    def get_conn(self) -> Any:
        """The system's Tongban connector (close it, or use it as a context manager)."""
        from gateway.orchestration.connections import install_airflow_resolver

        install_airflow_resolver()
        config = self.system_config()
        return config.build_connector()

    def test_connection(self) -> tuple[bool, str]:
        try:
            with self.get_conn() as connector:
                result = connector.check()
            return result.ok, result.message
        except Exception as exc:  # noqa: BLE001 - the UI shows the message
            return False, f"{type(exc).__name__}: {exc}"


class TongbanRestHook(_TongbanHook):
    conn_type: ClassVar[str] = "tongban_rest"
    hook_name: ClassVar[str] = "Tongban REST department system"
    connector_kind = "rest"


class TongbanSoapHook(_TongbanHook):
    conn_type: ClassVar[str] = "tongban_soap"
    hook_name: ClassVar[str] = "Tongban SOAP department system"
    connector_kind = "soap"


__all__ = ["TongbanRestHook", "TongbanSoapHook"]
