"""citizen_workorders.routed_by: who routed a 12345 order (转派), Tongban or the platform's own staff

Revision ID: 0023_workorder_routed_by
Revises: 0022_origin_digest
Create Date: 2026-12-06

An order read for the first time after the cut-over already routed (已转派: the platform's staff were quicker, or
Tongban was not reading) was counted in Tongban's dispatch figures — 15分钟内转派率, 自身超时转派, 转派用时 —
with the platform's dispatch time. Rows from before stay NULL: judged as before (by the cut-over alone).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_workorder_routed_by"
down_revision = "0022_origin_digest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("citizen_workorders", sa.Column("routed_by", sa.String(16), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE citizen_workorders DROP COLUMN routed_by")  # SQLite >= 3.35 and PostgreSQL
