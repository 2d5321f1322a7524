"""certificate-sharing gateway: certificates, issuer keys, clients, consents, audit chain, webhooks

Its own branch off 0001 (features add their tables independently; ``upgrade`` applies every head).

Revision ID: 0003_gateway
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import gateway.store.tables

revision = "0003_gateway"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_clients',
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('department_code', sa.String(length=32), nullable=True),
    sa.Column('scopes', sa.Text(), nullable=False),
    sa.Column('secret_salt', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=128), nullable=False),
    sa.Column('rate_limit', sa.Float(), nullable=True),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('expires_at', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.Column('revoked_at', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_api_clients'))
    )
    op.create_table('audit_checkpoints',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_checkpoints'))
    )
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=True),
    sa.Column('holder_ref', sa.String(length=64), nullable=True),
    sa.Column('certificate', sa.String(length=160), nullable=True),
    sa.Column('item_code', sa.String(length=64), nullable=True),
    sa.Column('case_no', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_holder_ref'), 'audit_log', ['holder_ref'], unique=False)
    op.create_table('certificate_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('identifier', sa.String(length=160), nullable=False),
    sa.Column('type_code', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('previous_status', sa.String(length=16), nullable=True),
    sa.Column('renewed_as', sa.String(length=160), nullable=True),
    sa.Column('at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_events'))
    )
    op.create_index(op.f('ix_certificate_events_identifier'), 'certificate_events', ['identifier'], unique=False)
    op.create_table('certificate_holders',
    sa.Column('identifier', sa.String(length=160), nullable=False),
    sa.Column('holder_bidx', sa.String(length=64), nullable=False),
    sa.Column('type_code', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('identifier', 'holder_bidx', name=op.f('pk_certificate_holders'))
    )
    op.create_index(op.f('ix_certificate_holders_holder_bidx_type_code'), 'certificate_holders', ['holder_bidx', 'type_code'], unique=False)
    op.create_table('certificate_quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('identifier', sa.String(length=160), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_quarantine')),
    sa.UniqueConstraint('source_system', 'source_id', name='uq_certificate_quarantine_source')
    )
    op.create_table('certificates',
    sa.Column('identifier', sa.String(length=160), nullable=False),
    sa.Column('legacy_identifier', sa.String(length=160), nullable=True),
    sa.Column('source_system', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('type_code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('number', sa.String(length=128), nullable=False),
    sa.Column('issuer_code', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('valid_until', sa.String(length=10), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('file', sa.Text(), nullable=False),
    sa.Column('renewed_as', sa.String(length=160), nullable=True),
    sa.Column('warnings', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source_changed_at', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('updated_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('identifier', name=op.f('pk_certificates')),
    sa.UniqueConstraint('source_system', 'source_id', name='uq_certificates_source')
    )
    op.create_index(op.f('ix_certificates_content_hash'), 'certificates', ['content_hash'], unique=False)
    op.create_index(op.f('ix_certificates_legacy_identifier'), 'certificates', ['legacy_identifier'], unique=False)
    op.create_table('consents',
    sa.Column('consent_id', sa.String(length=32), nullable=False),
    sa.Column('holder_bidx', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('certificate_types', sa.Text(), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('case_no', sa.String(length=64), nullable=False),
    sa.Column('issued_by', sa.String(length=32), nullable=False),
    sa.Column('issued_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('expires_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('consent_id', name=op.f('pk_consents'))
    )
    op.create_index(op.f('ix_consents_holder_bidx'), 'consents', ['holder_bidx'], unique=False)
    op.create_table('issuer_keys',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('issuer_code', sa.String(length=32), nullable=False),
    sa.Column('algorithm', sa.String(length=16), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('revoked_at', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_issuer_keys'))
    )
    op.create_index(op.f('ix_issuer_keys_issuer_code'), 'issuer_keys', ['issuer_code'], unique=False)
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subscription_id', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.Column('delivered_at', gateway.store.tables.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('subscription_id', 'event_id', name=op.f('uq_webhook_deliveries_subscription_id_event_id'))
    )
    op.create_index(op.f('ix_webhook_deliveries_status_next_attempt_at'), 'webhook_deliveries', ['status', 'next_attempt_at'], unique=False)
    op.create_table('webhook_subscriptions',
    sa.Column('subscription_id', sa.String(length=32), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('certificate_types', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', gateway.store.tables.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('subscription_id', name=op.f('pk_webhook_subscriptions'))
    )


def downgrade() -> None:
    op.drop_table('webhook_subscriptions')
    op.drop_index(op.f('ix_webhook_deliveries_status_next_attempt_at'), table_name='webhook_deliveries')
    op.drop_table('webhook_deliveries')
    op.drop_index(op.f('ix_issuer_keys_issuer_code'), table_name='issuer_keys')
    op.drop_table('issuer_keys')
    op.drop_index(op.f('ix_consents_holder_bidx'), table_name='consents')
    op.drop_table('consents')
    op.drop_index(op.f('ix_certificates_legacy_identifier'), table_name='certificates')
    op.drop_index(op.f('ix_certificates_content_hash'), table_name='certificates')
    op.drop_table('certificates')
    op.drop_table('certificate_quarantine')
    op.drop_index(op.f('ix_certificate_holders_holder_bidx_type_code'), table_name='certificate_holders')
    op.drop_table('certificate_holders')
    op.drop_index(op.f('ix_certificate_events_identifier'), table_name='certificate_events')
    op.drop_table('certificate_events')
    op.drop_index(op.f('ix_audit_log_holder_ref'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_table('audit_checkpoints')
    op.drop_table('api_clients')
