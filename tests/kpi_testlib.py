"""What the KPI tests share: a materials answer logged as the gateway logs it (``saved:N`` in the audit log), which
the KPI refresh reads for 材料减免."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from gateway.store.tables import audit_log


def log_materials_answer(engine: Engine, case_no: str, saved: int) -> None:
    """A materials answer for ``case_no`` that spared ``saved`` submissions, next in the audit log's sequence."""
    with engine.begin() as conn:
        seq = int(conn.execute(select(func.coalesce(func.max(audit_log.c.seq), 0))).scalar_one()) + 1
        conn.execute(audit_log.insert().values(seq=seq, at=datetime.now(UTC), action="materials",
                                               outcome=f"saved:{saved}", case_no=case_no, prev_hash="0" * 64,
                                               hash="0" * 64))
