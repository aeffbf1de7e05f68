"""The WeChat platform through the local fake WeChat server over real HTTP: the shared access token, verified
phones, mini-program codes and subscribe messages as one-time grants."""

import io
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import PIL.Image
import pytest
import time_machine
import zxingcpp
from sqlalchemy import func, select

from extensions import db
from integrations.wechat import WeChatRefused
from models import Notification, OutboundMessage, Signup, SubscriptionGrant, User, WxaCode
from schedulers.jobs import JOBS, run
from services import checkin_tokens, outbox, wechat
from tests.activity_factories import confirm, make_activity, make_post_shift
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, error_code, make_grants, make_member, make_report, make_staff, region_tree
from tests.fake_wechat import wxacode_png
from tests.test_posts import SHANGHAI

TEMPLATES = {
    "report_decided": {"id": "tmpl-report", "page": "pages/reports/index", "data": {"phrase1": "result",
                                                                                  "thing2": "reason"}},
    "record_decided": {"id": "tmpl-record", "page": None, "data": {"phrase1": "result", "character_string2": "hours"}},
    "activity_reminder": {"id": "tmpl-activity", "page": "pages/activities/detail?id={id}",
                          "data": {"thing1": "title", "time2": "start", "thing3": "address"}},
}


def _in_own_context(app, call):
    def run(_):
        with app.app_context():
            try:
                return call(wechat.client())
            finally:
                db.session.remove()
    return run


def test_one_token_is_fetched_by_one_process_at_a_time(app, fake_wechat):
    fake_wechat.token_delay = 0.3
    tokens = fire_at_once(6, _in_own_context(app, lambda wx: wx.access_token()))
    assert set(tokens) == {"fake-access-token-1"}
    assert (fake_wechat.token_calls, fake_wechat.token_max_in_flight) == (1, 1)


def test_a_token_refused_by_many_calls_at_once_is_renewed_once_and_each_call_retried(app, fake_wechat):
    with app.app_context():
        assert wechat.client().access_token() == "fake-access-token-1"
    fake_wechat.revoked.add("fake-access-token-1")
    fake_wechat.token_delay = 0.2
    verdicts = fire_at_once(6, _in_own_context(app, lambda wx: wx.msg_sec_check("你好", 1, "openid-x")))
    assert verdicts == ["pass"] * 6
    # One fetch at first, one renewal for all six refused calls, never two at the same moment.
    assert (fake_wechat.token_calls, fake_wechat.token_max_in_flight) == (2, 1)
    # Every call answered with the renewed token (a late starter may have found it already renewed).
    used = [r[2]["access_token"] for r in fake_wechat.calls("/wxa/msg_sec_check")]
    assert used.count("fake-access-token-2") == 6 and 1 <= used.count("fake-access-token-1") <= 6
    assert set(used) == {"fake-access-token-1", "fake-access-token-2"}


def test_an_expired_token_42001_is_renewed_and_the_call_asked_again_once(app, fake_wechat):
    with app.app_context():
        wx = wechat.client()
        wx.access_token()
        fake_wechat.expired.add("fake-access-token-1")
        assert wx.msg_sec_check("你好", 1, "openid-x") == "pass"
        assert fake_wechat.token_calls == 2
        # Refused again after the renewal: not asked a third time.
        fake_wechat.errors["/wxa/msg_sec_check"] = [42001, 42001]
        try:
            wx.msg_sec_check("你好", 1, "openid-x")
        except WeChatRefused as exc:
            assert exc.errcode == 42001
        else:
            raise AssertionError("a second refusal is WeChat's answer")
        assert len(fake_wechat.calls("/wxa/msg_sec_check")) == 4 and fake_wechat.token_calls == 3


def test_a_verified_phone_is_stored_masked_in_answers_and_unverified_once_changed(client, fake_wechat):
    member = make_member()
    headers = auth(member)
    assert client.get("/api/v1/me", headers=headers).get_json()["phone_verified"] is False
    fake_wechat.phones["phone-code-1"] = ("13812345678", "86")
    response = client.post("/api/v1/me/phone", json={"code": "phone-code-1"}, headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["phone_verified"], body["phone_masked"]) == (True, "138****5678")
    assert "13812345678" not in response.get_data(as_text=True)
    assert fake_wechat.calls("/wxa/business/getuserphonenumber")[0][3] == {"code": "phone-code-1"}
    stored = db.session.get(User, member.id)
    assert (stored.phone, stored.phone_verified) == ("13812345678", True)
    # The same number again keeps it verified; another one typed in is not.
    assert client.patch("/api/v1/me", json={"phone": "13812345678"}, headers=headers).get_json()["phone_verified"]
    changed = client.patch("/api/v1/me", json={"phone": "13900001111"}, headers=headers).get_json()
    assert (changed["phone_verified"], changed["phone_masked"]) == (False, "139****1111")


