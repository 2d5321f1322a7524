"""Has a system fallen behind? No successful sync for longer than its ``max_lag`` (systems file) is a ``behind``
alert; the next successful sync (or scan) resolves it.

Failed runs alert on their own (the Airflow failure callback); this check catches what they cannot: a DAG that
is paused, a scheduler that is down, runs that hang or keep being skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateway.ops.alerts import AlertSpec, sync_alerts
from gateway.store import ledger, queries

if TYPE_CHECKING:
    from gateway.kernel.runtime import Runtime


def check_freshness(runtime: Runtime, *, now: datetime | None = None) -> dict[str, Any]:
    """Raise or resolve ``behind`` alerts for every configured system; returns ``{system: seconds since the last
    successful sync or None}`` and the names of the systems behind."""
    now = now or ledger.utcnow()
    with runtime.engine.connect() as conn:
        last_ok = queries.last_successful_sync(conn)
    ages: dict[str, float | None] = {}
    wanted: list[AlertSpec] = []
    for name in runtime.systems.names():
        system = runtime.systems.get(name)
        last = last_ok.get(name)
        age = None if last is None else (now - last).total_seconds()
        ages[name] = None if age is None else round(age, 1)
        if age is None or age > system.max_lag.total_seconds():
            since = "never synced successfully" if age is None else f"last successful sync {age / 60:.0f} min ago"
            wanted.append(AlertSpec(key=name, level="warning", system=name,
                                    message=f"{name} is behind: {since} (allowed {system.max_lag})",
                                    details={"last_success": last.isoformat() if last else None,
                                             "max_lag_s": system.max_lag.total_seconds()}))
    sync_alerts(runtime.engine, "behind", wanted)
    return {"age_s": ages, "behind": [w.key for w in wanted]}


__all__ = ["check_freshness"]
