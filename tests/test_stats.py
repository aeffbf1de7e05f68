"""GET /stats/overview: figures for a region and each child, checked against hand-computed data (read from the
rollups, which tests/test_stats_rollups.py keeps equal to the recomputation under random changes)."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from extensions import db
from models import Activity, Attendance, Post, Region, Report, ServiceRecord, Shift, ShiftAssignment
from services import rollups, stats
from services.stats import FIGURES
from tests.activity_factories import make_activity, make_appeal, make_closed_attendance, make_post_shift, make_record
from tests.conftest import ON_POSTGRES
from tests.factories import (
    auth,
    error_code,
    make_member,
    make_region,
    make_report,
    make_staff,
    make_unit,
    region_tree,
)
from tests.team_factories import make_team

BEIJING = ZoneInfo("Asia/Shanghai")


def local(*args):
    return datetime(*args, tzinfo=BEIJING)


def activity(community, starts_at, status="published"):
    db.session.add(Activity(community_id=community.id, title="活动", category="civility", starts_at=starts_at,
                            ends_at=starts_at + timedelta(hours=2), capacity=10, status=status))


def record(member, community, hours, started_at, status="approved"):
    db.session.add(ServiceRecord(member_id=member.id, community_id=community.id, started_at=started_at,
                                 ended_at=started_at + timedelta(hours=8), hours=Decimal(hours), status=status))


def shift(community, ends_at, statuses):
    post = Post(community_id=community.id, name="桶站", kind="bin_station")
    db.session.add(post)
    db.session.flush()
    row = Shift(post_id=post.id, starts_at=ends_at - timedelta(hours=2), ends_at=ends_at, seats=len(statuses))
    db.session.add(row)
    db.session.flush()
    for member, status in statuses:
        db.session.add(ShiftAssignment(shift_id=row.id, member_id=member.id, status=status))


@pytest.fixture
def data():
    """Two streets, four communities; the comments give what each figure must be for 2024."""
    tree = region_tree()
    a1, a2, b1, b2 = (tree[k] for k in ("a1", "a2", "b1", "b2"))
    m1, m2, m3, m4, m5 = (make_member() for _ in range(5))
    # members_reported: a1 2, a2 1, b1 1, b2 0 (pending and rejected do not count).
    make_report(m1, a1)
    make_report(m2, a1)
    make_report(m3, a2)
    make_report(m4, b1)
    make_report(m5, a1, status="pending")
    make_report(make_member(), b2, status="rejected")
    # units_reported: a1 1, b2 1 (a pending one in a2 does not count).
    for community, status in ((a1, "approved"), (b2, "approved"), (a2, "pending")):
        unit = make_unit(community)
        db.session.add(Report(kind="unit", status=status, unit_id=unit.id, community_id=community.id,
                              created_by=m1.id))
    # activities: a1 2, b1 1 — by local start; cancelled and other years excluded.
    activity(a1, local(2024, 3, 1, 9))
    activity(a1, local(2024, 12, 31, 23, 30))
    activity(a1, local(2025, 1, 1, 0, 30))
    activity(a2, local(2024, 6, 1, 9), status="cancelled")
    activity(b1, local(2024, 5, 1, 9))
    activity(b2, local(2023, 12, 31, 23, 0))
    # approved_hours: a1 5.5, a2 1.25, b1 4, b2 1; active_volunteers: a1 {m1, m2}, a2 {m1}, b1 {m3}, b2 {m1}.
    record(m1, a1, "2.5", local(2024, 2, 1, 9))
    record(m1, a2, "1.25", local(2024, 3, 1, 9))
    record(m2, a1, "3", local(2024, 4, 1, 9))
    record(m2, a1, "5", local(2024, 4, 2, 9), status="pending")
    record(m3, b1, "4", local(2024, 12, 31, 23, 0))
    record(m3, b1, "2", local(2025, 1, 1, 0, 10))
    record(m1, b2, "1", local(2024, 7, 1, 9))
    record(m4, b2, "6", local(2024, 7, 1, 9), status="rejected")
    # no_show_rate: a1 2/3, b1 1/3; declined and replaced excluded; a shift ending in 2025 (local) excluded.
    shift(a1, local(2024, 5, 1, 10), [(m1, "attended"), (m2, "no_show"), (m3, "declined"), (m4, "replaced"),
                                      (m5, "no_show")])
    shift(b1, local(2024, 6, 1, 10), [(m1, "attended"), (m2, "attended"), (m3, "no_show")])
    shift(b1, local(2025, 1, 1, 0, 30), [(m4, "no_show")])
    db.session.flush()
    rollups.rebuild()  # the rows went in directly, past the services that count them
    db.session.commit()
    return tree


def figures(members, units, activities, hours, volunteers, rate):
    return {"members_reported": members, "units_reported": units, "activities": activities, "approved_hours": hours,
            "active_volunteers": volunteers, "no_show_rate": rate}


def pick(body):
    return {k: body[k] for k in ("members_reported", "units_reported", "activities", "approved_hours",
                                 "active_volunteers", "no_show_rate")}


def overview(client, user, **query):
    return client.get("/api/v1/stats/overview", query_string=query, headers=auth(user))


def test_district_figures_and_its_streets(client, data):
    admin = make_staff("district_admin", data["district"])
    response = overview(client, admin, region_id=data["district"].id, year=2024)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["region_id"] == data["district"].id and body["year"] == 2024
    # m1 served in both streets: the district counts three volunteers, not four.
    assert pick(body) == figures(4, 2, 3, 11.75, 3, 0.5)
    children = {c["region_id"]: c for c in body["children"]}
    assert list(children) == [data["street_a"].id, data["street_b"].id]
    assert children[data["street_a"].id]["name"] == "甲街道"
    assert pick(children[data["street_a"].id]) == figures(3, 1, 2, 6.75, 2, 0.6667)
    assert pick(children[data["street_b"].id]) == figures(1, 1, 1, 5.0, 2, 0.3333)


def test_street_figures_and_its_communities(client, data):
    admin = make_staff("street_admin", data["street_a"])
    body = overview(client, admin, region_id=data["street_a"].id, year=2024).get_json()
    assert pick(body) == figures(3, 1, 2, 6.75, 2, 0.6667)
    children = {c["region_id"]: pick(c) for c in body["children"]}
    assert children == {data["a1"].id: figures(2, 1, 2, 5.5, 2, 0.6667),
                        data["a2"].id: figures(1, 0, 0, 1.25, 1, 0)}
    body = overview(client, admin, region_id=data["b1"].id, year=2024)
    assert body.status_code == 404


def test_community_has_no_children_and_defaults_to_the_callers_region(client, data):
    admin = make_staff("community_admin", data["b1"])
    body = overview(client, admin, year=2024).get_json()
    assert body["region_id"] == data["b1"].id
    assert pick(body) == figures(1, 0, 1, 4.0, 1, 0.3333) and body["children"] == []


def test_another_year_counts_only_that_year(client, data):
    admin = make_staff("sysadmin")
    body = overview(client, admin, region_id=data["district"].id, year=2025).get_json()
    assert body["activities"] == 1 and body["approved_hours"] == 2.0 and body["active_volunteers"] == 1
    assert body["no_show_rate"] == 1.0
    # Approved reports are the standing figure, whatever the year.
    assert body["members_reported"] == 4
    body = overview(client, admin, region_id=data["district"].id, year=2023).get_json()
    assert body["activities"] == 1 and body["approved_hours"] == 0 and body["no_show_rate"] == 0


def test_scope_of_the_overview(client, data):
    street_b = make_staff("street_admin", data["street_b"])
    for region in ("street_a", "a1", "district"):
        response = overview(client, street_b, region_id=data[region].id, year=2024)
        assert response.status_code == 404, region
    assert overview(client, street_b, region_id=data["street_b"].id, year=2024).status_code == 200
    assert overview(client, street_b, region_id=99999).status_code == 404
    member = make_member()
    response = overview(client, member, region_id=data["a1"].id)
    assert response.status_code == 403 and error_code(response) == "staff_only"
    unit_admin = make_staff("unit_admin", make_unit(data["a1"]))
    assert overview(client, unit_admin, region_id=data["a1"].id).status_code == 403
    sysadmin = make_staff("sysadmin")
    response = overview(client, sysadmin)
    assert response.status_code == 422 and "region_id" in response.get_json()["error"]["details"]
    assert overview(client, sysadmin, region_id=data["a1"].id, year=1900).status_code == 422


def test_empty_region_is_all_zero(client):
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    body = overview(client, admin, region_id=tree["district"].id).get_json()
    assert pick(body) == figures(0, 0, 0, 0, 0, 0)
    assert all(pick(c) == figures(0, 0, 0, 0, 0, 0) for c in body["children"])


def test_the_answer_is_the_recomputation_from_the_records(client, data):
    admin = make_staff("district_admin", data["district"])
    for region in ("district", "street_a", "b1"):
        for year in (2023, 2024, 2025):
            served = overview(client, admin, region_id=data[region].id, year=year, fresh="true").get_json()
            assert set(served) == {"region_id", "name", "kind", "year", "computed_at", "children", *FIGURES}
            recomputed = stats.compute(db.session.get(Region, data[region].id), year)
            assert _comparable(served) == _comparable(recomputed), (region, year)


def _comparable(body):
    """Figures as JSON numbers, without the moment they were read."""
    def number(value):
        return {k: float(v) for k, v in value.items()} if isinstance(value, dict) else float(value)

    def numbers(figures):
        return {k: number(figures[k]) if k in FIGURES else figures[k] for k in figures if k != "computed_at"}
    return {**numbers(body), "children": [numbers(child) for child in body["children"]]}


def test_the_v1_1_figures_for_a_district_and_its_streets(client):
    """attendances, units_active, hours_by_category and appeals_received, by hand, through the services' hooks."""
    tree = region_tree()
    a1, a2, b1 = tree["a1"], tree["a2"], tree["b1"]
    hospital, school = make_unit(a1), make_unit(b1)
    nurse, teacher, retiree = make_member(unit=hospital), make_member(unit=school), make_member()
    # units_active: street a {hospital, school}, street b {school}, district both; the retiree has no unit.
    make_record(nurse, a1, "2", "approved", local(2024, 3, 1, 9), category="health")
    make_record(teacher, a2, "1.5", "approved", local(2024, 3, 2, 9), category="culture")
    make_record(teacher, b1, "3", "approved", local(2024, 3, 3, 9), category=None)
    make_record(retiree, b1, "4", "approved", local(2024, 3, 4, 9), category="order")
    make_record(nurse, b1, "9", "pending", local(2024, 3, 5, 9), category="health")
    make_record(nurse, a1, "9", "approved", local(2023, 3, 5, 9), category="health")
    # attendances: a1 2 (an activity and a shift), b1 1; an open one and one of 2023 do not count.
    activity_a1 = make_activity(a1, starts_at=local(2024, 5, 1, 9))
    make_closed_attendance(nurse, activity=activity_a1)
    make_closed_attendance(retiree, shift=make_post_shift(a1, starts_at=local(2024, 6, 1, 7))[1])
    make_closed_attendance(teacher, activity=make_activity(b1, starts_at=local(2024, 5, 2, 9)))
    make_closed_attendance(teacher, activity=make_activity(b1, starts_at=local(2023, 5, 2, 9)))
    db.session.add(Attendance(member_id=teacher.id, activity_id=activity_a1.id, checked_in_at=local(2024, 5, 1, 9)))
    # appeals_received: a2 2, b1 1 (one of 2025 does not count).
    for community, when in ((a2, local(2024, 1, 1, 0, 30)), (a2, local(2024, 8, 1)), (b1, local(2024, 12, 31, 23)),
                            (b1, local(2025, 1, 1, 0, 10))):
        make_appeal(community, when)
    db.session.commit()
    admin = make_staff("district_admin", tree["district"])
    body = overview(client, admin, region_id=tree["district"].id, year=2024).get_json()
    streets = {child["region_id"]: child for child in body["children"]}
    a, b = streets[tree["street_a"].id], streets[tree["street_b"].id]
    assert (body["attendances"], a["attendances"], b["attendances"]) == (3, 2, 1)
    assert (body["units_active"], a["units_active"], b["units_active"]) == (2, 2, 1)
    assert (body["appeals_received"], a["appeals_received"], b["appeals_received"]) == (3, 2, 1)
    assert body["hours_by_category"] == {"civility": 0, "order": 4.0, "culture": 1.5, "health": 2.0,
                                         "environment": 0, "safety": 0, "other": 3.0}
    assert a["hours_by_category"]["health"] == 2.0 and b["hours_by_category"]["other"] == 3.0
    street = overview(client, admin, region_id=tree["street_a"].id, year=2024).get_json()
    assert {c["region_id"]: c["units_active"] for c in street["children"]} == {a1.id: 1, a2.id: 1}
    assert _comparable(body) == _comparable(stats.compute(db.session.get(Region, tree["district"].id), 2024))


def test_the_overview_reads_the_same_statements_however_many_communities_and_teams(client, count_queries):
    """The database adds up the communities' rollup rows per child: a district's overview sends the same statements
    for four communities as for forty, and reads no team."""
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    headers = auth(admin)
    path = f"/api/v1/stats/overview?region_id={tree['district'].id}"

    def statements():
        with count_queries() as counted:
            response = client.get(path, headers=headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json(), counted.total - (0 if ON_POSTGRES else 1)

    before, few = statements()
    for n in range(36):
        community = make_region(f"新社区{n}", "community", tree["street_a" if n % 2 else "street_b"])
        make_team(community, f"服务队{n}")
    after, many = statements()
    # The caller's sign-in, roles and regions' paths; the region and its children; the additive and the distinct
    # rollups; the activities.
    assert few == many == 8
    assert (before["teams"], after["teams"]) == (0, 36)
    assert {c["region_id"]: c["teams"] for c in after["children"]} == {tree["street_a"].id: 18, tree["street_b"].id: 18}
