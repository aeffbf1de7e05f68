"""The WeChat platform through the local fake WeChat server over real HTTP: the shared access token, verified
phones, mini-program codes and subscribe messages as one-time grants."""

from extensions import db
from integrations.wechat import WeChatRefused
from services import wechat
from tests.conftest import fire_at_once


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
    checks = fake_wechat.calls("/wxa/msg_sec_check")
    assert sorted(r[2]["access_token"] for r in checks) == ["fake-access-token-1"] * 6 + ["fake-access-token-2"] * 6


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
