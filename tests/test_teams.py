"""Volunteer teams (志愿服务队): founding, lists, membership by join policy, leaders, who may do what, team sign-ups
composed of single sign-ups, and the team carried to attendances and service records."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import Attendance, Notification, PointsEntry, Report, ServiceRecord, Signup, TeamMember, Wish
from services import checkin_tokens
from tests.activity_factories import PLACE, confirm, make_activity, make_record
from tests.conftest import ON_POSTGRES
from tests.factories import auth, error_code, make_member, make_staff, make_unit, region_tree
from tests.team_factories import make_team

API = "/api/v1"


@pytest.fixture
def world():
    tree = region_tree()
    unit = make_unit(tree["a1"], "甲单位")
    return {
        **tree,
        "unit": unit,
        "admin_a1": make_staff("community_admin", tree["a1"]),
        "admin_a2": make_staff("community_admin", tree["a2"]),
        "admin_b1": make_staff("community_admin", tree["b1"]),
        "street_a": make_staff("street_admin", tree["street_a"]),
        "unit_admin": make_staff("unit_admin", unit),
        "other_unit_admin": make_staff("unit_admin", make_unit(tree["b1"])),
        "leader": make_member("队长"),
        "member": make_member("队员"),
        "stranger": make_member("路人"),
    }


def kinds(member, kind):
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.member_id == member.id, Notification.kind == kind))


# Founding and reading.

def test_community_and_unit_staff_found_teams_names_unique_per_owner(client, world):
    body = {"owner_type": "community", "owner_id": world["a1"].id, "name": "老党员先锋队", "description": "党员先锋",
            "join_policy": "open"}
    created = client.post(f"{API}/teams", json=body, headers=auth(world["admin_a1"]))
    assert created.status_code == 201
    team = created.get_json()
    assert team["member_count"] == 0 and team["status"] == "active" and team["owner_name"] == "a1社区"
    assert team["community_id"] == world["a1"].id and team["leaders"] == [] and team["my_status"] is None
    again = client.post(f"{API}/teams", json={**body, "name": "  老党员先锋队 "}, headers=auth(world["street_a"]))
    assert again.status_code == 409 and error_code(again) == "team_name_taken"
    latin = {**body, "name": "Red Flag"}
    assert client.post(f"{API}/teams", json=latin, headers=auth(world["admin_a1"])).status_code == 201
    clash = client.post(f"{API}/teams", json={**latin, "name": "red flag"}, headers=auth(world["admin_a1"]))
    assert error_code(clash) == "team_name_taken"
    unit_body = {**body, "owner_type": "unit", "owner_id": world["unit"].id}
    by_unit = client.post(f"{API}/teams", json=unit_body, headers=auth(world["unit_admin"]))
    assert by_unit.status_code == 201 and by_unit.get_json()["owner_type"] == "unit"
    assert by_unit.get_json()["owner_name"] == "甲单位" and by_unit.get_json()["community_id"] == world["a1"].id
    by_community = client.post(f"{API}/teams", json={**unit_body, "name": "二队"}, headers=auth(world["admin_a1"]))
    assert by_community.status_code == 201


def test_founding_answers_in_the_contracts_order(client, world):
    body = {"owner_type": "community", "owner_id": world["a1"].id, "name": "队"}
    member = client.post(f"{API}/teams", json={"bad": 1}, headers=auth(world["member"]))
    assert member.status_code == 403 and error_code(member) == "staff_only"
    unknown = client.post(f"{API}/teams", json={**body, "extra": 1}, headers=auth(world["admin_a1"]))
    assert unknown.status_code == 422
    nothing = client.post(f"{API}/teams", json={**body, "owner_id": 999999}, headers=auth(world["admin_a1"]))
    assert nothing.status_code == 422 and "owner_id" in nothing.get_json()["error"]["details"]
    not_a_community = client.post(f"{API}/teams", json={**body, "owner_id": world["district"].id},
                                  headers=auth(world["admin_a1"]))
    assert not_a_community.status_code == 422
    wrong_kind = client.post(f"{API}/teams", json={**body, "owner_type": "club"}, headers=auth(world["admin_a1"]))
    assert wrong_kind.status_code == 422
    elsewhere = client.post(f"{API}/teams", json=body, headers=auth(world["admin_b1"]))
    assert elsewhere.status_code == 404 and error_code(elsewhere) == "region_not_found"
    other_unit = client.post(f"{API}/teams", json={**body, "owner_type": "unit", "owner_id": world["unit"].id},
                             headers=auth(world["other_unit_admin"]))
    assert other_unit.status_code == 404 and error_code(other_unit) == "unit_not_found"
    assert client.post(f"{API}/teams", json=body).status_code == 401


def test_a_unit_reported_elsewhere_belongs_to_that_community(client, world):
    db.session.add(Report(kind="unit", status="approved", unit_id=world["unit"].id, community_id=world["a2"].id,
                          created_by=world["unit_admin"].id))
    db.session.commit()
    team = make_team(world["unit"], "甲单位服务队")
    shown = client.get(f"{API}/teams/{team.id}", headers=auth(world["member"])).get_json()
    assert shown["community_id"] == world["a2"].id
    listed = client.get(f"{API}/teams?community_id={world['a2'].id}", headers=auth(world["member"])).get_json()
    assert [t["id"] for t in listed["items"]] == [team.id]
    assert client.get(f"{API}/teams?community_id={world['a1'].id}",
                      headers=auth(world["member"])).get_json()["total"] == 0
    renamed = client.patch(f"{API}/teams/{team.id}", json={"name": "新名"}, headers=auth(world["admin_a2"]))
    assert renamed.status_code == 200
    assert client.patch(f"{API}/teams/{team.id}", json={"name": "又名"},
                        headers=auth(world["admin_a1"])).status_code == 404


def test_list_filters_by_community_unit_name_and_owner_type(client, world):
    own = make_team(world["a1"], "老党员先锋队")
    of_unit = make_team(world["unit"], "在职党员心愿认领队")
    other = make_team(world["b1"], "乙社区巡逻队")
    headers = auth(world["stranger"])

    def ids(query):
        answer = client.get(f"{API}/teams{query}", headers=headers)
        assert answer.status_code == 200
        return [t["id"] for t in answer.get_json()["items"]]

    assert ids("") == [other.id, of_unit.id, own.id]
    assert ids(f"?community_id={world['a1'].id}") == [of_unit.id, own.id]
    assert ids(f"?community_id={world['a1'].id}&owner_type=community") == [own.id]
    assert ids("?owner_type=unit") == [of_unit.id]
    assert ids(f"?unit_id={world['unit'].id}") == [of_unit.id]
    assert ids("?q=心愿") == [of_unit.id]
    assert ids("?q=%25") == []
    page = client.get(f"{API}/teams?per_page=2&page=2", headers=headers).get_json()
    assert page["total"] == 3 and page["per_page"] == 2 and [t["id"] for t in page["items"]] == [own.id]
    assert client.get(f"{API}/teams?owner_type=club", headers=headers).status_code == 422


def test_a_team_shows_leaders_counts_hours_and_the_callers_membership(client, world):
    team = make_team(world["a1"], leaders=[world["leader"]], members=[world["member"]], pending=[world["stranger"]])
    make_record(world["member"], world["a1"], hours="2.50", status="approved", team_id=team.id)
    make_record(world["member"], world["a1"], hours="4.00", status="pending", team_id=team.id)
    make_record(world["member"], world["a1"], hours="1.00", status="approved",
                started_at=utcnow() - timedelta(days=800), team_id=team.id)
    shown = client.get(f"{API}/teams/{team.id}", headers=auth(world["member"])).get_json()
    assert shown["leaders"] == [{"member_id": world["leader"].id, "name": "队长"}]
    assert shown["member_count"] == 2 and shown["approved_hours_this_year"] == 2.5
    assert (shown["my_status"], shown["my_role"]) == ("active", "member")
    assert set(shown) >= {"id", "owner_type", "owner_id", "owner_name", "community_id", "name", "description",
                          "join_policy", "status", "member_count", "leaders", "approved_hours_this_year",
                          "my_status", "my_role", "created_at"}
    pending = client.get(f"{API}/teams/{team.id}", headers=auth(world["stranger"])).get_json()
    assert pending["my_status"] == "pending"
    assert client.get(f"{API}/teams/99999", headers=auth(world["member"])).status_code == 404
    mine = client.get(f"{API}/me/teams", headers=auth(world["leader"])).get_json()
    assert [t["id"] for t in mine["items"]] == [team.id] and mine["items"][0]["my_role"] == "leader"
    assert client.get(f"{API}/me/teams", headers=auth(make_member())).get_json()["total"] == 0


def test_a_page_of_teams_costs_the_same_queries_however_many_teams(client, world, count_queries):
    def page_queries(n):
        for i in range(n):
            make_team(world["a1"] if i % 2 else world["unit"], f"队{n}-{i}", leaders=[make_member()],
                      members=[make_member()])
        headers = auth(world["stranger"])
        with count_queries() as counted:
            answer = client.get(f"{API}/teams?per_page=100", headers=headers)
        assert answer.status_code == 200
        return counted.total

    assert page_queries(2) == page_queries(12)


def test_a_communitys_page_of_teams_is_eight_statements(client, world, count_queries):
    # BENCHMARKS.md, "Teams": each round trip showed in p99 on a loaded server.
    for i in range(3):
        make_team(world["a1"], f"文明劝导队第{i}分队", leaders=[make_member()], members=[make_member()])
    headers, url = auth(world["leader"]), f"{API}/teams?community_id={world['a1'].id}"
    with count_queries() as counted:
        answer = client.get(url, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["total"] == 3
    # The sign-in, the community's units, the total, the page, the owners' names, the members (counts and the
    # caller's own), the leaders, the hours; SQLite's BEGIN IMMEDIATE besides.
    assert counted.total - (0 if ON_POSTGRES else 1) == 8


# Joining, approving, removing, leaving.

def test_joining_follows_the_join_policy_once(client, world):
    open_team = make_team(world["a1"], "开放队", join_policy="open")
    closed = make_team(world["a1"], "审核队", leaders=[world["leader"]])
    joined = client.post(f"{API}/teams/{open_team.id}/members", headers=auth(world["member"]))
    assert joined.status_code == 201 and joined.get_json()["status"] == "active"
    asked = client.post(f"{API}/teams/{closed.id}/members", headers=auth(world["member"]))
    assert asked.status_code == 201 and asked.get_json()["status"] == "pending"
    assert kinds(world["leader"], "team_join_requested") == 1
    for team in (open_team, closed):
        again = client.post(f"{API}/teams/{team.id}/members", headers=auth(world["member"]))
        assert again.status_code == 409 and error_code(again) == "already_member"
    staff = client.post(f"{API}/teams/{open_team.id}/members", headers=auth(world["admin_a1"]))
    assert staff.status_code == 403 and error_code(staff) == "members_only"
    assert client.post(f"{API}/teams/99999/members", headers=auth(world["member"])).status_code == 404


def test_leaders_and_the_owners_staff_approve_others_may_not(client, world):
    team = make_team(world["a1"], leaders=[world["leader"]], pending=[world["member"], world["stranger"]])
    plain = make_member()
    make_team(world["a1"], "另一队", leaders=[plain])
    url = f"{API}/teams/{team.id}/members/{world['member'].id}/approve"
    not_leader = client.post(url, headers=auth(plain))
    assert not_leader.status_code == 403 and error_code(not_leader) == "not_leader"
    outside = client.post(url, headers=auth(world["admin_b1"]))
    assert outside.status_code == 404 and error_code(outside) == "team_not_found"
    assert client.post(url, headers=auth(world["other_unit_admin"])).status_code == 404
    approved = client.post(url, headers=auth(world["leader"]))
    assert approved.status_code == 200 and approved.get_json() == {"member_id": world["member"].id,
                                                                   "status": "active"}
    assert kinds(world["member"], "team_join_decided") == 1
    again = client.post(url, headers=auth(world["leader"]))
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    by_staff = client.post(f"{API}/teams/{team.id}/members/{world['stranger'].id}/approve",
                           headers=auth(world["street_a"]))
    assert by_staff.status_code == 200
    unknown = client.post(f"{API}/teams/{team.id}/members/{plain.id}/approve", headers=auth(world["leader"]))
    assert unknown.status_code == 404 and error_code(unknown) == "membership_not_found"


def test_removing_declines_requests_and_only_the_owners_staff_remove_a_leader(client, world):
    second_leader = make_member("副队长")
    team = make_team(world["unit"], leaders=[world["leader"], second_leader], members=[world["member"]],
                     pending=[world["stranger"]])

    def remove(member, by):
        return client.post(f"{API}/teams/{team.id}/members/{member.id}/remove", headers=auth(by))

    declined = remove(world["stranger"], world["leader"])
    assert declined.status_code == 204 and kinds(world["stranger"], "team_join_decided") == 1
    leader_by_leader = remove(second_leader, world["leader"])
    assert leader_by_leader.status_code == 403 and error_code(leader_by_leader) == "owner_staff_only"
    assert remove(world["member"], world["member"]).status_code == 403
    assert remove(world["member"], world["admin_b1"]).status_code == 404
    assert remove(world["member"], world["leader"]).status_code == 204
    gone = remove(world["member"], world["leader"])
    assert gone.status_code == 404 and error_code(gone) == "membership_not_found"
    assert remove(second_leader, world["unit_admin"]).status_code == 204
    assert db.session.scalar(select(func.count()).select_from(TeamMember)) == 1
    # Removed, a member may ask again.
    assert client.post(f"{API}/teams/{team.id}/members", headers=auth(world["member"])).status_code == 201


def test_leaving_ends_membership_and_leadership(client, world):
    team = make_team(world["a1"], leaders=[world["leader"]], members=[world["member"]])
    assert client.delete(f"{API}/teams/{team.id}/members/me", headers=auth(world["leader"])).status_code == 204
    shown = client.get(f"{API}/teams/{team.id}", headers=auth(world["member"])).get_json()
    assert shown["leaders"] == [] and shown["member_count"] == 1
    again = client.delete(f"{API}/teams/{team.id}/members/me", headers=auth(world["leader"]))
    assert again.status_code == 404 and error_code(again) == "membership_not_found"


def test_the_owners_staff_replace_the_leaders_with_active_members_only(client, world):
    team = make_team(world["a1"], leaders=[world["leader"]], members=[world["member"]], pending=[world["stranger"]])
    url = f"{API}/teams/{team.id}/leaders"
    by_member = client.put(url, json={"member_ids": [world["member"].id]}, headers=auth(world["leader"]))
    assert by_member.status_code == 403 and error_code(by_member) == "staff_only"
    outside = client.put(url, json={"member_ids": [world["member"].id]}, headers=auth(world["admin_b1"]))
    assert outside.status_code == 404
    pending = client.put(url, json={"member_ids": [world["stranger"].id]}, headers=auth(world["admin_a1"]))
    assert pending.status_code == 422 and "member_ids" in pending.get_json()["error"]["details"]
    stranger = client.put(url, json={"member_ids": [make_member().id]}, headers=auth(world["admin_a1"]))
    assert stranger.status_code == 422
    replaced = client.put(url, json={"member_ids": [world["member"].id]}, headers=auth(world["admin_a1"]))
    assert replaced.status_code == 200
    assert replaced.get_json()["leaders"] == [{"member_id": world["member"].id, "name": "队员"}]
    roles = dict(db.session.execute(select(TeamMember.member_id, TeamMember.role)).all())
    assert roles[world["leader"].id] == "member" and roles[world["member"].id] == "leader"
    none = client.put(url, json={"member_ids": []}, headers=auth(world["street_a"]))
    assert none.status_code == 200 and none.get_json()["leaders"] == []


def test_editing_switching_to_open_admits_pending_and_dissolving_stops_joins(client, world):
    team = make_team(world["a1"], leaders=[world["leader"]], pending=[world["member"]])
    make_team(world["a1"], "巡逻队")
    url = f"{API}/teams/{team.id}"
    assert client.patch(url, json={"name": "x"}, headers=auth(world["leader"])).status_code == 403
    assert client.patch(url, json={"name": "x"}, headers=auth(world["admin_b1"])).status_code == 404
    taken = client.patch(url, json={"name": " 巡逻队"}, headers=auth(world["admin_a1"]))
    assert taken.status_code == 409 and error_code(taken) == "team_name_taken"
    assert client.patch(url, json={"join_policy": "anyone"}, headers=auth(world["admin_a1"])).status_code == 422
    opened = client.patch(url, json={"join_policy": "open", "description": "欢迎加入"}, headers=auth(world["admin_a1"]))
    assert opened.status_code == 200 and opened.get_json()["member_count"] == 2
    assert opened.get_json()["description"] == "欢迎加入"
    assert kinds(world["member"], "team_join_decided") == 1
    dissolved = client.post(f"{url}/dissolve", headers=auth(world["admin_a1"]))
    assert dissolved.status_code == 200 and dissolved.get_json()["status"] == "dissolved"
    again = client.post(f"{url}/dissolve", headers=auth(world["admin_a1"]))
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    join = client.post(f"{url}/members", headers=auth(world["stranger"]))
    assert join.status_code == 409 and error_code(join) == "invalid_state"
    assert client.get(f"{API}/teams?status=dissolved", headers=auth(world["stranger"])).get_json()["total"] == 1
    assert client.post(f"{url}/dissolve", headers=auth(world["leader"])).status_code == 403


def test_members_list_for_leaders_and_the_owners_staff(client, world):
    team = make_team(world["a1"], leaders=[world["leader"]], members=[world["member"]], pending=[world["stranger"]])
    make_record(world["member"], world["a1"], hours="3.00", status="approved", team_id=team.id)
    make_record(world["member"], world["a1"], hours="5.00", status="approved")
    url = f"{API}/teams/{team.id}/members"
    listed = client.get(url, headers=auth(world["leader"])).get_json()
    assert [(m["member_id"], m["role"], m["status"]) for m in listed["items"]] == [
        (world["leader"].id, "leader", "active"), (world["member"].id, "member", "active"),
        (world["stranger"].id, "member", "pending")]
    assert listed["items"][1]["approved_hours_this_year"] == 3.0 and listed["items"][1]["name"] == "队员"
    assert listed["items"][2]["joined_at"] is None
    pending = client.get(f"{url}?status=pending", headers=auth(world["admin_a1"])).get_json()
    assert [m["member_id"] for m in pending["items"]] == [world["stranger"].id]
    leaders = client.get(f"{url}?role=leader", headers=auth(world["street_a"])).get_json()
    assert [m["member_id"] for m in leaders["items"]] == [world["leader"].id]
    refused = client.get(url, headers=auth(world["member"]))
    assert refused.status_code == 403 and error_code(refused) == "not_leader"
    assert client.get(url, headers=auth(world["admin_b1"])).status_code == 404
    assert client.get(f"{url}?role=boss", headers=auth(world["leader"])).status_code == 422


# Team sign-ups.

@pytest.fixture
def squad(world):
    members = [make_member(f"队员{i}") for i in range(4)]
    team = make_team(world["a1"], leaders=[world["leader"]], members=members)
    return team, members


def sign_up_team(client, activity, team, members, by, **extra):
    return client.post(f"{API}/activities/{activity.id}/team-signups",
                       json={"team_id": team.id, "member_ids": [m.id for m in members], **extra}, headers=auth(by))


def test_a_leader_signs_members_up_as_single_sign_ups(client, world, squad):
    team, members = squad
    activity = make_activity(world["a1"], capacity=3)
    confirm(activity, members[0])
    answer = sign_up_team(client, activity, team, [world["leader"], *members], world["leader"])
    assert answer.status_code == 201
    assert answer.get_json() == {"confirmed": [world["leader"].id, members[1].id], "waitlisted": [m.id for m in
                                 members[2:]], "skipped": [{"member_id": members[0].id, "code": "already_signed_up"}]}
    signups = db.session.scalars(select(Signup).where(Signup.team_id == team.id)).all()
    assert len(signups) == 4
    db.session.refresh(activity)
    assert activity.confirmed_count == 3
    assert kinds(members[1], "team_signup") == 1 and kinds(members[3], "team_signup") == 1
    assert kinds(members[1], "signup_confirmed") == 0
    # A member signed up by the team may decline as usual: the seat goes to the first waitlisted.
    assert client.delete(f"{API}/activities/{activity.id}/signups/me", headers=auth(members[1])).status_code == 204
    promoted = db.session.scalar(select(Signup).where(Signup.member_id == members[2].id))
    assert promoted.status == "confirmed"


def test_all_or_nothing_confirms_everyone_or_nobody(client, world, squad):
    team, members = squad
    activity = make_activity(world["a1"], capacity=3)
    confirm(activity, make_member())
    refused = sign_up_team(client, activity, team, members[:3], world["leader"], all_or_nothing=True)
    assert refused.status_code == 409 and error_code(refused) == "not_enough_seats"
    assert refused.get_json()["error"]["details"]["free_seats"] == 2
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 1
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0
    confirm(activity, members[0])
    # The member already signed up is skipped, not counted: the two others fill the two seats left.
    done = sign_up_team(client, activity, team, members[:2], world["leader"], all_or_nothing=True)
    assert done.status_code == 201
    assert done.get_json() == {"confirmed": [members[1].id], "waitlisted": [],
                               "skipped": [{"member_id": members[0].id, "code": "already_signed_up"}]}


def test_team_sign_ups_answer_in_the_contracts_order(client, world, squad):
    team, members = squad
    activity = make_activity(world["a1"], capacity=3)
    outsider = make_member()
    nothing = client.post(f"{API}/activities/{activity.id}/team-signups",
                          json={"team_id": 99999, "member_ids": [members[0].id]}, headers=auth(world["leader"]))
    assert nothing.status_code == 422 and "team_id" in nothing.get_json()["error"]["details"]
    stranger = sign_up_team(client, activity, team, [members[0], outsider], world["leader"])
    assert stranger.status_code == 422 and "member_ids" in stranger.get_json()["error"]["details"]
    empty = client.post(f"{API}/activities/{activity.id}/team-signups",
                        json={"team_id": team.id, "member_ids": []}, headers=auth(world["leader"]))
    assert empty.status_code == 422
    missing = client.post(f"{API}/activities/99999/team-signups",
                          json={"team_id": team.id, "member_ids": [members[0].id]}, headers=auth(world["leader"]))
    assert missing.status_code == 404 and error_code(missing) == "activity_not_found"
    not_leader = sign_up_team(client, activity, team, members[:1], members[1])
    assert not_leader.status_code == 403 and error_code(not_leader) == "not_leader"
    staff = sign_up_team(client, activity, team, members[:1], world["admin_a1"])
    assert staff.status_code == 403 and error_code(staff) == "not_leader"
    cancelled = make_activity(world["a1"], status="cancelled")
    assert error_code(sign_up_team(client, cancelled, team, members[:1], world["leader"])) == "invalid_state"
    over = make_activity(world["a1"], starts_at=utcnow() - timedelta(hours=3), hours=1)
    ended = sign_up_team(client, over, team, members[:1], world["leader"])
    assert ended.status_code == 409 and error_code(ended) == "activity_ended"
    team.status = "dissolved"
    db.session.commit()
    dissolved = sign_up_team(client, activity, team, members[:1], world["leader"])
    assert dissolved.status_code == 409 and error_code(dissolved) == "invalid_state"
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 0


T0 = datetime(2030, 5, 1, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


def test_the_team_follows_the_sign_up_to_the_attendance_and_the_record(client, world, squad):
    team, members = squad
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        activity = make_activity(world["a1"], starts_at=T0, hours=2, capacity=5)
        assert sign_up_team(client, activity, team, members[:2], world["leader"]).status_code == 201
        solo = make_member()
        assert client.post(f"{API}/activities/{activity.id}/signups", headers=auth(solo)).status_code == 201
    here = {"lat": PLACE[0], "lng": PLACE[1]}
    for member in (members[0], solo):
        with time_machine.travel(T0, tick=False):
            token = checkin_tokens.activity_token(activity)[0]
            assert client.post(f"{API}/checkins", json={"token": token, **here}, headers=auth(member)).status_code \
                == 201
        with time_machine.travel(T0 + timedelta(hours=1), tick=False):
            token = checkin_tokens.activity_token(activity)[0]
            assert client.post(f"{API}/checkins", json={"token": token, **here}, headers=auth(member)).status_code \
                == 200
    teams_of = dict(db.session.execute(select(Attendance.member_id, Attendance.team_id)).all())
    assert teams_of == {members[0].id: team.id, solo.id: None}
    records = dict(db.session.execute(select(ServiceRecord.member_id, ServiceRecord.team_id)).all())
    assert records == {members[0].id: team.id, solo.id: None}
    record = db.session.scalar(select(ServiceRecord).where(ServiceRecord.team_id == team.id))
    assert record.hours == Decimal("1.00")
    # Staff see which sign-ups and records came through the team.
    listed = client.get(f"{API}/activities/{activity.id}/signups", headers=auth(world["admin_a1"])).get_json()
    assert {s["member_id"]: s["team_id"] for s in listed["items"]} == {members[0].id: team.id,
                                                                      members[1].id: team.id, solo.id: None}
    shown = client.get(f"{API}/service-records", headers=auth(world["admin_a1"])).get_json()
    assert {r["member_id"]: r["team_id"] for r in shown["items"]} == records


# Team wish claims.

def test_a_leader_claims_a_wish_for_the_team_and_any_current_leader_carries_it(client, world):
    co_leader = make_member("副队长")
    team = make_team(world["a1"], leaders=[world["leader"], co_leader], members=[world["member"]])
    wish = Wish(community_id=world["a1"].id, title="帮独居老人换灯泡", status="open")
    db.session.add(wish)
    db.session.commit()
    url = f"{API}/wishes/{wish.id}"
    both = client.post(f"{url}/claim", json={"team_id": team.id, "unit_id": world["unit"].id},
                       headers=auth(world["unit_admin"]))
    assert both.status_code == 422 and set(both.get_json()["error"]["details"]) == {"unit_id", "team_id"}
    nothing = client.post(f"{url}/claim", json={"team_id": 99999}, headers=auth(world["leader"]))
    assert nothing.status_code == 422 and "team_id" in nothing.get_json()["error"]["details"]
    not_leader = client.post(f"{url}/claim", json={"team_id": team.id}, headers=auth(world["member"]))
    assert not_leader.status_code == 403 and error_code(not_leader) == "not_leader"
    claimed = client.post(f"{url}/claim", json={"team_id": team.id}, headers=auth(world["leader"]))
    assert claimed.status_code == 200
    claimer = {"type": "team", "id": team.id, "name": "老党员先锋队"}
    assert claimed.get_json()["claimer"] == claimer and claimed.get_json()["claimer_type"] == "team"
    assert claimed.get_json()["claimed_by_me"] is True
    seen = client.get(url, headers=auth(world["stranger"])).get_json()
    assert seen["claimer"] == claimer and seen["claimed_by_me"] is False
    assert client.get(url, headers=auth(co_leader)).get_json()["claimed_by_me"] is True
    # Leadership moves: the first leader no longer acts for the team, the co-leader does.
    assert client.put(f"{API}/teams/{team.id}/leaders", json={"member_ids": [co_leader.id]},
                      headers=auth(world["admin_a1"])).status_code == 200
    refused = client.post(f"{url}/fulfil", json={"note": "已更换"}, headers=auth(world["leader"]))
    assert refused.status_code == 403 and error_code(refused) == "not_claimer"
    assert client.post(f"{url}/fulfil", json={"note": "已更换"}, headers=auth(co_leader)).status_code == 200
    assert client.post(f"{url}/confirm", headers=auth(world["admin_a1"])).status_code == 200
    credited = dict(db.session.execute(select(PointsEntry.member_id, PointsEntry.delta)).all())
    assert credited == {world["leader"].id: 20}


def test_a_team_claim_is_released_by_a_leader_and_a_dissolved_team_claims_nothing(client, world):
    team = make_team(world["a1"], leaders=[world["leader"]])
    wishes = [Wish(community_id=world["a1"].id, title=f"心愿{i}", status="open") for i in range(2)]
    db.session.add_all(wishes)
    db.session.commit()
    assert client.post(f"{API}/wishes/{wishes[0].id}/claim", json={"team_id": team.id},
                       headers=auth(world["leader"])).status_code == 200
    released = client.post(f"{API}/wishes/{wishes[0].id}/release", headers=auth(world["leader"]))
    assert released.status_code == 200 and released.get_json()["claimer"] is None
    assert db.session.get(Wish, wishes[0].id).claimer_team_id is None
    team.status = "dissolved"
    db.session.commit()
    dissolved = client.post(f"{API}/wishes/{wishes[1].id}/claim", json={"team_id": team.id},
                            headers=auth(world["leader"]))
    assert dissolved.status_code == 409 and error_code(dissolved) == "invalid_state"


# Figures.

def test_team_stats_count_what_carries_the_team_in_the_local_year(client, world):
    team = make_team(world["a1"], leaders=[world["leader"]], members=[world["member"]])
    other = make_team(world["a1"], "另一队")
    first, second = make_activity(world["a1"]), make_activity(world["a1"])
    this_year = datetime(2030, 3, 1, 2, 0, tzinfo=UTC)
    # 2029-12-31 23:30 in UTC is already 2030 in Beijing.
    new_year = datetime(2029, 12, 31, 23, 30, tzinfo=UTC)
    for member, activity, at, team_id in ((world["leader"], first, this_year, team.id),
                                          (world["member"], first, new_year, team.id),
                                          (world["member"], second, this_year, team.id),
                                          (world["leader"], second, this_year - timedelta(days=400), team.id),
                                          (world["stranger"], second, this_year, other.id)):
        db.session.add(Attendance(member_id=member.id, activity_id=activity.id, team_id=team_id, checked_in_at=at,
                                  checked_out_at=at + timedelta(hours=1), minutes=60))
    db.session.add(Attendance(member_id=world["stranger"].id, activity_id=first.id, team_id=team.id,
                              checked_in_at=this_year))
    db.session.commit()
    make_record(world["member"], world["a1"], hours="1.50", status="approved", started_at=this_year, team_id=team.id)
    make_record(world["leader"], world["a1"], hours="2.00", status="approved", started_at=new_year, team_id=team.id)
    make_record(world["leader"], world["a1"], hours="9.00", status="pending", started_at=this_year, team_id=team.id)
    make_record(world["leader"], world["a1"], hours="9.00", status="approved", started_at=this_year)
    answer = client.get(f"{API}/teams/{team.id}/stats?year=2030", headers=auth(world["stranger"]))
    assert answer.status_code == 200
    assert answer.get_json() == {"team_id": team.id, "year": 2030, "approved_hours": 3.5, "attendances": 3,
                                 "active_members": 2, "activities": 2}
    empty = client.get(f"{API}/teams/{team.id}/stats?year=2020", headers=auth(world["stranger"])).get_json()
    assert (empty["approved_hours"], empty["attendances"], empty["active_members"]) == (0, 0, 0)
    assert client.get(f"{API}/teams/99999/stats", headers=auth(world["stranger"])).status_code == 404
    assert client.get(f"{API}/teams/{team.id}/stats?year=abc", headers=auth(world["stranger"])).status_code == 422


def test_the_overview_counts_active_teams_of_communities_and_their_units(client, world):
    make_team(world["a1"], "一队")
    make_team(world["unit"], "单位队")
    make_team(world["a2"], "二队")
    make_team(world["b1"], "乙队")
    make_team(world["a1"], "散了的队", status="dissolved")
    # A unit sitting in b2 and reported to a2 counts under a2.
    reported = make_unit(world["b2"])
    db.session.add(Report(kind="unit", status="approved", unit_id=reported.id, community_id=world["a2"].id,
                          created_by=world["admin_a2"].id))
    db.session.commit()
    make_team(reported, "报到单位队")
    district = client.get("/api/v1/stats/overview", query_string={"region_id": world["district"].id},
                          headers=auth(make_staff("district_admin", world["district"]))).get_json()
    assert district["teams"] == 5
    assert {c["region_id"]: c["teams"] for c in district["children"]} == {world["a1"].parent_id: 4,
                                                                          world["street_b"].id: 1}
    street = client.get("/api/v1/stats/overview", query_string={"region_id": world["a1"].parent_id},
                        headers=auth(world["street_a"])).get_json()
    assert street["teams"] == 4
    assert {c["region_id"]: c["teams"] for c in street["children"]} == {world["a1"].id: 2, world["a2"].id: 2}


def test_a_teams_history_records_every_change_for_its_leaders_and_owners_staff(client, world):
    created = client.post(f"{API}/teams", json={"owner_type": "community", "owner_id": world["a1"].id,
                                                 "name": "老党员先锋队"}, headers=auth(world["admin_a1"]))
    team_id = created.get_json()["id"]
    for member in (world["leader"], world["member"], world["stranger"]):
        assert client.post(f"{API}/teams/{team_id}/members", headers=auth(member)).status_code == 201
    for member in (world["leader"], world["member"]):
        assert client.post(f"{API}/teams/{team_id}/members/{member.id}/approve",
                           headers=auth(world["admin_a1"])).status_code == 200
    assert client.put(f"{API}/teams/{team_id}/leaders", json={"member_ids": [world["leader"].id]},
                      headers=auth(world["admin_a1"])).status_code == 200
    assert client.post(f"{API}/teams/{team_id}/members/{world['stranger'].id}/remove",
                       headers=auth(world["leader"])).status_code == 204
    assert client.patch(f"{API}/teams/{team_id}", json={"name": "先锋队"},
                        headers=auth(world["admin_a1"])).status_code == 200
    assert client.delete(f"{API}/teams/{team_id}/members/me", headers=auth(world["member"])).status_code == 204
    history = client.get(f"{API}/teams/{team_id}/history?per_page=100", headers=auth(world["leader"])).get_json()
    assert [(e["action"], e["member_name"]) for e in reversed(history["items"])] == [
        ("created", None), ("requested", "队长"), ("requested", "队员"), ("requested", "路人"), ("approved", "队长"),
        ("approved", "队员"), ("leaders_set", None), ("declined", "路人"), ("updated", None), ("left", "队员")]
    updated = next(e for e in history["items"] if e["action"] == "updated")
    assert updated["details"] == {"name": ["老党员先锋队", "先锋队"]}
    assert updated["actor_name"] == world["admin_a1"].name
    refused = client.get(f"{API}/teams/{team_id}/history", headers=auth(world["stranger"]))
    assert refused.status_code == 403 and error_code(refused) == "not_leader"
    assert client.get(f"{API}/teams/{team_id}/history", headers=auth(world["admin_b1"])).status_code == 404
