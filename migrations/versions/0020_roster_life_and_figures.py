"""roster life and v1.1 figures: attendances, units active, hours by category and appeals received kept as rollups;
shifts remember when they were alerted as short of seats and swap offers between pool members

The new rollups are filled here from what the database holds, years counted in TIMEZONE (as the app does).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 13:40:00

"""
import os
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import models.types

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

CATEGORIES = ("civility", "order", "culture", "health", "environment", "safety")


def upgrade():
    hours = [sa.Column(f'hours_{c}', sa.Numeric(precision=14, scale=2), nullable=False)
             for c in (*CATEGORIES, "other")]
    op.create_table('stats_community_details',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('attendances', sa.Integer(), nullable=False),
    sa.Column('appeals_received', sa.Integer(), nullable=False),
    *hours,
    sa.ForeignKeyConstraint(['community_id'], ['regions.id'], name=op.f('fk_stats_community_details_community_id_regions')),
    sa.PrimaryKeyConstraint('community_id', 'year', name=op.f('pk_stats_community_details'))
    )
    op.create_table('stats_units',
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_stats_units_region_id_regions')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_stats_units_unit_id_units')),
    sa.PrimaryKeyConstraint('region_id', 'year', 'unit_id', name=op.f('pk_stats_units'))
    )
    op.create_table('stats_region_units',
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('units_active', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_stats_region_units_region_id_regions')),
    sa.PrimaryKeyConstraint('region_id', 'year', name=op.f('pk_stats_region_units'))
    )
    with op.batch_alter_table('stats_volunteers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hours', sa.Numeric(precision=14, scale=2), nullable=False,
                                      server_default='0'))
    with op.batch_alter_table('stats_volunteers', schema=None) as batch_op:
        batch_op.alter_column('hours', server_default=None)
        batch_op.create_index('ix_stats_volunteers_region_year_hours', ['region_id', 'year', 'hours', 'member_id'],
                              unique=False)
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('alerted_at', models.types.UTCDateTime(timezone=True), nullable=True))
    op.create_table('shift_swaps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('from_member_id', sa.Integer(), nullable=False),
    sa.Column('to_member_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status in ('pending', 'accepted', 'declined', 'withdrawn')", name=op.f('ck_shift_swaps_status')),
    sa.ForeignKeyConstraint(['from_member_id'], ['users.id'], name=op.f('fk_shift_swaps_from_member_id_users')),
    sa.ForeignKeyConstraint(['shift_id'], ['shifts.id'], name=op.f('fk_shift_swaps_shift_id_shifts')),
    sa.ForeignKeyConstraint(['to_member_id'], ['users.id'], name=op.f('fk_shift_swaps_to_member_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_swaps'))
    )
    with op.batch_alter_table('shift_swaps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shift_swaps_shift_id'), ['shift_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shift_swaps_to_member_id'), ['to_member_id'], unique=False)
        batch_op.create_index('uq_shift_swaps_pending', ['shift_id', 'from_member_id'], unique=True,
                              postgresql_where=sa.text("status = 'pending'"),
                              sqlite_where=sa.text("status = 'pending'"))
    _fill()


def _year_bounds(zone, year):
    return tuple(datetime(y, 1, 1, tzinfo=zone).astimezone(timezone.utc) for y in (year, year + 1))


def _years(connection, zone, sql):
    first, last = connection.execute(sa.text(sql).columns(
        sa.column("first", models.types.UTCDateTime()), sa.column("last", models.types.UTCDateTime()))).one()
    return range(first.astimezone(zone).year, last.astimezone(zone).year + 1) if first else range(0)


