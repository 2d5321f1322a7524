"""the certificates announced as not yet valid are found through a partial index (certificate_events where status
is ``not_yet_valid``), not a scan of every event

Revision ID: 0014_pending_effective
Revises: 0013_certificate_validity
Create Date: 2026-12-04

Each certificate harvest asks which certificates announced ``not_yet_valid`` have reached their ``valid_from``
(``store.certificates.certificates_now_effective``). Without an index on the events' status, that question read
the whole events table on every harvest: at a million certificates, millions of rows a run. The partial index
holds only the events that announced a future start — a small share of issues — so the question reads those.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_pending_effective"
down_revision = "0013_certificate_validity"
branch_labels = None
depends_on = None

_WHERE = sa.text("status = 'not_yet_valid'")


def upgrade() -> None:
    op.create_index("ix_certificate_events_not_yet_valid", "certificate_events", ["identifier"],
                    sqlite_where=_WHERE, postgresql_where=_WHERE)


def downgrade() -> None:
    op.drop_index("ix_certificate_events_not_yet_valid", table_name="certificate_events")
