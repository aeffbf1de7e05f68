"""The mini-program's Saturday-morning reads (bench/mixed.py) pinned to their statements: each one is a round trip
that a loaded database server makes every member wait for (BENCHMARKS.md, "Mixed workload")."""

from datetime import timedelta
from decimal import Decimal

import pytest

from clock import local_today, utcnow
from extensions import db
from models import Activity, ModerationItem, Notification, PointsEntry, Signup, Wish
from tests.activity_factories import confirm, make_activity, make_post_shift, make_record
from tests.conftest import ON_POSTGRES
from tests.factories import auth, make_member, make_report, make_staff, region_tree

# SQLite's transactions open with an explicit BEGIN IMMEDIATE (services/database.py), which is counted too.
BEGIN = 0 if ON_POSTGRES else 1


@pytest.fixture
def morning():
    tree = region_tree()
    community = tree["a1"]
    member, other = make_member(), make_member()
    make_report(member, community)
    make_record(member, community, hours="2.50", status="approved")
    activities = [make_activity(community, capacity=10) for _ in range(3)]
    confirm(activities[0], member)
    db.session.add_all([Signup(activity_id=activities[1].id, member_id=other.id, status="confirmed",
                               created_at=utcnow()),
                        PointsEntry(member_id=member.id, delta=7, reason="service_hours", ref="test:1", at=utcnow()),
                        Notification(member_id=member.id, kind="note", title="已读", created_at=utcnow(),
                                     read_at=utcnow()),
                        Notification(member_id=member.id, kind="note", title="未读", created_at=utcnow()),
                        *(Wish(community_id=community.id, title=f"心愿{n}", status="open") for n in range(3))])
    db.session.commit()
    return {"community": community, "member": member, "activities": activities, "tree": tree}


def statements(client, count_queries, path, headers):
    with count_queries() as counted:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json(), counted.total - BEGIN


def test_me_reads_the_user_and_its_three_figures_in_one_statement(client, count_queries, morning):
    body, total = statements(client, count_queries, "/api/v1/me", auth(morning["member"]))
    assert Decimal(str(body["approved_hours"])) == Decimal("2.50") and body["points"] == 7
    assert body["community_id"] == morning["community"].id
    # The sign-in (which also tells that the member holds no role), and the user with its figures.
    assert total == 2
    assert body["roles"] == []


def test_activities_count_sign_ups_and_the_members_own_in_one_statement(client, count_queries, morning):
    community, activities = morning["community"], morning["activities"]
    body, total = statements(client, count_queries, f"/api/v1/activities?community_id={community.id}",
                             auth(morning["member"]))
    shown = {item["id"]: (item["signed_up"], item["my_signup"]) for item in body["items"]}
    assert shown == {activities[0].id: (1, "confirmed"), activities[1].id: (1, None), activities[2].id: (0, None)}
    # The sign-in, the total, and the page with the sign-ups and the organisers' names: no activity has a criterion,
    # so the caller's user is not read.
    assert total == 3
    assert all(item["organizer"] == {"type": "community", "id": community.id, "name": community.name}
               for item in body["items"])
    assert [item["can_sign_up"] for item in body["items"]] == [False, True, True]


def test_a_page_with_a_criterion_on_it_reads_the_callers_user(client, count_queries, morning):
    community, activities = morning["community"], morning["activities"]
    activities[2].eligible_political_statuses = ["party_member"]
    morning["member"].political_status = "masses"
    db.session.commit()
    body, total = statements(client, count_queries, f"/api/v1/activities?community_id={community.id}",
                             auth(morning["member"]))
    reasons = {item["id"]: item["cannot_reason"] for item in body["items"]}
    assert reasons == {activities[0].id: "already_signed_up", activities[1].id: None,
                       activities[2].id: "not_eligible"}
    # As above, and the caller's user for its political status.
    assert total == 4


def test_open_wishes_send_no_query_for_claimers_they_do_not_have(client, count_queries, morning):
    body, total = statements(client, count_queries, f"/api/v1/wishes?community_id={morning['community'].id}"
                             "&status=open", auth(morning["member"]))
    assert len(body["items"]) == 3 and all(item["claimer_name"] is None for item in body["items"])
    # The sign-in (and that the caller holds no role: who sees claimers), and the page with its total (a community's
    # open wishes are few: a window count) and what waits for moderation.
    assert total == 2


def test_the_open_wishes_page_tells_which_wait_for_moderation(client, morning):
    held, passed, kept = db.session.query(Wish).filter_by(community_id=morning["community"].id).order_by(Wish.id)
    db.session.add_all([
        ModerationItem(object_type="wish", object_id=held.id, field="title", text="待审", status="review"),
        ModerationItem(object_type="wish", object_id=passed.id, field="title", text="已过", status="approved"),
        ModerationItem(object_type="appeal", object_id=kept.id, field="title", text="别的对象", status="review")])
    db.session.commit()
    body = client.get(f"/api/v1/wishes?community_id={morning['community'].id}&status=open",
                      headers=auth(morning["member"])).get_json()
    assert {item["id"]: item["moderation"] for item in body["items"]} == {
        held.id: "review", passed.id: None, kept.id: None}


