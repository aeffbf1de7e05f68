import re
import uuid
from datetime import timedelta

import pytest
from flask_jwt_extended import create_access_token, decode_token
from sqlalchemy import select

from extensions import db
from models import AuthSession, User
from tests.factories import auth, error_code, make_staff


def login(client, username, password):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_wechat_first_login_creates_member(client, fake_wechat):
    fake_wechat.logins["code-1"] = "openid-alice"
    response = client.post("/api/v1/auth/wechat", json={"code": "code-1"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["is_new"] is True
    assert body["access_token"] and body["refresh_token"]
    assert body["user"]["volunteer_number"].startswith("BD")
    assert "session_key" not in response.get_data(as_text=True)
    assert "openid" not in body["user"]
    (call,) = fake_wechat.calls("/sns/jscode2session")
    assert call[2] == {"appid": "wx-test-app", "secret": "wx-test-secret", "js_code": "code-1",
                       "grant_type": "authorization_code"}
    assert db.session.query(User).filter_by(openid="openid-alice").count() == 1


def test_wechat_returning_member_is_not_new(client, fake_wechat):
    fake_wechat.logins.update({"code-1": "openid-bob", "code-2": "openid-bob"})
    first = client.post("/api/v1/auth/wechat", json={"code": "code-1"}).get_json()
    second = client.post("/api/v1/auth/wechat", json={"code": "code-2"}).get_json()
    assert second["is_new"] is False
    assert second["user"]["id"] == first["user"]["id"]
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    assert client.get("/api/v1/me", headers=headers).get_json()["id"] == first["user"]["id"]


def test_wechat_rejected_code_is_401(client, fake_wechat):
    response = client.post("/api/v1/auth/wechat", json={"code": "expired-code"})
    assert response.status_code == 401
    assert error_code(response) == "wechat_login_failed"
    assert db.session.query(User).count() == 0


def test_wechat_timeout_is_503(client, fake_wechat):
    fake_wechat.logins["slow"] = "openid-slow"
    fake_wechat.delay = 1.5  # the test app waits 1 s
    response = client.post("/api/v1/auth/wechat", json={"code": "slow"})
    assert response.status_code == 503
    assert error_code(response) == "wechat_unavailable"


def test_wechat_down_is_503(client, fake_wechat):
    fake_wechat.down = True
    response = client.post("/api/v1/auth/wechat", json={"code": "any"})
    assert response.status_code == 503
    assert error_code(response) == "wechat_unavailable"


def test_wechat_not_configured_is_503(client, app, monkeypatch, fake_wechat):
    monkeypatch.setitem(app.config, "WECHAT_APPID", None)
    response = client.post("/api/v1/auth/wechat", json={"code": "x"})
    assert response.status_code == 503
    assert error_code(response) == "wechat_not_configured"
    assert fake_wechat.requests == []


def test_wechat_login_needs_a_code(client):
    response = client.post("/api/v1/auth/wechat", json={})
    assert response.status_code == 422
    assert "code" in response.get_json()["error"]["details"]


def test_staff_password_login(client):
    admin = make_staff("sysadmin")
    response = login(client, admin.username, "password123")
    assert response.status_code == 200
    body = response.get_json()
    assert "is_new" not in body
    assert body["user"]["roles"] == [{"role": "sysadmin", "scope_type": None, "scope_id": None}]


def test_wrong_password_is_401(client):
    admin = make_staff("sysadmin")
    response = login(client, admin.username, "wrong-password")
    assert response.status_code == 401
    assert error_code(response) == "invalid_credentials"
    assert error_code(login(client, "nobody", "password123")) == "invalid_credentials"


def test_ten_failures_lock_the_username(client):
    admin = make_staff("sysadmin")
    other = make_staff("sysadmin")
    for _ in range(10):
        assert login(client, admin.username, "wrong").status_code == 401
    locked = login(client, admin.username, "password123")
    assert locked.status_code == 429
    assert error_code(locked) == "rate_limited"
    assert login(client, other.username, "password123").status_code == 200


def test_successful_logins_do_not_count_as_failures(client):
    admin = make_staff("sysadmin")
    for _ in range(12):
        assert login(client, admin.username, "password123").status_code == 200


def test_refresh_gives_a_working_access_token(client):
    admin = make_staff("sysadmin")
    tokens = login(client, admin.username, "password123").get_json()
    response = client.post("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"})
    assert response.status_code == 200
    access = response.get_json()["access_token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"}).status_code == 200


