"""kpi_case_facts: the Beijing months of acceptance and of the finish, beside the month of application

Revision ID: 0029_kpi_month_of
Revises: 0028_sealed_mark_everywhere
Create Date: 2026-12-07

Every case KPI was grouped by the month of 申请时间 alone: a monthly report of what was finished (办结, 按时办结)
could not be produced, and a past month's figures kept moving as its cases finished. The refresh computes every row
again once (its fact logic changed with this revision), so the new columns are filled for every case.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_kpi_month_of"
down_revision = "0028_sealed_mark_everywhere"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kpi_case_facts") as batch:
        batch.add_column(sa.Column("accepted_month", sa.String(7), nullable=True))
        batch.add_column(sa.Column("finished_month", sa.String(7), nullable=True))
    op.create_index("ix_kpi_case_facts_accepted_month", "kpi_case_facts", ["accepted_month"])
    op.create_index("ix_kpi_case_facts_finished_month", "kpi_case_facts", ["finished_month"])


def downgrade() -> None:
    op.drop_index("ix_kpi_case_facts_finished_month", table_name="kpi_case_facts")
    op.drop_index("ix_kpi_case_facts_accepted_month", table_name="kpi_case_facts")
    with op.batch_alter_table("kpi_case_facts") as batch:
        batch.drop_column("finished_month")
        batch.drop_column("accepted_month")
