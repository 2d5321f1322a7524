"""initial ledger schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cases',
    sa.Column('case_no', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('origin_system', sa.String(length=64), nullable=False),
    sa.Column('origin_source_id', sa.String(length=128), nullable=False),
    sa.Column('source_updated_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('dept_code', sa.String(length=32), nullable=True),
    sa.Column('item_code', sa.String(length=64), nullable=True),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('case_no', name=op.f('pk_cases'))
    )
    op.create_table('dead_letters',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=True),
    sa.Column('case_no', sa.String(length=64), nullable=True),
    sa.Column('cursor', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('issues', sa.Text(), nullable=True),
    sa.Column('mapping_version', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
    sa.UniqueConstraint('kind', 'system', 'stream', 'source_id', name='uq_dead_letters_record')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letters_system_status'), ['system', 'status'], unique=False)

    op.create_table('leases',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('holder', sa.String(length=128), nullable=False),
    sa.Column('host', sa.String(length=128), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('acquired_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('expires_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('case_no', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('target_system', sa.String(length=64), nullable=False),
    sa.Column('operation', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=True),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('delivered_at', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('case_no', 'version', 'target_system', name=op.f('uq_outbox_case_no_version_target_system'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)

    op.create_table('runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('finished_at', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('read', sa.Integer(), nullable=False),
    sa.Column('inserted', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('deleted', sa.Integer(), nullable=False),
    sa.Column('watermark_before', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.Column('watermark_after', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_runs'))
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_system_started_at'), ['system', 'started_at'], unique=False)

    op.create_table('source_records',
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('case_no', sa.String(length=64), nullable=True),
    sa.Column('cursor', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('mapping_version', sa.String(length=32), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('first_seen_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('system', 'source_id', name=op.f('pk_source_records'))
    )
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_records_case_no'), ['case_no'], unique=False)

    op.create_table('watermarks',
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=64), nullable=False),
    sa.Column('cursor', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.Column('checkpoint', sa.Text(), nullable=True),
    sa.Column('updated_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('system', 'stream', name=op.f('pk_watermarks'))
    )


def downgrade() -> None:
    op.drop_table('watermarks')
    with op.batch_alter_table('source_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_records_case_no'))

    op.drop_table('source_records')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_system_started_at'))

    op.drop_table('runs')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_status_next_attempt_at'))

    op.drop_table('outbox')
    op.drop_table('leases')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letters_system_status'))

    op.drop_table('dead_letters')
    op.drop_table('cases')