def _fill():
    """The statements of services/rollups.py's rebuild for these tables, as they are today."""
    connection = op.get_bind()
    zone = ZoneInfo(os.environ.get("TIMEZONE", "Asia/Shanghai"))

    def run(sql, year=None):
        statement = sa.text(sql)
        params = {}
        if year is not None:
            statement = statement.bindparams(sa.bindparam("start", type_=models.types.UTCDateTime()),
                                             sa.bindparam("end", type_=models.types.UTCDateTime()))
            start, end = _year_bounds(zone, year)
            params = {"year": year, "start": start, "end": end}
        connection.execute(statement, params)

    columns = ", ".join(f"hours_{c}" for c in (*CATEGORIES, "other"))
    themes = ", ".join(f"'{c}'" for c in CATEGORIES)
    sums = ", ".join([f"sum(CASE WHEN r.category = '{c}' THEN r.hours ELSE 0 END)" for c in CATEGORIES]
                     + [f"sum(CASE WHEN r.category IS NULL OR r.category NOT IN ({themes}) THEN r.hours ELSE 0 END)"])
    zeros = ", ".join("0" for _ in range(len(CATEGORIES) + 1))
    upsert = "ON CONFLICT (community_id, year) DO UPDATE SET {0} = stats_community_details.{0} + excluded.{0}"
    approved = "r.status = 'approved' AND r.started_at >= :start AND r.started_at < :end"
    # The members' rows are written again with their hours (their counts, and so the volunteers', stay as they are).
    run("DELETE FROM stats_volunteers")
    for year in _years(connection, zone, "SELECT min(started_at) AS first, max(started_at) AS last "
                                         "FROM service_records WHERE status = 'approved'"):
        run(f"INSERT INTO stats_community_details (community_id, year, attendances, appeals_received, {columns}) "
            f"SELECT r.community_id, :year, 0, 0, {sums} FROM service_records r WHERE {approved} "
            "GROUP BY r.community_id", year)
        for region, joins in (
                ("r.community_id", ""),
                ("c.parent_id", "JOIN regions c ON c.id = r.community_id"),
                ("s.parent_id", "JOIN regions c ON c.id = r.community_id JOIN regions s ON s.id = c.parent_id")):
            run("INSERT INTO stats_volunteers (region_id, year, member_id, records, hours) "
                f"SELECT {region}, :year, r.member_id, count(*), sum(r.hours) FROM service_records r {joins} "
                f"WHERE {approved} AND {region} IS NOT NULL GROUP BY {region}, r.member_id", year)
    # The units' counts come from the members' (stats_volunteers, filled by 0015 and kept since), by their unit now.
    run("INSERT INTO stats_units (region_id, year, unit_id, records) "
        "SELECT v.region_id, v.year, u.unit_id, sum(v.records) FROM stats_volunteers v JOIN users u ON u.id = v.member_id "
        "WHERE v.records > 0 AND u.unit_id IS NOT NULL GROUP BY v.region_id, v.year, u.unit_id")
    run("INSERT INTO stats_region_units (region_id, year, units_active) "
        "SELECT region_id, year, count(*) FROM stats_units WHERE records > 0 GROUP BY region_id, year")
    closed = "a.checked_out_at IS NOT NULL AND a.checked_in_at >= :start AND a.checked_in_at < :end"
    for year in _years(connection, zone, "SELECT min(checked_in_at) AS first, max(checked_in_at) AS last "
                                         "FROM attendances WHERE checked_out_at IS NOT NULL"):
        for place in ("SELECT p.community_id AS community_id FROM attendances a JOIN activities p "
                      f"ON p.id = a.activity_id WHERE {closed}",
                      "SELECT p.community_id AS community_id FROM attendances a JOIN shifts s ON s.id = a.shift_id "
                      f"JOIN posts p ON p.id = s.post_id WHERE {closed}"):
            run(f"INSERT INTO stats_community_details (community_id, year, attendances, appeals_received, {columns}) "
                f"SELECT community_id, :year, count(*), 0, {zeros} FROM ({place}) AS closed_ WHERE 1 = 1 GROUP BY community_id "
                + upsert.format("attendances"), year)
    for year in _years(connection, zone, "SELECT min(created_at) AS first, max(created_at) AS last FROM appeals"):
        run(f"INSERT INTO stats_community_details (community_id, year, attendances, appeals_received, {columns}) "
            f"SELECT community_id, :year, 0, count(*), {zeros} FROM appeals "
            "WHERE created_at >= :start AND created_at < :end GROUP BY community_id "
            + upsert.format("appeals_received"), year)


def downgrade():
    op.drop_table('shift_swaps')
    # Not in batch mode: SQLite would copy and drop the shifts table, which other tables reference.
    op.drop_column('shifts', 'alerted_at')
    with op.batch_alter_table('stats_volunteers', schema=None) as batch_op:
        batch_op.drop_index('ix_stats_volunteers_region_year_hours')
        batch_op.drop_column('hours')
    op.drop_table('stats_region_units')
    op.drop_table('stats_units')
    op.drop_table('stats_community_details')
