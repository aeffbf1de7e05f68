"""active teams rollup: each community's active teams (its own and its units', a unit counting where its approved
unit report is, else where it sits) kept beside its report counts, so a district's overview reads them instead of
grouping every team at each request; filled here from the teams

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 19:50:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stats_community_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_teams', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('stats_community_reports', schema=None) as batch_op:
        batch_op.alter_column('active_teams', server_default=None)
    # services/rollups.py's active_teams_by_community, as it is today.
    op.execute("""
        INSERT INTO stats_community_reports (community_id, members_reported, units_reported, active_teams)
        SELECT coalesce(t.owner_community_id, r.community_id, u.community_id), 0, 0, count(*)
        FROM teams t
        LEFT JOIN units u ON u.id = t.owner_unit_id
        LEFT JOIN reports r ON r.kind = 'unit' AND r.unit_id = u.id AND r.status = 'approved'
        WHERE t.status = 'active'
        GROUP BY coalesce(t.owner_community_id, r.community_id, u.community_id)
        ON CONFLICT (community_id) DO UPDATE SET active_teams = excluded.active_teams
    """)


def downgrade():
    with op.batch_alter_table('stats_community_reports', schema=None) as batch_op:
        batch_op.drop_column('active_teams')
