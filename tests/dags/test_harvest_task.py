"""The certificate DAG's harvest task: an issuer that is down holds back no other issuer, and the task still fails
naming it (retriable, so Airflow retries and alerts)."""

from __future__ import annotations

import contextlib
import types
from typing import Any

import pytest

from gateway.contract.errors import ConfigError, SourceUnavailableError
from gateway.orchestration import tasks


def _install(monkeypatch: pytest.MonkeyPatch, issuers: list[str], fail: dict[str, Exception]) -> list[str]:
    """A harvest entry point that records whom it harvested and fails for the issuers of ``fail``."""
    harvested: list[str] = []

    def harvest(gw: Any, issuer: str) -> dict[str, Any]:
        if issuer in fail:
            raise fail[issuer]
        harvested.append(issuer)
        return {"issuer": issuer, "read": 1}

    gw = types.SimpleNamespace(settings=types.SimpleNamespace(issuers=dict.fromkeys(issuers)))
    monkeypatch.setattr(tasks, "harvest_function", lambda: harvest)
    monkeypatch.setattr(tasks, "_runtime", lambda **_: contextlib.nullcontext(object()))
    monkeypatch.setattr("gateway.sharing.settings.GatewayRuntime.create", lambda runtime: gw)
    return harvested


def test_one_issuer_down_the_others_are_harvested_and_the_task_fails_naming_it(monkeypatch) -> None:
    harvested = _install(monkeypatch, ["a_market", "b_civil", "c_estate"],
                         {"b_civil": SourceUnavailableError("http://127.0.0.1:9/ refused the connection")})
    with pytest.raises(tasks.HarvestFailed, match="b_civil") as raised:
        tasks.run_harvest()
    assert harvested == ["a_market", "c_estate"]
    assert "2 other issuer(s) harvested" in str(raised.value)
    assert not tasks.permanent(raised.value), "an issuer that is down is retried"


def test_all_issuers_misconfigured_is_permanent(monkeypatch) -> None:
    _install(monkeypatch, ["a_market"], {"a_market": ConfigError("issuer a_market: no key")})
    with pytest.raises(tasks.HarvestFailed) as raised:
        tasks.run_harvest()
    assert tasks.permanent(raised.value)


def test_every_issuer_harvested_returns_their_reports(monkeypatch) -> None:
    harvested = _install(monkeypatch, ["a_market", "b_civil"], {})
    assert tasks.run_harvest()["issuers"] == harvested == ["a_market", "b_civil"]
