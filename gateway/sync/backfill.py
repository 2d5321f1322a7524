"""``tongban backfill TARGET``: queue the cases a system should hold and was never sent.

The outbox is filled as cases change: a case is queued for the systems that should hold it when it is written.
A system added to the systems file later (a second hall, a department system connected after its cases were
synced from elsewhere), or a department whose codes were added to a system's ``departments`` afterwards, gets
only what changes from then on — the cases already in the ledger never reach it, and the reconciliation lists
them as missing. A backfill queues, for every live case that ``targets_for`` sends to ``TARGET``, its current
version, unless the outbox already holds that version for it (pending, delivered, superseded or dead: a dead one
is for ``dead-letters replay``); the push job then delivers them, idempotently as always.

Reads the cases a page at a time by case number (keyset), so a million cases cost a million rows read once and
a page of memory; writes one statement per page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from gateway.contract.errors import ConfigError
from gateway.store import ledger, outbox
from gateway.store.outbox import PENDING

if TYPE_CHECKING:
    from gateway.kernel.runtime import Runtime

PAGE = 1000


@dataclass
class BackfillReport:
    target: str
    live_cases: int = 0
    """Live cases read."""
    for_target: int = 0
    """Of those, the cases the target should hold."""
    queued: int = 0
    """Queued now: the target was never sent their current version."""
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def backfill(runtime: Runtime, target: str, *, dry_run: bool = False) -> BackfillReport:
    """Queue every live case ``target`` should hold at its current version, where the outbox holds no row of that
    version for it. ``dry_run``: count, queue nothing."""
    system = runtime.systems.get(target)
    if not system.writable or system.push is None:
        raise ConfigError(f"{target} takes no pushes (no push stream in the systems file): nothing to backfill")
    report = BackfillReport(target=target, dry_run=dry_run)
    targets: dict[tuple[str | None, str], list[str]] = {}  # by (department, origin): a few, for a million cases

    def wants(case: Any) -> bool:
        key = (case.dept_code, case.origin_system)
        if key not in targets:
            targets[key] = runtime.systems.targets_for(case.dept_code, origin=case.origin_system)
        return target in targets[key]

    after = ""
    while True:
        with runtime.engine.begin() as conn:
            page = outbox.live_cases_after(conn, after, PAGE)
            if not page:
                return report
            after = page[-1].case_no
            report.live_cases += len(page)
            wanted = [c for c in page if wants(c)]
            report.for_target += len(wanted)
            held = outbox.queued_versions(conn, target, [c.case_no for c in wanted])
            missing = [c for c in wanted if (c.case_no, c.version) not in held]
            report.queued += len(missing)
            if missing and not dry_run:
                now = ledger.utcnow()
                ledger.add_outbox(conn, [{"case_no": c.case_no, "version": c.version, "target_system": target,
                                          "operation": "upsert", "status": PENDING, "attempts": 0,
                                          "next_attempt_at": now, "created_at": now} for c in missing])


__all__ = ["BackfillReport", "backfill"]
