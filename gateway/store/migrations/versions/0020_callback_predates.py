"""citizen_callbacks.predates: a 差评 whose callback was due before Tongban's cut-over

Revision ID: 0020_callback_predates
Revises: 0019_workorder_handout
Create Date: 2026-12-05

The first read of a collection point brings its history: every 差评 of past months opened a callback "due the same
working day" long gone — all overdue at once, red alerts nobody could clear but by recording callbacks after the fact
(sent to the province as if they were new), and a 回访 figure of 0% for months before Tongban. A callback due before
the cut-over (policy ``callbacks_from``, else Tongban's first read of the collection point) is kept and listed, not
counted nor alerted. Rows from before: flagged against the ledger's first callback (its first read).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_callback_predates"
down_revision = "0019_workorder_handout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("citizen_callbacks") as batch:
        batch.add_column(sa.Column("predates", sa.Boolean(), nullable=False, server_default=sa.false()))
    # a ledger that read a collection point before: its first read is when it opened its first callback (what the
    # sync takes as the cut-over from now on); the history that read brought is flagged as the sync now flags it
    op.execute("UPDATE citizen_callbacks SET predates = "
               "CASE WHEN due_at < (SELECT MIN(c.created_at) FROM citizen_callbacks c) THEN TRUE ELSE FALSE END")


def downgrade() -> None:
    with op.batch_alter_table("citizen_callbacks") as batch:
        batch.drop_column("predates")
