"""Shift reminders through the local fake WeChat server, and no-show marking, with frozen time."""

import time
from datetime import datetime, timedelta

import time_machine
from sqlalchemy import select

from extensions import db
from models import Notification, OutboundMessage, Post, ShiftAssignment
from schedulers.jobs import JOBS, run
from services import checkin_tokens
from tests.factories import auth, make_grants, make_member
from tests.test_posts import SHANGHAI, make_shift, post_with_admin

SHIFT_START = datetime(2030, 5, 7, 9, 0, tzinfo=SHANGHAI)
EVENING_BEFORE = datetime(2030, 5, 6, 20, 5, tzinfo=SHANGHAI)


def assigned_shift(client, members, seats=5):
    _, post_id = post_with_admin(client)
    shift = make_shift(post_id, SHIFT_START, seats=seats)
    for member in members:
        assert client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(member)).status_code == 201
        make_grants(member, "tmpl-shift-reminder", 2)  # the evening's and the hour's
    db.session.commit()  # the requests share this app context: end their last read before other connections write
    return shift


def messages():
    db.session.expire_all()
    return list(db.session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_reminders_go_out_the_evening_before_and_an_hour_before(client, fake_wechat):
    members = [make_member() for _ in range(3)]
    no_openid = make_member()
    no_openid.openid = None
    db.session.commit()
    shift = assigned_shift(client, [*members, no_openid])
    with time_machine.travel(EVENING_BEFORE - timedelta(minutes=10), tick=False):
        assert run(JOBS["send_reminders"]) == {"reminders_due": 0, "messages_sent": 0}
    with time_machine.travel(EVENING_BEFORE, tick=False):
        assert run(JOBS["send_reminders"]) == {"reminders_due": 4, "messages_sent": 3}
        assert run(JOBS["send_reminders"]) == {"reminders_due": 4, "messages_sent": 0}  # made once, sent once
    assert len(fake_wechat.sent) == 3
    # One access token for every send, fetched once and shared.
    assert fake_wechat.token_calls == 1
    assert {r[2]["access_token"] for r in fake_wechat.calls("/cgi-bin/message/subscribe/send")} == {
        "fake-access-token-1"}
    for body in fake_wechat.sent:
        assert set(body) >= {"touser", "template_id", "page", "data"}
        assert body["template_id"] == "tmpl-shift-reminder"
        assert body["page"] == f"pages/shifts/detail?id={shift.id}"
        assert body["data"]["time2"]["value"] == "2030-05-07 09:00"
    assert sorted(b["touser"] for b in fake_wechat.sent) == sorted(m.openid for m in members)
    listed = client.get("/api/v1/me/notifications", headers=auth(no_openid)).get_json()["items"]
    assert [n["kind"] for n in listed] == ["shift_reminder"]
    with time_machine.travel(SHIFT_START - timedelta(minutes=50), tick=False):
        assert run(JOBS["send_reminders"])["messages_sent"] == 3
    assert len(fake_wechat.sent) == 6
    assert {m.key.split(":")[2] for m in messages()} == {"evening", "hour"}
    assert all(m.status == "sent" and m.attempts == 1 for m in messages())
    # Twelve hours later the two-hour token had expired: fetched once more, again for all three sends.
    assert fake_wechat.token_calls == 2
    keys = db.session.scalars(select(Notification.key).where(Notification.member_id == members[0].id)).all()
    assert len(keys) == 2 and all(k.startswith("reminder:") for k in keys)


def test_a_declined_shift_gets_no_reminder(client, fake_wechat):
    member = make_member()
    shift = assigned_shift(client, [member])
    client.delete(f"/api/v1/shifts/{shift.id}/signups/me", headers=auth(member))
    with time_machine.travel(EVENING_BEFORE, tick=False):
        assert run(JOBS["send_reminders"]) == {"reminders_due": 0, "messages_sent": 0}
    assert fake_wechat.sent == []


def test_a_wechat_error_is_retried_later_and_never_sent_twice(client, fake_wechat):
    member = make_member()
    assigned_shift(client, [member])
    fake_wechat.send_errors = [-1, -1]  # "system busy"
    with time_machine.travel(EVENING_BEFORE, tick=False):
        assert run(JOBS["send_reminders"])["messages_sent"] == 0
        [message] = messages()
        assert (message.status, message.attempts, message.last_error) == ("pending", 1, "errcode -1")
        assert message.next_attempt_at > EVENING_BEFORE
        assert run(JOBS["send_reminders"])["messages_sent"] == 0  # not due yet: backing off
    with time_machine.travel(EVENING_BEFORE + timedelta(minutes=1, seconds=5), tick=False):
        assert run(JOBS["send_reminders"])["messages_sent"] == 0
        assert messages()[0].attempts == 2
    with time_machine.travel(EVENING_BEFORE + timedelta(minutes=4), tick=False):
        assert run(JOBS["send_reminders"])["messages_sent"] == 1
        assert run(JOBS["send_reminders"])["messages_sent"] == 0
    [message] = messages()
    assert (message.status, message.attempts) == ("sent", 3)
    assert len(fake_wechat.sent) == 1 and fake_wechat.sent[0]["touser"] == member.openid


def test_an_expired_token_is_refreshed_once_and_the_send_repeated(client, fake_wechat):
    member = make_member()
    assigned_shift(client, [member])
    fake_wechat.send_errors = [42001]
    with time_machine.travel(EVENING_BEFORE, tick=False):
        assert run(JOBS["send_reminders"])["messages_sent"] == 1
    assert fake_wechat.token_calls == 2
    assert len(fake_wechat.sent) == 1


def test_wechat_down_keeps_messages_pending(client, fake_wechat):
    member = make_member()
    assigned_shift(client, [member])
    fake_wechat.down = True
    with time_machine.travel(EVENING_BEFORE, tick=False):
        assert run(JOBS["send_reminders"])["messages_sent"] == 0
    assert messages()[0].status == "pending"
    fake_wechat.down = False
    with time_machine.travel(EVENING_BEFORE + timedelta(minutes=5), tick=False):
        assert run(JOBS["send_reminders"])["messages_sent"] == 1
    assert len(fake_wechat.sent) == 1


def assignment_statuses():
    return dict(db.session.execute(select(ShiftAssignment.member_id, ShiftAssignment.status)).all())


def test_assignments_follow_the_scans_and_no_shows_are_marked_after_the_grace_period(client):
    """assigned → checked_in (first scan) → attended (check-out); still assigned or asking for a stand-in after the
    shift and its grace period → no_show (contract v1.1, "Fixes to v1 readings")."""
    present, forgot_checkout, absent, asked_standin, declined = (make_member() for _ in range(5))
    shift = assigned_shift(client, [present, forgot_checkout, absent, asked_standin, declined])
    with time_machine.travel(SHIFT_START - timedelta(hours=3), tick=False):
        client.post(f"/api/v1/shifts/{shift.id}/standin", headers=auth(asked_standin))
        client.delete(f"/api/v1/shifts/{shift.id}/signups/me", headers=auth(declined))
    token = checkin_tokens.post_token(db.session.get(Post, shift.post_id))
    scan = {"token": token, "lat": 39.9, "lng": 116.4}
    with time_machine.travel(SHIFT_START, tick=False):
        for member in (present, forgot_checkout):
            assert client.post("/api/v1/checkins", json=scan, headers=auth(member)).status_code == 201
    assert assignment_statuses()[present.id] == assignment_statuses()[forgot_checkout.id] == "checked_in"
    with time_machine.travel(shift.ends_at - timedelta(minutes=5), tick=False):
        assert client.post("/api/v1/checkins", json=scan, headers=auth(present)).get_json()["action"] == "check_out"
    assert assignment_statuses()[present.id] == "attended"
    with time_machine.travel(shift.ends_at + timedelta(minutes=29), tick=False):
        assert run(JOBS["mark_no_shows"]) == 0
        assert run(JOBS["close_open_attendances"]) == 1
    with time_machine.travel(shift.ends_at + timedelta(minutes=31), tick=False):
        assert run(JOBS["mark_no_shows"]) == 2
        assert run(JOBS["mark_no_shows"]) == 0
    assert assignment_statuses() == {present.id: "attended", forgot_checkout.id: "attended", absent.id: "no_show",
                                     asked_standin.id: "no_show", declined.id: "declined"}


def test_many_processes_asking_at_once_fetch_one_token(app, fake_wechat):
    from services import wechat
    from tests.conftest import fire_at_once

    def ask(_):
        with app.app_context():
            try:
                return wechat.client().access_token()
            finally:
                db.session.remove()

    tokens = fire_at_once(8, ask)
    assert set(tokens) == {"fake-access-token-1"}
    assert fake_wechat.token_calls == 1


def _redis_url():
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return None
    return url


def test_with_redis_the_token_is_cached_there_and_fetched_once(app, fake_wechat):
    import pytest
    import redis

    from services import wechat
    from tests.conftest import fire_at_once

    url = _redis_url()
    if url is None:
        pytest.skip("no Redis on 127.0.0.1:6379")
    store = redis.Redis.from_url(url)
    store.delete(wechat.RedisTokenCache.KEY)
    app.config["REDIS_URL"] = url
    try:
        def ask(_):
            with app.app_context():
                return wechat.client().access_token()

        assert set(fire_at_once(6, ask)) == {"fake-access-token-1"}
        assert fake_wechat.token_calls == 1
        assert store.get(wechat.RedisTokenCache.KEY) == b"fake-access-token-1"
        assert 0 < store.ttl(wechat.RedisTokenCache.KEY) <= 7200
    finally:
        app.config["REDIS_URL"] = None
        store.delete(wechat.RedisTokenCache.KEY)


def test_a_send_that_times_out_is_never_sent_again(client, fake_wechat):
    from services import wechat

    member = make_member()
    assigned_shift(client, [member])
    with time_machine.travel(EVENING_BEFORE, tick=False):
        wechat.client().access_token()  # cached: only the send itself is slow
        fake_wechat.delay = 1.3  # the client gives up after 1 s, but WeChat delivers
        assert run(JOBS["send_reminders"])["messages_sent"] == 0
    fake_wechat.delay = 0
    [message] = messages()
    assert (message.status, message.last_error) == ("failed", "timed out while sending")
    with time_machine.travel(EVENING_BEFORE + timedelta(hours=1), tick=False):
        assert run(JOBS["send_reminders"])["messages_sent"] == 0
    time.sleep(0.5)
    assert len(fake_wechat.calls("/cgi-bin/message/subscribe/send")) == 1