def test_a_phone_code_wechat_refuses_or_a_foreign_number_is_422(client, fake_wechat):
    headers = auth(make_member())
    refused = client.post("/api/v1/me/phone", json={"code": "unknown-code"}, headers=headers)
    assert refused.status_code == 422 and error_code(refused) == "phone_code_invalid"
    assert refused.get_json()["error"]["details"]["errcode"] == 40029
    fake_wechat.phones["hk-code"] = ("51234567", "852")
    foreign = client.post("/api/v1/me/phone", json={"code": "hk-code"}, headers=headers)
    assert foreign.status_code == 422 and error_code(foreign) == "phone_not_mainland"
    assert client.post("/api/v1/me/phone", json={}, headers=headers).status_code == 422
    assert client.post("/api/v1/me/phone", json={"code": "x", "extra": 1}, headers=headers).status_code == 422
    assert client.post("/api/v1/me/phone", json={"code": "x"}).status_code == 401


def test_a_phone_code_with_an_expired_token_is_retried_once_and_wechat_down_is_503(client, fake_wechat):
    headers = auth(make_member())
    fake_wechat.phones["phone-code-2"] = ("13812345678", "86")
    fake_wechat.errors["/wxa/business/getuserphonenumber"] = [42001]
    assert client.post("/api/v1/me/phone", json={"code": "phone-code-2"}, headers=headers).status_code == 200
    assert fake_wechat.token_calls == 2
    fake_wechat.down = True
    down = client.post("/api/v1/me/phone", json={"code": "phone-code-2"}, headers=headers)
    assert down.status_code == 503 and error_code(down) == "wechat_unavailable"


@pytest.fixture
def templates(app, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", TEMPLATES)
    return TEMPLATES


def grants(member):
    db.session.expire_all()
    return dict(db.session.execute(select(SubscriptionGrant.template_id, SubscriptionGrant.grants_left)
                                   .where(SubscriptionGrant.member_id == member.id)).all())


def all_messages():
    db.session.expire_all()
    return list(db.session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)))


def test_templates_are_listed_by_event_and_grants_recorded_per_template(client, templates):
    member = make_member()
    headers = auth(member)
    listed = client.get("/api/v1/wechat/templates", headers=headers)
    # The v1 WECHAT_REMINDER_TEMPLATE_ID still serves the shift reminder.
    assert listed.get_json() == {"report_decided": "tmpl-report", "record_decided": "tmpl-record",
                                 "activity_reminder": "tmpl-activity", "shift_reminder": "tmpl-shift-reminder"}
    assert client.get("/api/v1/wechat/templates").status_code == 401
    empty = client.get("/api/v1/me/subscriptions", headers=headers).get_json()
    assert empty == {"tmpl-report": 0, "tmpl-record": 0, "tmpl-activity": 0, "tmpl-shift-reminder": 0}
    posted = client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report", "tmpl-record"]},
                         headers=headers)
    assert posted.status_code == 200
    assert posted.get_json() == {**empty, "tmpl-report": 1, "tmpl-record": 1}
    again = client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report"]}, headers=headers)
    assert again.get_json()["tmpl-report"] == 2
    assert client.get("/api/v1/me/subscriptions", headers=headers).get_json() == again.get_json()


def test_an_unknown_template_is_422_and_staff_are_403_members_only(client, templates):
    headers = auth(make_member())
    unknown = client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report", "nope"]},
                          headers=headers)
    assert unknown.status_code == 422 and "template_ids" in unknown.get_json()["error"]["details"]
    assert client.post("/api/v1/me/subscriptions", json={"template_ids": []}, headers=headers).status_code == 422
    staff = make_staff("community_admin", region_tree()["a1"])
    # The role comes before the field: 403 even with a malformed body.
    refused = client.post("/api/v1/me/subscriptions", json={"template_ids": "x"}, headers=auth(staff))
    assert refused.status_code == 403 and error_code(refused) == "members_only"
    assert client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report"]}).status_code == 401
    assert grants(staff) == {}


