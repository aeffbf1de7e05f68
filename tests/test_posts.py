"""Posts, templates and pools through the API (contract: Posts, shifts, rosters)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from sqlalchemy import func, select

from extensions import db
from models import PoolMembership, Post, Shift
from tests.factories import auth, error_code, make_member, make_staff, region_tree

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Monday outside any Chinese holiday.
MONDAY = datetime(2026, 3, 9, 6, 0, tzinfo=SHANGHAI)


def create_post(client, admin, community, **overrides):
    body = {"community_id": community.id, "name": "3号楼桶站", "kind": "bin_station",
            "location": {"address": "3号楼东侧", "lat": 39.9, "lng": 116.4, "radius_m": 100}}
    body.update(overrides)
    return client.post("/api/v1/posts", json=body, headers=auth(admin))


def test_community_admin_creates_post_and_anyone_reads_it(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    response = create_post(client, admin, tree["a1"])
    assert response.status_code == 201
    post = response.get_json()
    assert post["kind"] == "bin_station" and post["location"]["radius_m"] == 100
    member = make_member()
    assert client.get(f"/api/v1/posts/{post['id']}", headers=auth(member)).get_json()["name"] == "3号楼桶站"
    listing = client.get(f"/api/v1/posts?community_id={tree['a1'].id}", headers=auth(member)).get_json()
    assert listing["total"] == 1 and listing["items"][0]["id"] == post["id"]


def test_post_creation_is_scoped_and_validated(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    assert create_post(client, admin, tree["a2"]).status_code == 404
    assert create_post(client, make_member(), tree["a1"]).status_code == 403
    bad = create_post(client, admin, tree["a1"], kind="kitchen")
    assert bad.status_code == 422 and "kind" in bad.get_json()["error"]["details"]
    assert create_post(client, admin, tree["street_a"]).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Post)) == 0


def test_template_generates_fourteen_days_and_validates(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    post_id = create_post(client, admin, tree["a1"]).get_json()["id"]
    with time_machine.travel(MONDAY, tick=False):
        response = client.post(f"/api/v1/posts/{post_id}/templates", headers=auth(admin),
                               json={"weekdays": [1, 2, 3, 4, 5, 6, 7], "start": "07:00", "end": "09:00", "seats": 2})
        assert response.status_code == 201
        template = response.get_json()
        assert template["skip_holidays"] is False and template["active"] is True
        assert db.session.scalar(select(func.count()).select_from(Shift)) == 14
        shifts = client.get(f"/api/v1/posts/{post_id}/shifts?per_page=100", headers=auth(make_member())).get_json()
        assert shifts["total"] == 14
        assert shifts["items"][0]["starts_at"] == "2026-03-09T07:00:00+08:00"
        assert shifts["items"][0]["ends_at"] == "2026-03-09T09:00:00+08:00"
        got = client.get(f"/api/v1/posts/{post_id}/templates/{template['id']}", headers=auth(admin)).get_json()
        assert got["weekdays"] == [1, 2, 3, 4, 5, 6, 7]
    for body in ({"weekdays": [], "start": "07:00", "end": "09:00", "seats": 1},
                 {"weekdays": [8], "start": "07:00", "end": "09:00", "seats": 1},
                 {"weekdays": [1], "start": "7:00", "end": "09:00", "seats": 1},
                 {"weekdays": [1], "start": "07:00", "end": "24:00", "seats": 1},
                 {"weekdays": [1, 1], "start": "07:00", "end": "09:00", "seats": 1},
                 {"weekdays": [1], "start": "07:00", "end": "09:00", "seats": 0}):
        response = client.post(f"/api/v1/posts/{post_id}/templates", json=body, headers=auth(admin))
        assert response.status_code == 422, body
    other_admin = make_staff("community_admin", tree["b1"])
    response = client.post(f"/api/v1/posts/{post_id}/templates", headers=auth(other_admin),
                           json={"weekdays": [1], "start": "07:00", "end": "09:00", "seats": 1})
    assert response.status_code == 404 and error_code(response) == "post_not_found"


def test_pool_is_joined_and_left_only_by_the_member(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    post_id = create_post(client, admin, tree["a1"]).get_json()["id"]
    member = make_member("李四")
    joined = client.post(f"/api/v1/posts/{post_id}/pool", headers=auth(member))
    assert joined.status_code == 201 and joined.get_json()["member_id"] == member.id
    again = client.post(f"/api/v1/posts/{post_id}/pool", headers=auth(member))
    assert again.status_code == 409 and error_code(again) == "already_in_pool"
    # A body naming someone else changes nothing: the caller joins, nobody else.
    other = make_member()
    client.post(f"/api/v1/posts/{post_id}/pool", json={"member_id": other.id}, headers=auth(admin))
    assert not db.session.scalar(select(func.count()).select_from(PoolMembership)
                                 .where(PoolMembership.member_id == other.id))
    pool = client.get(f"/api/v1/posts/{post_id}/pool", headers=auth(admin)).get_json()
    assert [(e["member_id"], e["name"]) for e in pool["items"] if e["member_id"] == member.id] == [(member.id, "李四")]
    assert client.get(f"/api/v1/posts/{post_id}/pool", headers=auth(member)).status_code == 403
    assert client.get(f"/api/v1/posts/{post_id}/pool",
                      headers=auth(make_staff("community_admin", tree["b2"]))).status_code == 404
    assert client.delete(f"/api/v1/posts/{post_id}/pool/me", headers=auth(member)).status_code == 204
    left = client.delete(f"/api/v1/posts/{post_id}/pool/me", headers=auth(member))
    assert left.status_code == 404 and error_code(left) == "not_in_pool"
    assert client.post("/api/v1/posts/99999/pool", headers=auth(member)).status_code == 404


# Helpers shared by the roster, shift, reminder and scheduler tests.

def post_with_admin(client, community_key="a1"):
    tree = region_tree()
    admin = make_staff("community_admin", tree[community_key])
    post_id = create_post(client, admin, tree[community_key]).get_json()["id"]
    return admin, post_id


def add_template(client, admin, post_id, weekdays, start, end, seats=1, skip_holidays=False):
    response = client.post(f"/api/v1/posts/{post_id}/templates", headers=auth(admin), json={
        "weekdays": weekdays, "start": start, "end": end, "seats": seats, "skip_holidays": skip_holidays})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def join(client, member, post_id):
    assert client.post(f"/api/v1/posts/{post_id}/pool", headers=auth(member)).status_code == 201


def make_shift(post_id, starts_at, hours=2, seats=1):
    """A shift without a template, for tests about sign-ups and reminders."""
    from datetime import timedelta

    shift = Shift(post_id=post_id, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours), seats=seats,
                  filled=0)
    db.session.add(shift)
    db.session.commit()
    return shift


def roster(client, user, post_id, date_from, date_to):
    response = client.get(f"/api/v1/posts/{post_id}/shifts?from={date_from}&to={date_to}&per_page=100",
                          headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]
