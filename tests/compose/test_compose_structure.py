"""docker-compose.yml (the production shape) cannot be started here (no Docker engine): its structure is checked
instead — every component is there, healthy-checked, wired to the same PostgreSQL, Redis and Airflow settings,
and the DAGs need nothing the image does not have."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
AIRFLOW = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker")
LONG_RUNNING = (*AIRFLOW, "postgres", "redis", "gateway-api", "sandbox")


def command(name: str) -> str:
    value = SERVICES[name]["command"]
    return " ".join(value) if isinstance(value, list) else value


def test_every_component_of_the_production_shape_is_there() -> None:
    assert set(SERVICES) == {*LONG_RUNNING, "airflow-init"}
    assert command("airflow-apiserver").startswith("airflow api-server")
    assert command("airflow-scheduler") == "airflow scheduler"
    assert command("airflow-dag-processor") == "airflow dag-processor"
    assert command("airflow-triggerer") == "airflow triggerer"
    assert command("airflow-worker") == "airflow celery worker"
    assert command("gateway-api").startswith("tongban serve")
    assert command("sandbox").startswith("tongban sandbox serve")
    assert "airflow db migrate" in command("airflow-init") and "tongban db upgrade" in command("airflow-init")


def test_every_long_running_service_has_a_health_check() -> None:
    for name in LONG_RUNNING:
        check = SERVICES[name].get("healthcheck")
        assert check and check["test"], f"{name} has no health check"
        assert {"interval", "retries"} <= set(check), name
    assert "/api/v2/monitor/health" in " ".join(SERVICES["airflow-apiserver"]["healthcheck"]["test"])
    for name, job in (("airflow-scheduler", "SchedulerJob"), ("airflow-dag-processor", "DagProcessorJob"),
                      ("airflow-triggerer", "TriggererJob")):
        assert job in SERVICES[name]["healthcheck"]["test"]
    assert "inspect ping" in " ".join(SERVICES["airflow-worker"]["healthcheck"]["test"])


def test_airflow_components_share_one_configuration_on_postgres_redis_and_celery() -> None:
    common = COMPOSE["x-airflow-common"]["environment"]
    assert common["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/airflow" in common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert common["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379")
    assert common["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert common["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert "JWT_SECRET" in common["AIRFLOW__API_AUTH__JWT_SECRET"]  # one secret, from .env, for every component
    assert common["TONGBAN_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/tongban" in \
        common["TONGBAN_DATABASE_URL"]
    for name in (*AIRFLOW, "airflow-init", "gateway-api"):
        service = SERVICES[name]
        assert service["environment"] == common, f"{name} does not use the common environment"
        assert service["image"] == "tongban:latest"


def test_start_order_waits_for_healthy_dependencies() -> None:
    for name in AIRFLOW:
        depends = SERVICES[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["airflow-init"]["condition"] == "service_completed_successfully"
    assert SERVICES["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_workers_scale_and_scaling_is_documented() -> None:
    worker = SERVICES["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker  # replicas must not clash
    assert "replicas" in worker["deploy"]
    assert "--scale airflow-worker=" in COMPOSE_TEXT
    assert "KubernetesExecutor" in COMPOSE_TEXT


def test_ports_are_bound_to_localhost_and_the_image_has_everything() -> None:
    for service in SERVICES.values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'pip install .*-c constraints\.txt .*"\.\[airflow,postgres\]"', dockerfile)
    for volume in COMPOSE["x-airflow-common"]["volumes"]:
        source = volume.split(":")[0]
        assert (REPO / source).exists() if source.startswith("./") else source in COMPOSE["volumes"], volume
    for mounted in SERVICES["postgres"]["volumes"]:
        if mounted.startswith("./"):
            assert (REPO / mounted.split(":")[0]).exists(), mounted
    assert all(v in (COMPOSE.get("volumes") or {}) for v in ("postgres-data", "airflow-logs"))


def test_no_secret_is_written_into_the_file() -> None:
    common = COMPOSE["x-airflow-common"]["environment"]
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", common[key]), key


def test_the_init_step_makes_the_pool_the_syncs_and_reconciles_run_in() -> None:
    pool = COMPOSE["x-airflow-common"]["environment"]["TONGBAN_SOURCES_POOL"]
    assert re.search(rf"airflow pools set {pool} \$\{{TONGBAN_SOURCES_POOL_SLOTS:-\d+\}}", command("airflow-init"))
    assert command("airflow-init").index("airflow db migrate") < command("airflow-init").index("pools set")