def test_each_message_spends_one_grant_and_none_is_sent_without_one(client, fake_wechat, templates):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    member = make_member()
    make_grants(member, "tmpl-report", 1)
    first = make_report(member, tree["a1"], status="pending")
    rejected = client.post(f"/api/v1/reports/{first.id}/reject", json={"reason": "地址不符"}, headers=admin)
    assert rejected.status_code == 200
    assert outbox.deliver_pending() == 1
    [sent] = fake_wechat.sent
    assert (sent["touser"], sent["template_id"], sent["page"]) == (member.openid, "tmpl-report", "pages/reports/index")
    assert sent["data"] == {"phrase1": {"value": "未通过"}, "thing2": {"value": "地址不符"}}
    assert grants(member) == {"tmpl-report": 0}
    # No grant left: the in-app notification still comes, no message is queued or sent.
    second = make_report(member, tree["a2"], "pending")
    outsider = auth(make_staff("community_admin", tree["a2"]))
    assert client.post(f"/api/v1/reports/{second.id}/approve", headers=outsider).status_code == 200
    assert outbox.deliver_pending() == 0
    assert len(all_messages()) == 1 and len(fake_wechat.sent) == 1
    kinds = db.session.scalars(select(Notification.kind).where(Notification.member_id == member.id)).all()
    assert sorted(kinds) == ["report_approved", "report_rejected"]


def test_a_message_whose_grant_was_spent_meanwhile_is_not_sent(client, fake_wechat, templates):
    member = make_member()
    make_grants(member, "tmpl-report", 1)
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    for _ in range(2):  # both queued while the one grant was there
        report = make_report(member, tree["a1"], status="pending")
        rejected = client.post(f"/api/v1/reports/{report.id}/reject", json={"reason": "x"}, headers=admin)
        assert rejected.status_code == 200
    assert len(all_messages()) == 2
    assert outbox.deliver_pending() == 1
    assert [m.status for m in all_messages()] == ["sent", "failed"]
    assert all_messages()[1].last_error == "no subscription grant left"
    assert len(fake_wechat.sent) == 1 and grants(member) == {"tmpl-report": 0}


@pytest.mark.parametrize("errcode", [43101, 45009])
def test_refused_or_over_quota_spends_the_grant_and_is_not_retried(client, fake_wechat, templates, errcode):
    member = make_member()
    make_grants(member, "tmpl-report", 2)
    tree = region_tree()
    report = make_report(member, tree["a1"], status="pending")
    client.post(f"/api/v1/reports/{report.id}/approve", headers=auth(make_staff("community_admin", tree["a1"])))
    fake_wechat.errors["/cgi-bin/message/subscribe/send"] = [errcode]
    assert outbox.deliver_pending() == 0
    [message] = all_messages()
    assert (message.status, message.last_error) == ("failed", f"errcode {errcode}")
    with time_machine.travel(datetime.now(SHANGHAI) + timedelta(hours=2), tick=False):
        assert outbox.deliver_pending() == 0
    assert len(fake_wechat.calls("/cgi-bin/message/subscribe/send")) == 1
    assert grants(member) == {"tmpl-report": 1}


def test_a_retried_message_reuses_the_grant_it_took(client, fake_wechat, templates):
    member = make_member()
    make_grants(member, "tmpl-report", 1)
    tree = region_tree()
    report = make_report(member, tree["a1"], status="pending")
    client.post(f"/api/v1/reports/{report.id}/approve", headers=auth(make_staff("community_admin", tree["a1"])))
    fake_wechat.errors["/cgi-bin/message/subscribe/send"] = [-1]
    assert outbox.deliver_pending() == 0
    assert all_messages()[0].status == "pending" and grants(member) == {"tmpl-report": 0}
    with time_machine.travel(datetime.now(SHANGHAI) + timedelta(minutes=2), tick=False):
        assert outbox.deliver_pending() == 1
    assert len(fake_wechat.sent) == 1 and grants(member) == {"tmpl-report": 0}


