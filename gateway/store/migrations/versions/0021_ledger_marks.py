"""ledger_marks: facts about the ledger as a whole — first, that its personal data is sealed, and under which keys

Revision ID: 0021_ledger_marks
Revises: 0020_callback_predates
Create Date: 2026-12-05

A worker whose key file was not mounted synced into a sealed ledger and wrote ID numbers and raw payloads in clear
beside the sealed ones (and ``keys rotate`` then called the ledger clean: it only looks at sealed values); a worker
given a fresh key file sealed under keys no other process holds, with another blind-index key. The ledger now says
it is sealed (``pii.sealed``, with a fingerprint of its blind-index key), and a writer without the ledger's keys is
refused before it writes. A ledger from before: marked sealed when it holds any sealed value (its fingerprint is
taken from the first writer with keys).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0021_ledger_marks"
down_revision = "0020_callback_predates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    marks = op.create_table(
        "ledger_marks",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    bind = op.get_bind()
    first_byte = ("substring(payload from 1 for 1) = '\\x73'::bytea" if bind.dialect.name == "postgresql"
                  else "substr(payload, 1, 1) = X'73'")  # b"s": a payload sealed (gateway.store.payloads)
    sealed = bind.execute(sa.text(
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM cases WHERE data LIKE '%enc:v1:%') "
        f"OR EXISTS (SELECT 1 FROM source_records WHERE {first_byte} OR raw LIKE 'encb:v1:%')")).first()
    if sealed is not None:
        now = datetime.now(UTC).replace(tzinfo=None)
        op.bulk_insert(marks, [{"name": "pii.sealed", "updated_at": now,
                                "value": json.dumps({"since": now.isoformat() + "+00:00", "blind_index": None})}])


def downgrade() -> None:
    op.drop_table("ledger_marks")