def test_tokens_carry_short_random_session_and_token_ids(client):
    """Every request parses its token character by character, four times: the session id and each token's jti are
    16 random characters, not 36-character UUIDs."""
    admin = make_staff("sysadmin")
    tokens = login(client, admin.username, "password123").get_json()
    refreshed = client.post("/api/v1/auth/refresh",
                            headers={"Authorization": f"Bearer {tokens['refresh_token']}"}).get_json()
    claims = [decode_token(token) for token in (tokens["access_token"], tokens["refresh_token"],
                                                refreshed["access_token"])]
    assert {c["sid"] for c in claims} == {db.session.scalar(select(AuthSession.id))}
    assert len({c["jti"] for c in claims}) == 3
    assert all(re.fullmatch(r"[0-9A-Za-z_-]{16}", value) for c in claims for value in (c["sid"], c["jti"]))


def test_a_token_of_a_session_opened_before_the_short_ids_still_works(client):
    admin = make_staff("sysadmin")
    session = AuthSession(id=str(uuid.uuid4()), user_id=admin.id)
    db.session.add(session)
    db.session.commit()
    earlier = create_access_token(identity=str(admin.id), additional_claims={"sid": session.id})
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {earlier}"}).status_code == 200


def test_access_token_cannot_refresh_and_refresh_token_cannot_call(client):
    admin = make_staff("sysadmin")
    tokens = login(client, admin.username, "password123").get_json()
    assert client.post("/api/v1/auth/refresh",
                       headers={"Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}).status_code == 401


def test_logout_revokes_access_and_refresh_tokens(client):
    admin = make_staff("sysadmin")
    tokens = login(client, admin.username, "password123").get_json()
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    refresh = {"Authorization": f"Bearer {tokens['refresh_token']}"}
    assert client.post("/api/v1/auth/logout", headers=access).status_code == 204
    me = client.get("/api/v1/me", headers=access)
    assert me.status_code == 401
    assert error_code(me) == "token_revoked"
    assert client.post("/api/v1/auth/refresh", headers=refresh).status_code == 401
    assert db.session.query(AuthSession).filter(AuthSession.revoked_at.isnot(None)).count() == 1


def test_logout_leaves_other_sessions_alone(client):
    admin = make_staff("sysadmin")
    phone, laptop = auth(admin), auth(admin)
    client.post("/api/v1/auth/logout", headers=phone)
    assert client.get("/api/v1/me", headers=laptop).status_code == 200


def test_missing_invalid_and_expired_tokens_are_401(client):
    admin = make_staff("sysadmin")
    assert error_code(client.get("/api/v1/me")) == "token_missing"
    assert error_code(client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-jwt"})) == "token_invalid"
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    headers = auth(admin)
    sid = db.session.query(AuthSession.id).scalar()
    expired = create_access_token(identity=str(admin.id), additional_claims={"sid": sid},
                                  expires_delta=timedelta(seconds=-5))
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert error_code(response) == "token_expired"
    assert client.get("/api/v1/me", headers=headers).status_code == 200


@pytest.mark.parametrize("claims", [{"sid": 12345}, {"sid": ""}, {"sid": "x" * 65}, {"jti": None}])
@pytest.mark.parametrize("expires", [timedelta(minutes=5), timedelta(seconds=-5)])
def test_a_signed_token_with_claims_of_the_wrong_kind_is_invalid_even_when_expired(client, claims, expires):
    admin = make_staff("sysadmin")
    auth(admin)
    sid = db.session.query(AuthSession.id).scalar()
    token = create_access_token(identity=str(admin.id), additional_claims={"sid": sid, **claims},
                                expires_delta=expires)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert error_code(response) == "token_invalid"


def test_token_of_a_deactivated_user_is_refused(client):
    admin = make_staff("sysadmin")
    headers = auth(admin)
    admin.is_active = False
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
