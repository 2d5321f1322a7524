"""一件事 bundles: applications, their materials stored once, their parts

Revision ID: 0010_bundles
Revises: 0009_citizen
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0010_bundles"
down_revision = "0009_citizen"
branch_labels = None
depends_on = None

_Utc = gateway.store.tables.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "bundle_applications",
        sa.Column("bundle_no", sa.String(length=40), nullable=False),
        sa.Column("bundle_code", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("form", sa.Text(), nullable=False),
        sa.Column("consent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("failed_part", sa.String(length=32), nullable=True),
        sa.Column("submitted_at", _Utc(), nullable=False),
        sa.Column("due_at", _Utc(), nullable=True),
        sa.Column("finished_at", _Utc(), nullable=True),
        sa.Column("updated_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_no", name=op.f("pk_bundle_applications")),
        sa.UniqueConstraint("bundle_code", "reference", name="uq_bundle_applications_reference"),
    )
    op.create_index(op.f("ix_bundle_applications_status"), "bundle_applications", ["status"], unique=False)
    op.create_table(
        "bundle_materials",
        sa.Column("bundle_no", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("received_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_no", "code", name=op.f("pk_bundle_materials")),
    )
    op.create_table(
        "bundle_parts",
        sa.Column("bundle_no", sa.String(length=40), nullable=False),
        sa.Column("part", sa.String(length=32), nullable=False),
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("released_at", _Utc(), nullable=True),
        sa.Column("finished_at", _Utc(), nullable=True),
        sa.Column("certificate_no", sa.String(length=128), nullable=True),
        sa.Column("certificate_id", sa.String(length=160), nullable=True),
        sa.Column("consent_id", sa.String(length=32), nullable=True),
        sa.Column("seen_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("bundle_no", "part", name=op.f("pk_bundle_parts")),
        sa.UniqueConstraint("case_no", name=op.f("uq_bundle_parts_case_no")),
    )
    op.create_index(op.f("ix_bundle_parts_state"), "bundle_parts", ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("bundle_parts")
    op.drop_table("bundle_materials")
    op.drop_table("bundle_applications")
