"""citizen_workorders.handout: how many times the platform handed an order out again after a 退回

Revision ID: 0019_workorder_handout
Revises: 0018_first_reply
Create Date: 2026-12-05

An order the platform takes back (已退回, 改派) and hands out again keeps its number. The outbox keys its messages
to the platform by order (``zp:G``, ``qs:G``, ``df:G:0``), and those of the first hand-out were delivered: the new
hand-out's 转派, 签收 and 答复 were taken for them and never sent. They are keyed ``G#<handout>`` now. Rows from
before were handed out once (0).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_workorder_handout"
down_revision = "0018_first_reply"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("citizen_workorders") as batch:
        batch.add_column(sa.Column("handout", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("citizen_workorders") as batch:
        batch.drop_column("handout")
