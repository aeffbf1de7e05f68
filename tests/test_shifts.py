"""Shift sign-up, decline, stand-ins and the caller's shifts."""

from datetime import datetime, timedelta

import requests
import time_machine
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import Notification, Shift, ShiftAssignment
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_member
from tests.test_posts import SHANGHAI, join, make_shift, post_with_admin


def tomorrow_at(hour):
    local = (utcnow() + timedelta(days=1)).astimezone(SHANGHAI)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def signups(shift_id):
    return list(db.session.scalars(select(ShiftAssignment).where(ShiftAssignment.shift_id == shift_id)
                                   .order_by(ShiftAssignment.id)))


def test_sign_up_takes_a_seat_until_full(client):
    _, post_id = post_with_admin(client)
    shift = make_shift(post_id, tomorrow_at(8), seats=1)
    first, second = make_member(), make_member()
    response = client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(first))
    assert response.status_code == 201
    body = response.get_json()
    assert body["my_status"] == "assigned" and [a["member_id"] for a in body["assignees"]] == [first.id]
    again = client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(first))
    assert again.status_code == 409 and error_code(again) == "already_signed_up"
    full = client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(second))
    assert full.status_code == 409 and error_code(full) == "shift_full"
    assert client.post("/api/v1/shifts/99999/signups", headers=auth(second)).status_code == 404
    db.session.expire_all()
    assert db.session.get(Shift, shift.id).filled == 1
    assert [a.source for a in signups(shift.id)] == ["self"]


def test_overlapping_sign_up_is_refused(client):
    _, post_id = post_with_admin(client)
    _, other_post = post_with_admin(client, "b1")
    member = make_member()
    morning = make_shift(post_id, tomorrow_at(8), hours=2)
    overlapping = make_shift(other_post, tomorrow_at(9), hours=2)
    adjacent = make_shift(other_post, tomorrow_at(10), hours=1)
    assert client.post(f"/api/v1/shifts/{morning.id}/signups", headers=auth(member)).status_code == 201
    response = client.post(f"/api/v1/shifts/{overlapping.id}/signups", headers=auth(member))
    assert response.status_code == 409 and error_code(response) == "overlap"
    assert client.post(f"/api/v1/shifts/{adjacent.id}/signups", headers=auth(member)).status_code == 201


def test_decline_frees_the_seat(client):
    _, post_id = post_with_admin(client)
    shift = make_shift(post_id, tomorrow_at(8), seats=1)
    first, second = make_member(), make_member()
    client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(first))
    assert client.delete(f"/api/v1/shifts/{shift.id}/signups/me", headers=auth(first)).status_code == 204
    again = client.delete(f"/api/v1/shifts/{shift.id}/signups/me", headers=auth(first))
    assert again.status_code == 404 and error_code(again) == "signup_not_found"
    assert client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(second)).status_code == 201
    assert [(a.member_id, a.status) for a in signups(shift.id)] == [(first.id, "declined"), (second.id, "assigned")]
    # The one who declined may come back when a seat is free again.
    client.delete(f"/api/v1/shifts/{shift.id}/signups/me", headers=auth(second))
    assert client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(first)).status_code == 201


def test_started_shift_cannot_be_declined(client):
    _, post_id = post_with_admin(client)
    shift = make_shift(post_id, tomorrow_at(8))
    member = make_member()
    client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(member))
    with time_machine.travel(shift.starts_at + timedelta(minutes=5), tick=False):
        response = client.delete(f"/api/v1/shifts/{shift.id}/signups/me", headers=auth(member))
    assert response.status_code == 409 and error_code(response) == "shift_started"
    with time_machine.travel(shift.ends_at + timedelta(minutes=1), tick=False):
        late = client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(make_member()))
    assert late.status_code == 409 and error_code(late) == "shift_over"


