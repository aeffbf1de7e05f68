"""Wishes (微心愿): posting, listing, every transition by every role, points and notifications, overdue reminders."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from clock import local_today
from extensions import db
from models import Notification, PointsEntry, Wish
from schedulers.jobs import JOBS, run
from tests.factories import auth, error_code, make_member, make_staff, make_unit, region_tree

API = "/api/v1"


@pytest.fixture
def world():
    tree = region_tree()
    unit = make_unit(tree["a1"], "甲单位")
    return {
        **tree,
        "admin_a1": make_staff("community_admin", tree["a1"]),
        "admin_b1": make_staff("community_admin", tree["b1"]),
        "street_a": make_staff("street_admin", tree["street_a"]),
        "unit": unit,
        "unit_admin": make_staff("unit_admin", unit),
        "other_unit_admin": make_staff("unit_admin", make_unit(tree["a2"])),
        "member": make_member("认领人"),
        "other": make_member("旁观者"),
    }


def post_wish(client, staff, community, **fields):
    body = {"community_id": community.id, "title": "帮独居老人买米", "description": "每月一袋米",
            "beneficiary": "3号楼独居老人", "deadline": (local_today() + timedelta(days=7)).isoformat(), **fields}
    response = client.post(f"{API}/wishes", json=body, headers=auth(staff))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def act(client, user, wish_id, action, body=None):
    return client.post(f"{API}/wishes/{wish_id}/{action}", json=body if body is not None else {}, headers=auth(user))


def wish_status(wish_id):
    db.session.expire_all()
    return db.session.get(Wish, wish_id).status


def balance(member):
    return db.session.scalar(select(func.coalesce(func.sum(PointsEntry.delta), 0))
                             .where(PointsEntry.member_id == member.id))


def test_community_staff_post_a_wish_that_is_open(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    assert wish["status"] == "open"
    assert wish["beneficiary"] == "3号楼独居老人"
    assert wish["claimer_type"] is None
    assert db.session.get(Wish, wish["id"]).created_by == world["admin_a1"].id
    # A street admin above the community may post too.
    assert post_wish(client, world["street_a"], world["a2"])["status"] == "open"


def test_posting_needs_staff_of_that_community(client, world):
    body = {"community_id": world["a1"].id, "title": "修理门锁"}
    assert client.post(f"{API}/wishes", json=body, headers=auth(world["member"])).status_code == 403
    assert client.post(f"{API}/wishes", json=body, headers=auth(world["unit_admin"])).status_code == 403
    response = client.post(f"{API}/wishes", json=body, headers=auth(world["admin_b1"]))
    assert response.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Wish)) == 0


def test_posting_validates_fields(client, world):
    headers = auth(world["admin_a1"])
    response = client.post(f"{API}/wishes", json={"community_id": world["a1"].id}, headers=headers)
    assert response.status_code == 422
    assert "title" in response.get_json()["error"]["details"]
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    response = client.post(f"{API}/wishes", json={"community_id": world["a1"].id, "title": "x", "deadline": yesterday},
                           headers=headers)
    assert response.status_code == 422
    assert "deadline" in response.get_json()["error"]["details"]
    response = client.post(f"{API}/wishes", json={"community_id": world["street_a"].id, "title": "x"}, headers=headers)
    assert response.status_code == 422
    assert "community_id" in response.get_json()["error"]["details"]


def test_list_filters_by_community_and_status(client, world):
    first = post_wish(client, world["admin_a1"], world["a1"], title="一")
    post_wish(client, world["admin_a1"], world["a1"], title="二")
    post_wish(client, world["admin_b1"], world["b1"], title="三")
    act(client, world["member"], first["id"], "claim")
    headers = auth(world["other"])
    page = client.get(f"{API}/wishes?community_id={world['a1'].id}", headers=headers).get_json()
    assert page["total"] == 2 and [w["title"] for w in page["items"]] == ["二", "一"]
    page = client.get(f"{API}/wishes?status=open", headers=headers).get_json()
    assert sorted(w["title"] for w in page["items"]) == ["三", "二"]
    page = client.get(f"{API}/wishes?community_id={world['a1'].id}&status=claimed", headers=headers).get_json()
    assert [w["title"] for w in page["items"]] == ["一"]
    assert client.get(f"{API}/wishes?status=bogus", headers=headers).status_code == 422


def test_other_members_do_not_learn_who_claimed(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    act(client, world["member"], wish["id"], "claim")
    seen_by_other = client.get(f"{API}/wishes/{wish['id']}", headers=auth(world["other"])).get_json()
    assert seen_by_other["status"] == "claimed" and seen_by_other["claimer_type"] == "member"
    assert seen_by_other["claimer_member_id"] is None and seen_by_other["claimer_name"] is None
    assert seen_by_other["claimed_by_me"] is False
    seen_by_claimer = client.get(f"{API}/wishes/{wish['id']}", headers=auth(world["member"])).get_json()
    assert seen_by_claimer["claimed_by_me"] is True and seen_by_claimer["claimer_name"] == "认领人"
    seen_by_staff = client.get(f"{API}/wishes/{wish['id']}", headers=auth(world["admin_a1"])).get_json()
    assert seen_by_staff["claimer_member_id"] == world["member"].id


def test_full_life_of_a_member_claim(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    response = act(client, world["member"], wish["id"], "claim")
    assert response.status_code == 200 and response.get_json()["status"] == "claimed"
    response = act(client, world["member"], wish["id"], "fulfil", {"note": "已送米上门"})
    assert response.status_code == 200 and response.get_json()["status"] == "fulfilled"
    assert response.get_json()["fulfil_note"] == "已送米上门"
    response = act(client, world["admin_a1"], wish["id"], "confirm")
    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    assert balance(world["member"]) == 20
    entry = db.session.scalar(select(PointsEntry).where(PointsEntry.member_id == world["member"].id))
    assert (entry.delta, entry.reason, entry.ref) == (20, "wish_completed", f"wish:{wish['id']}:completed")
    kinds = list(db.session.scalars(select(Notification.kind).where(Notification.member_id == world["member"].id)
                                    .order_by(Notification.id)))
    assert kinds == ["wish_claimed", "wish_completed"]


def test_confirm_twice_credits_once(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    act(client, world["member"], wish["id"], "claim")
    act(client, world["member"], wish["id"], "fulfil", {"note": "完成"})
    assert act(client, world["admin_a1"], wish["id"], "confirm").status_code == 200
    again = act(client, world["street_a"], wish["id"], "confirm")
    assert again.status_code == 409 and error_code(again) == "invalid_state"
    assert balance(world["member"]) == 20
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "wish_completed")) == 1


def test_unit_admin_claims_for_its_unit_and_earns_the_points(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    response = act(client, world["unit_admin"], wish["id"], "claim", {"unit_id": world["unit"].id})
    assert response.status_code == 200
    body = response.get_json()
    assert body["claimer_type"] == "unit" and body["claimer_unit_id"] == world["unit"].id
    assert body["claimer_name"] == "甲单位"
    # Another admin of the same unit acts for the unit too.
    second_admin = make_staff("unit_admin", world["unit"])
    assert act(client, second_admin, wish["id"], "fulfil", {"note": "单位志愿者已完成"}).status_code == 200
    assert act(client, world["admin_a1"], wish["id"], "confirm").status_code == 200
    assert balance(world["unit_admin"]) == 20 and balance(second_admin) == 0


def test_claim_for_a_unit_needs_its_admin(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    response = act(client, world["other_unit_admin"], wish["id"], "claim", {"unit_id": world["unit"].id})
    assert response.status_code == 404
    # Region staff are not the unit's admin either.
    assert act(client, world["admin_a1"], wish["id"], "claim", {"unit_id": world["unit"].id}).status_code == 404
    assert act(client, world["member"], wish["id"], "claim", {"unit_id": world["unit"].id}).status_code == 403
    # A staff account is not a member: it claims only for a unit.
    assert act(client, world["admin_a1"], wish["id"], "claim").status_code == 403
    assert wish_status(wish["id"]) == "open"


def test_claiming_a_claimed_wish_is_already_claimed(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    assert act(client, world["member"], wish["id"], "claim").status_code == 200
    unit_claim = (world["unit_admin"], {"unit_id": world["unit"].id})
    for user, body in ((world["other"], {}), (world["member"], {}), unit_claim):
        response = act(client, user, wish["id"], "claim", body)
        assert response.status_code == 409 and error_code(response) == "already_claimed"
    assert db.session.get(Wish, wish["id"]).claimer_member_id == world["member"].id


def test_release_reopens_for_anyone(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    act(client, world["member"], wish["id"], "claim")
    forbidden = act(client, world["other"], wish["id"], "release")
    assert forbidden.status_code == 403 and error_code(forbidden) == "not_claimer"
    assert act(client, world["admin_a1"], wish["id"], "release").status_code == 403
    response = act(client, world["member"], wish["id"], "release")
    assert response.status_code == 200 and response.get_json()["status"] == "open"
    row = db.session.get(Wish, wish["id"])
    assert row.claimer_member_id is None and row.claimed_by is None
    assert act(client, world["other"], wish["id"], "claim").status_code == 200


def test_only_the_claimer_fulfils(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    act(client, world["unit_admin"], wish["id"], "claim", {"unit_id": world["unit"].id})
    for user in (world["member"], world["other_unit_admin"], world["admin_a1"]):
        response = act(client, user, wish["id"], "fulfil", {"note": "x"})
        assert response.status_code == 403 and error_code(response) == "not_claimer"
    assert wish_status(wish["id"]) == "claimed"


def test_confirm_and_cancel_need_staff_over_the_community(client, world):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    act(client, world["member"], wish["id"], "claim")
    act(client, world["member"], wish["id"], "fulfil", {"note": "完成"})
    for action in ("confirm", "cancel"):
        assert act(client, world["member"], wish["id"], action).status_code == 403
        assert act(client, world["unit_admin"], wish["id"], action).status_code == 403
        response = act(client, world["admin_b1"], wish["id"], action)
        assert response.status_code == 404 and error_code(response) == "wish_not_found"
    assert wish_status(wish["id"]) == "fulfilled"
    assert act(client, world["street_a"], wish["id"], "confirm").status_code == 200


def test_cancel_open_or_claimed_and_the_claimer_is_told(client, world):
    open_wish = post_wish(client, world["admin_a1"], world["a1"])
    response = act(client, world["admin_a1"], open_wish["id"], "cancel")
    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    claimed = post_wish(client, world["admin_a1"], world["a1"])
    act(client, world["member"], claimed["id"], "claim")
    assert act(client, world["admin_a1"], claimed["id"], "cancel").status_code == 200
    assert db.session.scalar(select(Notification.kind).where(
        Notification.member_id == world["member"].id, Notification.ref == f"wish:{claimed['id']}")
        .order_by(Notification.id.desc()).limit(1)) == "wish_cancelled"


# Every move not in the lifecycle, from every state, is 409 invalid_state (for a caller who may otherwise act).
INVALID = {
    "open": ["release", "fulfil", "confirm"],
    "claimed": ["confirm"],
    "fulfilled": ["claim", "release", "fulfil", "cancel"],
    "completed": ["claim", "release", "fulfil", "confirm", "cancel"],
    "cancelled": ["claim", "release", "fulfil", "confirm", "cancel"],
}
STAFF_ACTIONS = {"confirm", "cancel"}


def wish_in_state(client, world, state):
    wish = post_wish(client, world["admin_a1"], world["a1"])
    steps = {"open": [], "claimed": [("member", "claim")],
             "fulfilled": [("member", "claim"), ("member", "fulfil")],
             "completed": [("member", "claim"), ("member", "fulfil"), ("admin_a1", "confirm")],
             "cancelled": [("admin_a1", "cancel")]}[state]
    for who, action in steps:
        body = {"note": "ok"} if action == "fulfil" else {}
        assert act(client, world[who], wish["id"], action, body).status_code == 200
    assert wish_status(wish["id"]) == state
    return wish


@pytest.mark.parametrize("state", list(INVALID))
def test_every_other_transition_is_invalid_state(client, world, state):
    wish = wish_in_state(client, world, state)
    for action in INVALID[state]:
        user = world["admin_a1"] if action in STAFF_ACTIONS else world["member"]
        response = act(client, user, wish["id"], action, {"note": "x"} if action == "fulfil" else {})
        assert response.status_code == 409, (state, action)
        assert error_code(response) == "invalid_state", (state, action)
        assert wish_status(wish["id"]) == state


def test_unknown_wish_is_404(client, world):
    by_caller = {"member": ("claim", "release", "fulfil"), "admin_a1": ("confirm", "cancel")}
    for caller, actions in by_caller.items():
        for action in actions:
            assert act(client, world[caller], 999, action).status_code == 404
    assert client.get(f"{API}/wishes/999", headers=auth(world["member"])).status_code == 404


def test_a_staff_account_without_wechat_may_not_claim_for_itself(client, world):
    """The role may not do this at all: 403 before the wish is even looked up (contract v1.1's order)."""
    wish = post_wish(client, world["admin_a1"], world["a1"])
    for wish_id in (wish["id"], 999):
        response = act(client, world["admin_a1"], wish_id, "claim")
        assert response.status_code == 403 and error_code(response) == "members_only"
    assert wish_status(wish["id"]) == "open"


def make_claimed_wish(world, deadline, claimer):
    wish = Wish(community_id=world["a1"].id, title="送药", deadline=deadline, status="claimed",
                claimer_member_id=claimer.id, claimed_by=claimer.id,
                claimed_at=datetime(2025, 3, 1, 2, 0, tzinfo=UTC), created_by=world["admin_a1"].id)
    db.session.add(wish)
    db.session.commit()
    return wish


def overdue_notifications(member):
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.member_id == member.id, Notification.kind == "wish_overdue"))


