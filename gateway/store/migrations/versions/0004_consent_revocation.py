"""consents can be revoked before they expire: consents.revoked_at (indexed: gateways poll for new revocations)

Revision ID: 0004_consent_revocation
Revises: 0003_gateway
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0004_consent_revocation"
down_revision = "0003_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("revoked_at", gateway.store.tables.UtcDateTime(), nullable=True))
        batch.create_index(batch.f("ix_consents_revoked_at"), ["revoked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_index(batch.f("ix_consents_revoked_at"))
        batch.drop_column("revoked_at")
