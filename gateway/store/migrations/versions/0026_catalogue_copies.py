"""catalogue_items and catalogue_item_versions keyed by source too: several catalogue systems list one entry

Revision ID: 0026_catalogue_copies
Revises: 0025_ticket_numbers
Create Date: 2026-12-07

The national 事项 catalogue and the provincial one both list the national entry (the province copies it down): the
second system's harvest failed on the entry's key every run, storing none of its entries, and the harvests after
it in the DAG's list never ran. Each source's copy is now a row of its own; the audit compares the copies
(``copy_differs``) and everything else reads one copy per entry. The versions an entry had are kept under the
source that stored them (that of the entry's row).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_catalogue_copies"
down_revision = "0025_ticket_numbers"
branch_labels = None
depends_on = None

_ENTRY = ("catalog_code", "item_code", "level", "division")


def upgrade() -> None:
    with op.batch_alter_table("catalogue_items") as batch:
        batch.drop_constraint("pk_catalogue_items", type_="primary")
        batch.create_primary_key("pk_catalogue_items", [*_ENTRY, "source"])
    with op.batch_alter_table("catalogue_item_versions") as batch:
        batch.add_column(sa.Column("source", sa.String(length=64), nullable=True))
    op.execute("UPDATE catalogue_item_versions SET source = COALESCE((SELECT i.source FROM catalogue_items i WHERE "
               + " AND ".join(f"i.{k} = catalogue_item_versions.{k}" for k in _ENTRY) + "), '')")
    with op.batch_alter_table("catalogue_item_versions") as batch:
        batch.alter_column("source", existing_type=sa.String(length=64), nullable=False)
        batch.drop_constraint("pk_catalogue_item_versions", type_="primary")
        batch.create_primary_key("pk_catalogue_item_versions", [*_ENTRY, "source", "version"])


def downgrade() -> None:
    """Only while no entry is listed by two sources: the old key holds one copy."""
    keys = ", ".join(_ENTRY)
    shared = op.get_bind().execute(sa.text(f"SELECT {keys} FROM catalogue_items GROUP BY {keys} HAVING COUNT(*) > 1"
                                           )).first()
    if shared is not None:
        raise RuntimeError(f"cannot downgrade below 0026_catalogue_copies: the entry {'/'.join(map(str, shared))} is "
                           "listed by several catalogue systems, and the older schema keeps one copy of an entry — "
                           "delete the copies of all but one system first")
    with op.batch_alter_table("catalogue_item_versions") as batch:
        batch.drop_constraint("pk_catalogue_item_versions", type_="primary")
        batch.create_primary_key("pk_catalogue_item_versions", [*_ENTRY, "version"])
        batch.drop_column("source")
    with op.batch_alter_table("catalogue_items") as batch:
        batch.drop_constraint("pk_catalogue_items", type_="primary")
        batch.create_primary_key("pk_catalogue_items", list(_ENTRY))