def test_overdue_reminder_once_after_the_local_deadline(world):
    job = JOBS["remind_overdue_wishes"]
    assert job.trigger == "cron" and job.trigger_args == {"hour": 9}
    wish = make_claimed_wish(world, date(2025, 3, 10), world["member"])
    on_time = make_claimed_wish(world, date(2025, 3, 20), world["other"])
    # 23:30 on the deadline in Beijing (15:30 UTC): not yet overdue.
    with time_machine.travel(datetime(2025, 3, 10, 15, 30, tzinfo=UTC), tick=False):
        assert run(job) == 0
    # 00:30 the next local day is still 16:30 UTC on the deadline: overdue by local date.
    with time_machine.travel(datetime(2025, 3, 10, 16, 30, tzinfo=UTC), tick=False):
        assert run(job) == 1
        assert run(job) == 0
    with time_machine.travel(datetime(2025, 3, 12, 1, 0, tzinfo=UTC), tick=False):
        assert run(job) == 0
    assert overdue_notifications(world["member"]) == 1
    assert overdue_notifications(world["admin_a1"]) == 1
    assert overdue_notifications(world["other"]) == 0
    db.session.expire_all()
    assert db.session.get(Wish, wish.id).overdue_notified_at is not None
    assert db.session.get(Wish, on_time.id).overdue_notified_at is None


