"""The benchmark seeder's tiny preset, on the test database: counts, references, a usable data set, and the check-in
benchmark's prepared scans."""

import os

import pytest
from sqlalchemy import func, select

from bench.seed import PRESETS, open_sessions, seed
from extensions import db
from models import (
    AuthSession,
    PoolMembership,
    Post,
    Region,
    Report,
    ServiceRecord,
    Shift,
    ShiftAssignment,
    ShiftTemplate,
    Unit,
    User,
)
from services.accounts import volunteer_number_for
from tests.conftest import DATABASE_URL, postgres_only

TINY = PRESETS["tiny"]


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_tiny_preset_writes_the_requested_counts():
    seeded = seed(TINY)

    streets = -(-TINY.communities // TINY.communities_per_street)
    assert count(Region, Region.kind == "district") == 1
    assert count(Region, Region.kind == "street") == streets
    assert count(Region, Region.kind == "community") == TINY.communities
    assert count(Unit) == TINY.communities * TINY.units_per_community
    assert count(User, User.openid.is_not(None)) == TINY.members
    assert count(User, User.username.is_not(None)) == len(seeded.staff)
    assert count(ServiceRecord) == TINY.records
    assert count(Post) == TINY.posts
    assert count(ShiftTemplate) == TINY.posts * TINY.templates_per_post
    assert count(PoolMembership) == TINY.posts * TINY.pool_size
    assert count(Shift) == TINY.posts * TINY.templates_per_post * TINY.history_days
    assert count(Report, Report.kind == "member", Report.status == "approved") == TINY.members
    assert count(ShiftAssignment) == seeded.counts["shift_assignments"] > 0
    assert seeded.counts["service_records"] == TINY.records


def test_seeded_rows_are_consistent():
    seeded = seed(TINY)

    district = db.session.get(Region, seeded.district_id)
    assert district.path == f"/{district.id}/"
    for community in db.session.scalars(select(Region).where(Region.kind == "community")):
        street = db.session.get(Region, community.parent_id)
        assert street.kind == "street" and street.parent_id == district.id
        assert community.path == f"/{district.id}/{street.id}/{community.id}/"
    member = db.session.get(User, seeded.first_member_id)
    assert member.volunteer_number == volunteer_number_for(member.id)
    assert member.unavailable_weekdays == [] and member.unavailable_dates == []
    assert count(User, User.volunteer_number.is_not(None)) == TINY.members
    # Every record belongs to a seeded member and a seeded community.
    assert count(ServiceRecord, ServiceRecord.member_id.not_in(
        select(User.id).where(User.openid.is_not(None)))) == 0
    assert count(ServiceRecord, ServiceRecord.community_id.not_in(seeded.community_ids)) == 0
    assert count(ServiceRecord, ServiceRecord.status == "approved") > TINY.records // 2


def test_seeding_twice_appends_without_clashing_ids():
    first = seed(TINY)
    second = seed(TINY)

    assert second.first_member_id == first.first_member_id + TINY.members + len(first.staff)
    assert count(ServiceRecord) == 2 * TINY.records
    # New rows through the ORM still get fresh ids (the sequences moved past the bulk-written ones).
    region = Region(name="新社区", kind="district", path="")
    db.session.add(region)
    db.session.commit()
    assert region.id > max(second.community_ids)


def test_seeded_members_sign_in_and_read_their_hours(client):
    from bench.runtime import mint_access_token

    seeded = seed(TINY)
    member_id = seeded.first_member_id
    sessions = open_sessions([member_id])
    assert count(AuthSession) == 1

    headers = {"Authorization": f"Bearer {mint_access_token(member_id, sessions[member_id])}"}
    response = client.get("/api/v1/me/hours", headers=headers)

    assert response.status_code == 200
    assert response.get_json()["year"] > 2000
    assert client.get("/api/v1/me/service-records", headers=headers).status_code == 200


@postgres_only
def test_the_bench_creates_its_postgresql_database_when_the_server_lacks_it():
    from sqlalchemy import create_engine, make_url, text

    from bench.runtime import create_postgresql_database
    from config import normalise_database_url

    name = f"baodao_bench_probe_{os.getpid()}"
    url = make_url(normalise_database_url(DATABASE_URL)).set(database=name)
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    exists = text("SELECT count(*) FROM pg_database WHERE datname = :name")
    try:
        create_postgresql_database(url)
        create_postgresql_database(url)  # a second call finds it and changes nothing
        with server.connect() as connection:
            assert connection.scalar(exists, {"name": name}) == 1
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        server.dispose()


@pytest.mark.parametrize("at", ["activity", "post"])
def test_the_check_in_benchmark_prepares_first_scans_recorded_once(app, client, at):
    from bench import checkins as checkin_bench

    seed(TINY)
    db.session.commit()
    place, lines = checkin_bench.prepare(app, 3, at)
    try:
        requests = [line.split("\t") for line in lines.read_text().splitlines()]
    finally:
        lines.unlink()

    for token, body in requests:
        response = client.post("/api/v1/checkins", data=body,
                               headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["action"] == "check_in"
    assert checkin_bench.verify(app, place, created=3, in_flight=0) == {
        "attendances": 3, "distinct_members": 3, "acknowledged": 3, "exactly_once": True}


def test_the_tiny_preset_seeds_appeals_a_department_admin_reads(client):
    from bench.runtime import mint_access_token
    from models import Appeal, AppealDepartment, AppealEscalation, Department

    seeded = seed(TINY)
    seed(TINY)
    assert count(Appeal) == 2 * TINY.appeals
    assert count(Department) == 2 * (-(-TINY.communities // TINY.communities_per_street) * 2 + 2)
    assert count(AppealEscalation) == count(AppealDepartment) > 0
    db.session.commit()  # the test's reads end before the sessions are written (SQLite has one writer)
    department_admin = seeded.staff["department_admin"]
    sessions = open_sessions([department_admin, seeded.staff["street_admin"]])
    headers = {"Authorization": f"Bearer {mint_access_token(department_admin, sessions[department_admin])}"}
    listed = client.get("/api/v1/appeals", headers=headers)
    assert listed.status_code == 200 and listed.get_json()["total"] > 0
    street = seeded.staff["street_admin"]
    stats = client.get(f"/api/v1/stats/appeals?region_id={seeded.street_ids[0]}",
                       headers={"Authorization": f"Bearer {mint_access_token(street, sessions[street])}"})
    assert stats.status_code == 200 and stats.get_json()["response_rate"] is not None
    # A filing through the API continues the day's numbering after the seeded ones.
    member = seeded.first_member_id
    db.session.commit()
    member_session = open_sessions([member])[member]
    filed = client.post("/api/v1/appeals", json={"community_id": seeded.community_ids[0], "kind": "problem",
                                                 "title": "路灯不亮", "content": "东门路灯坏了"},
                        headers={"Authorization": f"Bearer {mint_access_token(member, member_session)}"})
    assert filed.status_code == 201, filed.get_json()


def test_the_tiny_preset_seeds_teams_of_their_communities_that_leaders_read(client):
    from bench.runtime import mint_access_token
    from models import Team, TeamMember

    seeded = seed(TINY)
    assert count(Team) == TINY.teams == seeded.counts["teams"]
    assert count(Team, Team.owner_unit_id.is_not(None)) > 0 and count(Team, Team.owner_community_id.is_not(None)) > 0
    assert seeded.counts["service_records_with_team"] == count(ServiceRecord, ServiceRecord.team_id.is_not(None)) > 0
    members_of = {}
    for member_id, community_id in db.session.execute(select(Report.member_id, Report.community_id)
                                                      .where(Report.kind == "member")):
        members_of[member_id] = community_id
    unit_community = dict(db.session.execute(select(Unit.id, Unit.community_id)).all())
    for team in db.session.scalars(select(Team)):
        rows = db.session.scalars(select(TeamMember).where(TeamMember.team_id == team.id)).all()
        community_id = team.owner_community_id or unit_community[team.owner_unit_id]
        assert {members_of[m.member_id] for m in rows} == {community_id}
        assert 1 <= sum(m.role == "leader" for m in rows) <= 2 and all(m.status == "active" for m in rows
                                                                       if m.role == "leader")
    # A marked record's team is one its member belongs to.
    assert count(ServiceRecord, ServiceRecord.team_id.is_not(None), ~select(TeamMember.id).where(
        TeamMember.team_id == ServiceRecord.team_id, TeamMember.member_id == ServiceRecord.member_id).exists()) == 0

    team_id, leader, started = db.session.execute(
        select(ServiceRecord.team_id, TeamMember.member_id, ServiceRecord.started_at)
        .join(TeamMember, TeamMember.team_id == ServiceRecord.team_id)
        .where(TeamMember.role == "leader", ServiceRecord.status == "approved")
        .order_by(ServiceRecord.id).limit(1)).one()
    db.session.commit()
    headers = {"Authorization": f"Bearer {mint_access_token(leader, open_sessions([leader])[leader])}"}
    members = client.get(f"/api/v1/teams/{team_id}/members", headers=headers)
    assert members.status_code == 200 and members.get_json()["total"] >= TINY.members // TINY.communities // 2
    assert client.get("/api/v1/me/teams", headers=headers).get_json()["total"] >= 1
    from clock import to_local

    stats = client.get(f"/api/v1/teams/{team_id}/stats?year={to_local(started).year}", headers=headers)
    assert stats.status_code == 200 and float(stats.get_json()["approved_hours"]) > 0


def test_teams_are_added_alone_to_a_database_seeded_without_them():
    from dataclasses import replace

    from bench.teams_seed import add_teams
    from models import Team

    seed(replace(TINY, teams=0))
    with db.engine.begin() as connection:
        counts = add_teams(connection, 6)
    assert count(Team) == counts["teams"] == 6 and counts["service_records_marked"] > 0
    db.session.commit()  # SQLite has one writer
    with db.engine.begin() as connection, pytest.raises(SystemExit):
        add_teams(connection, 6)
    assert count(Team) == 6
