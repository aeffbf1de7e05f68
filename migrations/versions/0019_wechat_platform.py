"""wechat platform: verified phones, subscription grants, kept mini-program codes, one grant per message

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 13:50:00

"""
import sqlalchemy as sa
from alembic import op

import models.types

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    # Not a batch: SQLite's copy of the table would lose the expression index on lower(username).
    op.add_column('users', sa.Column('phone_verified', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('outbound_messages', sa.Column('grant_taken', sa.Boolean(), server_default=sa.false(),
                                                 nullable=False))
    op.create_table('subscription_grants',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('grants_left', sa.Integer(), nullable=False),
    sa.Column('updated_at', models.types.UTCDateTime(), nullable=False),
    sa.CheckConstraint('grants_left >= 0', name=op.f('ck_subscription_grants_grants_left')),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_subscription_grants_member_id_users')),
    sa.PrimaryKeyConstraint('member_id', 'template_id', name=op.f('pk_subscription_grants'))
    )
    op.create_table('wxa_codes',
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('storage_key', sa.String(length=80), nullable=False),
    sa.Column('expires_at', models.types.UTCDateTime(), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_wxa_codes'))
    )
    op.create_index(op.f('ix_wxa_codes_expires_at'), 'wxa_codes', ['expires_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_wxa_codes_expires_at'), table_name='wxa_codes')
    op.drop_table('wxa_codes')
    op.drop_table('subscription_grants')
    op.drop_column('outbound_messages', 'grant_taken')
    op.drop_column('users', 'phone_verified')
