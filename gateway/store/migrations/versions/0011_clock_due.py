"""the deadline scan reads what changed or fell due: cases.clock_due_at/clock_flags, a trigger, clock_scans;
alerts.stage/due_at so the console counts time limits in SQL; source_records (system, cursor) for a day's
reconciliation

Revision ID: 0011_clock_due
Revises: 0010_bundles, 0002_orchestration (it also merges the two heads 0001 left: 0002 and 0003 both
          branched from it)
Create Date: 2026-12-03

Every case starts due (the column's default, the epoch): the first scan after this migration reads every clock
once, as the scan did every time before. A trigger marks a case due again whenever its ``data``, ``version`` or
``deleted`` change, whoever writes it (the sync, the hand-off, a repair by hand), so no writer can forget.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0011_clock_due"
down_revision = ("0010_bundles", "0002_orchestration")
branch_labels = None
depends_on = None

_Utc = gateway.store.tables.UtcDateTime

SQLITE_TRIGGER = """
CREATE TRIGGER cases_clock_due AFTER UPDATE OF data, version, deleted ON cases
FOR EACH ROW WHEN (NEW.data IS NOT OLD.data OR NEW.version IS NOT OLD.version OR NEW.deleted IS NOT OLD.deleted)
  AND NEW.clock_due_at IS NOT '1970-01-01 00:00:00'
BEGIN
  UPDATE cases SET clock_due_at = '1970-01-01 00:00:00' WHERE case_no = NEW.case_no;
END
"""

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION tongban_cases_clock_due() RETURNS trigger AS $$
BEGIN
  IF NEW.data IS DISTINCT FROM OLD.data OR NEW.version IS DISTINCT FROM OLD.version
     OR NEW.deleted IS DISTINCT FROM OLD.deleted THEN
    NEW.clock_due_at := TIMESTAMP '1970-01-01 00:00:00';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql
"""

POSTGRES_TRIGGER = """
CREATE TRIGGER cases_clock_due BEFORE UPDATE OF data, version, deleted ON cases
FOR EACH ROW EXECUTE FUNCTION tongban_cases_clock_due()
"""


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("clock_due_at", _Utc(), nullable=True,
                                   server_default=sa.text("'1970-01-01 00:00:00'")))
        batch.add_column(sa.Column("clock_flags", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.create_index("ix_cases_clock_due", "cases", ["clock_due_at", "case_no", "clock_flags"],
                    sqlite_where=sa.text("clock_due_at IS NOT NULL"),
                    postgresql_where=sa.text("clock_due_at IS NOT NULL"))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("stage", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("due_at", _Utc(), nullable=True))
    op.create_index("ix_alerts_case_no", "alerts", ["case_no"])
    op.drop_index("ix_alerts_status_kind", table_name="alerts")
    op.create_index("ix_alerts_open_levels", "alerts", ["status", "level", "kind", "system", "stage"])
    op.create_index("ix_alerts_overdue", "alerts", ["status", "level", "due_at"])
    op.create_index("ix_source_records_system_cursor", "source_records", ["system", "cursor"])
    op.create_table(
        "clock_scans",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("scanned_to", _Utc(), nullable=False),
        sa.Column("updated_at", _Utc(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_clock_scans")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        op.execute(SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS cases_clock_due ON cases")
        op.execute("DROP FUNCTION IF EXISTS tongban_cases_clock_due()")
    else:
        op.execute("DROP TRIGGER IF EXISTS cases_clock_due")
    op.drop_table("clock_scans")
    op.drop_index("ix_source_records_system_cursor", table_name="source_records")
    op.drop_index("ix_alerts_overdue", table_name="alerts")
    op.drop_index("ix_alerts_open_levels", table_name="alerts")
    op.create_index("ix_alerts_status_kind", "alerts", ["status", "kind"])
    op.drop_index("ix_alerts_case_no", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("due_at")
        batch.drop_column("stage")
    op.drop_index("ix_cases_clock_due", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("clock_flags")
        batch.drop_column("clock_due_at")
