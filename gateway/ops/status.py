"""What ``tongban status`` shows: per system, the last run, the watermark and its lag, rejects and the queue.

Kept apart from the CLI so that the gateway API and Airflow callbacks can report the same numbers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, func, select

from gateway.kernel.config import SystemsConfig
from gateway.store.tables import dead_letters, outbox, runs, watermarks


def system_status(engine: Engine, systems: SystemsConfig, *, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(timezone.utc)
    with engine.connect() as conn:
        marks = {(r.system, r.stream): r.cursor for r in conn.execute(select(watermarks))}
        open_dead: dict[str, int] = {
            system: int(count)
            for system, count in conn.execute(
                select(dead_letters.c.system, func.count())
                .where(dead_letters.c.status == "open")
                .group_by(dead_letters.c.system)
            ).tuples()
        }
        pending: dict[str, int] = {
            target: int(count)
            for target, count in conn.execute(
                select(outbox.c.target_system, func.count())
                .where(outbox.c.status == "pending")
                .group_by(outbox.c.target_system)
            ).tuples()
        }
        report = []
        for name in systems.names():
            system = systems.get(name)
            last = conn.execute(
                select(runs).where(runs.c.system == name, runs.c.kind == "sync").order_by(runs.c.id.desc()).limit(1)
            ).mappings().first()
            mark = marks.get((name, system.stream))
            report.append(
                {
                    "system": name,
                    "title": system.title,
                    "role": system.role,
                    "last_run": None if last is None else {
                        "id": last["id"],
                        "status": last["status"],
                        "started_at": last["started_at"],
                        "finished_at": last["finished_at"],
                        "duration_s": last["duration_s"],
                        "read": last["read"],
                        "inserted": last["inserted"],
                        "updated": last["updated"],
                        "unchanged": last["unchanged"],
                        "rejected": last["rejected"],
                        "deleted": last["deleted"],
                        "error": last["error"],
                    },
                    "watermark": mark,
                    "lag_s": None if mark is None else round((now - mark).total_seconds(), 1),
                    "open_dead_letters": int(open_dead.get(name, 0)),
                    "pending_outbox": int(pending.get(name, 0)),
                }
            )
    return report
