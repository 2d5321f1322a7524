"""What ``tongban status`` shows: per system, the last run, the watermark and its lag, rejects and the queue.

Kept apart from the CLI so that the gateway API and Airflow callbacks can report the same numbers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine

from gateway.kernel.config import SystemsConfig
from gateway.store import ledger, outbox, queries
from gateway.store.lease import held_by_a_live_run

ABANDONED = ("the process running it died (its lease lapsed): what its committed pages wrote is in the ledger; the "
             "next sync of the system records the run failed and reads on from the watermark")


def system_status(engine: Engine, systems: SystemsConfig, *, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        marks = queries.watermark_cursors(conn)
        synced = queries.last_successful_sync(conn)
        open_dead = queries.open_dead_letters_by_system(conn)
        pending = outbox.pending_by_target(conn)
        report = []
        for name in systems.names():
            system = systems.get(name)
            last = queries.last_sync_run(conn, name)
            mark = marks.get((name, system.stream))
            run_status, run_error = (last["status"], last["error"]) if last is not None else (None, None)
            # whether its process lives is a fact of the present, whatever instant ``now`` reads the lag at
            if run_status == "running" and not held_by_a_live_run(conn, f"sync:{name}"):
                run_status, run_error = "abandoned", ABANDONED
            report.append(
                {
                    "system": name,
                    "title": system.title,
                    "role": system.role,
                    "last_run": None if last is None else {
                        "id": last["id"],
                        "status": run_status,
                        "started_at": last["started_at"],
                        "finished_at": last["finished_at"],
                        "duration_s": last["duration_s"],
                        "read": last["read"],
                        "inserted": last["inserted"],
                        "updated": last["updated"],
                        "unchanged": last["unchanged"],
                        "rejected": last["rejected"],
                        "deleted": last["deleted"],
                        "error": run_error,
                        "quality_flags": _flag_counts(last["quality"]),
                    },
                    "watermark": mark,
                    **_freshness(now, synced.get(name), mark, system.max_lag.total_seconds(), last is not None),
                    "open_dead_letters": int(open_dead.get(name, 0)),
                    "pending_outbox": int(pending.get(name, 0)),
                }
            )
    return report


def dead_letters_elsewhere(engine: Engine, systems: SystemsConfig) -> dict[str, int]:
    """Open dead letters filed under a name that is not a system of the systems file — the citizen processes'
    own (``evaluator``, 12345 work orders…), or a system since removed from the file: ``{name: count}``. The
    console counts every open dead letter; ``status`` must show where the ones outside its table are."""
    names = set(systems.names())
    with engine.connect() as conn:
        counts = queries.open_dead_letters_by_system(conn)
    return {name: int(n) for name, n in sorted(counts.items(), key=lambda kv: str(kv[0]))
            if name not in names and n}


def _freshness(now: datetime, success: datetime | None, mark: datetime | None, max_lag_s: float,
               ever_ran: bool) -> dict[str, Any]:
    """How old the ledger's copy of a system is. ``lag_s``: since its last completed sync finished — what
    ``max_lag`` limits, what the freshness check alerts on, ``behind`` when past it. ``source_change_age_s``: since
    the newest change the ledger holds was made at the source (the watermark) — a quiet source is old there
    without being behind, so it is shown, never judged."""
    lag = None if success is None else round((now - success).total_seconds(), 1)
    return {
        "last_success_at": success,
        "lag_s": lag,
        "max_lag_s": max_lag_s,
        "behind": ever_ran and (lag is None or lag > max_lag_s),
        "source_change_age_s": None if mark is None else round((now - mark).total_seconds(), 1),
    }


def _flag_counts(stored: str | None) -> dict[str, int]:
    """``{rule: records}`` of the quality flags a run recorded (cases kept, flagged), most frequent first."""
    if not stored:
        return {}
    flags = ledger.loads(stored).get("flag", {})
    return dict(sorted(((rule, int(entry["records"])) for rule, entry in flags.items()), key=lambda kv: -kv[1]))
