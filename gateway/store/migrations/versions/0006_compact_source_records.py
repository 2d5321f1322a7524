"""source_records: compressed binary raw payloads and a raw hash (issue 16, the write path at scale)

``payload`` holds the source's JSON compressed with a per-system dictionary (``payload_dictionaries``) and sealed
with PII keys, as bytes: no base64, no second copy;
``raw`` becomes nullable and keeps the rows written before, which still read (``gateway.store.payloads``).
``raw_hash`` is the hash of the JSON as received: an unchanged record is skipped before mapping.

Revision ID: 0006_compact_source_records
Revises: 0005_run_quality
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0006_compact_source_records"
down_revision = "0005_run_quality"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payload_dictionaries",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", gateway.store.tables.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payload_dictionaries")),
    )
    with op.batch_alter_table("payload_dictionaries") as batch:
        batch.create_index(batch.f("ix_payload_dictionaries_system_created_at"), ["system", "created_at"],
                           unique=False)
    with op.batch_alter_table("source_records") as batch:
        batch.add_column(sa.Column("raw_hash", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("payload", sa.LargeBinary(), nullable=True))
        batch.alter_column("raw", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # Rows written since hold their payload only in ``payload``: downgrading would lose them, so refuse.
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM source_records WHERE raw IS NULL LIMIT 1")).first() is not None:
        raise RuntimeError("source_records holds compressed payloads only readable at 0006; cannot downgrade")
    with op.batch_alter_table("source_records") as batch:
        batch.alter_column("raw", existing_type=sa.Text(), nullable=False)
        batch.drop_column("payload")
        batch.drop_column("raw_hash")
    op.drop_table("payload_dictionaries")
