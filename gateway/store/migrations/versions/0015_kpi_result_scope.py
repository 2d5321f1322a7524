"""the KPI contribution rows keep each case's canonical result and the 通办目录 scope it was accepted under
(kpi_case_facts.result, kpi_case_facts.tongban_scope)

Revision ID: 0015_kpi_result_scope
Revises: 0014_pending_effective
Create Date: 2026-12-04

办件量 and 办结率 counted every live case, so a case refused at routing (不予受理, written with a finish time by the
hand-off) or withdrawn (撤回) added one case and one finished case; the rows now keep the result, and the KPIs count
those apart. 全城通办件 read the harvested catalogue's ``tongban`` field, which no routing decision uses; the row
now keeps the 通办目录 the accepting office took the item under, as routing reads it.

Rows from before have neither (NULL): the refresh computes every row again on its next run, because their
checkpoint records no fingerprint of what they were computed with (``gateway.ops.kpi.refresh_facts``) — no data
is rewritten here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_kpi_result_scope"
down_revision = "0014_pending_effective"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kpi_case_facts") as batch:
        batch.add_column(sa.Column("result", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("tongban_scope", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kpi_case_facts") as batch:
        batch.drop_column("tongban_scope")
        batch.drop_column("result")
