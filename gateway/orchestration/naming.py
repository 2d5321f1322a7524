"""DAG ids and asset URIs, in one place: the DAG factory, the demo, the tests and the docs use these names."""

from __future__ import annotations

SYNC_PREFIX = "tongban_sync_"
PUSH_DAG = "tongban_push"
CERTIFICATES_DAG = "tongban_certificates"
DEADLINES_DAG = "tongban_deadlines"
RECONCILE_DAG = "tongban_reconcile"
CATALOGUE_DAG = "tongban_catalogue_kpi"
HANDOFF_DAG = "tongban_handoff"
HANDOFF_ASSET = "handoff"
"""The asset name the hand-off DAG publishes when it queued cases (deemed acceptances, refusals, routed cases)."""
CITIZEN_DAG = "tongban_citizen"
SHARED_DAGS = (PUSH_DAG, CERTIFICATES_DAG, DEADLINES_DAG, RECONCILE_DAG, CATALOGUE_DAG, HANDOFF_DAG, CITIZEN_DAG)
ALERT_CHECK_TASK = "check_alerts"
"""The deadlines DAG's task that fails while an error alert is open (its own failures excepted)."""
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8500/console/"


def console_url() -> str:
    """Where operators find the ops console (``TONGBAN_CONSOLE_URL``): linked from every DAG's docs and logs."""
    import os

    return os.environ.get("TONGBAN_CONSOLE_URL") or DEFAULT_CONSOLE_URL


def sync_dag_id(system: str) -> str:
    return f"{SYNC_PREFIX}{system}"


def asset_uri(system: str) -> str:
    """The asset a sync DAG publishes when it queued changes for other systems (the push DAG's trigger)."""
    return f"tongban://ledger/{system}"


def all_dag_ids(systems: list[str]) -> list[str]:
    return [sync_dag_id(s) for s in sorted(systems)] + list(SHARED_DAGS)
