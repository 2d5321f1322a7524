"""What the ``tongban_citizen`` DAG runs: thin wrappers over :mod:`gateway.citizen`, each opening the runtime
(ledger engine) and the settings when it runs — never at parse time — and returning a small JSON-able report.

The same functions behind ``tongban evaluations sync`` and ``tongban workorders sync``, one step per task so that
Airflow shows which side failed (the collection point, the provincial system, the platform).
"""

from __future__ import annotations

from typing import Any

from gateway.orchestration.tasks import _runtime

__all__ = ["not_configured", "run_appeals", "run_citizen_scan", "run_evaluations", "run_forward", "run_misuse", "run_workorders",
           "run_workorder_replies"]


def not_configured() -> str | None:
    """Why the citizen systems cannot be reached from this deployment (no settings file, a secret not in the
    environment), or None. A deployment that has not connected them skips the DAG's tasks instead of failing
    them: an optional wing left off is not an error to page someone about."""
    from gateway.contract.errors import ConfigError

    try:
        settings = _settings()
        for endpoint in (settings.evaluator, settings.provincial_pj, settings.hotline):
            for key in endpoint.secrets:
                endpoint.secret(key)
    except ConfigError as exc:
        return str(exc)
    return None


def _delivered(report: Any) -> dict[str, Any]:
    """A delivery that reached nothing while items failed is a failed task (Airflow retries it and, at the end,
    raises the failure alert): the receiver is down, and a green run would say otherwise."""
    if report.retried and not report.delivered:
        from gateway.contract.errors import RetriableSyncError

        raise RetriableSyncError(f"{report.target}: nothing delivered, {report.retried} item(s) failed; first: "
                                 f"{report.errors[0] if report.errors else '?'}")
    return report.as_dict()  # type: ignore[no-any-return]


def _settings() -> Any:
    from gateway.citizen import load_citizen

    return load_citizen()


def run_evaluations() -> dict[str, Any]:
    """Read new ratings (``sync_evaluations``); bad reviews get their callback task in the same transaction."""
    from gateway.citizen import sync_evaluations

    with _runtime() as runtime:
        return sync_evaluations(runtime.engine, _settings(), pii=runtime.pii).as_dict()


def run_forward() -> dict[str, Any]:
    """Forward ratings, callbacks, rectifications and appeals to the provincial 好差评 system."""
    from gateway.citizen import ProvincialClient
    from gateway.citizen.outbox import drain

    settings = _settings()
    client = ProvincialClient(settings.provincial_pj)
    try:
        with _runtime() as runtime:
            return _delivered(drain(runtime.engine, "provincial_pj", client, pii=runtime.pii))
    finally:
        client.close()


def run_appeals() -> list[dict[str, Any]]:
    """Ask the provincial system about pending appeals; a city's rejection goes up to the province."""
    from gateway.citizen import ProvincialClient, poll_appeals

    settings = _settings()
    client = ProvincialClient(settings.provincial_pj)
    try:
        with _runtime() as runtime:
            return poll_appeals(runtime.engine, client, pii=runtime.pii)
    finally:
        client.close()


def run_misuse() -> dict[str, Any]:
    """The evaluator-misuse rules over the device ratings (flags and ``evaluation_misuse`` alerts)."""
    from datetime import datetime, timedelta, timezone

    from gateway.citizen import detect_misuse

    with _runtime() as runtime:  # the days touched by ratings stored in the last day, not all history
        report = detect_misuse(runtime.engine, _settings().policy.misuse,
                               stored_since=datetime.now(timezone.utc) - timedelta(days=1))
    return {"examined": report.examined, "flagged": len(report.flagged), "groups": len(report.groups)}


def run_workorders() -> dict[str, Any]:
    """Read the 12345 platform's orders and route (or return) the new ones."""
    from gateway.citizen import sync_workorders

    with _runtime() as runtime:
        return sync_workorders(runtime.engine, _settings(), pii=runtime.pii).as_dict()


def run_workorder_replies() -> dict[str, Any]:
    """Send dispatches, returns, signatures and replies to the 12345 platform."""
    from gateway.citizen import HotlineClient
    from gateway.citizen.outbox import drain

    client = HotlineClient(_settings().hotline)
    try:
        with _runtime() as runtime:
            return _delivered(drain(runtime.engine, "hotline", client, pii=runtime.pii))
    finally:
        client.close()


def run_citizen_scan() -> dict[str, Any]:
    """Open and resolve the citizen alerts (dispatch late, replies, callbacks and rectifications overdue)."""
    from gateway.citizen import scan_citizen

    with _runtime() as runtime:
        return scan_citizen(runtime.engine, policy=_settings().policy)
