"""The statistics rollups (services/rollups.py) equal a full recomputation from the records (services/stats.py
``compute``) after random approvals, rejections, corrections, report decisions, teams founded and dissolved,
check-outs and no-shows made through the API and the jobs; simultaneous approvals add up, and so do a unit's teams
founded while its report is decided; ``rebuild`` mends drift; the migration fills them."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import requests
import time_machine
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, update

from app import create_app
from clock import local_year_bounds
from extensions import db
from models import (
    CommunityReportCounts,
    CommunityYearFigures,
    Region,
    RegionYearUnits,
    RegionYearVolunteers,
    Report,
    ServiceRecord,
    UnitYear,
    VolunteerYear,
)
from models.activity import CATEGORIES
from schedulers.jobs import JOBS, run
from services import checkin_tokens, rollups, stats
from services.stats import FIGURES
from tests.activity_factories import (
    PLACE,
    make_activity,
    make_appeal,
    make_closed_attendance,
    make_post_shift,
    make_record,
)
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, make_member, make_report, make_staff, make_unit, region_tree
from tests.team_factories import make_team

# 2030-12-31 20:00 in Beijing: records, shifts and corrections fall on both sides of the local new year.
T0 = datetime(2030, 12, 31, 12, 0, tzinfo=UTC)
YEARS = (2030, 2031)
HERE = {"lat": PLACE[0], "lng": PLACE[1]}


def comparable(body):
    """An overview's figures as plain numbers, without the moment it was read."""
    def number(value):
        return {k: float(v) for k, v in value.items()} if isinstance(value, dict) else float(value)

    def numbers(figures):
        return {k: number(v) if k in FIGURES else v for k, v in figures.items() if k != "computed_at"}
    return {**numbers(body), "children": [numbers(child) for child in body["children"]]}


def assert_rollups_equal_recomputation(client, admin, tree):
    for name in ("district", "street_a", "street_b", "a1", "a2", "b1", "b2"):
        for year in YEARS:
            response = client.get("/api/v1/stats/overview", query_string={"region_id": tree[name].id, "year": year},
                                  headers=auth(admin))
            assert response.status_code == 200, response.get_json()
            recomputed = stats.compute(db.session.get(Region, tree[name].id), year)
            assert comparable(response.get_json()) == comparable(recomputed), (name, year)
            listed = client.get("/api/v1/stats/members", headers=auth(admin), query_string={
                "region_id": tree[name].id, "year": year, "per_page": 100}).get_json()
            assert {(i["member_id"], i["hours"], i["records"]) for i in listed["items"]} == \
                member_hours_recomputed(tree[name], year), (name, year)
            assert listed["total"] == len(listed["items"])