ACTIVITY_START = datetime(2030, 5, 7, 9, 0, tzinfo=SHANGHAI)


def test_activity_reminder_goes_at_18_the_day_before_once_per_confirmed_signup(client, fake_wechat, templates):
    tree = region_tree()
    with time_machine.travel(ACTIVITY_START - timedelta(days=3), tick=False):
        activity = make_activity(tree["a1"], starts_at=ACTIVITY_START)
    members = [make_member() for _ in range(2)]
    for member in members:
        confirm(activity, member)
        make_grants(member, "tmpl-activity", 3)
    waitlisted = make_member()
    make_grants(waitlisted, "tmpl-activity", 1)
    db.session.add(Signup(activity_id=activity.id, member_id=waitlisted.id, status="waitlisted",
                          created_at=ACTIVITY_START - timedelta(days=2)))
    db.session.commit()
    with time_machine.travel(datetime(2030, 5, 6, 17, 59, tzinfo=SHANGHAI), tick=False):
        assert run(JOBS["send_reminders"]) == {"reminders_due": 0, "messages_sent": 0}
    with time_machine.travel(datetime(2030, 5, 6, 18, 0, tzinfo=SHANGHAI), tick=False):
        assert run(JOBS["send_reminders"]) == {"reminders_due": 2, "messages_sent": 2}
    with time_machine.travel(datetime(2030, 5, 6, 21, 0, tzinfo=SHANGHAI), tick=False):
        assert run(JOBS["send_reminders"]) == {"reminders_due": 2, "messages_sent": 0}  # made once, sent once
    assert sorted(b["touser"] for b in fake_wechat.sent) == sorted(m.openid for m in members)
    for body in fake_wechat.sent:
        assert body["template_id"] == "tmpl-activity" and body["page"] == f"pages/activities/detail?id={activity.id}"
        assert body["data"] == {"thing1": {"value": "社区环境清整"}, "time2": {"value": "2030-05-07 09:00"},
                                "thing3": {"value": "示范路 1 号"}}
    assert all(grants(m) == {"tmpl-activity": 2} for m in members) and grants(waitlisted) == {"tmpl-activity": 1}
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.kind == "activity_reminder")) == 2


@postgres_only
def test_two_schedulers_overlapping_send_one_message_per_event(app, client, fake_wechat, templates):
    tree = region_tree()
    with time_machine.travel(ACTIVITY_START - timedelta(days=3), tick=False):
        activity = make_activity(tree["a1"], starts_at=ACTIVITY_START)
    members = [make_member() for _ in range(3)]
    for member in members:
        confirm(activity, member)
        make_grants(member, "tmpl-activity", 1)

    def scheduler(_):
        with app.app_context():
            try:
                return run(JOBS["send_reminders"])["messages_sent"]
            finally:
                db.session.remove()

    with time_machine.travel(datetime(2030, 5, 6, 18, 5, tzinfo=SHANGHAI), tick=False):
        sent = fire_at_once(4, scheduler)
    assert sum(sent) == 3
    assert len(all_messages()) == 3 and {m.status for m in all_messages()} == {"sent"}
    assert sorted(b["touser"] for b in fake_wechat.sent) == sorted(m.openid for m in members)
    assert all(grants(m) == {"tmpl-activity": 0} for m in members)


@postgres_only
def test_grants_recorded_at_once_all_count_and_the_last_one_is_taken_once(app, client, templates):
    member = make_member()
    headers = auth(member)

    def accept(_):
        with app.app_context():
            try:
                return client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-record"]},
                                   headers=headers)
            finally:
                db.session.remove()

    assert {r.status_code for r in fire_at_once(5, accept)} == {200}
    assert grants(member) == {"tmpl-record": 5}

    def take(_):
        with app.app_context():
            try:
                taken = outbox.take_grant(member.id, "tmpl-record")
                db.session.commit()
                return taken
            finally:
                db.session.remove()

    assert sorted(fire_at_once(8, take)) == [False] * 3 + [True] * 5
    assert grants(member) == {"tmpl-record": 0}


def decoded(png):
    return [d.text for d in zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(png)))]


