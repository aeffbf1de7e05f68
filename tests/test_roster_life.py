"""Rosters that follow people's lives: unavailable days release held seats to stand-ins, a template's new time moves
the coming held shifts and tells the holders, alert_unfilled_shifts tells staff and the pool once per short shift,
and a member swaps a shift directly with another pool member (never a double assignment under concurrency)."""

from datetime import datetime, timedelta

import requests
import time_machine
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import Notification, Shift, ShiftAssignment, ShiftSwap
from schedulers.jobs import JOBS, run
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, error_code, make_member
from tests.test_posts import SHANGHAI, add_template, join, make_shift, post_with_admin, roster


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


# Monday 9 March 2026, 06:00 in Beijing.
MONDAY = at(2026, 3, 9, 6)


def notes(member, kind):
    return list(db.session.scalars(select(Notification).where(
        Notification.member_id == member.id, Notification.kind == kind).order_by(Notification.id)))


def status_of(shift_id, member):
    return db.session.scalar(select(ShiftAssignment.status).where(
        ShiftAssignment.shift_id == shift_id, ShiftAssignment.member_id == member.id)
        .order_by(ShiftAssignment.id.desc()))


def sign_up(client, member, shift_id):
    response = client.post(f"/api/v1/shifts/{shift_id}/signups", headers=auth(member))
    assert response.status_code == 201, response.get_json()


# Unavailable days.

def test_marking_days_unavailable_asks_the_pool_to_stand_in_for_held_seats(client):
    _admin, post_id = post_with_admin(client)
    holder, neighbour, other = make_member(), make_member(), make_member()
    for member in (holder, neighbour, other):
        join(client, member, post_id)
    with time_machine.travel(MONDAY, tick=False):
        tuesday = make_shift(post_id, at(2026, 3, 10, 8))
        wednesday = make_shift(post_id, at(2026, 3, 11, 8))
        saturday = make_shift(post_id, at(2026, 3, 14, 22), hours=3)  # passes midnight into Sunday
        past = make_shift(post_id, at(2026, 3, 9, 5), hours=2)
        for shift in (tuesday, wednesday, saturday):
            sign_up(client, holder, shift.id)
        db.session.add(ShiftAssignment(shift_id=past.id, member_id=holder.id, status="assigned"))
        db.session.commit()
        # Tuesday by date, Sunday by weekday (Saturday's shift touches it); Wednesday stays.
        response = client.put("/api/v1/me/unavailability", headers=auth(holder),
                              json={"weekdays": [7], "dates": ["2026-03-10"]})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["standin_requested"] == [tuesday.id, saturday.id]
        db.session.expire_all()
        assert [status_of(s.id, holder) for s in (tuesday, wednesday, saturday, past)] == [
            "standin_requested", "assigned", "standin_requested", "assigned"]
        # The pool is asked through the stand-in flow, and the holder is told.
        assert {n.ref for n in notes(neighbour, "standin_request")} == {f"shift:{tuesday.id}", f"shift:{saturday.id}"}
        assert [n.ref for n in notes(holder, "standin_requested")] == [f"shift:{tuesday.id}", f"shift:{saturday.id}"]
        assert notes(holder, "standin_request") == []
        # Saying it again asks nobody twice.
        again = client.put("/api/v1/me/unavailability", headers=auth(holder),
                           json={"weekdays": [7], "dates": ["2026-03-10"]})
        assert again.get_json()["standin_requested"] == []
        assert len(notes(neighbour, "standin_request")) == 2
        # The first pool member to accept takes the seat over.
        accepted = client.post(f"/api/v1/shifts/{tuesday.id}/standin/accept", headers=auth(neighbour))
        assert accepted.status_code == 200, accepted.get_json()
        db.session.expire_all()
        assert status_of(tuesday.id, holder) == "replaced" and status_of(tuesday.id, neighbour) == "assigned"
        assert db.session.get(Shift, tuesday.id).filled == 1


def test_clearing_unavailability_releases_nothing(client):
    _admin, post_id = post_with_admin(client)
    holder = make_member()
    join(client, holder, post_id)
    with time_machine.travel(MONDAY, tick=False):
        shift = make_shift(post_id, at(2026, 3, 10, 8))
        sign_up(client, holder, shift.id)
        response = client.put("/api/v1/me/unavailability", headers=auth(holder), json={"weekdays": [], "dates": []})
    assert response.get_json() == {"weekdays": [], "dates": [], "standin_requested": []}
    assert status_of(shift.id, holder) == "assigned"