def member_hours_recomputed(region, year):
    start, end = local_year_bounds(year)
    return {(member_id, float(hours), records) for member_id, hours, records in db.session.execute(
        select(ServiceRecord.member_id, func.sum(ServiceRecord.hours), func.count())
        .join(Region, Region.id == ServiceRecord.community_id)
        .where(Region.path.startswith(region.path), ServiceRecord.status == "approved",
               ServiceRecord.started_at >= start, ServiceRecord.started_at < end)
        .group_by(ServiceRecord.member_id))}


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_changes_keep_the_rollups_equal_to_a_recomputation(client, clock, seed):
    rng = random.Random(seed)
    tree = region_tree()
    communities = [tree[k] for k in ("a1", "a2", "b1", "b2")]
    district_admin = make_staff("district_admin", tree["district"])
    units = [make_unit(rng.choice(communities), f"单位{n}") for n in range(3)]
    members = [make_member(f"成员{n}", unit=rng.choice((*units, None))) for n in range(8)]
    headers = auth(district_admin)

    # Reports: approved, rejected, left pending, approved and then withdrawn by the member.
    for member in members:
        community = rng.choice(communities)
        report = client.post("/api/v1/reports", json={"community_id": community.id}, headers=auth(member))
        assert report.status_code == 201, report.get_json()
        report_id = report.get_json()["id"]
        fate = rng.choice(("approve", "reject", "pending", "withdraw"))
        if fate in ("approve", "withdraw"):
            assert client.post(f"/api/v1/reports/{report_id}/approve", headers=headers).status_code == 200
        if fate == "reject":
            assert client.post(f"/api/v1/reports/{report_id}/reject", json={"reason": "不在本社区"},
                               headers=headers).status_code == 200
        if fate == "withdraw":
            assert client.post(f"/api/v1/reports/{report_id}/withdraw", headers=auth(member)).status_code == 200

    # Records: manual entries either side of the local new year, then decided and corrected at random.
    record_ids = []
    for _ in range(40):
        started = T0 + timedelta(hours=rng.randrange(-30, 30))
        response = client.post("/api/v1/service-records", headers=headers, json={
            "member_id": rng.choice(members).id, "community_id": rng.choice(communities).id,
            "started_at": started.isoformat(), "ended_at": (started + timedelta(hours=4)).isoformat(),
            "hours": rng.choice((0.5, 1, 2.25, 3)), "category": rng.choice((*CATEGORIES, None))})
        assert response.status_code == 201, response.get_json()
        record_ids.append(response.get_json()["id"])
    for record_id in record_ids:
        fate = rng.choice(("approve", "approve", "reject", "pending"))
        if fate == "approve":
            assert client.post(f"/api/v1/service-records/{record_id}/approve", headers=headers).status_code == 200
        elif fate == "reject":
            assert client.post(f"/api/v1/service-records/{record_id}/reject", json={"reason": "重复"},
                               headers=headers).status_code == 200
        if fate != "reject" and rng.random() < 0.5:
            # A correction of the hours, and sometimes of the start, across the new year.
            started = T0 + timedelta(hours=rng.randrange(-30, 30))
            body = {"hours": rng.choice((0.75, 1.5, 2)), "reason": "更正"}
            if rng.random() < 0.5:
                body |= {"started_at": started.isoformat(), "ended_at": (started + timedelta(hours=3)).isoformat()}
            response = client.patch(f"/api/v1/service-records/{record_id}", json=body, headers=headers)
            assert response.status_code == 200, response.get_json()

    # Members change units (or leave theirs) after their hours were counted, and some records are approved after.
    for member in rng.sample(members, 5):
        response = client.patch("/api/v1/me", json={"unit_id": rng.choice((*units, None)) and rng.choice(units).id},
                                headers=auth(member))
        assert response.status_code == 200, response.get_json()
    for _ in range(6):
        started = T0 + timedelta(hours=rng.randrange(-30, 30))
        response = client.post("/api/v1/service-records", headers=headers, json={
            "member_id": rng.choice(members).id, "community_id": rng.choice(communities).id,
            "started_at": started.isoformat(), "ended_at": (started + timedelta(hours=4)).isoformat(), "hours": 1})
        assert client.post(f"/api/v1/service-records/{response.get_json()['id']}/approve",
                           headers=headers).status_code == 200

    # Appeals submitted by members either side of the local new year.
    for hours in rng.sample(range(-8, 8), 5):
        clock.move_to(T0 + timedelta(hours=hours))
        response = client.post("/api/v1/appeals", headers=auth(rng.choice(members)), json={
            "community_id": rng.choice(communities).id, "kind": "problem", "title": "楼道堆物",
            "content": "影响通行"})
        assert response.status_code == 201, response.get_json()
    clock.move_to(T0)

    # Activities without sign-up: members check in and out with the organiser's screen.
    for community in rng.sample(communities, 2):
        activity = make_activity(community, starts_at=T0 + timedelta(hours=rng.choice((-2, 3))), hours=2,
                                 requires_signup=False)
        clock.move_to(activity.starts_at + timedelta(minutes=5))
        attending = rng.sample(members, 3)
        for scan in ("check_in", "check_out"):
            token, _expires = checkin_tokens.activity_token(activity)
            for member in attending:
                response = client.post("/api/v1/checkins", json={"token": token, **HERE}, headers=auth(member))
                assert response.get_json()["action"] == scan, response.get_json()
            clock.move_to(activity.ends_at - timedelta(minutes=5))
    clock.move_to(T0)

    # Shifts: some assignees check in and out (attended), the others become no-shows when the job runs.
    shifts = []
    for community in communities:
        assignees = rng.sample(members, 3)
        post, _shift = make_post_shift(community, starts_at=T0 + timedelta(hours=rng.choice((1, 3, 5))),
                                       assignees=assignees)
        shifts.append((post, _shift, [m for m in assignees if rng.random() < 0.6]))
    for post, shift, attending in sorted(shifts, key=lambda s: s[1].starts_at):
        token = checkin_tokens.post_token(post)
        clock.move_to(shift.starts_at + timedelta(minutes=5))
        for member in attending:
            response = client.post("/api/v1/checkins", json={"token": token, **HERE}, headers=auth(member))
            assert response.status_code == 201, response.get_json()
        clock.move_to(shift.ends_at - timedelta(minutes=5))
        for member in attending:
            response = client.post("/api/v1/checkins", json={"token": token, **HERE}, headers=auth(member))
            assert response.get_json()["action"] == "check_out", response.get_json()
    clock.move_to(T0 + timedelta(hours=9))
    run(JOBS["mark_no_shows"])

    # Teams of the communities and of the units, some dissolved; units reported to a community (their teams move
    # there, those founded after too) and some of those reports withdrawn (they move back).
    headers = auth(district_admin)  # signed in again: the clock has moved on
    unit_admins = {unit.id: make_staff("unit_admin", unit) for unit in units}
    team_ids = []

    def found(owner_type, owner, by):
        response = client.post("/api/v1/teams", headers=auth(by), json={
            "owner_type": owner_type, "owner_id": owner.id, "name": f"服务队{len(team_ids)}"})
        assert response.status_code == 201, response.get_json()
        team_ids.append(response.get_json()["id"])

    for community in rng.choices(communities, k=4):
        found("community", community, district_admin)
    for unit in units:
        for _ in range(rng.randrange(1, 3)):
            found("unit", unit, unit_admins[unit.id])
    for unit, fate in zip(units, rng.sample(("approve", "withdraw", "pending"), 3), strict=True):
        report = client.post("/api/v1/reports", json={"community_id": rng.choice(communities).id,
                                                      "unit_id": unit.id}, headers=auth(unit_admins[unit.id]))
        assert report.status_code == 201, report.get_json()
        report_id = report.get_json()["id"]
        if fate in ("approve", "withdraw"):
            assert client.post(f"/api/v1/reports/{report_id}/approve", headers=headers).status_code == 200
        found("unit", unit, unit_admins[unit.id])
        if fate == "withdraw":
            assert client.post(f"/api/v1/reports/{report_id}/withdraw",
                               headers=auth(unit_admins[unit.id])).status_code == 200
    for team_id in rng.sample(team_ids, 3):
        assert client.post(f"/api/v1/teams/{team_id}/dissolve", headers=headers).status_code == 200

    assert_rollups_equal_recomputation(client, district_admin, tree)
    # The scene exercised every figure (the seeds are fixed, so this holds every run).
    district = [client.get("/api/v1/stats/overview", query_string={"region_id": tree["district"].id, "year": year},
                           headers=auth(district_admin)).get_json() for year in YEARS]
    assert all(figures["approved_hours"] > 0 and figures["active_volunteers"] > 0 for figures in district)
    assert any(0 < figures["no_show_rate"] < 1 for figures in district) and district[0]["members_reported"] > 0
    assert all(figures["units_active"] > 0 and figures["appeals_received"] > 0 for figures in district)
    assert sum(figures["attendances"] for figures in district) > 0
    assert district[0]["teams"] == len(team_ids) - 3 and district[0]["units_reported"] > 0
    assert sum(1 for figures in district for hours in figures["hours_by_category"].values() if hours) > 6
    # And a rebuild from the facts finds nothing to mend.
    assert rollups.rebuild() == {"changed": 0}


