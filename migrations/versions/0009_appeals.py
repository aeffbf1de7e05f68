"""appeals, departments, uploads and moderation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:38:02.645225

Residents' appeals (appeals, their escalations, the departments each was escalated to, their timeline and the daily
number counter), the departments of streets and districts, photos (uploads) and the moderation queue; wishes, needs
and projects gain the appeal they were made from; role_assignments.scope_type widens to hold "department". Every
new table starts empty, so its indexes are built with it.
"""
from alembic import op
import sqlalchemy as sa

import models.types


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('appeal_number_counters',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_appeal_number_counters'))
    )
    op.create_table('departments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_departments_created_by_users')),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_departments_region_id_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_departments')),
    sa.UniqueConstraint('region_id', 'name', name=op.f('uq_departments_region_id_name'))
    )
    op.create_table('appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lng', sa.Float(), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('resident_name', sa.String(length=50), nullable=True),
    sa.Column('resident_phone', sa.String(length=20), nullable=True),
    sa.Column('work_order_no', sa.String(length=40), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('response_due_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('responded_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('due_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('escalated_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('duplicate_of', sa.String(length=16), nullable=True),
    sa.Column('resolved_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rating_score', sa.SmallInteger(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('rating_via', sa.String(length=8), nullable=True),
    sa.Column('rated_by', sa.Integer(), nullable=True),
    sa.Column('rated_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('late_notified_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_notified_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind in ('problem', 'suggestion', 'request', 'complaint')", name=op.f('ck_appeals_kind')),
    sa.CheckConstraint("source in ('app', 'hotline', 'reception', 'visit', 'meeting')", name=op.f('ck_appeals_source')),
    sa.CheckConstraint("status in ('submitted', 'accepted', 'escalated', 'resolved', 'closed', 'rejected', 'withdrawn')", name=op.f('ck_appeals_status')),
    sa.ForeignKeyConstraint(['community_id'], ['regions.id'], name=op.f('fk_appeals_community_id_regions')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_appeals_created_by_users')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_appeals_department_id_departments')),
    sa.ForeignKeyConstraint(['member_id'], ['users.id'], name=op.f('fk_appeals_member_id_users')),
    sa.ForeignKeyConstraint(['rated_by'], ['users.id'], name=op.f('fk_appeals_rated_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals')),
    sa.UniqueConstraint('number', name=op.f('uq_appeals_number'))
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index('ix_appeals_community_created', ['community_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_appeals_in_work_due', ['due_at'], unique=False, postgresql_where=sa.text("status in ('accepted', 'escalated')"), sqlite_where=sa.text("status in ('accepted', 'escalated')"))
        batch_op.create_index('ix_appeals_member_created', ['member_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_appeals_resolved_at', ['resolved_at'], unique=False, postgresql_where=sa.text("status = 'resolved'"), sqlite_where=sa.text("status = 'resolved'"))
        batch_op.create_index('ix_appeals_unanswered_due', ['response_due_at'], unique=False, postgresql_where=sa.text("status = 'submitted'"), sqlite_where=sa.text("status = 'submitted'"))
        batch_op.create_index('uq_appeals_community_work_order', ['community_id', 'work_order_no'], unique=True, postgresql_where=sa.text('work_order_no IS NOT NULL'), sqlite_where=sa.text('work_order_no IS NOT NULL'))

    op.create_table('appeal_departments',
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=False),
    sa.Column('appeal_created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], name=op.f('fk_appeal_departments_appeal_id_appeals')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_appeal_departments_department_id_departments')),
    sa.PrimaryKeyConstraint('department_id', 'appeal_id', name=op.f('pk_appeal_departments'))
    )
    with op.batch_alter_table('appeal_departments', schema=None) as batch_op:
        batch_op.create_index('ix_appeal_departments_department_created', ['department_id', 'appeal_created_at', 'appeal_id'], unique=False)

    op.create_table('appeal_escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('due_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('escalated_by', sa.Integer(), nullable=True),
    sa.Column('escalated_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('answered_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('recall_reason', sa.Text(), nullable=True),
    sa.Column('recalled_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_notified_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('open', 'answered', 'recalled')", name=op.f('ck_appeal_escalations_status')),
    sa.ForeignKeyConstraint(['answered_by'], ['users.id'], name=op.f('fk_appeal_escalations_answered_by_users')),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], name=op.f('fk_appeal_escalations_appeal_id_appeals')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_appeal_escalations_department_id_departments')),
    sa.ForeignKeyConstraint(['escalated_by'], ['users.id'], name=op.f('fk_appeal_escalations_escalated_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_escalations'))
    )
    with op.batch_alter_table('appeal_escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeal_escalations_appeal_id'), ['appeal_id'], unique=False)
        batch_op.create_index('ix_appeal_escalations_open_due', ['due_at'], unique=False, postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))

    op.create_table('appeal_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("action in ('submitted', 'accepted', 'rejected', 'withdrawn', 'converted', 'escalated', 'answered', 'recalled', 'resolved', 'rated', 'closed')", name=op.f('ck_appeal_events_action')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_appeal_events_actor_id_users')),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], name=op.f('fk_appeal_events_appeal_id_appeals')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_appeal_events_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_events'))
    )
    with op.batch_alter_table('appeal_events', schema=None) as batch_op:
        batch_op.create_index('ix_appeal_events_appeal_id', ['appeal_id', 'id'], unique=False)

    op.create_table('uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('appeal_id', sa.Integer(), nullable=True),
    sa.Column('storage_key', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=16), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('review', sa.String(length=16), nullable=False),
    sa.Column('trace_id', sa.String(length=64), nullable=True),
    sa.Column('check_attempts', sa.Integer(), nullable=False),
    sa.Column('check_sent_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attached_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("review in ('pending', 'passed', 'review', 'rejected')", name=op.f('ck_uploads_review')),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], name=op.f('fk_uploads_appeal_id_appeals')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_uploads_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_uploads_storage_key')),
    sa.UniqueConstraint('trace_id', name=op.f('uq_uploads_trace_id'))
    )
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uploads_appeal_id'), ['appeal_id'], unique=False)
        batch_op.create_index('ix_uploads_pending_check', ['check_sent_at'], unique=False, postgresql_where=sa.text("review = 'pending'"), sqlite_where=sa.text("review = 'pending'"))
        batch_op.create_index('ix_uploads_unattached_created', ['created_at'], unique=False, postgresql_where=sa.text('appeal_id IS NULL'), sqlite_where=sa.text('appeal_id IS NULL'))

    op.create_table('moderation_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('object_type', sa.String(length=16), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('upload_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status in ('review', 'approved', 'rejected')", name=op.f('ck_moderation_items_status')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_moderation_items_author_id_users')),
    sa.ForeignKeyConstraint(['community_id'], ['regions.id'], name=op.f('fk_moderation_items_community_id_regions')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_moderation_items_decided_by_users')),
    sa.ForeignKeyConstraint(['upload_id'], ['uploads.id'], name=op.f('fk_moderation_items_upload_id_uploads')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_items'))
    )
    with op.batch_alter_table('moderation_items', schema=None) as batch_op:
        batch_op.create_index('ix_moderation_items_community_status', ['community_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_moderation_items_object', ['object_type', 'object_id'], unique=False)

    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_needs_appeal_id'), ['appeal_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_needs_appeal_id_appeals'), 'appeals', ['appeal_id'], ['id'])

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_projects_appeal_id'), ['appeal_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_projects_appeal_id_appeals'), 'appeals', ['appeal_id'], ['id'])

    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.alter_column('scope_type',
               existing_type=sa.VARCHAR(length=8),
               type_=sa.String(length=16),
               existing_nullable=True)

    with op.batch_alter_table('wishes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_wishes_appeal_id'), ['appeal_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_wishes_appeal_id_appeals'), 'appeals', ['appeal_id'], ['id'])



def downgrade():
    with op.batch_alter_table('wishes', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_wishes_appeal_id_appeals'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_wishes_appeal_id'))
        batch_op.drop_column('appeal_id')

    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.alter_column('scope_type',
               existing_type=sa.String(length=16),
               type_=sa.VARCHAR(length=8),
               existing_nullable=True)

    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_projects_appeal_id_appeals'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_projects_appeal_id'))
        batch_op.drop_column('appeal_id')

    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_needs_appeal_id_appeals'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_needs_appeal_id'))
        batch_op.drop_column('appeal_id')

    with op.batch_alter_table('moderation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_moderation_items_object')
        batch_op.drop_index('ix_moderation_items_community_status')

    op.drop_table('moderation_items')
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_uploads_unattached_created', postgresql_where=sa.text('appeal_id IS NULL'), sqlite_where=sa.text('appeal_id IS NULL'))
        batch_op.drop_index('ix_uploads_pending_check', postgresql_where=sa.text("review = 'pending'"), sqlite_where=sa.text("review = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_uploads_appeal_id'))

    op.drop_table('uploads')
    with op.batch_alter_table('appeal_events', schema=None) as batch_op:
        batch_op.drop_index('ix_appeal_events_appeal_id')

    op.drop_table('appeal_events')
    with op.batch_alter_table('appeal_escalations', schema=None) as batch_op:
        batch_op.drop_index('ix_appeal_escalations_open_due', postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'"))
        batch_op.drop_index(batch_op.f('ix_appeal_escalations_appeal_id'))

    op.drop_table('appeal_escalations')
    with op.batch_alter_table('appeal_departments', schema=None) as batch_op:
        batch_op.drop_index('ix_appeal_departments_department_created')

    op.drop_table('appeal_departments')
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_index('uq_appeals_community_work_order', postgresql_where=sa.text('work_order_no IS NOT NULL'), sqlite_where=sa.text('work_order_no IS NOT NULL'))
        batch_op.drop_index('ix_appeals_unanswered_due', postgresql_where=sa.text("status = 'submitted'"), sqlite_where=sa.text("status = 'submitted'"))
        batch_op.drop_index('ix_appeals_resolved_at', postgresql_where=sa.text("status = 'resolved'"), sqlite_where=sa.text("status = 'resolved'"))
        batch_op.drop_index('ix_appeals_member_created')
        batch_op.drop_index('ix_appeals_in_work_due', postgresql_where=sa.text("status in ('accepted', 'escalated')"), sqlite_where=sa.text("status in ('accepted', 'escalated')"))
        batch_op.drop_index('ix_appeals_community_created')

    op.drop_table('appeals')
    op.drop_table('departments')
    op.drop_table('appeal_number_counters')
