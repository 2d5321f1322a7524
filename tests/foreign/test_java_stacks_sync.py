"""Tongban's SOAP connector against real third-party SOAP stacks, connected from their live ``?wsdl`` with the
YAML in ``tests/foreign/connectors`` alone: every record, every field, full and incremental reads, and a wrong
password refused as an authentication failure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from connectors.soap import SoapConnector
from gateway.contract.connector import RawRecord

from .java_soap import JavaService, ordered

HERE = Path(__file__).resolve().parent
FIELDS = ("id", "caseNo", "itemCode", "itemName", "applicantName", "idNumber", "status", "acceptTime",
          "finishTime", "updateTime")


def _connector(name: str, service: JavaService, *, password: str | None = None) -> SoapConnector:
    config = yaml.safe_load((HERE / "connectors" / f"{name}.yaml").read_text(encoding="utf-8"))
    secrets = {"username": getattr(service, "username", ""), "password": password or getattr(service, "password", "")}
    return SoapConnector(config | {"base_url": service.base_url}, secrets=secrets)


def _value(raw: Any) -> Any:
    """A field as the source meant it: times compared as instants (Axis answers in UTC, JAX-WS in +08:00)."""
    if isinstance(raw, str) and len(raw) >= 19 and raw[4] == "-" and raw[10] == "T":
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return raw


def _as_source(record: RawRecord) -> dict[str, Any]:
    payload: Mapping[str, Any] = record.payload
    out = {f: _value(payload.get(f)) for f in FIELDS}
    out["id"] = int(out["id"])
    return out


def _read_all(connector: SoapConnector, **kwargs: Any) -> list[RawRecord]:
    return [r for page in connector.read("cases", **kwargs) for r in page.records]


@pytest.mark.parametrize("name", ["jaxws", "axis", "wss"])
def test_full_read_equals_the_source_exactly(name: str, request: pytest.FixtureRequest) -> None:
    service: JavaService = request.getfixturevalue(f"{name}_service")
    with _connector(name, service) as connector:
        assert connector.check().ok, connector.check().message
        records = _read_all(connector, mode="full_refresh")
    got = {r.source_id: _as_source(r) for r in records}
    assert len(records) == len(got) == len(service.records), "every record once, none twice"
    expected = {r["caseNo"]: {f: r[f] for f in FIELDS} for r in service.records}
    assert got == expected


@pytest.mark.parametrize("name", ["jaxws", "axis"])
def test_incremental_read_returns_exactly_the_changed_records(name: str, request: pytest.FixtureRequest) -> None:
    service: JavaService = request.getfixturevalue(f"{name}_service")
    since = ordered(service.records)[len(service.records) * 3 // 4]["updateTime"]
    with _connector(name, service) as connector:
        records = _read_all(connector, since=since)
    wanted = {r["caseNo"] for r in service.records if r["updateTime"] >= since}
    assert {r.source_id for r in records} == wanted
    assert all(r.cursor is not None and r.cursor >= since for r in records)


def test_a_wrong_password_is_an_authentication_failure(wss_service: JavaService) -> None:
    with _connector("wss", wss_service, password="deliberately-wrong") as connector:
        result = connector.check()
    assert not result.ok and "authenticat" in result.message.lower(), result.message


@pytest.mark.parametrize("name", ["jaxws", "axis", "wss"])
def test_the_sync_keeps_every_record_of_a_foreign_stack_exactly(name: str, request: pytest.FixtureRequest,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole data path (sync_system: connector, mapping, validation, ledger) from the live ?wsdl, configured
    with YAML alone: every record once, its raw payload kept exactly, no dead letter, a case per record."""
    from gateway.kernel.config import load_systems
    from gateway.kernel.runtime import Runtime
    from gateway.store import ledger
    from gateway.store.db import make_engine
    from gateway.store.migrate import upgrade
    from gateway.store.tables import cases, dead_letters
    from gateway.sync.engine import sync_system

    service: JavaService = request.getfixturevalue(f"{name}_service")
    monkeypatch.setenv("TB_FOREIGN_USERNAME", getattr(service, "username", None) or "")  # None: no WS-Security
    monkeypatch.setenv("TB_FOREIGN_PASSWORD", getattr(service, "password", None) or "")
    systems = tmp_path / "systems.yaml"
    systems.write_text(yaml.safe_dump({"systems": {
        "foreign": {"role": "department", "departments": ["11370100004301265T"], "connector": "soap",
                    "connector_config": str(HERE / "connectors" / f"{name}.yaml"),
                    "mapping": str(HERE / "mappings" / "foreign_cases.yaml"), "stream": "cases",
                    "endpoint": service.base_url,
                    "secrets": {"username": "TB_FOREIGN_USERNAME", "password": "TB_FOREIGN_PASSWORD"}},
        "hall": {"role": "hall", "connector": "rest", "connector_config": {"kind": "rest", "name": "hall",
                 "base_url": "http://127.0.0.1:9", "streams": {}}, "mapping": str(HERE / "mappings" /
                 "foreign_cases.yaml"), "schedule": None},
    }}, allow_unicode=True), encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    runtime = Runtime(load_systems(systems), engine)
    try:
        report = sync_system(runtime, "foreign", full_refresh=True)
        assert report.status == "succeeded" and report.counts.read == len(service.records)
        with engine.connect() as conn:
            kept = ledger.raw_payloads(conn, "foreign")
            assert conn.execute(dead_letters.select()).first() is None
            assert conn.execute(select(func.count()).select_from(cases)).scalar() == len(service.records)
        assert {k: _as_source(RawRecord(k, None, v)) for k, v in kept.items()} == {
            r["caseNo"]: {f: r[f] for f in FIELDS} for r in service.records}
        again = sync_system(runtime, "foreign")  # incremental: nothing new, nothing written twice
        assert again.counts.inserted == again.counts.updated == 0
    finally:
        runtime.close()