def test_rebuild_mends_drift_and_says_how_much(client):
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    member = make_member()
    make_record(member, tree["a1"], status="approved", hours="2")
    make_report(member, tree["a1"])
    db.session.execute(update(CommunityYearFigures).values(approved_hours=99))
    db.session.execute(update(RegionYearVolunteers).values(active_volunteers=7))
    db.session.commit()
    changed = rollups.rebuild()["changed"]
    db.session.commit()
    # The community's hours row, and the volunteer count of the community, its street and the district.
    assert changed == 4
    figures = client.get("/api/v1/stats/overview", query_string={"region_id": tree["a1"].id},
                                headers=auth(admin)).get_json()
    assert figures["approved_hours"] == 2.0 and figures["active_volunteers"] == 1
    assert figures["members_reported"] == 1


@postgres_only
def test_simultaneous_approvals_add_up(live_server):
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    regulars = [make_member() for _ in range(4)]
    # Four members with two records each in a1, and one of them also in b1: nine approvals at once.
    records = [make_record(m, tree["a1"]) for m in regulars for _ in range(2)] + [make_record(regulars[0], tree["b1"])]
    urls = [f"{live_server}/api/v1/service-records/{r.id}/approve" for r in records]
    headers = auth(admin)
    db.session.commit()
    results = fire_at_once(len(urls), lambda i: requests.post(urls[i], headers=headers, timeout=60))
    assert [r.status_code for r in results] == [200] * len(urls)
    db.session.expire_all()
    volunteers = dict(db.session.execute(
        select(RegionYearVolunteers.region_id, RegionYearVolunteers.active_volunteers)).all())
    assert volunteers[tree["a1"].id] == 4 and volunteers[tree["b1"].id] == 1
    assert volunteers[tree["district"].id] == 4  # regulars[0] served in both streets: counted once
    assert db.session.scalar(select(func.sum(VolunteerYear.records)).where(
        VolunteerYear.region_id == tree["district"].id)) == len(urls)
    assert rollups.rebuild() == {"changed": 0}


