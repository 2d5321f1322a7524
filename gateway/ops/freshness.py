"""Has a system fallen behind? No completed sync (succeeded or degraded) for longer than its ``max_lag`` (systems
file) is a ``behind`` alert; the next completed sync (or scan) resolves it.

Failed runs alert on their own (the Airflow failure callback); this check catches what they cannot: a DAG that
is paused, a scheduler that is down, runs that hang or keep being skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from gateway.ops.alerts import AlertSpec, open_alerts, resolve_orphaned, sync_alerts
from gateway.store import ledger, queries

if TYPE_CHECKING:
    from gateway.kernel.runtime import Runtime


BEHIND_IS_AN_ERROR = 3
"""A system behind by more than this many times its ``max_lag`` is an error, not a warning: the deadlines DAG's
``check_alerts`` fails on it. Behind a little is a slow source or a long run; three times over, nothing is
syncing it (a paused DAG, a scheduler down, runs that hang) and Airflow shows no failure anywhere. A system that
never synced is an error once its ``behind`` alert has stood that long."""


def check_freshness(runtime: Runtime, *, now: datetime | None = None) -> dict[str, Any]:
    """Raise or resolve ``behind`` alerts for every configured system (a warning past ``max_lag``, an error past
    :data:`BEHIND_IS_AN_ERROR` times it), and resolve the alerts of systems no longer configured
    (:func:`gateway.ops.alerts.resolve_orphaned`); returns ``{system: seconds since the last successful sync or
    None}``, the names of the systems behind and how many orphaned alerts were resolved."""
    now = now or ledger.utcnow()
    with runtime.engine.connect() as conn:
        last_ok = queries.last_successful_sync(conn)
    behind_since = {a["key"]: a["first_seen_at"] for a in open_alerts(runtime.engine, kind="behind")}
    ages: dict[str, float | None] = {}
    wanted: list[AlertSpec] = []
    for name in runtime.systems.names():
        system = runtime.systems.get(name)
        last = last_ok.get(name)
        age = None if last is None else (now - last).total_seconds()
        ages[name] = None if age is None else round(age, 1)
        if age is None or age > system.max_lag.total_seconds():
            since = "never synced" if age is None else f"last completed sync {age / 60:.0f} min ago"
            limit = BEHIND_IS_AN_ERROR * system.max_lag.total_seconds()
            # never synced: counted from when this check first found it behind (a new system whose DAG was never
            # unpaused stayed a warning for ever, and check_alerts green)
            first_seen = behind_since.get(name)
            far = age > limit if age is not None else \
                first_seen is not None and (now - first_seen).total_seconds() > limit
            wanted.append(AlertSpec(key=name, level="error" if far else "warning", system=name,
                                    message=f"{name} is behind: {since} (allowed {system.max_lag})",
                                    details={"last_success": last.isoformat() if last else None,
                                             "max_lag_s": system.max_lag.total_seconds()}))
    sync_alerts(runtime.engine, "behind", wanted)
    # an entry of the systems file that does not validate is a standing error until it is fixed (its placeholder
    # DAG's failure alert comes and goes with its runs), and its alerts are not an absent system's orphans
    invalid = runtime.systems.invalid
    sync_alerts(runtime.engine, "config_invalid", [
        AlertSpec(key=name, level="error", system=name, message=str(entry.error)[:1000]) for name, entry in
        invalid.items()])
    orphaned = resolve_orphaned(runtime.engine, [*runtime.systems.names(), *invalid])
    return {"age_s": ages, "behind": [w.key for w in wanted], "resolved_orphaned": orphaned}


__all__ = ["check_freshness"]
