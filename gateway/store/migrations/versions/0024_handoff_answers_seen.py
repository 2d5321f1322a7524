"""process_handoffs.answers_seen_version: the case version a hand-off scan last found no answer in

Revision ID: 0024_handoff_answers_seen
Revises: 0023_workorder_routed_by
Create Date: 2026-12-07

Every scan (each minute) read the case of every deemed hand-off of the last 180 days, one transaction each, to
look for a department's late answer: ~0.6 ms a hand-off on PostgreSQL, minutes a scan at a district's half-year.
A deemed hand-off is now read again only when its case has a newer version than the one last found silent (or the
hand-off moved). Rows from before stay NULL: read once more, then marked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_handoff_answers_seen"
down_revision = "0023_workorder_routed_by"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("process_handoffs", sa.Column("answers_seen_version", sa.Integer, nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE process_handoffs DROP COLUMN answers_seen_version")  # SQLite >= 3.35 and PostgreSQL
