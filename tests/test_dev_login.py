"""Development's sign-in as a demo member (POST /auth/dev-login): answers as a WeChat login does; in production
the route and its documentation do not exist."""

from app import create_app
from demo.foundation import demo_openid
from services.members import register_member
from tests.factories import error_code


def test_dev_login_signs_in_a_demo_member_like_a_wechat_login(client):
    from extensions import db

    member = register_member(openid=demo_openid(3), name="张敏")
    db.session.commit()
    response = client.post("/api/v1/auth/dev-login", json={"member": "demo-member-3"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"access_token", "refresh_token", "user", "is_new"}
    assert body["is_new"] is False and body["user"]["id"] == member.id
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.get_json()["name"] == "张敏"


def test_dev_login_knows_only_demo_members(client):
    from extensions import db

    register_member(openid="real-openid-1", name="真实成员")
    db.session.commit()
    for member in ("demo-member-99", "real-openid-1"):
        response = client.post("/api/v1/auth/dev-login", json={"member": member})
        assert response.status_code == 404 and error_code(response) == "demo_member_not_found"
    assert client.post("/api/v1/auth/dev-login", json={}).status_code == 422


def test_dev_login_is_in_the_development_document_only(client):
    assert "/api/v1/auth/dev-login" in client.get("/api/v1/openapi.json").get_json()["paths"]
    production = create_app({"APP_ENV": "production", "TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                             "SCHEDULER_ENABLED": False})
    with production.test_client() as http:
        response = http.post("/api/v1/auth/dev-login", json={"member": "demo-member-3"})
        assert response.status_code == 404 and error_code(response) == "not_found"
        paths = http.get("/api/v1/openapi.json").get_json()["paths"]
        assert "/api/v1/auth/dev-login" not in paths and "/api/v1/auth/login" in paths