def test_stand_in_is_taken_by_the_first_pool_member(client):
    _, post_id = post_with_admin(client)
    shift = make_shift(post_id, tomorrow_at(8), seats=1)
    assignee, helper, late_helper, outsider = (make_member() for _ in range(4))
    for member in (assignee, helper, late_helper):
        join(client, member, post_id)
    client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(assignee))
    none_yet = client.post(f"/api/v1/shifts/{shift.id}/standin/accept", headers=auth(helper))
    assert none_yet.status_code == 409 and error_code(none_yet) == "no_standin_request"
    asked = client.post(f"/api/v1/shifts/{shift.id}/standin", headers=auth(assignee))
    assert asked.status_code == 200 and asked.get_json()["my_status"] == "standin_requested"
    told = db.session.scalars(select(Notification.member_id).where(Notification.kind == "standin_request")).all()
    assert sorted(told) == sorted([helper.id, late_helper.id])
    not_pool = client.post(f"/api/v1/shifts/{shift.id}/standin/accept", headers=auth(outsider))
    assert not_pool.status_code == 403 and error_code(not_pool) == "not_in_pool"
    accepted = client.post(f"/api/v1/shifts/{shift.id}/standin/accept", headers=auth(helper))
    assert accepted.status_code == 200
    assert [(a["member_id"], a["status"]) for a in accepted.get_json()["assignees"]] == [(helper.id, "assigned")]
    second = client.post(f"/api/v1/shifts/{shift.id}/standin/accept", headers=auth(late_helper))
    assert second.status_code == 409 and error_code(second) == "no_standin_request"
    assert [(a.member_id, a.status, a.source) for a in signups(shift.id)] == [
        (assignee.id, "replaced", "self"), (helper.id, "assigned", "standin")]
    db.session.expire_all()
    assert db.session.get(Shift, shift.id).filled == 1
    not_mine = client.post(f"/api/v1/shifts/{shift.id}/standin", headers=auth(late_helper))
    assert not_mine.status_code == 404


def test_my_shifts_lists_the_callers_shifts(client):
    _, post_id = post_with_admin(client)
    member, other = make_member(), make_member()
    mine = make_shift(post_id, tomorrow_at(8))
    make_shift(post_id, tomorrow_at(12))
    declined = make_shift(post_id, tomorrow_at(16))
    client.post(f"/api/v1/shifts/{mine.id}/signups", headers=auth(member))
    client.post(f"/api/v1/shifts/{declined.id}/signups", headers=auth(member))
    client.delete(f"/api/v1/shifts/{declined.id}/signups/me", headers=auth(member))
    body = client.get("/api/v1/me/shifts", headers=auth(member)).get_json()
    assert [(i["id"], i["my_status"]) for i in body["items"]] == [(mine.id, "assigned")]
    assert client.get("/api/v1/me/shifts", headers=auth(other)).get_json()["total"] == 0
    day = tomorrow_at(8).date()
    far = client.get(f"/api/v1/me/shifts?from={day + timedelta(days=1)}&to={day + timedelta(days=3)}",
                     headers=auth(member)).get_json()
    assert far["total"] == 0
    assert client.get("/api/v1/me/shifts?from=yesterday", headers=auth(member)).status_code == 422


def test_ten_members_for_two_seats_exactly_two_win(live_server, client):
    _, post_id = post_with_admin(client)
    shift = make_shift(post_id, tomorrow_at(8), seats=3)
    holder = make_member()
    client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(holder))
    headers = [auth(make_member()) for _ in range(10)]
    url = f"{live_server}/api/v1/shifts/{shift.id}/signups"
    results = fire_at_once(10, lambda i: requests.post(url, headers=headers[i], timeout=30))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 2 + [409] * 8
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {"shift_full"}
    db.session.expire_all()
    assert db.session.get(Shift, shift.id).filled == 3
    assert db.session.scalar(select(func.count()).select_from(ShiftAssignment)
                             .where(ShiftAssignment.shift_id == shift.id)) == 3


def test_one_members_simultaneous_sign_ups_never_overlap(live_server, client):
    _, post_id = post_with_admin(client)
    shifts = [make_shift(post_id, tomorrow_at(8) + timedelta(minutes=30 * i), hours=2, seats=5) for i in range(4)]
    headers = auth(make_member())
    urls = [f"{live_server}/api/v1/shifts/{s.id}/signups" for s in shifts]
    results = fire_at_once(4, lambda i: requests.post(urls[i], headers=headers, timeout=30))
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]
    assert {r.json()["error"]["code"] for r in results if r.status_code == 409} == {"overlap"}


def test_times_without_offset_are_shown_in_local_time(client):
    _, post_id = post_with_admin(client)
    shift = make_shift(post_id, datetime(2030, 5, 6, 7, 30, tzinfo=SHANGHAI))
    items = client.get(f"/api/v1/posts/{post_id}/shifts?from=2030-05-06&to=2030-05-06",
                       headers=auth(make_member())).get_json()["items"]
    assert [(i["id"], i["starts_at"]) for i in items] == [(shift.id, "2030-05-06T07:30:00+08:00")]
