"""Team sign-ups racing single sign-ups never confirm more than the capacity, and all-or-nothing stays all or nothing
(the activity's seat lock; proven on PostgreSQL)."""

import requests
from sqlalchemy import func, select

from extensions import db
from models import Activity, Notification, Signup
from tests.activity_factories import make_activity
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, make_member, region_tree
from tests.team_factories import make_team


def _confirmed(activity_id):
    return db.session.scalar(select(func.count()).select_from(Signup).where(
        Signup.activity_id == activity_id, Signup.status == "confirmed"))


@postgres_only
def test_team_and_single_sign_ups_at_once_never_exceed_the_capacity(live_server):
    tree = region_tree()
    activity = make_activity(tree["a1"], capacity=12)
    activity_id = activity.id
    requests_to_fire = []
    for n in range(3):
        leader = make_member(f"队长{n}")
        members = [make_member() for _ in range(6)]
        team = make_team(tree["a1"], f"队{n}", leaders=[leader], members=members)
        body = {"team_id": team.id, "member_ids": [m.id for m in members]}
        requests_to_fire.append((f"/activities/{activity_id}/team-signups", body, auth(leader)))
    for _ in range(10):
        requests_to_fire.append((f"/activities/{activity_id}/signups", None, auth(make_member())))
    db.session.remove()

    def fire(i):
        path, body, headers = requests_to_fire[i]
        return requests.post(f"{live_server}/api/v1{path}", json=body, headers=headers, timeout=60)

    responses = fire_at_once(len(requests_to_fire), fire)
    assert [r.status_code for r in responses] == [201] * len(requests_to_fire)
    teams_confirmed = sum(len(r.json()["confirmed"]) for r in responses[:3])
    teams_waitlisted = sum(len(r.json()["waitlisted"]) for r in responses[:3])
    singles_confirmed = sum(r.json()["status"] == "confirmed" for r in responses[3:])
    assert teams_confirmed + teams_waitlisted == 18
    assert teams_confirmed + singles_confirmed == 12 == _confirmed(activity_id)
    assert db.session.get(Activity, activity_id).confirmed_count == 12
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 28


@postgres_only
def test_simultaneous_all_or_nothing_requests_get_all_their_seats_or_none(live_server):
    tree = region_tree()
    activity = make_activity(tree["a1"], capacity=10)
    activity_id = activity.id
    requests_to_fire = []
    for n in range(4):
        leader = make_member(f"队长{n}")
        members = [make_member() for _ in range(4)]
        team = make_team(tree["a1"], f"队{n}", leaders=[leader], members=members)
        body = {"team_id": team.id, "member_ids": [m.id for m in members], "all_or_nothing": True}
        requests_to_fire.append((f"/activities/{activity_id}/team-signups", body, auth(leader)))
    for _ in range(4):
        requests_to_fire.append((f"/activities/{activity_id}/signups", None, auth(make_member())))
    db.session.remove()

    def fire(i):
        path, body, headers = requests_to_fire[i]
        return requests.post(f"{live_server}/api/v1{path}", json=body, headers=headers, timeout=60)

    responses = fire_at_once(len(requests_to_fire), fire)
    teams = responses[:4]
    assert {r.status_code for r in teams} <= {201, 409}
    for refused in (r for r in teams if r.status_code == 409):
        assert refused.json()["error"]["code"] == "not_enough_seats"
    granted = [r.json() for r in teams if r.status_code == 201]
    assert all(len(g["confirmed"]) == 4 and g["waitlisted"] == [] for g in granted)
    singles_confirmed = sum(r.json()["status"] == "confirmed" for r in responses[4:])
    assert 4 * len(granted) + singles_confirmed == _confirmed(activity_id) <= 10
    # Seats are refused only for want of them: whoever came last found fewer than four free.
    assert 10 - _confirmed(activity_id) < 4 or len(granted) == 4


def test_simultaneous_joins_and_approvals_decide_once(live_server):
    """Runs on SQLite too (writes are serialised there); on PostgreSQL the unique constraint and the conditional
    update decide."""
    tree = region_tree()
    leaders = [make_member(f"队长{n}") for n in range(4)]
    team = make_team(tree["a1"], leaders=leaders)
    joiner = make_member("申请人")
    team_id, joiner_id, joiner_headers = team.id, joiner.id, auth(joiner)
    leader_headers = [auth(leader) for leader in leaders]
    db.session.remove()

    joins = fire_at_once(6, lambda i: requests.post(f"{live_server}/api/v1/teams/{team_id}/members",
                                                    headers=joiner_headers, timeout=60))
    assert sorted(r.status_code for r in joins) == [201] + [409] * 5
    assert {r.json()["error"]["code"] for r in joins if r.status_code == 409} == {"already_member"}
    approvals = fire_at_once(4, lambda i: requests.post(
        f"{live_server}/api/v1/teams/{team_id}/members/{joiner_id}/approve", headers=leader_headers[i], timeout=60))
    assert sorted(r.status_code for r in approvals) == [200, 409, 409, 409]
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.member_id == joiner_id, Notification.kind == "team_join_decided")) == 1
