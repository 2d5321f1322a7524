"""catalogue and KPIs: 实施清单 entries and their versions, audit runs and findings, per-case KPI rows

Revision ID: 0007_catalogue_kpi
Revises: 0006_compact_source_records
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0007_catalogue_kpi"
down_revision = "0006_compact_source_records"
branch_labels = None
depends_on = None

_Utc = gateway.store.tables.UtcDateTime


def _entry_key() -> list[sa.Column]:
    return [sa.Column("catalog_code", sa.String(length=16), nullable=False),
            sa.Column("item_code", sa.String(length=64), nullable=False),
            sa.Column("level", sa.String(length=2), nullable=False),
            sa.Column("division", sa.String(length=12), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "catalogue_items",
        *_entry_key(),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("dept_code", sa.String(length=32), nullable=True),
        sa.Column("dept_count", sa.Integer(), nullable=False),
        sa.Column("legal_days", sa.Integer(), nullable=True),
        sa.Column("legal_unit", sa.String(length=16), nullable=True),
        sa.Column("promised_days", sa.Integer(), nullable=True),
        sa.Column("promised_unit", sa.String(length=16), nullable=True),
        sa.Column("visits", sa.Integer(), nullable=True),
        sa.Column("tongban", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_version", sa.String(length=32), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_changed_at", _Utc(), nullable=True),
        sa.Column("updated_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("catalog_code", "item_code", "level", "division", name=op.f("pk_catalogue_items")),
        sa.UniqueConstraint("source", "source_id", name="uq_catalogue_items_source"),
    )
    op.create_index(op.f("ix_catalogue_items_item_code"), "catalogue_items", ["item_code"], unique=False)
    op.create_table(
        "catalogue_item_versions",
        *_entry_key(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("source_changed_at", _Utc(), nullable=True),
        sa.Column("recorded_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("catalog_code", "item_code", "level", "division", "version",
                                name=op.f("pk_catalogue_item_versions")),
    )
    op.create_table(
        "catalogue_audit_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", _Utc(), nullable=False),
        sa.Column("finished_at", _Utc(), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("still_open", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("params", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_audit_runs")),
    )
    op.create_table(
        "catalogue_findings",
        sa.Column("finding_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=48), nullable=False),
        sa.Column("element", sa.String(length=32), nullable=False),
        sa.Column("catalog_code", sa.String(length=16), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=2), nullable=True),
        sa.Column("division", sa.String(length=12), nullable=True),
        sa.Column("expected", sa.Text(), nullable=True),
        sa.Column("found", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_run", sa.Integer(), nullable=False),
        sa.Column("last_run", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", _Utc(), nullable=False),
        sa.Column("last_seen_at", _Utc(), nullable=False),
        sa.Column("fixed_at", _Utc(), nullable=True),
        sa.PrimaryKeyConstraint("finding_key", name=op.f("pk_catalogue_findings")),
    )
    op.create_index(op.f("ix_catalogue_findings_status_kind"), "catalogue_findings", ["status", "kind"],
                    unique=False)
    op.create_table(
        "kpi_case_facts",
        sa.Column("case_no", sa.String(length=64), nullable=False),
        sa.Column("case_version", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=True),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("dept_code", sa.String(length=32), nullable=True),
        sa.Column("office_code", sa.String(length=64), nullable=True),
        sa.Column("office_division", sa.String(length=12), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("instant", sa.Boolean(), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("with_deadline", sa.Boolean(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=True),
        sa.Column("cross_province", sa.Boolean(), nullable=True),
        sa.Column("promised_days", sa.Integer(), nullable=True),
        sa.Column("materials", sa.Integer(), nullable=False),
        sa.Column("materials_reused", sa.Integer(), nullable=False),
        sa.Column("submissions_saved", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("case_no", name=op.f("pk_kpi_case_facts")),
    )
    op.create_index(op.f("ix_kpi_case_facts_month"), "kpi_case_facts", ["month"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_kpi_case_facts_month"), table_name="kpi_case_facts")
    op.drop_table("kpi_case_facts")
    op.drop_index(op.f("ix_catalogue_findings_status_kind"), table_name="catalogue_findings")
    op.drop_table("catalogue_findings")
    op.drop_table("catalogue_audit_runs")
    op.drop_table("catalogue_item_versions")
    op.drop_index(op.f("ix_catalogue_items_item_code"), table_name="catalogue_items")
    op.drop_table("catalogue_items")