def test_an_activity_wxacode_is_fetched_once_per_token_and_kept_until_it_expires(client, fake_wechat):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    activity = make_activity(tree["a1"])
    url = f"/api/v1/activities/{activity.id}/qrcode?format=wxacode"
    start = datetime.now(SHANGHAI).replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        token, expires_at = checkin_tokens.activity_token(activity)
        first = client.get(url, headers=admin)
        assert first.status_code == 200 and first.mimetype == "image/png"
        [asked] = fake_wechat.wxacodes
        assert asked == {"scene": token, "page": "pages/checkin/index", "check_path": False,
                         "env_version": "release"}
        # The very image WeChat drew, opening the check-in page with the token.
        assert first.data == wxacode_png(asked)
        assert decoded(first.data) == [f"pages/checkin/index?scene={token}&env=release"]
        assert parsedate_to_datetime(first.headers["Expires"]) == expires_at
        second = client.get(url, headers=admin)
        assert second.data == first.data and len(fake_wechat.wxacodes) == 1
    # The token rotated: a new code, and the expired one is removed.
    with time_machine.travel(expires_at + timedelta(seconds=1), tick=False):
        new_token, _ = checkin_tokens.activity_token(activity)
        assert decoded(client.get(url, headers=admin).data) == [f"pages/checkin/index?scene={new_token}&env=release"]
    assert len(fake_wechat.wxacodes) == 2
    db.session.expire_all()
    assert db.session.scalars(select(WxaCode.token)).all() == [new_token]


def test_a_post_wxacode_is_kept_for_good_and_is_the_printed_code(client, fake_wechat):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    post, _shift = make_post_shift(tree["a1"], starts_at=datetime.now(SHANGHAI) + timedelta(days=1))
    token = checkin_tokens.post_token(post)
    wxacode = client.get(f"/api/v1/posts/{post.id}/qrcode?format=wxacode", headers=admin)
    assert wxacode.status_code == 200 and wxacode.data == wxacode_png(fake_wechat.wxacodes[0])
    assert parsedate_to_datetime(wxacode.headers["Expires"]) > datetime.now(SHANGHAI) + timedelta(days=29)
    printed = client.get(f"/api/v1/posts/{post.id}/qrcode?format=png", headers=admin)
    assert printed.data == wxacode.data and decoded(printed.data) == [
        f"pages/checkin/index?scene={token}&env=release"]
    with time_machine.travel(datetime.now(SHANGHAI) + timedelta(days=400), tick=False):
        later = auth(make_staff("community_admin", tree["a1"]))
        assert client.get(f"/api/v1/posts/{post.id}/qrcode?format=wxacode", headers=later).data == wxacode.data
    assert len(fake_wechat.wxacodes) == 1


def test_without_wechat_the_printed_post_code_is_an_ordinary_qr_code_and_wxacode_503(app, client, monkeypatch):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    post, _shift = make_post_shift(tree["a1"], starts_at=datetime.now(SHANGHAI) + timedelta(days=1))
    monkeypatch.setitem(app.config, "WECHAT_APPID", None)
    printed = client.get(f"/api/v1/posts/{post.id}/qrcode?format=png", headers=admin)
    assert decoded(printed.data) == [checkin_tokens.post_token(post)]
    refused = client.get(f"/api/v1/posts/{post.id}/qrcode?format=wxacode", headers=admin)
    assert refused.status_code == 503 and error_code(refused) == "wechat_not_configured"


def test_wechat_refusing_a_wxacode_is_502_and_a_stale_token_is_renewed_once(client, fake_wechat):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    post, _shift = make_post_shift(tree["a1"], starts_at=datetime.now(SHANGHAI) + timedelta(days=1))
    url = f"/api/v1/posts/{post.id}/qrcode?format=wxacode"
    fake_wechat.errors["/wxa/getwxacodeunlimit"] = [45009]
    refused = client.get(url, headers=admin)
    assert refused.status_code == 502 and error_code(refused) == "wechat_error"
    assert refused.get_json()["error"]["details"] == {"errcode": 45009}
    fake_wechat.down = True
    down = client.get(url, headers=admin)
    assert down.status_code == 503 and error_code(down) == "wechat_unavailable"
    fake_wechat.down = False
    fake_wechat.errors["/wxa/getwxacodeunlimit"] = [40001]
    assert client.get(url, headers=admin).status_code == 200
    refused_token, renewed_token = [r[2]["access_token"] for r in fake_wechat.calls("/wxa/getwxacodeunlimit")][-2:]
    assert refused_token != renewed_token and len(fake_wechat.wxacodes) == 1
    # Another community's staff: 404 before WeChat is asked.
    outsider = auth(make_staff("community_admin", tree["b1"]))
    assert client.get(url, headers=outsider).status_code == 404 and len(fake_wechat.wxacodes) == 1


