"""cases.origin_digest, cases.field_sources: a version written from a copy of a case others shaped too

Revision ID: 0022_origin_digest
Revises: 0021_ledger_marks
Create Date: 2026-12-06

When the hall's front desk and a department both hold a case, each copy speaks for its own part
(``gateway.models.survivorship``): a version written from the hall's copy keeps the department's acceptance and
steps, so its content is no longer the hall record's. The nightly reconciliation compares the case a record wrote
with the record (``case_divergent``): it reads this column where it is set (the writing copy's own digest) and
the version's ``content_hash`` where it is not (a copy merged whole: every row from before). ``field_sources``
(JSON, sparse) names who set each value the version's writer did not: the hall may not override the handling a
department or Tongban set, and the hand-off reads who gave the acceptance or the result from it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_origin_digest"
down_revision = "0021_ledger_marks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN on both databases: a batch copy of the table on SQLite would drop its clock trigger (0011)
    op.add_column("cases", sa.Column("origin_digest", sa.String(64), nullable=True))
    op.add_column("cases", sa.Column("field_sources", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE cases DROP COLUMN field_sources")  # SQLite >= 3.35 and PostgreSQL; the trigger stays
    op.execute("ALTER TABLE cases DROP COLUMN origin_digest")
