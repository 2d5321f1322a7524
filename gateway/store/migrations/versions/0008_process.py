"""processes (issue 15): the front-desk hand-off with deemed acceptance, its audit trail, 办不成事 tickets

Revision ID: 0008_process
Revises: 0007_catalogue_kpi
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0008_process"
down_revision = "0007_catalogue_kpi"
branch_labels = None
depends_on = None

_Utc = gateway.store.tables.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "process_handoffs",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("hall_system", sa.String(length=64), nullable=False),
        sa.Column("office_code", sa.String(length=64), nullable=True),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("division", sa.String(length=12), nullable=True),
        sa.Column("target_system", sa.String(length=64), nullable=True),
        sa.Column("dept_code", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("window_s", sa.Integer(), nullable=False),
        sa.Column("registered_at", _Utc(), nullable=False),
        sa.Column("handed_at", _Utc(), nullable=True),
        sa.Column("due_at", _Utc(), nullable=True),
        sa.Column("decided_at", _Utc(), nullable=True),
        sa.Column("decided_by", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("forwarded_version", sa.Integer(), nullable=False),
        sa.Column("late_decision", sa.String(length=16), nullable=True),
        sa.Column("late_decided_at", _Utc(), nullable=True),
        sa.Column("late_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("case_no", name=op.f("pk_process_handoffs")),
    )
    op.create_index(op.f("ix_process_handoffs_state_due_at"), "process_handoffs", ["state", "due_at"],
                    unique=False)
    op.create_table(
        "process_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("at", _Utc(), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_events")),
    )
    op.create_index(op.f("ix_process_events_case_no"), "process_events", ["case_no"], unique=False)
    op.create_table(
        "process_tickets",
        sa.Column("ticket_no", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("office_code", sa.String(length=64), nullable=True),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("opened_at", _Utc(), nullable=False),
        sa.Column("replied_at", _Utc(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("ticket_no", name=op.f("pk_process_tickets")),
    )
    op.create_index(op.f("ix_process_tickets_replied_at"), "process_tickets", ["replied_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_process_tickets_replied_at"), table_name="process_tickets")
    op.drop_table("process_tickets")
    op.drop_index(op.f("ix_process_events_case_no"), table_name="process_events")
    op.drop_table("process_events")
    op.drop_index(op.f("ix_process_handoffs_state_due_at"), table_name="process_handoffs")
    op.drop_table("process_handoffs")