def test_the_openapi_document_lists_the_png_answers(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/activities/{activity_id}/qrcode", "/api/v1/posts/{post_id}/qrcode"):
        operation = spec["paths"][path]["get"]
        assert "image/png" in operation["responses"]["200"]["content"]
        assert {"502", "503"} <= set(operation["responses"])
        [fmt] = [p for p in operation["parameters"] if p["name"] == "format"]
        assert fmt["schema"]["enum"] == ["json", "png", "wxacode"]


def test_wechat_templates_are_read_from_json_and_refused_when_malformed(tmp_path, monkeypatch):
    from config import ConfigError, load_config

    monkeypatch.setattr("config.INSTANCE_DIR", tmp_path)
    defaults = load_config({})
    assert (defaults["WECHAT_TEMPLATES"], defaults["WECHAT_CHECKIN_PAGE"], defaults["WECHAT_ENV_VERSION"]) == (
        {}, "pages/checkin/index", "release")
    loaded = load_config({"WECHAT_TEMPLATES": '{"wish_claimed": "tmpl-w", "report_decided": {"id": "tmpl-r", '
                                              '"data": {"thing1": "result"}}}', "WECHAT_ENV_VERSION": "trial"})
    assert loaded["WECHAT_TEMPLATES"] == {"wish_claimed": {"id": "tmpl-w", "page": None, "data": {}},
                                          "report_decided": {"id": "tmpl-r", "page": None,
                                                             "data": {"thing1": "result"}}}
    assert loaded["WECHAT_ENV_VERSION"] == "trial"
    for bad in ("[1]", "{not json", '{"wish_claimed": {"page": "x"}}', '{"wish_claimed": {"id": "t", "data": 3}}'):
        with pytest.raises(ConfigError):
            load_config({"WECHAT_TEMPLATES": bad})
    with pytest.raises(ConfigError):
        load_config({"WECHAT_ENV_VERSION": "beta"})


def test_with_redis_a_refused_token_is_renewed_once_for_everyone(app, fake_wechat):
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    store = redis.Redis.from_url(url)
    store.delete(wechat.RedisTokenCache.KEY)
    app.config["REDIS_URL"] = url
    try:
        with app.app_context():
            assert wechat.client().access_token() == "fake-access-token-1"
        fake_wechat.revoked.add("fake-access-token-1")
        fake_wechat.token_delay = 0.2
        verdicts = fire_at_once(6, _in_own_context(app, lambda wx: wx.msg_sec_check("你好", 1, "openid-x")))
        assert verdicts == ["pass"] * 6
        assert (fake_wechat.token_calls, fake_wechat.token_max_in_flight) == (2, 1)
        assert store.get(wechat.RedisTokenCache.KEY) == b"fake-access-token-2"
    finally:
        app.config["REDIS_URL"] = None
        store.delete(wechat.RedisTokenCache.KEY)


def _token_in_child(app, results):
    # A forked process: its own connections, as a gunicorn worker or the scheduler has.
    with app.app_context():
        db.engine.dispose(close=False)
        results.put(wechat.client().access_token())
        db.session.remove()


@postgres_only
def test_several_processes_share_one_token_fetched_once(app, fake_wechat):
    import multiprocessing

    db.session.commit()
    fake_wechat.token_delay = 0.3
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [context.Process(target=_token_in_child, args=(app, results)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    assert [p.exitcode for p in processes] == [0] * 4
    assert {results.get(timeout=5) for _ in processes} == {"fake-access-token-1"}
    assert (fake_wechat.token_calls, fake_wechat.token_max_in_flight) == (1, 1)


@postgres_only
def test_two_first_requests_for_one_code_ask_wechat_once(app, client, fake_wechat):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    post, _shift = make_post_shift(tree["a1"], starts_at=datetime.now(SHANGHAI) + timedelta(days=1))
    fake_wechat.delay = 0.3

    def ask(_):
        with app.app_context():
            try:
                return client.get(f"/api/v1/posts/{post.id}/qrcode?format=wxacode", headers=admin)
            finally:
                db.session.remove()

    answers = fire_at_once(4, ask)
    assert {a.status_code for a in answers} == {200} and len({a.data for a in answers}) == 1
    assert len(fake_wechat.wxacodes) == 1


def test_records_wishes_stand_ins_and_appeal_decisions_send_their_events(app, client, fake_wechat, monkeypatch):
    from tests.activity_factories import make_record
    from tests.test_posts import join, make_shift, post_with_admin
    from tests.test_shifts import tomorrow_at
    from tests.test_wishes import act, post_wish

    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", {
        "record_decided": {"id": "tmpl-record", "data": {"phrase1": "result", "thing2": "hours"}},
        "wish_claimed": {"id": "tmpl-wish", "page": "pages/wishes/detail?id={id}", "data": {"thing1": "title"}},
        "standin_needed": {"id": "tmpl-standin", "data": {"thing1": "post"}}})
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    holder, bystander = make_member(), make_member()
    make_grants(holder, "tmpl-record", 5)
    # Bulk approval: one message per record of the member holding grants, none for the other.
    records = [make_record(holder, tree["a1"], hours="1.50"), make_record(bystander, tree["a1"])]
    rejected = make_record(holder, tree["a1"])
    assert client.post("/api/v1/service-records/approve", json={"ids": [r.id for r in records]},
                       headers=auth(admin)).get_json()["approved"] == 2
    assert client.post(f"/api/v1/service-records/{rejected.id}/reject", json={"reason": "时长不符"},
                       headers=auth(admin)).status_code == 200
    # A wish claimed by a member holding a grant.
    make_grants(bystander, "tmpl-wish", 1)
    wish = post_wish(client, admin, tree["a1"])
    assert act(client, bystander, wish["id"], "claim").status_code == 200
    # A stand-in asked: the pool member holding a grant is told by WeChat too.
    _, post_id = post_with_admin(client)
    shift = make_shift(post_id, tomorrow_at(8))
    helper = make_member()
    make_grants(helper, "tmpl-standin", 1)
    for member in (holder, helper):
        join(client, member, post_id)
    client.post(f"/api/v1/shifts/{shift.id}/signups", headers=auth(holder))
    assert client.post(f"/api/v1/shifts/{shift.id}/standin", headers=auth(holder)).status_code == 200
    assert outbox.deliver_pending() == 4
    sent = {(b["touser"], b["template_id"]): b for b in fake_wechat.sent if b["template_id"] != "tmpl-record"}
    records_sent = sorted(b["data"]["phrase1"]["value"] for b in fake_wechat.sent if b["template_id"] == "tmpl-record")
    assert records_sent == ["已通过", "已驳回"]
    assert sent[(bystander.openid, "tmpl-wish")]["page"] == f"pages/wishes/detail?id={wish['id']}"
    assert sent[(helper.openid, "tmpl-standin")]["page"] == f"pages/shifts/detail?id={shift.id}"
    assert grants(holder) == {"tmpl-record": 3} and grants(helper) == {"tmpl-standin": 0}


def test_the_resident_is_told_by_wechat_when_an_appeal_is_accepted_rejected_and_resolved(app, client, fake_wechat,
                                                                                         monkeypatch):
    from tests.appeal_factories import act, appeal_world, new_appeal, resolved_appeal

    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", {
        "appeal_decided": {"id": "tmpl-decided", "page": "pages/appeals/detail?id={id}",
                           "data": {"phrase1": "result", "thing2": "title"}},
        "appeal_answered": {"id": "tmpl-answered", "data": {"thing1": "reply"}}})
    world = appeal_world()
    resident = world["resident"]
    make_grants(resident, "tmpl-decided", 2)
    make_grants(resident, "tmpl-answered", 1)
    resolved_id = resolved_appeal(client, world)
    rejected_id = new_appeal(client, world)
    assert act(client, world["admin_a1"], rejected_id, "reject", {"reason": "不属于本社区"}).status_code == 200
    assert outbox.deliver_pending() == 3
    by_template = {}
    for body in fake_wechat.sent:
        assert body["touser"] == resident.openid
        by_template.setdefault(body["template_id"], []).append(body)
    assert sorted((b["page"], b["data"]["phrase1"]["value"]) for b in by_template["tmpl-decided"]) == sorted([
        (f"pages/appeals/detail?id={resolved_id}", "已受理"), (f"pages/appeals/detail?id={rejected_id}", "未予受理")])
    assert [b["data"] for b in by_template["tmpl-answered"]] == [{"thing1": {"value": "已联系业主清理"}}]
    assert grants(resident) == {"tmpl-decided": 0, "tmpl-answered": 0}


