"""Races decided by the database, with simultaneous requests at a live server (PostgreSQL; SQLite serialises them):
minutes recorded at once from several desks (one wins, the others 409), a task marked done at once (it counts once),
corrections and convention revisions at once (each its own version, none lost), the monthly reminder run twice at
once (each admin told once)."""

import threading

import requests
import time_machine
from sqlalchemy import func, select

from extensions import db
from models import ConventionVersion, MeetingMinutes, MeetingTask, Notification
from schedulers.jobs import JOBS, run
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, make_staff
from tests.governance_factories import governance_world, held_meeting, minutes_body, schedule

pytestmark = postgres_only


def _send(live_server, method, path, headers, body):
    return requests.request(method, f"{live_server}/api/v1{path}", json=body, headers=headers, timeout=60)


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_minutes_recorded_at_once_from_several_desks_apply_once(client, live_server):
    world = governance_world()
    meeting = schedule(client, world["admin_a1"], world["a1"], agenda=[{"title": "加装电梯"}, {"title": "其他"}])
    desks = [auth(world["admin_a1"]), auth(make_staff("community_admin", world["a1"])), auth(world["street_admin"]),
             auth(world["district_admin"])]
    body = minutes_body(world)
    db.session.remove()

    responses = fire_at_once(4, lambda i: _send(live_server, "POST", f"/meetings/{meeting['id']}/minutes", desks[i],
                                                {**body, "summary": f"第 {i} 张桌子的纪要"}))

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"invalid_state"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert _count(MeetingMinutes, MeetingMinutes.meeting_id == meeting["id"]) == 1
    assert _count(MeetingTask, MeetingTask.meeting_id == meeting["id"]) == 2
    assert db.session.scalar(select(MeetingMinutes.summary)) == winner["summary"]


def test_a_task_marked_done_at_once_counts_once(client, live_server):
    world = governance_world()
    task = held_meeting(client, world)["decisions"][0]["tasks"][1]
    desks = [auth(world["admin_a1"]), auth(world["unit_admin"]), auth(world["street_admin"]),
             auth(world["admin_a1"]), auth(world["unit_admin"])]
    community_id, reader = world["a1"].id, desks[0]
    db.session.remove()

    responses = fire_at_once(5, lambda i: _send(live_server, "POST", f"/tasks/{task['id']}/done", desks[i],
                                                {"note": f"办结说明 {i}"}))

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"invalid_state"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    row = db.session.get(MeetingTask, task["id"])
    assert (row.status, row.note) == ("done", winner["note"])
    page = client.get(f"/api/v1/stats/governance?region_id={community_id}", headers=reader)
    assert page.get_json()["items"][0]["tasks_open"] == 1


def test_corrections_at_once_are_each_a_version(client, live_server):
    world = governance_world()
    meeting = held_meeting(client, world)
    desks = [auth(world["admin_a1"]), auth(world["street_admin"]), auth(world["district_admin"])]
    body = minutes_body(world)
    db.session.remove()

    responses = fire_at_once(3, lambda i: _send(live_server, "PUT", f"/meetings/{meeting['id']}/minutes", desks[i],
                                                {**body, "reason": f"更正 {i}"}))

    assert [r.status_code for r in responses] == [200, 200, 200]
    versions = list(db.session.scalars(select(MeetingMinutes.version).where(
        MeetingMinutes.meeting_id == meeting["id"]).order_by(MeetingMinutes.version)))
    assert versions == [1, 2, 3, 4]
    assert sorted(r.json()["minutes_version"] for r in responses) == [2, 3, 4]
    assert _count(MeetingTask, MeetingTask.meeting_id == meeting["id"]) == 2


def test_convention_revisions_at_once_are_each_a_version(client, live_server):
    world = governance_world()
    convention = client.post("/api/v1/conventions", json={"community_id": world["a1"].id, "title": "公约",
                                                           "text": "条文"}, headers=auth(world["admin_a1"])).get_json()
    desks = [auth(world["admin_a1"]), auth(world["street_admin"]), auth(world["district_admin"])]
    db.session.remove()

    responses = fire_at_once(3, lambda i: _send(live_server, "PUT", f"/conventions/{convention['id']}", desks[i],
                                                {"title": "公约", "text": f"修订 {i}", "reason": f"第 {i} 次"}))

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert sorted(r.json()["version"] for r in responses) == [2, 3, 4]
    assert _count(ConventionVersion, ConventionVersion.convention_id == convention["id"]) == 4


def test_two_schedulers_reminding_at_once_tell_each_admin_once(app):
    world = governance_world()
    admins = [world["admin_a1"].id, world["admin_b1"].id]
    db.session.remove()
    errors = []
    barrier = threading.Barrier(2)

    def remind():
        try:
            with app.app_context():
                barrier.wait()
                run(JOBS["remind_joint_meeting"])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    with time_machine.travel("2026-06-20T09:30:00+08:00", tick=True):
        threads = [threading.Thread(target=remind) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert errors == []
    told = list(db.session.scalars(select(Notification.member_id).where(
        Notification.kind == "joint_meeting_missing").order_by(Notification.member_id)))
    assert told == sorted(admins)
