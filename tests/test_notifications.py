"""GET /me/notifications (newest first, with read marks) and POST /me/notifications/read."""

from datetime import UTC, datetime

import time_machine
from sqlalchemy import func, select

from extensions import db
from models import Notification
from services import notifications
from tests.factories import auth, make_member

API = "/api/v1/me/notifications"


def notify_at(member, when, kind, key=None):
    with time_machine.travel(when, tick=False):
        notifications.notify(member.id, kind, f"标题 {kind}", "正文", ref="wish:1", key=key)
    db.session.commit()


def test_newest_first_with_read_marks(client):
    member, other = make_member(), make_member()
    notify_at(member, datetime(2025, 5, 1, 1, 0, tzinfo=UTC), "report_approved")
    notify_at(member, datetime(2025, 5, 3, 1, 0, tzinfo=UTC), "wish_completed")
    notify_at(member, datetime(2025, 5, 2, 1, 0, tzinfo=UTC), "shift_reminder")
    notify_at(other, datetime(2025, 5, 4, 1, 0, tzinfo=UTC), "wish_claimed")
    body = client.get(API, headers=auth(member)).get_json()
    assert [n["kind"] for n in body["items"]] == ["wish_completed", "shift_reminder", "report_approved"]
    assert body["total"] == 3 and body["unread_count"] == 3
    first = body["items"][0]
    assert first["read_at"] is None and first["created_at"] == "2025-05-03T09:00:00+08:00"
    assert first["title"] == "标题 wish_completed" and first["ref"] == "wish:1"


def test_mark_some_read_then_all(client):
    member, other = make_member(), make_member()
    for day in (1, 2, 3):
        notify_at(member, datetime(2025, 5, day, tzinfo=UTC), f"k{day}")
    notify_at(other, datetime(2025, 5, 1, tzinfo=UTC), "theirs")
    headers = auth(member)
    ids = [n["id"] for n in client.get(API, headers=headers).get_json()["items"]]
    theirs = db.session.scalar(select(Notification.id).where(Notification.member_id == other.id))
    with time_machine.travel(datetime(2025, 5, 10, 4, 0, tzinfo=UTC), tick=False):
        response = client.post(f"{API}/read", json={"ids": [ids[0], theirs]}, headers=auth(member))
    assert response.status_code == 200 and response.get_json() == {"marked": 1, "unread_count": 2}
    # Someone else's notification is untouched.
    assert db.session.get(Notification, theirs).read_at is None
    body = client.get(API, headers=headers).get_json()
    assert body["items"][0]["read_at"] == "2025-05-10T12:00:00+08:00"
    unread = client.get(f"{API}?unread=true", headers=headers).get_json()
    assert [n["id"] for n in unread["items"]] == ids[1:] and unread["total"] == 2
    response = client.post(f"{API}/read", json={}, headers=headers)
    assert response.get_json() == {"marked": 2, "unread_count": 0}
    assert client.get(f"{API}?unread=true", headers=headers).get_json()["total"] == 0
    assert client.get(f"{API}?unread=false", headers=headers).get_json()["total"] == 3


def test_a_keyed_event_notifies_once(client):
    member = make_member()
    for _ in range(3):
        notifications.notify(member.id, "wish_completed", "完成", key="wish:5:completed")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_bad_requests(client):
    member = make_member()
    assert client.get(API).status_code == 401
    assert client.post(f"{API}/read", json={"ids": ["x"]}, headers=auth(member)).status_code == 422
    assert client.post(f"{API}/read", json=[1, 2], headers=auth(member)).status_code == 400
    assert client.get(f"{API}?unread=maybe", headers=auth(member)).status_code == 422
