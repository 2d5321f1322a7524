"""citizen_workorders.first_replied_at: the first reply's time, kept once a redo's reply takes ``replied_at``

Revision ID: 0018_first_reply
Revises: 0017_rating_change_time
Create Date: 2026-12-05

按时答复率 counts every reply against its own due time: the first reply against ``reply_due_at``, the redo's
against ``redo_due_at``. Without the first reply's time, a department that answered late and then redid on time
scored 100%. Rows from before have none (NULL): for them only the reply held is judged, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.store.tables import UtcDateTime

revision = "0018_first_reply"
down_revision = "0017_rating_change_time"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("citizen_workorders") as batch:
        batch.add_column(sa.Column("first_replied_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("citizen_workorders") as batch:
        batch.drop_column("first_replied_at")
