"""The sync side in Prometheus terms, read from the ledger when ``/metrics`` is scraped.

Operators alert on what the ledger knows, not on what one process saw: lag per system, what the last run did,
open dead letters, outbox depth per target and open alerts by level. A custom collector queries at scrape time
(a handful of indexed reads), so every gateway process reports the same numbers.

    registry.register(SyncCollector(engine, systems))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from gateway.ops.alerts import alert_counts
from gateway.ops.status import system_status

_OUTCOMES = ("read", "inserted", "updated", "unchanged", "rejected", "deleted")
_RUN_STATUSES = ("succeeded", "degraded", "failed", "running", "abandoned")


class SyncCollector(Collector):
    """Gauges of the data path: ``tongban_sync_*``, ``tongban_dead_letters_open``, ``tongban_outbox_pending``,
    ``tongban_alerts_open``."""

    def __init__(self, engine: Engine, systems: Any) -> None:
        self.engine = engine
        self.systems = systems

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = system_status(self.engine, self.systems)
        lag = GaugeMetricFamily("tongban_sync_lag_seconds", "Seconds since the newest change the ledger holds",
                                labels=["system"])
        stale = GaugeMetricFamily("tongban_sync_since_success_seconds",
                                  "Seconds since the last completed sync (succeeded or degraded) finished (what max_lag limits)",
                                  labels=["system"])
        records = GaugeMetricFamily("tongban_sync_last_run_records", "Records of the last sync run, by outcome",
                                    labels=["system", "outcome"])
        duration = GaugeMetricFamily("tongban_sync_last_run_seconds", "Duration of the last sync run",
                                     labels=["system"])
        status = GaugeMetricFamily("tongban_sync_last_run_status", "1 for the status of the last sync run",
                                   labels=["system", "status"])
        flags = GaugeMetricFamily("tongban_sync_last_run_quality_flags", "Quality flags of the last run, by rule",
                                  labels=["system", "rule"])
        dead = GaugeMetricFamily("tongban_dead_letters_open", "Open dead letters", labels=["system"])
        outbox = GaugeMetricFamily("tongban_outbox_pending", "Changes waiting to be pushed", labels=["target"])
        for row in rows:
            name = row["system"]
            if row["source_change_age_s"] is not None:
                lag.add_metric([name], float(row["source_change_age_s"]))
            if row["lag_s"] is not None:
                stale.add_metric([name], float(row["lag_s"]))
            dead.add_metric([name], float(row["open_dead_letters"]))
            outbox.add_metric([name], float(row["pending_outbox"]))
            last = row["last_run"]
            if last is None:
                continue
            for outcome in _OUTCOMES:
                records.add_metric([name, outcome], float(last[outcome] or 0))
            if last["duration_s"] is not None:
                duration.add_metric([name], float(last["duration_s"]))
            for value in _RUN_STATUSES:
                status.add_metric([name, value], 1.0 if last["status"] == value else 0.0)
            for rule, count in (last.get("quality_flags") or {}).items():
                flags.add_metric([name, rule], float(count))
        alerts = GaugeMetricFamily("tongban_alerts_open", "Open alerts, by kind and level", labels=["kind", "level"])
        for kind, levels in alert_counts(self.engine).items():
            for level, count in levels.items():
                alerts.add_metric([kind, level], float(count))
        yield from (lag, stale, records, duration, status, flags, dead, outbox, alerts)


__all__ = ["SyncCollector"]
