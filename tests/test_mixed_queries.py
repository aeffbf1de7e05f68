"""The mini-program's Saturday-morning reads (bench/mixed.py) pinned to their statements: each one is a round trip
that a loaded database server makes every member wait for (BENCHMARKS.md, "Mixed workload")."""

from decimal import Decimal

import pytest

from clock import utcnow
from extensions import db
from models import Notification, PointsEntry, Signup, Wish
from tests.activity_factories import confirm, make_activity, make_record
from tests.conftest import ON_POSTGRES
from tests.factories import auth, make_member, make_report, region_tree

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
    return {"community": community, "member": member, "activities": activities}


def statements(client, count_queries, path, headers):
    with count_queries() as counted:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json(), counted.total - BEGIN


def test_me_reads_its_three_figures_in_one_statement(client, count_queries, morning):
    body, total = statements(client, count_queries, "/api/v1/me", auth(morning["member"]))
    assert Decimal(str(body["approved_hours"])) == Decimal("2.50") and body["points"] == 7
    assert body["community_id"] == morning["community"].id
    # The sign-in, the user, its roles, the figures.
    assert total == 4


def test_activities_count_sign_ups_and_the_members_own_in_one_statement(client, count_queries, morning):
    community, activities = morning["community"], morning["activities"]
    body, total = statements(client, count_queries, f"/api/v1/activities?community_id={community.id}",
                             auth(morning["member"]))
    shown = {item["id"]: (item["signed_up"], item["my_signup"]) for item in body["items"]}
    assert shown == {activities[0].id: (1, "confirmed"), activities[1].id: (1, None), activities[2].id: (0, None)}
    # The sign-in, the total, the page, the sign-ups, the organisers' names, the caller's user (its eligibility).
    assert total == 6


def test_open_wishes_send_no_query_for_claimers_they_do_not_have(client, count_queries, morning):
    body, total = statements(client, count_queries, f"/api/v1/wishes?community_id={morning['community'].id}"
                             "&status=open", auth(morning["member"]))
    assert len(body["items"]) == 3 and all(item["claimer_name"] is None for item in body["items"])
    # The sign-in, the total, the page, the caller's roles (who sees claimers), what waits for moderation.
    assert total == 5


@pytest.mark.parametrize(("unread", "expected"), [(None, 2), ("true", 1)])
def test_notifications_count_the_total_and_the_unread_in_one_statement(client, count_queries, morning, unread,
                                                                      expected):
    path = "/api/v1/me/notifications" + (f"?unread={unread}" if unread else "")
    body, total = statements(client, count_queries, path, auth(morning["member"]))
    assert body["total"] == len(body["items"]) == expected and body["unread_count"] == 1
    # The sign-in, both counts, the page.
    assert total == 3
