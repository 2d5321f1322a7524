"""a certificate's validity start is a column (certificates.valid_from), and a served certificate says when a newer
version from its issuer was refused (certificates.refused_entry/refused_reason/refused_at); quarantine entries
can be resolved by an operator (certificate_quarantine.resolved_at/resolution) and know a re-read of the same copy
(payload_hash)

Revision ID: 0013_certificate_validity
Revises: 0012_bundle_submitter
Create Date: 2026-12-04

The gateway answers a certificate's status from columns, and only ``valid_until`` was one: a licence valid from
next month was served as valid today. ``valid_from`` is backfilled from each stored document's ``valid_from`` (the
canonical metadata has always required it); a document that does not say stays NULL (no start: valid as before).

A quarantined newer version of a served certificate left the old one served with no sign of it. The flag is
backfilled from the quarantine as it stands: an entry of the same source record (or naming the identifier from
the same issuing system) was refused after the certificate's last accepted copy, since accepting a copy clears
its record's entry.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0013_certificate_validity"
down_revision = "0012_bundle_submitter"
branch_labels = None
depends_on = None

_Utc = gateway.store.tables.UtcDateTime
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BATCH = 1000

_certificates = sa.table("certificates", sa.column("identifier", sa.String), sa.column("document", sa.Text),
                         sa.column("valid_from", sa.String), sa.column("source_system", sa.String),
                         sa.column("source_id", sa.String), sa.column("refused_entry", sa.Integer),
                         sa.column("refused_reason", sa.Text), sa.column("refused_at", _Utc()),
                         sa.column("updated_at", _Utc()))
_quarantine = sa.table("certificate_quarantine", sa.column("id", sa.Integer), sa.column("source_system", sa.String),
                       sa.column("source_id", sa.String), sa.column("identifier", sa.String),
                       sa.column("reason", sa.Text), sa.column("created_at", _Utc()))


def _document_valid_from(document: str | None) -> str | None:
    try:
        value = json.loads(document or "").get("valid_from")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and _ISO_DAY.match(value) else None


def _backfill_valid_from(bind: sa.Connection) -> None:
    c = _certificates.c
    last = ""
    while True:
        rows = bind.execute(sa.select(c.identifier, c.document).where(c.identifier > last)
                            .order_by(c.identifier).limit(_BATCH)).all()
        if not rows:
            return
        found = [{"k": ident, "v": day} for ident, doc in rows if (day := _document_valid_from(doc)) is not None]
        if found:
            bind.execute(sa.update(_certificates).where(c.identifier == sa.bindparam("k"))
                         .values(valid_from=sa.bindparam("v")), found)
        last = rows[-1][0]


def _backfill_refusals(bind: sa.Connection) -> None:
    c, q = _certificates.c, _quarantine.c
    for entry in bind.execute(sa.select(q.id, q.source_system, q.source_id, q.identifier, q.reason, q.created_at)
                              .order_by(q.created_at, q.id)).all():
        same = sa.and_(c.source_system == entry.source_system, c.source_id == entry.source_id)
        if entry.identifier:
            same = sa.or_(same, sa.and_(c.source_system == entry.source_system, c.identifier == entry.identifier))
        # refused after the copy the library accepted last: a refusal the library has since moved past (a newer
        # copy verified after it) stands for nothing
        bind.execute(sa.update(_certificates).where(same, c.updated_at <= entry.created_at).values(
            refused_entry=entry.id, refused_reason=entry.reason, refused_at=entry.created_at))


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("valid_from", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("refused_entry", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("refused_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("refused_at", _Utc(), nullable=True))
    op.create_index("ix_certificates_refused_entry", "certificates", ["refused_entry"],
                    sqlite_where=sa.text("refused_entry IS NOT NULL"),
                    postgresql_where=sa.text("refused_entry IS NOT NULL"))
    with op.batch_alter_table("certificate_quarantine") as batch:
        batch.add_column(sa.Column("payload_hash", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("resolved_at", _Utc(), nullable=True))
        batch.add_column(sa.Column("resolution", sa.Text(), nullable=True))
    bind = op.get_bind()
    _backfill_valid_from(bind)
    _backfill_refusals(bind)


def downgrade() -> None:
    with op.batch_alter_table("certificate_quarantine") as batch:
        batch.drop_column("resolution")
        batch.drop_column("resolved_at")
        batch.drop_column("payload_hash")
    op.drop_index("ix_certificates_refused_entry", table_name="certificates")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("refused_at")
        batch.drop_column("refused_reason")
        batch.drop_column("refused_entry")
        batch.drop_column("valid_from")
