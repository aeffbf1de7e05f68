"""The WeChat platform through the local fake WeChat server over real HTTP: the shared access token, verified
phones, mini-program codes and subscribe messages as one-time grants."""

from extensions import db
from integrations.wechat import WeChatRefused
from models import User
from services import wechat
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_member


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