@postgres_only
def test_unit_changes_during_approvals_leave_no_drift(live_server):
    """A member's unit changing while their records are approved: the unit counts end as a recomputation has them
    (the approval share-locks the member's row, the change updates it)."""
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    units = [make_unit(tree["a1"]), make_unit(tree["b1"])]
    members = [make_member(unit=units[0]) for _ in range(3)]
    records = [make_record(m, tree[c]) for m in members for c in ("a1", "a2", "b1")]
    db.session.commit()
    calls = [("post", f"{live_server}/api/v1/service-records/{r.id}/approve", auth(admin), None) for r in records]
    calls += [("patch", f"{live_server}/api/v1/me", auth(m), {"unit_id": units[1].id}) for m in members]
    results = fire_at_once(len(calls), lambda i: getattr(requests, calls[i][0])(
        calls[i][1], headers=calls[i][2], json=calls[i][3], timeout=60))
    assert [r.status_code for r in results] == [200] * len(calls)
    db.session.expire_all()
    # A unit whose records all moved keeps a row of zero (when an approval came first), which a rebuild leaves out.
    kept = {model: _counted_rows(model) for model in (UnitYear, RegionYearUnits)}
    assert rollups.rebuild() == {"changed": 0}
    assert {model: _counted_rows(model) for model in (UnitYear, RegionYearUnits)} == kept
    units_active = dict(db.session.execute(select(RegionYearUnits.region_id, RegionYearUnits.units_active)).all())
    assert units_active[tree["district"].id] == 1  # every member is now in the second unit


