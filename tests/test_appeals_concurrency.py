"""Races decided by the database, with simultaneous requests at a live server (PostgreSQL with TEST_DATABASE_URL;
SQLite serialises them): two staff accepting or escalating one appeal, a rating sent twice, one 12345 work order
filed at once from two desks, and numbers given to simultaneous filings."""

import requests
from sqlalchemy import func, select

from extensions import db
from models import Appeal, AppealEscalation, AppealEvent
from tests.appeal_factories import accepted_appeal, appeal_world, new_appeal, resolved_appeal
from tests.conftest import fire_at_once
from tests.factories import auth, make_member, make_staff


def _post(live_server, path, headers, body=None):
    return requests.post(f"{live_server}/api/v1{path}", json=body or {}, headers=headers, timeout=60)


def _events(appeal_id, action):
    return db.session.scalar(select(func.count()).select_from(AppealEvent).where(
        AppealEvent.appeal_id == appeal_id, AppealEvent.action == action))


def test_two_staff_accepting_at_once_exactly_one_applies(client, live_server):
    world = appeal_world()
    appeal_id = new_appeal(client, world)
    desks = [auth(world["admin_a1"]), auth(make_staff("community_admin", world["a1"])), auth(world["street_admin"])]
    db.session.remove()

    responses = fire_at_once(3, lambda i: _post(live_server, f"/appeals/{appeal_id}/accept", desks[i]))

    assert sorted(r.status_code for r in responses) == [200, 409, 409]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"invalid_state"}
    assert _events(appeal_id, "accepted") == 1


def test_two_staff_escalating_at_once_exactly_one_applies(client, live_server):
    world = appeal_world()
    appeal_id = accepted_appeal(client, world)
    targets = [world["department"].id, world["district_department"].id]
    desks = [auth(world["admin_a1"]), auth(world["street_admin"])]
    db.session.remove()

    responses = fire_at_once(2, lambda i: _post(live_server, f"/appeals/{appeal_id}/escalate", desks[i],
                                                {"department_id": targets[i], "note": "请协助处理"}))

    assert sorted(r.status_code for r in responses) == [200, 409]
    assert db.session.scalar(select(func.count()).select_from(AppealEscalation).where(
        AppealEscalation.appeal_id == appeal_id)) == 1
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert db.session.get(Appeal, appeal_id).department_id == winner["escalation"]["department_id"]


def test_a_rating_sent_several_times_at_once_counts_once(client, live_server):
    world = appeal_world()
    appeal_id = resolved_appeal(client, world)
    headers = auth(world["resident"])
    db.session.remove()

    responses = fire_at_once(5, lambda i: _post(live_server, f"/appeals/{appeal_id}/rate", headers,
                                                {"score": 1 + i}))

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"already_rated"}
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert db.session.get(Appeal, appeal_id).rating_score == winner["rating"]["score"]
    assert _events(appeal_id, "rated") == 1 and _events(appeal_id, "closed") == 1


def test_one_work_order_filed_at_once_from_several_desks_is_stored_once(live_server):
    world = appeal_world()
    community_id = world["a1"].id
    desks = [auth(world["admin_a1"]), auth(world["street_admin"]), auth(world["district_admin"]),
             auth(make_staff("community_admin", world["a1"]))]
    body = {"community_id": community_id, "kind": "complaint", "title": "楼道堆放快递", "content": "12345 转办",
            "source": "hotline", "resident_name": "王先生", "resident_phone": "13800001111"}
    db.session.remove()

    responses = fire_at_once(4, lambda i: _post(live_server, "/appeals", desks[i],
                                                {**body, "work_order_no": "GD2024060100123" + " " * i}))

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"duplicate_work_order"}
    assert db.session.scalar(select(func.count()).select_from(Appeal)) == 1


def test_simultaneous_filings_get_distinct_numbers(live_server):
    world = appeal_world()
    members = [auth(make_member()) for _ in range(8)]
    body = {"community_id": world["a1"].id, "kind": "problem", "title": "路灯不亮", "content": "小区东门路灯坏了"}
    db.session.remove()

    responses = fire_at_once(8, lambda i: _post(live_server, "/appeals", members[i], body))

    assert [r.status_code for r in responses] == [201] * 8
    numbers = sorted(r.json()["number"] for r in responses)
    assert len(set(numbers)) == 8
    assert [n[-4:] for n in numbers] == [f"{n:04d}" for n in range(1, 9)]
