"""orchestration: alerts and reconciliation reports

Its own branch off 0001 (features add their tables independently; ``upgrade`` applies every head).

Revision ID: 0002_orchestration
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0002_orchestration"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=True),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", gateway.store.tables.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", gateway.store.tables.UtcDateTime(), nullable=False),
        sa.Column("resolved_at", gateway.store.tables.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_alerts_kind_key")),
    )
    op.create_index(op.f("ix_alerts_status_kind"), "alerts", ["status", "kind"], unique=False)
    op.create_table(
        "reconciliations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("checked_at", gateway.store.tables.UtcDateTime(), nullable=False),
        sa.Column("source_count", sa.Integer(), nullable=False),
        sa.Column("ledger_count", sa.Integer(), nullable=False),
        sa.Column("hall_expected", sa.Integer(), nullable=False),
        sa.Column("hall_count", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("missing_in_ledger", sa.Integer(), nullable=False),
        sa.Column("divergent", sa.Integer(), nullable=False),
        sa.Column("extra_in_ledger", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("missing_in_hall", sa.Integer(), nullable=False),
        sa.Column("stale_in_hall", sa.Integer(), nullable=False),
        sa.Column("source_hash", sa.String(length=32), nullable=False),
        sa.Column("ledger_hash", sa.String(length=32), nullable=False),
        sa.Column("problems", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
    )
    op.create_index(op.f("ix_reconciliations_system_day"), "reconciliations", ["system", "day"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reconciliations_system_day"), table_name="reconciliations")
    op.drop_table("reconciliations")
    op.drop_index(op.f("ix_alerts_status_kind"), table_name="alerts")
    op.drop_table("alerts")
