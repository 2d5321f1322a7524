"""Tongban registers as an Airflow provider with connection types for REST and SOAP department systems, and a
system that names an Airflow connection gets its endpoint and secrets from it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dags_testlib import AIRFLOW_TEST_ENV


def test_provider_info_is_valid_for_this_airflow() -> None:
    import airflow
    import jsonschema

    from gateway.orchestration.provider import get_provider_info

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert {c["connection-type"] for c in info["connection-types"]} == {"tongban_rest", "tongban_soap"}


def test_airflow_lists_the_tongban_connection_types() -> None:
    """Through the installed entry point, as `airflow providers list` / the connection form would see it."""
    code = ("from airflow.providers_manager import ProvidersManager; pm = ProvidersManager(); "
            "import json; print(json.dumps({'providers': sorted(pm.providers), "
            "'hooks': {k: v.hook_class_name for k, v in pm.hooks.items() if v and k.startswith('tongban')}}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, **AIRFLOW_TEST_ENV})
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert "tongban" in found["providers"]
    assert found["hooks"] == {"tongban_rest": "gateway.orchestration.hooks.TongbanRestHook",
                              "tongban_soap": "gateway.orchestration.hooks.TongbanSoapHook"}


def test_a_system_reads_its_endpoint_and_secrets_from_an_airflow_connection(monkeypatch) -> None:
    """AIRFLOW_CONN_* (what a secrets backend or `airflow connections add` provides) → endpoint + secrets, and
    the hook's connection test makes the same call as `tongban connector check`."""
    from gateway.kernel.config import parse_systems
    from gateway.orchestration.hooks import TongbanRestHook

    monkeypatch.setenv("AIRFLOW_CONN_SD_CIVIL", json.dumps({
        "conn_type": "tongban_rest", "host": "http://civil.example:8101", "extra": {"api_key": "k-123"}}))
    systems = parse_systems("""
systems:
  sd_civil:
    connector: rest
    connector_config: {streams: {cases: {path: /x, primary_key: id}}}
    mapping: none.yaml
    airflow_conn_id: sd_civil
""", base_dir=Path("."))
    civil = systems.get("sd_civil")
    assert civil.resolved_endpoint() == "http://civil.example:8101"
    assert civil.resolve_secrets() == {"api_key": "k-123"}
    hook = TongbanRestHook(tongban_conn_id="sd_civil")
    assert hook.conn_type == "tongban_rest"
    ok, message = hook.test_connection()  # no systems file names it here: a clear message, no exception
    assert ok is False and "sd_civil" in message


def test_inside_airflow_connections_come_from_airflow_itself(monkeypatch) -> None:
    """Without an AIRFLOW_CONN_* variable the resolver asks Airflow (metadata DB, secrets backends)."""
    from gateway.kernel import config
    from gateway.orchestration import connections

    calls = []

    def fake(conn_id: str):
        calls.append(conn_id)
        return json.dumps({"host": "https://hall.example", "login": "tongban", "password": "pw", "extra": {}})

    monkeypatch.setattr(config, "CONNECTION_RESOLVERS", [fake])
    monkeypatch.delenv("AIRFLOW_CONN_SD_HALL", raising=False)
    found = config.airflow_connection("sd_hall")
    assert found == {"endpoint": "https://hall.example", "secrets": {"login": "tongban", "password": "pw"}}
    assert calls == ["sd_hall"]
    monkeypatch.setattr(config, "CONNECTION_RESOLVERS", [])
    connections.install_airflow_resolver()
    assert config.CONNECTION_RESOLVERS == [connections._from_airflow]
