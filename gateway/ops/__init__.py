"""Supervision: what operators and supervisors watch, computed from the ledger.

- :mod:`.alerts` — the alerts table: raise, resolve, list (failed syncs, systems behind, deadlines, reconcile)
- :mod:`.freshness` — the "system behind" check (``max_lag``)
- :mod:`.status` — per system: last run, watermark, lag, counts, dead letters, queue
- :mod:`.deadlines` — time-limit supervision (时限监察): working-day calendar, case clock, scan
"""
