"""official calendars

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 10:00:00.000000

One row per year whose official holiday arrangement a sysadmin entered (``PUT /api/v1/calendar/{year}``): it wins
over HOLIDAY_CALENDAR_FILE and the chinese_calendar package. A new, empty table: nothing to backfill.
"""
from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('official_calendars',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.Column('workdays', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], name=op.f('fk_official_calendars_updated_by_users')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_official_calendars'))
    )


def downgrade():
    op.drop_table('official_calendars')
