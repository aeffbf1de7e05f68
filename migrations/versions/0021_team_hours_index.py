"""team hours index: a covering partial index over the service records that carry a team, so a team's hours of the
year (its page, its members' hours, its figures) read the index instead of a heap page per record; it replaces the
plain index on team_id, which held an entry for every record, most of them NULL

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 14:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_service_records_team_status_started', 'service_records', ['team_id', 'status', 'started_at'],
                    unique=False, postgresql_include=['member_id', 'hours'],
                    postgresql_where=sa.text('team_id is not null'), sqlite_where=sa.text('team_id is not null'))
    op.drop_index('ix_service_records_team_id', table_name='service_records')


def downgrade():
    op.create_index('ix_service_records_team_id', 'service_records', ['team_id'], unique=False)
    op.drop_index('ix_service_records_team_status_started', table_name='service_records',
                  postgresql_include=['member_id', 'hours'], postgresql_where=sa.text('team_id is not null'),
                  sqlite_where=sa.text('team_id is not null'))
