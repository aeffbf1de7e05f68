"""The teams' read paths use their indexes on PostgreSQL (EXPLAIN ANALYZE): a community's teams come from the two
owner indexes, not a filter over every team; a page of teams' hours and a team's members' hours come from the
covering index of the records that carry a team (BENCHMARKS.md, "Teams")."""

import pytest
from sqlalchemy import and_, insert, text

from clock import utcnow
from extensions import db
from models import Report, ServiceRecord, Team
from services import teams
from tests.conftest import postgres_only
from tests.factories import make_member, make_region, make_unit, region_tree
from tests.plans import explain, reading

pytestmark = postgres_only

PER_COMMUNITY = 400
UNITS = 5
TEAMS_PER_UNIT = 4


@pytest.fixture
def city():
    """Twenty communities of 400 teams each, four of them with five units each with four teams; a unit of b1
    reported to a1 and one of a1 reported to b1; 30,000 records, a tenth of them carrying one of 300 teams; fresh
    planner statistics."""
    tree = region_tree()
    communities = [tree[key] for key in ("a1", "a2", "b1", "b2")]
    units = {c.id: [make_unit(c) for _ in range(UNITS)] for c in communities}
    communities += [make_region(f"社区{n}", "community", tree["street_b"]) for n in range(16)]
    members = [make_member() for _ in range(10)]
    moved_in, moved_out = units[tree["b1"].id][0], units[tree["a1"].id][0]
    db.session.add_all([Report(kind="unit", status="approved", unit_id=moved_in.id, community_id=tree["a1"].id,
                               created_by=members[0].id),
                        Report(kind="unit", status="approved", unit_id=moved_out.id, community_id=tree["b1"].id,
                               created_by=members[0].id)])
    now = utcnow()
    rows = []
    for community in communities:
        rows += [{"owner_community_id": community.id, "owner_unit_id": None, "name": f"文明劝导队第{n}分队",
                  "name_key": f"文明劝导队第{n}分队", "join_policy": "open", "status": "active",
                  "created_at": now} for n in range(PER_COMMUNITY)]
        rows += [{"owner_community_id": None, "owner_unit_id": unit.id, "name": f"党员志愿服务队{n}",
                  "name_key": f"党员志愿服务队{n}", "join_policy": "open", "status": "active", "created_at": now}
                 for unit in units.get(community.id, []) for n in range(TEAMS_PER_UNIT)]
    team_ids = list(db.session.scalars(insert(Team.__table__).returning(Team.__table__.c.id), rows))
    started = now.replace(hour=0, minute=0, second=0, microsecond=0)
    db.session.execute(insert(ServiceRecord.__table__), [
        {"member_id": members[n % 10].id, "community_id": tree["a1"].id, "team_id": team_ids[n % 300] if n % 10 == 0
         else None, "started_at": started, "ended_at": started, "hours": 2, "status": "approved",
         "source": "manual", "created_at": now} for n in range(30_000)])
    for name in ("teams", "units", "reports", "service_records"):
        db.session.execute(text(f"ANALYZE {name}"))
    tree.update(units=units, moved_in=moved_in, moved_out=moved_out, team_ids=team_ids, members=members)
    yield tree
    db.session.rollback()


def test_a_communitys_teams_are_its_own_and_its_units_and_come_from_the_owner_indexes(city):
    a1 = city["a1"]
    shown = set(db.session.scalars(teams.list_teams(community_id=a1.id)))
    units_here = {u.id for u in city["units"][a1.id]} - {city["moved_out"].id} | {city["moved_in"].id}
    assert {t.owner_community_id for t in shown} == {a1.id, None}
    assert {t.owner_unit_id for t in shown} - {None} == units_here
    assert len(shown) == PER_COMMUNITY + UNITS * TEAMS_PER_UNIT

    plan = explain(teams.list_teams(community_id=a1.id).limit(20))
    nodes = reading(plan, "teams")
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], plan
    # The community's 420 teams at most, not the 8,080 stored (an OR with a subquery filtered them all).
    assert max(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in nodes) <= len(shown)


def test_team_hours_come_from_the_covering_index_of_team_records(city):
    page = city["team_ids"][:20]
    member_ids = [m.id for m in city["members"]]
    for statement in (teams.hours_this_year(ServiceRecord.team_id.in_(page), ServiceRecord.team_id),
                      teams.hours_this_year(and_(ServiceRecord.team_id == page[0],
                                                 ServiceRecord.member_id.in_(member_ids)), ServiceRecord.member_id)):
        plan = explain(statement)
        nodes = reading(plan, "service_records")
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], plan
        assert {n["Index Name"] for n in nodes if "Index Name" in n} == {"ix_service_records_team_status_started"}
        # Twenty teams' ten records each, not the 30,000 stored.
        assert max(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in nodes) <= 20 * 10
