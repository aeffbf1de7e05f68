"""account closing: when a member closed the account (DELETE /me)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 13:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import models.types


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN: a batch copy of users on SQLite would lose its expression index on lower(username).
    op.add_column('users', sa.Column('closed_at', models.types.UTCDateTime(), nullable=True))


def downgrade():
    op.drop_column('users', 'closed_at')
