"""runs.quality: the quality flags and rejections of a run, per rule (counted, with a few examples)

Revision ID: 0005_run_quality
Revises: 0004_consent_revocation
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_run_quality"
down_revision = "0004_consent_revocation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("quality", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("quality")