@pytest.mark.parametrize(("unread", "expected"), [(None, 2), ("true", 1)])
def test_notifications_count_the_total_and_the_unread_in_one_statement(client, count_queries, morning, unread,
                                                                      expected):
    path = "/api/v1/me/notifications" + (f"?unread={unread}" if unread else "")
    body, total = statements(client, count_queries, path, auth(morning["member"]))
    assert body["total"] == len(body["items"]) == expected and body["unread_count"] == 1
    # The sign-in, both counts, the page.
    assert total == 3


def test_staff_roles_are_still_read_and_seen(client, count_queries, morning):
    admin = make_staff("community_admin", morning["community"])
    body, total = statements(client, count_queries, "/api/v1/me", auth(admin))
    assert [role["role"] for role in body["roles"]] == ["community_admin"]
    # The sign-in, the user with its figures, its roles.
    assert total == 3
    body, _ = statements(client, count_queries, f"/api/v1/wishes?community_id={morning['community'].id}",
                         auth(admin))
    assert len(body["items"]) == 3


def post(client, count_queries, path, headers):
    with count_queries() as counted:
        response = client.post(path, json={}, headers=headers)
    return response, counted.total - BEGIN


def test_sign_up_takes_its_seat_and_inserts_once(client, count_queries, morning):
    member, activities = morning["member"], morning["activities"]
    full = activities[1]
    full.capacity = full.confirmed_count = 1  # the other member holds its one seat
    db.session.commit()
    response, total = post(client, count_queries, f"/api/v1/activities/{activities[2].id}/signups", auth(member))
    assert response.status_code == 201 and response.get_json()["status"] == "confirmed"
    # The sign-in, the activity (locked), the seat, the sign-up, the notification: an activity open to anyone does not
    # need the member's user.
    assert total == 5
    response, total = post(client, count_queries, f"/api/v1/activities/{full.id}/signups", auth(member))
    assert response.status_code == 201 and response.get_json()["status"] == "waitlisted"
    assert total == 5
    again, _ = post(client, count_queries, f"/api/v1/activities/{activities[2].id}/signups", auth(member))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_signed_up"
    db.session.expire_all()
    assert [db.session.get(Activity, a.id).confirmed_count for a in activities[1:]] == [1, 1]


def test_a_refused_sign_up_gives_its_seat_back(app, morning):
    from services.activities import sign_up_member

    activity = morning["activities"][0]  # the member holds a confirmed seat already
    with app.test_request_context():
        assert sign_up_member(db.session.get(Activity, activity.id), morning["member"].id) is None
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(Activity, activity.id).confirmed_count == 1
    assert db.session.query(Signup).filter_by(activity_id=activity.id).count() == 1


def test_a_claim_is_refreshed_by_its_update(client, count_queries, morning):
    wish = db.session.query(Wish).filter_by(community_id=morning["community"].id).first()
    response, total = post(client, count_queries, f"/api/v1/wishes/{wish.id}/claim", auth(morning["member"]))
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "claimed" and body["claimed_by_me"] is True
    assert body["claimer_member_id"] == morning["member"].id and body["claimed_at"]
    # The sign-in (which also tells that the caller is a member), the wish, the update returning it, the
    # notification, the claimer's name, what waits for moderation.
    assert total == 6
    again, _ = post(client, count_queries, f"/api/v1/wishes/{wish.id}/claim", auth(make_member()))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_claimed"


def test_a_communitys_coming_activities_come_with_their_total(client, count_queries, morning):
    community, activities = morning["community"], morning["activities"]
    body, total = statements(client, count_queries, f"/api/v1/activities?community_id={community.id}"
                             f"&from={local_today().isoformat()}", auth(morning["member"]))
    assert body["total"] == 3 and [item["id"] for item in body["items"]] == [a.id for a in activities]
    # The sign-in, and the page with its total, the sign-ups and the organisers' names.
    assert total == 2


@pytest.mark.parametrize(("page", "shown"), [(1, 2), (2, 1), (3, 0)])
def test_a_page_past_the_end_still_has_the_total(client, morning, page, shown):
    response = client.get(f"/api/v1/wishes?community_id={morning['community'].id}&status=open&per_page=2"
                          f"&page={page}", headers=auth(morning["member"]))
    body = response.get_json()
    assert response.status_code == 200 and len(body["items"]) == shown and body["total"] == 3


def test_no_open_wishes_total_zero(client, morning):
    other = morning["tree"]["a2"]
    body = client.get(f"/api/v1/wishes?community_id={other.id}&status=open", headers=auth(morning["member"])).get_json()
    assert body == {"items": [], "page": 1, "per_page": 20, "total": 0}


def test_my_shifts_come_with_their_total(client, count_queries, morning):
    member, today = morning["member"], local_today()
    path = f"/api/v1/me/shifts?from={today.isoformat()}&to={(today + timedelta(days=13)).isoformat()}"
    body, total = statements(client, count_queries, path, auth(member))
    # The sign-in, the (empty) page with its total.
    assert body["total"] == 0 and total == 2
    make_post_shift(morning["community"], utcnow() + timedelta(days=1), assignees=[member])
    body, total = statements(client, count_queries, path, auth(member))
    assert body["total"] == len(body["items"]) == 1 and body["items"][0]["my_status"] == "assigned"
    # The sign-in, the page with its total, the assignees, their posts' communities, names waiting for moderation.
    assert total == 5
