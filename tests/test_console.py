"""The console (console/) from the server side: sign-in as POST /auth/login has it, CSRF on every form, the
session cookie's settings, what waits for a staff member, scope (another community's pages are 404) and every
action changing state through the services."""


from clock import utcnow
from extensions import db
from models import AuthSession, Report
from tests.console_helpers import csrf_token, post_form, sign_in
from tests.factories import make_member, make_report, make_staff, region_tree


def test_staff_sign_in_opens_the_dashboard_with_a_secure_session_cookie(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"], name="和平社区书记")
    response = sign_in(client, admin)
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/")
    cookie = response.headers["Set-Cookie"]
    assert "baodao_console=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/console" in cookie
    page = client.get("/console/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "待我处理" in text and "和平社区书记" in text and "a1社区" in text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_the_cookie_is_secure_when_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    admin = make_staff("community_admin", region_tree()["a1"])
    assert "Secure" in sign_in(client, admin).headers["Set-Cookie"]


def test_pages_need_a_sign_in(client):
    response = client.get("/console/")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_wrong_password_says_so_and_counts_towards_the_login_limit(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_FAILURE_LIMIT", "3 per 15 minutes")
    admin = make_staff("community_admin", region_tree()["a1"])
    for _ in range(3):
        response = sign_in(client, admin, password="wrong-password")
        assert response.status_code == 401
        assert "用户名或密码错误" in response.get_data(as_text=True)
    # The fourth attempt is refused before the password is looked at, even the right one, as POST /auth/login does.
    response = sign_in(client, admin)
    assert response.status_code == 429
    assert "登录失败次数过多" in response.get_data(as_text=True)
    api = client.post("/api/v1/auth/login", json={"username": admin.username, "password": "password123"})
    assert api.status_code == 429


def test_a_user_without_a_staff_role_is_refused_with_a_readable_message(client):
    from services.auth import hash_password

    member = make_member()
    member.username, member.password_hash = "resident1", hash_password("password123")
    db.session.commit()
    response = sign_in(client, member)
    assert response.status_code == 403
    assert "工作台仅限工作人员使用" in response.get_data(as_text=True)
    assert db.session.query(AuthSession).filter_by(user_id=member.id).count() == 0
    assert client.get("/console/").status_code == 302


def test_forms_without_the_csrf_token_are_refused(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    response = client.post("/console/login", data={"username": admin.username, "password": "password123"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    sign_in(client, admin)
    response = client.post("/console/logout")
    assert response.status_code == 400
    assert client.get("/console/").status_code == 200


def test_sign_out_revokes_the_sign_in(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    sign_in(client, admin)
    response = post_form(client, "/console/logout")
    assert response.status_code == 302
    assert db.session.query(AuthSession).filter_by(user_id=admin.id).one().revoked_at is not None
    assert client.get("/console/").status_code == 302


def test_a_revoked_session_signs_the_console_out(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    sign_in(client, admin)
    db.session.query(AuthSession).filter_by(user_id=admin.id).update({"revoked_at": utcnow()})
    db.session.commit()
    assert client.get("/console/").status_code == 302


def test_sign_in_goes_back_only_to_a_console_page(client):
    admin = make_staff("community_admin", region_tree()["a1"])
    token = csrf_token(client)
    response = client.post("/console/login", data={"csrf_token": token, "username": admin.username,
                                                   "password": "password123", "next": "https://evil.example/"})
    assert response.headers["Location"].endswith("/console/")


def test_dashboard_counts_what_waits_in_my_scope(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    for _ in range(2):
        make_report(make_member(), tree["a1"], status="pending")
    make_report(make_member(), tree["a2"], status="pending")
    sign_in(client, admin)
    text = client.get("/console/").get_data(as_text=True)
    assert 'id="count-reports"' in text
    number = text.split('id="count-reports"')[1].split('class="number">')[1].split("<")[0]
    assert number == "2"
    assert db.session.query(Report).count() == 3
