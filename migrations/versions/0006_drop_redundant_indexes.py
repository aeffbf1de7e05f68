"""drop redundant indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 20:15:00.000000

ix_feedback_report_id and ix_shifts_template_id repeat the leading column of the unique indexes on
feedback (report_id, year) and shifts (template_id, starts_at), which serve the same lookups and foreign-key checks.
Each was one more index to write on every insert (the roster writes thousands of shifts a day).
Dropped CONCURRENTLY on PostgreSQL.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.drop_index('ix_feedback_report_id', table_name='feedback', postgresql_concurrently=True)
        op.drop_index('ix_shifts_template_id', table_name='shifts', postgresql_concurrently=True)


def downgrade():
    with op.get_context().autocommit_block():
        op.create_index('ix_shifts_template_id', 'shifts', ['template_id'], unique=False, postgresql_concurrently=True)
        op.create_index('ix_feedback_report_id', 'feedback', ['report_id'], unique=False,
                        postgresql_concurrently=True)
