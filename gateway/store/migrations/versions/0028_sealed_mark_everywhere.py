"""ledger_marks: a ledger whose only sealed values were outside the cases is marked sealed too

Revision ID: 0028_sealed_mark_everywhere
Revises: 0027_deferral_index
Create Date: 2026-12-07

Migration 0021 marked a ledger sealed (``pii.sealed``) when its cases or source records held a sealed value. A
ledger running only the 12345 / 好差评 side, the certificate gateway or the 一件事 intake held its sealed values
elsewhere — a complaint, a rating's comment, a holder's ID number in a certificate, a bundle's material — was left
unmarked, and a worker without the key file was let write clear text beside them (an outside review's find). This
looks at every column that may hold one, as of this revision, when the ledger is not marked yet.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0028_sealed_mark_everywhere"
down_revision = "0027_deferral_index"
branch_labels = None
depends_on = None

_SEALED_SOMEWHERE = [  # (table, column, LIKE pattern): every column that may hold a sealed value at this revision
    ("cases", "data", "%enc:v1:%"),
    ("source_records", "raw", "encb:v1:%"),
    ("dead_letters", "raw", "encb:v1:%"),
    ("dead_letters", "raw", "%enc:v1:%"),
    ("certificate_quarantine", "raw", "encb:v1:%"),
    ("certificate_quarantine", "raw", "%enc:v1:%"),
    ("certificates", "document", "%enc:v1:%"),
    ("certificates", "file", "encf:v1:%"),
    ("bundle_applications", "form", "%enc:v1:%"),
    ("bundle_materials", "content", "encb:v1:%"),
    ("citizen_evaluations", "comment", "encb:v1:%"),
    ("citizen_workorders", "content", "encb:v1:%"),
    ("citizen_outbox", "payload", "encb:v1:%"),
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM ledger_marks WHERE name = 'pii.sealed'")).first() is not None:
        return
    first_byte = ("substring(payload from 1 for 1) = '\\x73'::bytea" if bind.dialect.name == "postgresql"
                  else "substr(payload, 1, 1) = X'73'")  # b"s": a payload sealed (gateway.store.payloads)
    checks = [f"EXISTS (SELECT 1 FROM source_records WHERE {first_byte})",
              *(f"EXISTS (SELECT 1 FROM {table} WHERE {column} LIKE '{pattern}')"
                for table, column, pattern in _SEALED_SOMEWHERE)]
    if bind.execute(sa.text("SELECT 1 WHERE " + " OR ".join(checks))).first() is None:
        return
    now = datetime.now(UTC).replace(tzinfo=None)
    bind.execute(sa.text("INSERT INTO ledger_marks (name, value, updated_at) VALUES ('pii.sealed', :value, :now)"),
                 {"value": json.dumps({"since": now.isoformat() + "+00:00", "blind_index": None}), "now": now})


def downgrade() -> None:
    """Nothing to undo: the mark says what the ledger holds, whichever revision reads it."""