def test_overdue_reminder_skips_wishes_not_claimed(world):
    wish = make_claimed_wish(world, date(2025, 3, 10), world["member"])
    wish.status = "fulfilled"
    db.session.commit()
    with time_machine.travel(datetime(2025, 4, 1, 3, 0, tzinfo=UTC), tick=False):
        assert run(JOBS["remind_overdue_wishes"]) == 0
    assert overdue_notifications(world["member"]) == 0


def test_a_new_claim_of_an_overdue_wish_is_reminded_again(client, world):
    with time_machine.travel(datetime(2025, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        wish = post_wish(client, world["admin_a1"], world["a1"], deadline="2025-03-05")
        act(client, world["member"], wish["id"], "claim")
    with time_machine.travel(datetime(2025, 3, 6, 2, 0, tzinfo=UTC), tick=False):
        assert run(JOBS["remind_overdue_wishes"]) == 1
        assert act(client, world["member"], wish["id"], "release").status_code == 200
        assert act(client, world["other"], wish["id"], "claim").status_code == 200
    with time_machine.travel(datetime(2025, 3, 7, 2, 0, tzinfo=UTC), tick=False):
        assert run(JOBS["remind_overdue_wishes"]) == 1
    assert overdue_notifications(world["member"]) == 1
    assert overdue_notifications(world["other"]) == 1


def test_ids_beyond_the_database_are_404_or_422_never_500(client, world):
    big = 2**70
    headers = auth(world["admin_a1"])
    assert client.get(f"{API}/wishes/{big}", headers=headers).status_code == 404
    assert client.post(f"{API}/wishes/{big}/claim", json={}, headers=headers).status_code == 404
    assert client.get(f"{API}/wishes?community_id={big}", headers=headers).status_code == 422
    assert client.post(f"{API}/wishes", json={"community_id": big, "title": "x"}, headers=headers).status_code == 422
    assert client.post(f"{API}/projects/{big}/approve", headers=headers).status_code == 404
    assert client.get(f"{API}/stats/overview?region_id={big}", headers=headers).status_code == 422
    assert client.get(f"{API}/units/{big}/members/export", headers=headers).status_code == 404
    assert client.post(f"{API}/me/notifications/read", json={"ids": [big]}, headers=headers).status_code == 422
