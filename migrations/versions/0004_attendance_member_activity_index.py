"""attendance member and activity index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 19:10:00.000000

attendances (member_id, activity_id) replaces the index on member_id alone. A scan looks up the member's latest
attendance at the activity; with one index per column PostgreSQL intersected both, and the activity's side holds
every check-in so far, so at a big event each scan read thousands of index entries (0.18 ms at 2,000 check-ins,
growing with every one). The new index finds the member's one or two rows directly and still serves lookups by
member alone. Built CONCURRENTLY on PostgreSQL, so check-ins continue while it builds.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index('ix_attendances_member_activity', 'attendances', ['member_id', 'activity_id'], unique=False,
                        postgresql_concurrently=True)
        op.drop_index('ix_attendances_member_id', table_name='attendances', postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.create_index('ix_attendances_member_id', 'attendances', ['member_id'], unique=False,
                        postgresql_concurrently=True)
        op.drop_index('ix_attendances_member_activity', table_name='attendances', postgresql_concurrently=True)