# A template's new time.

def test_a_new_template_time_moves_held_shifts_and_tells_the_holders(client):
    admin, post_id = post_with_admin(client)
    _other_admin, other_post = post_with_admin(client, "b1")
    keeper, clashing, unavailable = make_member(), make_member(), make_member()
    with time_machine.travel(MONDAY, tick=False):
        template = add_template(client, admin, post_id, [1, 2, 3, 4, 5, 6, 7], "07:00", "09:00", seats=2)
        by_day = {i["starts_at"][:10]: i for i in roster(client, admin, post_id, "2026-03-09", "2026-03-22")}
        sign_up(client, keeper, by_day["2026-03-10"]["id"])   # started by the time of the edit
        sign_up(client, keeper, by_day["2026-03-11"]["id"])
        sign_up(client, clashing, by_day["2026-03-11"]["id"])
        sign_up(client, unavailable, by_day["2026-03-12"]["id"])
        # 09:30 on Wednesday elsewhere: the new 09:00–10:30 would overlap it.
        sign_up(client, clashing, make_shift(other_post, at(2026, 3, 11, 9, 30)).id)
        assert client.put("/api/v1/me/unavailability", headers=auth(unavailable),
                          json={"weekdays": [], "dates": ["2026-03-13"]}).status_code == 200
    with time_machine.travel(at(2026, 3, 10, 7, 30), tick=False):
        response = client.patch(f"/api/v1/posts/{post_id}/templates/{template['id']}", headers=auth(admin),
                                json={"start": "09:00", "end": "10:30"})
        assert response.status_code == 200, response.get_json()
        items = {i["starts_at"][:10]: i for i in roster(client, admin, post_id, "2026-03-09", "2026-03-23")}
    # Started and past shifts stay; the coming ones all start at 09:00, held ones with their holders.
    assert items["2026-03-09"]["starts_at"].endswith("T07:00:00+08:00")
    assert items["2026-03-10"]["starts_at"].endswith("T07:00:00+08:00")
    assert [a["member_id"] for a in items["2026-03-10"]["assignees"]] == [keeper.id]
    coming = [i for day, i in items.items() if day >= "2026-03-11"]
    assert coming and all(i["starts_at"].endswith("T09:00:00+08:00") and i["ends_at"].endswith("T10:30:00+08:00")
                          for i in coming)
    assert items["2026-03-11"]["id"] == by_day["2026-03-11"]["id"]
    assert [a["member_id"] for a in items["2026-03-11"]["assignees"]] == [keeper.id]
    assert [a["member_id"] for a in items["2026-03-12"]["assignees"]] == [unavailable.id]
    # Told: the keeper of the new time, the one it would double-book that the seat was given up.
    (moved,) = notes(keeper, "shift_moved")
    assert moved.ref == f"shift:{by_day['2026-03-11']['id']}" and "09:00" in moved.body
    (released,) = notes(clashing, "shift_moved")
    assert "取消" in released.title and status_of(by_day["2026-03-11"]["id"], clashing) == "declined"
    assert len(notes(unavailable, "shift_moved")) == 1
    assert db.session.get(Shift, by_day["2026-03-11"]["id"]).filled == 1


def test_a_shift_moved_onto_an_unavailable_day_is_given_up(client):
    admin, post_id = post_with_admin(client)
    member = make_member()
    with time_machine.travel(MONDAY, tick=False):
        template = add_template(client, admin, post_id, [3], "20:00", "22:00", seats=1)
        (wednesday,) = roster(client, admin, post_id, "2026-03-11", "2026-03-11")
        sign_up(client, member, wednesday["id"])
        assert client.put("/api/v1/me/unavailability", headers=auth(member),
                          json={"weekdays": [4], "dates": []}).status_code == 200
        # Now it passes midnight into Thursday, a day the member cannot.
        response = client.patch(f"/api/v1/posts/{post_id}/templates/{template['id']}", headers=auth(admin),
                                json={"start": "23:00", "end": "01:00"})
        assert response.status_code == 200
        (moved,) = roster(client, admin, post_id, "2026-03-11", "2026-03-11")
    # Given up, the shift held by nobody is made anew at the new time, for the pool to fill.
    assert moved["starts_at"].endswith("T23:00:00+08:00") and moved["assignees"] == []
    (told,) = notes(member, "shift_moved")
    assert "不可值守日" in told.body


