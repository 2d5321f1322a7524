"""cases: a partial index of the cases whose document names a certificate type, for the deferred-material step

Revision ID: 0027_deferral_index
Revises: 0026_catalogue_copies
Create Date: 2026-12-07

The step (gateway.process.deferred) looks, every run, for cases owed a material another department's certificate
may supply (容缺受理). Its query matched ``data LIKE '%"certificate_type":"%'`` over every live case: at a million
cases each run read and scanned every document. The index holds only the cases whose document has the key at all
(every case with a deferred material, ``"certificate_type":null`` included: the 容缺 cases, not every case),
ordered by number as the step pages; both PostgreSQL and SQLite use it because the step's
query repeats the predicate word for word (gateway.store.process.DEFERRAL_PREDICATE).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_deferral_index"
down_revision = "0026_catalogue_copies"
branch_labels = None
depends_on = None

_PREDICATE = """data LIKE '%"certificate_type":%'"""  # gateway.store.tables.DEFERRAL_PREDICATE, as of this revision


def upgrade() -> None:
    op.create_index("ix_cases_certificate_deferrals", "cases", ["case_no"],
                    sqlite_where=sa.text(_PREDICATE), postgresql_where=sa.text(_PREDICATE))


def downgrade() -> None:
    op.drop_index("ix_cases_certificate_deferrals", table_name="cases")
