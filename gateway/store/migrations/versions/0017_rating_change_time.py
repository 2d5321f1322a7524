"""citizen_evaluations.source_changed_at: the collection point's change time of the version the ledger holds

Revision ID: 0017_rating_change_time
Revises: 0016_reconcile_unrecorded
Create Date: 2026-12-04

A replay of a dead-lettered rating must never bring an older version back over a newer one. Without the source's
own change time of the version held, it could only be compared with the moment Tongban stored that version —
two clocks. Rows from before have none (NULL): for them the replay still compares with the stored moment.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0017_rating_change_time"
down_revision = "0016_reconcile_unrecorded"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("citizen_evaluations") as batch:
        batch.add_column(sa.Column("source_changed_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("citizen_evaluations") as batch:
        batch.drop_column("source_changed_at")
