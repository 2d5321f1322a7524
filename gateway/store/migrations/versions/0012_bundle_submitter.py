"""a bundle's reference is the submitting client's own (bundle_applications.submitted_by, application_sha256); a
holder's access log is read a page at a time (audit_log index on holder_ref, seq)

Revision ID: 0012_bundle_submitter
Revises: 0011_clock_due
Create Date: 2026-12-04

The hall's ``reference`` (its own application number) made a retried submission the same bundle, but it was
global: another client applying under the same reference got the hall's bundle back. The reference is now unique
per submitter (the API client; ``''`` for the operator's CLI and the DAGs), and the checked application's hash
tells a retry (the same application: the same bundle) from a different application under a used reference (a
conflict). Rows from before keep ``''`` and no hash (a retry of them is taken as the same application).

The access log (``POST /v1/holders/access-log``) pages by sequence number; with the index on ``(holder_ref, seq)``
a page is an index range, however many entries a busy company's log holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_bundle_submitter"
down_revision = "0011_clock_due"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bundle_applications") as batch:
        batch.add_column(sa.Column("submitted_by", sa.String(length=64), nullable=False, server_default=sa.text("''")))
        batch.add_column(sa.Column("application_sha256", sa.String(length=64), nullable=True))
        batch.drop_constraint("uq_bundle_applications_reference", type_="unique")
        batch.create_unique_constraint("uq_bundle_applications_reference",
                                       ["bundle_code", "submitted_by", "reference"])
    op.drop_index("ix_audit_log_holder_ref", table_name="audit_log")
    op.create_index("ix_audit_log_holder_ref_seq", "audit_log", ["holder_ref", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_holder_ref_seq", table_name="audit_log")
    op.create_index("ix_audit_log_holder_ref", "audit_log", ["holder_ref"])
    with op.batch_alter_table("bundle_applications") as batch:
        batch.drop_constraint("uq_bundle_applications_reference", type_="unique")
        batch.create_unique_constraint("uq_bundle_applications_reference", ["bundle_code", "reference"])
        batch.drop_column("application_sha256")
        batch.drop_column("submitted_by")
