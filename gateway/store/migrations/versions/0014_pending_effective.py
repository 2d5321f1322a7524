"""the certificates announced as not yet valid are found through a partial index (certificate_events where status
is ``not_yet_valid``), not a scan of every event; a quarantine entry keeps the refused copy's change time
(certificate_quarantine.source_changed_at)

Revision ID: 0014_pending_effective
Revises: 0013_certificate_validity
Create Date: 2026-12-04

Each certificate harvest asks which certificates announced ``not_yet_valid`` have reached their ``valid_from``
(``store.certificates.certificates_now_effective``). Without an index on the events' status, that question read
the whole events table on every harvest: at a million certificates, millions of rows a run. The partial index
holds only the events that announced a future start — a small share of issues — so the question reads those.

A served certificate marked with a refused newer version was unmarked by any copy of its own record newer than the
one served — even one older than the refused copy (another record of the issuer claiming the same identifier, read
later in a lookback). The entry now keeps the refused copy's change time; entries from before stay without one (as
before: any newer copy supersedes them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0014_pending_effective"
down_revision = "0013_certificate_validity"
branch_labels = None
depends_on = None

_WHERE = sa.text("status = 'not_yet_valid'")


def upgrade() -> None:
    with op.batch_alter_table("certificate_quarantine") as batch:
        batch.add_column(sa.Column("source_changed_at", gateway.store.tables.UtcDateTime(), nullable=True))
    op.create_index("ix_certificate_events_not_yet_valid", "certificate_events", ["identifier"],
                    sqlite_where=_WHERE, postgresql_where=_WHERE)


def downgrade() -> None:
    op.drop_index("ix_certificate_events_not_yet_valid", table_name="certificate_events")
    with op.batch_alter_table("certificate_quarantine") as batch:
        batch.drop_column("source_changed_at")
