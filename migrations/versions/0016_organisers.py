"""organisers beyond the community: a unit's own activities, eligibility criteria and sign-up windows

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 13:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

import models.types

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('signup_opens_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('signup_closes_at', models.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('eligible_political_statuses', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('eligible_team_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('eligible_unit_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_activities_unit_id'), ['unit_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_activities_unit_id_units'), 'units', ['unit_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_activities_eligible_unit_id_units'), 'units',
                                    ['eligible_unit_id'], ['id'])


def downgrade():
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_activities_eligible_unit_id_units'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_activities_unit_id_units'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_activities_unit_id'))
        batch_op.drop_column('eligible_unit_id')
        batch_op.drop_column('eligible_team_id')
        batch_op.drop_column('eligible_political_statuses')
        batch_op.drop_column('signup_closes_at')
        batch_op.drop_column('signup_opens_at')
        batch_op.drop_column('unit_id')
