"""reconciliations.unrecorded_rejections: source records the mapping rejects that no dead letter holds

Revision ID: 0016_reconcile_unrecorded
Revises: 0015_kpi_result_scope
Create Date: 2026-12-04

A record the source holds and the mapping rejects belongs in the dead letters; one that is not there was never
seen by a sync (lost on the way: a page the connector skipped, a dead letter deleted by hand). The report listed
such records among its problems but counted the day as matching and raised no alert. Rows from before count 0
(what they recorded: nothing).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_reconcile_unrecorded"
down_revision = "0015_kpi_result_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reconciliations") as batch:
        batch.add_column(sa.Column("unrecorded_rejections", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("reconciliations") as batch:
        batch.drop_column("unrecorded_rejections")