# Short shifts 48 hours before.

def test_short_shifts_alert_staff_and_the_pool_once(app, client):
    admin, post_id = post_with_admin(client)
    other_admin, _other_post = post_with_admin(client, "b1")
    pool = [make_member() for _ in range(3)]
    for member in pool:
        join(client, member, post_id)
    with time_machine.travel(MONDAY, tick=False):
        short = make_shift(post_id, MONDAY + timedelta(hours=47), seats=2)
        later = make_shift(post_id, MONDAY + timedelta(hours=50), seats=1)
        full = make_shift(post_id, MONDAY + timedelta(hours=20), seats=1)
        sign_up(client, pool[0], short.id)
        sign_up(client, pool[1], full.id)
        assert run(JOBS["alert_unfilled_shifts"]) == 1
        assert run(JOBS["alert_unfilled_shifts"]) == 0
    staff_notes = notes(admin, "shift_unfilled")
    assert [n.ref for n in staff_notes] == [f"shift:{short.id}"] and "缺 1 人" in staff_notes[0].body
    assert notes(pool[0], "shift_unfilled") == []  # on the shift already
    assert [n.ref for n in notes(pool[1], "shift_unfilled")] == [f"shift:{short.id}"]
    assert notes(other_admin, "shift_unfilled") == []  # staff of another community
    with time_machine.travel(MONDAY + timedelta(hours=3), tick=False):
        assert run(JOBS["alert_unfilled_shifts"]) == 1
    assert [n.ref for n in notes(pool[2], "shift_unfilled")] == [f"shift:{short.id}", f"shift:{later.id}"]
    db.session.expire_all()
    assert db.session.get(Shift, full.id).alerted_at is None
    listed = app.test_cli_runner().invoke(args=["run-job", "--list"])
    assert "alert_unfilled_shifts" in listed.output


@postgres_only
def test_two_schedulers_alert_each_shift_once(app, client):
    admin, post_id = post_with_admin(client)
    pool = [make_member() for _ in range(4)]
    for member in pool:
        join(client, member, post_id)
    with time_machine.travel(MONDAY, tick=True):
        shifts = [make_shift(post_id, MONDAY + timedelta(hours=10 + n), seats=2) for n in range(6)]

        def alert(_):
            with app.app_context():
                try:
                    return run(JOBS["alert_unfilled_shifts"])
                finally:
                    db.session.remove()

        results = fire_at_once(4, alert)
    assert sum(results) == len(shifts)
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.kind == "shift_unfilled")) == len(shifts) * (len(pool) + 1)


# Direct swaps.

def swap_world(client):
    admin, post_id = post_with_admin(client)
    offerer, taker, bystander = make_member(), make_member(), make_member()
    for member in (offerer, taker, bystander):
        join(client, member, post_id)
    shift = make_shift(post_id, MONDAY + timedelta(days=1))
    return admin, post_id, offerer, taker, bystander, shift


def offer(client, member, shift_id, member_id):
    return client.post(f"/api/v1/shifts/{shift_id}/swap", json={"member_id": member_id}, headers=auth(member))


def test_a_member_swaps_a_shift_with_another_pool_member(client):
    _admin, _post_id, offerer, taker, bystander, shift = swap_world(client)
    with time_machine.travel(MONDAY, tick=False):
        sign_up(client, offerer, shift.id)
        response = offer(client, offerer, shift.id, taker.id)
        assert response.status_code == 201, response.get_json()
        swap = response.get_json()
        assert (swap["status"], swap["from_member_id"], swap["to_member_id"]) == ("pending", offerer.id, taker.id)
        assert [n.ref for n in notes(taker, "shift_swap_offered")] == [f"shift:{shift.id}"]
        assert error_code(offer(client, offerer, shift.id, bystander.id)) == "swap_pending"
        # Only the member offered may accept: anyone else sees no such offer.
        assert client.post(f"/api/v1/shift-swaps/{swap['id']}/accept", headers=auth(bystander)).status_code == 404
        accepted = client.post(f"/api/v1/shift-swaps/{swap['id']}/accept", headers=auth(taker))
        assert accepted.status_code == 200, accepted.get_json()
        assert [a["member_id"] for a in accepted.get_json()["assignees"]] == [taker.id]
        again = client.post(f"/api/v1/shift-swaps/{swap['id']}/accept", headers=auth(taker))
        assert again.status_code == 409 and error_code(again) == "invalid_state"
        mine = client.get("/api/v1/me/shift-swaps", headers=auth(offerer)).get_json()
    assert [(s["id"], s["status"]) for s in mine["items"]] == [(swap["id"], "accepted")]
    assert status_of(shift.id, offerer) == "replaced" and status_of(shift.id, taker) == "assigned"
    assert db.session.get(Shift, shift.id).filled == 1
    assert len(notes(offerer, "shift_swap_accepted")) == 1 and len(notes(taker, "shift_swap_accepted")) == 1


