"""What the ``tongban_citizen`` DAG runs: thin wrappers over :mod:`gateway.citizen`, each opening the runtime
(ledger engine) and the settings when it runs — never at parse time — and returning a small JSON-able report.

The same functions behind ``tongban evaluations sync`` and ``tongban workorders sync``, one step per task so that
Airflow shows which side failed (the collection point, the provincial system, the platform).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from gateway.contract.errors import ConfigError
from gateway.orchestration.tasks import _runtime

_log = logging.getLogger(__name__)

__all__ = ["CITIZEN_SIDES", "not_configured", "run_appeals", "run_citizen_scan", "run_evaluations", "run_forward", "run_misuse", "run_workorders",
           "run_workorder_replies"]


CITIZEN_SIDES: dict[str, tuple[str, ...]] = {"好差评": ("evaluator", "provincial_pj"), "12345": ("hotline",)}
"""The two wings of the DAG and the endpoints each needs: one wing's trouble never stops the other's tasks."""


def not_configured(side: str | None = None) -> str | None:
    """Why a wing (``"好差评"``, ``"12345"``; ``None``: both) is not connected from this deployment — none of its
    endpoints' secrets is set here — or None when it is. A deployment that never connected a wing skips its tasks
    instead of failing them: an optional wing left off is not an error to page someone about.

    Anything else fails the task (and so alerts): settings that do not read (a typo), or a wing half connected —
    some of its secrets set, others not (a secret lost on a new worker, a rotation gone wrong). Both were read as
    "not connected": every task skipped, green, while 12345 orders waited past their 15 minutes unrouted. For
    ``None`` the scan runs while either wing is connected."""
    settings = _settings()  # a ConfigError here is the file's mistake: it fails the task
    if side is not None:
        return _absent(settings, side)
    absent = []
    for name in CITIZEN_SIDES:
        try:
            reason = _absent(settings, name)
        except ConfigError:  # half connected: that wing's own tasks fail; the scan still runs for the other
            return None
        if reason is None:
            return None
        absent.append(reason)
    return "; ".join(absent)


def _absent(settings: Any, side: str) -> str | None:
    present, missing = [], []
    for endpoint in (getattr(settings, name) for name in CITIZEN_SIDES[side]):
        for key, var in endpoint.secrets.items():
            (present if os.environ.get(var) else missing).append(f"{endpoint.name}.{key} (${var})")
    if missing and present:
        raise ConfigError(f"citizen settings: {side} is half connected on this worker: {', '.join(missing)} not "
                          f"set while {', '.join(present)} are (a secret lost in a rotation or on a new worker?)")
    return f"{side}: none of {', '.join(missing)} is set" if missing else None


def _delivered(report: Any) -> dict[str, Any]:
    """A delivery that reached nothing while items failed is a failed task (Airflow retries it and, at the end,
    raises the failure alert): the receiver is down, and a green run would say otherwise."""
    failure = report.unreached()
    if failure is not None:
        from gateway.contract.errors import RetriableSyncError

        raise RetriableSyncError(failure)
    return report.as_dict()  # type: ignore[no-any-return]


def _settings() -> Any:
    from gateway.citizen import load_citizen

    return load_citizen()


def run_evaluations() -> dict[str, Any]:
    """Read new ratings (``sync_evaluations``); bad reviews get their callback task in the same transaction."""
    from gateway.citizen import sync_evaluations

    with _runtime() as runtime:
        return sync_evaluations(runtime.engine, _settings(), pii=runtime.pii).as_dict()


def _drained(target: str, client: Any) -> dict[str, Any]:
    """:func:`~gateway.citizen.outbox.drain` into ``target`` as a task: while another run delivers to it (an
    operator's command, a worker not yet known dead) this one says so and succeeds — that run sends what is due;
    failing the task raised a task_failed alert and left the appeals task upstream_failed."""
    from gateway.citizen.outbox import drain
    from gateway.contract.errors import LeaseHeldError

    try:
        with _runtime() as runtime:
            return _delivered(drain(runtime.engine, target, client, pii=runtime.pii))  # type: ignore[arg-type]
    except LeaseHeldError as exc:
        _log.warning("%s: not delivered by this run: %s", target, exc)
        return {"target": target, "busy": str(exc)}
    finally:
        client.close()


def run_forward() -> dict[str, Any]:
    """Forward ratings, callbacks, rectifications and appeals to the provincial 好差评 system."""
    from gateway.citizen import ProvincialClient

    return _drained("provincial_pj", ProvincialClient(_settings().provincial_pj))


def run_appeals() -> list[dict[str, Any]]:
    """Ask the provincial system about pending appeals; a city's rejection goes up to the province."""
    from gateway.citizen import ProvincialClient, poll_appeals
    from gateway.contract.errors import LeaseHeldError

    settings = _settings()
    client = ProvincialClient(settings.provincial_pj)
    try:
        with _runtime() as runtime:
            return poll_appeals(runtime.engine, client, pii=runtime.pii)
    except LeaseHeldError as exc:  # another poll runs (an operator's): it asks, this one need not
        _log.warning("appeals not polled by this run: %s", exc)
        return []
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

    return _drained("hotline", HotlineClient(_settings().hotline))


def run_citizen_scan() -> dict[str, Any]:
    """Open and resolve the citizen alerts (dispatch late, replies, callbacks and rectifications overdue)."""
    from gateway.citizen import scan_citizen

    with _runtime() as runtime:
        return scan_citizen(runtime.engine, policy=_settings().policy)
