"""staff list index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:30:00.000000

service_records (started_at, id): GET /service-records lists a street's or district's records newest first; with
this index the first page reads the newest entries and stops instead of sorting every record in scope (about
0.8 s for a district at 2,000,000 records). Built CONCURRENTLY on PostgreSQL, so writes continue while it builds.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index(op.f('ix_service_records_started_id'), 'service_records', ['started_at', 'id'], unique=False,
                        postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index(op.f('ix_service_records_started_id'), table_name='service_records',
                      postgresql_concurrently=True)