def test_swap_refusals(client):
    _admin, post_id, offerer, taker, bystander, shift = swap_world(client)
    outsider = make_member()
    with time_machine.travel(MONDAY, tick=False):
        assert error_code(offer(client, offerer, shift.id, taker.id)) == "signup_not_found"
        sign_up(client, offerer, shift.id)
        assert offer(client, offerer, shift.id, 999999).status_code == 422
        assert offer(client, offerer, shift.id, offerer.id).status_code == 422
        assert client.post(f"/api/v1/shifts/{shift.id}/swap", json={"member_id": taker.id, "x": 1},
                           headers=auth(offerer)).status_code == 422
        assert offer(client, offerer, 999999, taker.id).status_code == 404
        refused = offer(client, offerer, shift.id, outsider.id)
        assert refused.status_code == 403 and error_code(refused) == "not_in_pool"
        sign_up(client, bystander, make_shift(post_id, shift.starts_at, seats=1).id)  # busy at that time
        swap = offer(client, offerer, shift.id, bystander.id).get_json()
        overlap = client.post(f"/api/v1/shift-swaps/{swap['id']}/accept", headers=auth(bystander))
        assert overlap.status_code == 409 and error_code(overlap) == "overlap"
        withdrawn = client.post(f"/api/v1/shift-swaps/{swap['id']}/withdraw", headers=auth(offerer))
        assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
        assert len(notes(bystander, "shift_swap_withdrawn")) == 1
        # The seat moved on (the offerer declined it): accepting the new offer is a 409, nothing changes.
        swap = offer(client, offerer, shift.id, taker.id).get_json()
        assert client.delete(f"/api/v1/shifts/{shift.id}/signups/me", headers=auth(offerer)).status_code == 204
        moved_on = client.post(f"/api/v1/shift-swaps/{swap['id']}/accept", headers=auth(taker))
        assert moved_on.status_code == 409 and error_code(moved_on) == "invalid_state"
        db.session.expire_all()
        assert db.session.get(ShiftSwap, swap["id"]).status == "pending"
        declined = client.post(f"/api/v1/shift-swaps/{swap['id']}/decline", headers=auth(taker))
        assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    assert status_of(shift.id, taker) is None


@postgres_only
def test_a_swap_and_a_stand_in_racing_for_one_seat_never_double_assign(client, live_server):
    _admin, _post_id, offerer, taker, bystander, shift = swap_world(client)
    rounds = []
    for n in range(4):  # the live server runs on the real clock
        shift = make_shift(_post_id, utcnow() + timedelta(days=2 + n))
        sign_up(client, offerer, shift.id)
        assert client.post(f"/api/v1/shifts/{shift.id}/standin", headers=auth(offerer)).status_code == 200
        swap = offer(client, offerer, shift.id, taker.id).get_json()
        rounds.append((shift, swap))
    for shift, swap in rounds:
        calls = [(f"{live_server}/api/v1/shift-swaps/{swap['id']}/accept", auth(taker)),
                 (f"{live_server}/api/v1/shifts/{shift.id}/standin/accept", auth(bystander)),
                 (f"{live_server}/api/v1/shift-swaps/{swap['id']}/accept", auth(taker))]
        answers = fire_at_once(len(calls), lambda i, calls=calls: requests.post(calls[i][0], headers=calls[i][1],
                                                                                timeout=30))
        assert sorted(a.status_code for a in answers) == [200, 409, 409], [a.json() for a in answers]
        db.session.expire_all()
        held = db.session.scalars(select(ShiftAssignment.member_id).where(
            ShiftAssignment.shift_id == shift.id, ShiftAssignment.status.in_(("assigned", "standin_requested")))).all()
        assert len(held) == 1 and held[0] in (taker.id, bystander.id)
        assert db.session.get(Shift, shift.id).filled == 1
        assert status_of(shift.id, offerer) == "replaced"
