"""the citizen's voice: 好差评 evaluations, callbacks and appeals, 12345 work orders, the citizen outbox

Revision ID: 0009_citizen
Revises: 0008_process
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0009_citizen"
down_revision = "0008_process"
branch_labels = None
depends_on = None

_Utc = gateway.store.tables.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "citizen_evaluations",
        sa.Column("rating_id", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("bad", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("window_no", sa.String(length=32), nullable=True),
        sa.Column("staff", sa.String(length=32), nullable=True),
        sa.Column("dept_code", sa.String(length=32), nullable=True),
        sa.Column("division", sa.String(length=12), nullable=True),
        sa.Column("office_code", sa.String(length=64), nullable=True),
        sa.Column("rated_at", _Utc(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("case_finished_at", _Utc(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("appeal", sa.String(length=16), nullable=True),
        sa.Column("flags", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("rating_id", name=op.f("pk_citizen_evaluations")),
    )
    op.create_index(op.f("ix_citizen_evaluations_rated_at"), "citizen_evaluations", ["rated_at"], unique=False)
    op.create_index(op.f("ix_citizen_evaluations_case_no"), "citizen_evaluations", ["case_no"], unique=False)
    op.create_index(op.f("ix_citizen_evaluations_device_rated_at"), "citizen_evaluations", ["device", "rated_at"], unique=False)
    op.create_table(
        "citizen_callbacks",
        sa.Column("rating_id", sa.String(length=64), nullable=False),
        sa.Column("due_at", _Utc(), nullable=False),
        sa.Column("done_at", _Utc(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("rect_due_at", _Utc(), nullable=True),
        sa.Column("rect_done_at", _Utc(), nullable=True),
        sa.Column("rect_note", sa.Text(), nullable=True),
        sa.Column("created_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("rating_id", name=op.f("pk_citizen_callbacks")),
    )
    op.create_index(op.f("ix_citizen_callbacks_done_at_due_at"), "citizen_callbacks", ["done_at", "due_at"], unique=False)
    op.create_table(
        "citizen_appeals",
        sa.Column("rating_id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_at", _Utc(), nullable=False),
        sa.Column("decided_at", _Utc(), nullable=True),
        sa.Column("opinion", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("rating_id", "level", name=op.f("pk_citizen_appeals")),
    )
    op.create_table(
        "citizen_workorders",
        sa.Column("order_no", sa.String(length=64), nullable=False),
        sa.Column("matter_type", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("division", sa.String(length=12), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("case_no", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", _Utc(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("limit_days", sa.Integer(), nullable=False),
        sa.Column("dispatch_due_at", _Utc(), nullable=False),
        sa.Column("dispatched_at", _Utc(), nullable=True),
        sa.Column("dept_code", sa.String(length=32), nullable=True),
        sa.Column("dept_name", sa.String(length=128), nullable=True),
        sa.Column("dept_system", sa.String(length=64), nullable=True),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("sign_due_at", _Utc(), nullable=True),
        sa.Column("signed_at", _Utc(), nullable=True),
        sa.Column("reply_due_at", _Utc(), nullable=True),
        sa.Column("replied_at", _Utc(), nullable=True),
        sa.Column("redo_round", sa.Integer(), nullable=False),
        sa.Column("redo_due_at", _Utc(), nullable=True),
        sa.Column("redo_refused", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=16), nullable=True),
        sa.Column("rated_at", _Utc(), nullable=True),
        sa.Column("platform_status", sa.String(length=16), nullable=True),
        sa.Column("source_changed_at", _Utc(), nullable=False),
        sa.Column("updated_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("order_no", name=op.f("pk_citizen_workorders")),
    )
    op.create_index(op.f("ix_citizen_workorders_month_dept_code"), "citizen_workorders", ["month", "dept_code"], unique=False)
    op.create_index(op.f("ix_citizen_workorders_status"), "citizen_workorders", ["status"], unique=False)
    op.create_table(
        "citizen_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _Utc(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", _Utc(), nullable=False),
        sa.Column("delivered_at", _Utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_outbox")),
        sa.UniqueConstraint("target", "key", name="uq_citizen_outbox_key"),
    )
    op.create_index(op.f("ix_citizen_outbox_target_status_next_attempt_at"), "citizen_outbox", ["target", "status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_table("citizen_outbox")
    op.drop_table("citizen_workorders")
    op.drop_table("citizen_appeals")
    op.drop_table("citizen_callbacks")
    op.drop_table("citizen_evaluations")