@postgres_only
def test_a_units_teams_founded_and_dissolved_while_its_report_is_decided_leave_no_drift(live_server):
    """The unit sits in a1 and reports to b1: its report approved while its admin founds and dissolves teams, all at
    once. Each team ends counted once, in b1 (the decision locks the unit's row, a team's change share-locks it)."""
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    unit = make_unit(tree["a1"])
    unit_admin = make_staff("unit_admin", unit)
    standing = [make_team(unit, f"老队{n}") for n in range(3)]
    report = Report(kind="unit", status="pending", unit_id=unit.id, community_id=tree["b1"].id,
                    created_by=unit_admin.id)
    db.session.add(report)
    db.session.commit()
    calls = [(f"{live_server}/api/v1/reports/{report.id}/approve", auth(admin), None)]
    calls += [(f"{live_server}/api/v1/teams", auth(unit_admin),
               {"owner_type": "unit", "owner_id": unit.id, "name": f"新队{n}"}) for n in range(4)]
    calls += [(f"{live_server}/api/v1/teams/{team.id}/dissolve", auth(unit_admin), None) for team in standing[:2]]
    results = fire_at_once(len(calls), lambda i: requests.post(calls[i][0], headers=calls[i][1], json=calls[i][2],
                                                               timeout=60))
    assert sorted(r.status_code for r in results) == [200] * 3 + [201] * 4
    db.session.expire_all()
    overview = requests.get(f"{live_server}/api/v1/stats/overview", params={"region_id": tree["district"].id},
                            headers=auth(admin), timeout=60).json()
    assert {child["region_id"]: child["teams"] for child in overview["children"]} == {
        tree["street_a"].id: 0, tree["street_b"].id: 5}
    assert rollups.rebuild() == {"changed": 0}


def test_the_migration_fills_the_rollups_from_the_records(empty_database_url):
    migrated = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with migrated.app_context():
        upgrade(directory="migrations")
        tree = region_tree()
        member, other = make_member(unit=make_unit(tree["a1"])), make_member()
        make_record(member, tree["a1"], status="approved", hours="2.5")
        make_record(member, tree["b2"], status="approved", hours="1", started_at=datetime(2030, 12, 31, 17, tzinfo=UTC),
                    category=None)
        make_record(other, tree["a2"], status="pending")
        make_report(member, tree["a1"])
        _post, shift = make_post_shift(tree["b1"], starts_at=datetime(2030, 6, 1, 1, tzinfo=UTC),
                                       assignees=[member, other], status="no_show")
        make_closed_attendance(member, shift=shift)
        make_closed_attendance(other, activity=make_activity(tree["a2"], starts_at=datetime(2031, 3, 1, tzinfo=UTC)))
        make_appeal(tree["b2"], datetime(2031, 5, 1, tzinfo=UTC))
        db.session.commit()
        expected = {model: _rows(model) for model in rollups.ROLLUP_MODELS}
        assert all(expected.values())
        assert rollups.rebuild() == {"changed": 0}
        db.session.commit()
        downgrade(directory="migrations", revision="0014")
        upgrade(directory="migrations")
        assert {model: _rows(model) for model in rollups.ROLLUP_MODELS} == expected
        db.session.remove()
        db.engine.dispose()


def test_the_migration_counts_the_active_teams(empty_database_url):
    """0022 fills the active teams of each community: its own, and those of units standing in it (reported to it,
    or sitting in it reported nowhere)."""
    migrated = create_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with migrated.app_context():
        upgrade(directory="migrations")
        tree = region_tree()
        reported, unreported = make_unit(tree["a1"]), make_unit(tree["a2"])
        db.session.add(Report(kind="unit", status="approved", unit_id=reported.id, community_id=tree["b1"].id,
                              created_by=make_staff("unit_admin", reported).id))
        make_report(make_member(), tree["b1"])
        for owner, name in ((reported, "一队"), (reported, "二队"), (unreported, "三队"), (tree["a2"], "四队")):
            make_team(owner, name)
        make_team(tree["a1"], "散了的队", status="dissolved")
        rollups.rebuild()  # counts the unit report, written past the services
        db.session.commit()
        expected = _rows(CommunityReportCounts)
        db.session.commit()
        downgrade(directory="migrations", revision="0021")
        upgrade(directory="migrations")
        assert _rows(CommunityReportCounts) == expected == sorted([
            (str(tree["b1"].id), "1", "1", "2"), (str(tree["a2"].id), "0", "0", "2")])
        db.session.remove()
        db.engine.dispose()


def _counted_rows(model):
    """The rows of a count rollup whose count is not zero."""
    return [row for row in _rows(model) if row[-1] != "0"]


def _rows(model):
    return sorted(tuple(str(v) for v in row) for row in db.session.execute(select(*model.__table__.columns)))