def test_a_message_given_up_without_wechat_taking_it_gives_its_grant_back(client, fake_wechat, templates):
    member = make_member()
    make_grants(member, "tmpl-report", 1)
    tree = region_tree()
    report = make_report(member, tree["a1"], status="pending")
    client.post(f"/api/v1/reports/{report.id}/approve", headers=auth(make_staff("community_admin", tree["a1"])))
    fake_wechat.errors["/cgi-bin/message/subscribe/send"] = [-1] * outbox.MAX_ATTEMPTS
    start = datetime.now(SHANGHAI)
    for attempt in range(outbox.MAX_ATTEMPTS):
        with time_machine.travel(start + timedelta(hours=2 * attempt), tick=False):
            assert outbox.deliver_pending() == 0
        assert grants(member) == {"tmpl-report": 0 if attempt < outbox.MAX_ATTEMPTS - 1 else 1}
    [message] = all_messages()
    assert (message.status, message.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert len(fake_wechat.calls("/cgi-bin/message/subscribe/send")) == outbox.MAX_ATTEMPTS


def test_a_code_wechat_draws_as_jpeg_is_answered_as_png(client, fake_wechat):
    tree = region_tree()
    admin = auth(make_staff("community_admin", tree["a1"]))
    post, _shift = make_post_shift(tree["a1"], starts_at=datetime.now(SHANGHAI) + timedelta(days=1))
    fake_wechat.wxacode_format = "JPEG"
    answer = client.get(f"/api/v1/posts/{post.id}/qrcode?format=wxacode", headers=admin)
    assert answer.status_code == 200 and answer.mimetype == "image/png"
    assert answer.data.startswith(b"\x89PNG") and PIL.Image.open(io.BytesIO(answer.data)).format == "PNG"
    assert decoded(answer.data) == [f"pages/checkin/index?scene={checkin_tokens.post_token(post)}&env=release"]


def test_team_sign_ups_and_join_decisions_send_their_events(app, client, fake_wechat, monkeypatch):
    from tests.activity_factories import make_activity
    from tests.team_factories import make_team

    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", {
        "team_signup": {"id": "tmpl-team-signup", "page": "pages/activities/detail?id={id}",
                        "data": {"thing1": "title", "thing2": "team"}},
        "team_join_decided": {"id": "tmpl-team-join", "data": {"phrase1": "result"}}})
    tree = region_tree()
    leader, member, asking = make_member("队长"), make_member("队员"), make_member("申请人")
    for who, template in ((member, "tmpl-team-signup"), (asking, "tmpl-team-join"), (leader, "tmpl-team-join")):
        make_grants(who, template, 1)
    team = make_team(tree["a1"], leaders=[leader], members=[member], pending=[asking])
    activity = make_activity(tree["a1"], capacity=5)
    signed = client.post(f"/api/v1/activities/{activity.id}/team-signups", headers=auth(leader),
                         json={"team_id": team.id, "member_ids": [leader.id, member.id]})
    assert signed.status_code == 201
    approved = client.post(f"/api/v1/teams/{team.id}/members/{asking.id}/approve", headers=auth(leader))
    assert approved.status_code == 200
    assert outbox.deliver_pending() == 2
    sent = {(b["touser"], b["template_id"]): b for b in fake_wechat.sent}
    assert set(sent) == {(member.openid, "tmpl-team-signup"), (asking.openid, "tmpl-team-join")}
    assert sent[(member.openid, "tmpl-team-signup")]["page"] == f"pages/activities/detail?id={activity.id}"
    assert sent[(member.openid, "tmpl-team-signup")]["data"]["thing2"]["value"] == team.name
    assert sent[(asking.openid, "tmpl-team-join")]["data"]["phrase1"]["value"] == "已加入"
    assert grants(member) == {"tmpl-team-signup": 0} and grants(leader) == {"tmpl-team-join": 1}
