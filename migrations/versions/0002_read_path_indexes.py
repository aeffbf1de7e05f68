"""read path indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:00:00.000000

Indexes for the read paths at city scale (2,000,000 service records):
- service_records (community_id, started_at, id): the export's order, so it streams from the index with no sort;
- users (unit_id, id) replaces users (unit_id): a page of a unit's members is read in order, without a sort;
- points_entries (member_id, at) replaces points_entries (member_id): a member's points for one year read only that
  year's entries, and the ledger (newest first) is in index order.

On PostgreSQL the indexes are built CONCURRENTLY, outside the migration's transaction, so the tables keep taking
writes while they build (a few seconds for service_records at 2 M rows); each replacement is built before the index
it replaces is dropped.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index(op.f('ix_service_records_community_started_id'), 'service_records',
                        ['community_id', 'started_at', 'id'], unique=False, postgresql_concurrently=True)
        op.create_index(op.f('ix_users_unit_id_id'), 'users', ['unit_id', 'id'], unique=False,
                        postgresql_concurrently=True)
        op.drop_index(op.f('ix_users_unit_id'), table_name='users', postgresql_concurrently=True)
        op.create_index(op.f('ix_points_entries_member_id_at'), 'points_entries', ['member_id', 'at'], unique=False,
                        postgresql_concurrently=True)
        op.drop_index(op.f('ix_points_entries_member_id'), table_name='points_entries', postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.create_index(op.f('ix_points_entries_member_id'), 'points_entries', ['member_id'], unique=False,
                        postgresql_concurrently=True)
        op.drop_index(op.f('ix_points_entries_member_id_at'), table_name='points_entries',
                      postgresql_concurrently=True)
        op.create_index(op.f('ix_users_unit_id'), 'users', ['unit_id'], unique=False, postgresql_concurrently=True)
        op.drop_index(op.f('ix_users_unit_id_id'), table_name='users', postgresql_concurrently=True)
        op.drop_index(op.f('ix_service_records_community_started_id'), table_name='service_records',
                      postgresql_concurrently=True)
