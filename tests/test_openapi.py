"""The OpenAPI document is complete: every contract endpoint, its schemas, errors and bearer security."""

import re

CONTRACT_ENDPOINTS = """
POST /auth/wechat; POST /auth/login; POST /auth/refresh; POST /auth/logout;
GET /me; PATCH /me; PUT /me/unavailability; POST /staff;
POST /regions; GET /regions; GET /regions/{}; POST /units; GET /units; GET /units/{}/members;
POST /reports; GET /reports; POST /reports/{}/approve; POST /reports/{}/reject; POST /reports/{}/withdraw;
POST /reports/{}/feedback;
POST /activities; GET /activities; GET /activities/{}; POST /activities/{}/signups; DELETE /activities/{}/signups/me;
POST /posts; POST /posts/{}/templates; POST /posts/{}/pool; DELETE /posts/{}/pool/me; GET /posts/{}/pool;
GET /posts/{}/shifts; GET /me/shifts; POST /shifts/{}/signups; DELETE /shifts/{}/signups/me;
POST /shifts/{}/standin; POST /shifts/{}/standin/accept;
GET /activities/{}/qrcode; GET /posts/{}/qrcode; POST /checkins;
POST /service-records; GET /me/service-records; GET /me/hours; GET /service-records;
POST /service-records/{}/approve; POST /service-records/{}/reject; PATCH /service-records/{};
GET /service-records/{}/history; POST /service-records/{}/correction-requests;
POST /correction-requests/{}/accept; POST /correction-requests/{}/decline; GET /service-records/export;
POST /certificates; GET /certificates/{}/pdf; POST /certificates/batch; GET /certificates/verify/{};
POST /wishes; GET /wishes; POST /wishes/{}/claim; POST /wishes/{}/release; POST /wishes/{}/fulfil;
POST /wishes/{}/confirm; POST /wishes/{}/cancel;
POST /needs; GET /needs; POST /resources; GET /resources; POST /projects; GET /projects;
POST /projects/{}/approve; POST /projects/{}/start; POST /projects/{}/finish; POST /projects/{}/claim;
GET /me/points; GET /me/notifications; GET /stats/overview;
POST /uploads; GET /uploads/{}; POST /appeals; GET /appeals; GET /me/appeals; GET /appeals/{};
POST /appeals/{}/accept; POST /appeals/{}/reject; POST /appeals/{}/resolve; POST /appeals/{}/convert;
POST /appeals/{}/escalate; POST /appeals/{}/answer; POST /appeals/{}/rate; POST /appeals/{}/withdraw;
POST /appeals/{}/recall; POST /departments; GET /departments; GET /stats/appeals;
GET /moderation; POST /moderation/{}/approve; POST /moderation/{}/reject; GET /wechat/events; POST /wechat/events;
POST /partners; GET /partners; GET /partners/{}; PATCH /partners/{}; DELETE /partners/{};
POST /meetings; GET /meetings; GET /meetings/{}; PATCH /meetings/{}; POST /meetings/{}/minutes;
PUT /meetings/{}/minutes; GET /meetings/{}/minutes/versions; POST /meetings/{}/cancel; GET /tasks; POST /tasks/{}/done;
GET /stats/governance; POST /conventions; GET /conventions; GET /conventions/{}; PUT /conventions/{};
GET /conventions/{}/versions; GET /needs/{};
POST /teams; GET /teams; GET /teams/{}; PATCH /teams/{}; POST /teams/{}/dissolve; POST /teams/{}/members;
POST /teams/{}/members/{}/approve; POST /teams/{}/members/{}/remove; DELETE /teams/{}/members/me;
PUT /teams/{}/leaders; GET /teams/{}/members; GET /me/teams; POST /activities/{}/team-signups; GET /teams/{}/stats;
GET /teams/{}/history;
POST /me/phone; GET /me/subscriptions; POST /me/subscriptions; GET /wechat/templates
"""

PUBLIC = {("post", "/auth/wechat"), ("post", "/auth/login"), ("get", "/certificates/verify/{}"),
          ("get", "/uploads/{}"), ("get", "/wechat/events"), ("post", "/wechat/events")}
# Bodies that are not JSON (contract v1.1, "Words, order of checks, formats").
MULTIPART = {("post", "/uploads")}


def documented(spec):
    found = {}
    for path, operations in spec["paths"].items():
        short = re.sub(r"\{[^}]+\}", "{}", path.removeprefix("/api/v1"))
        for method, operation in operations.items():
            if method != "parameters":
                found[(method, short)] = operation
    return found


def test_every_contract_endpoint_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    found = documented(spec)
    wanted = [tuple(item.split()) for item in CONTRACT_ENDPOINTS.replace("\n", " ").split(";")]
    missing = [f"{m} {p}" for m, p in wanted if (m.lower(), p) not in found]
    assert missing == []


def test_operations_document_bodies_responses_errors_and_security(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]
    assert "ErrorEnvelope" in spec["components"]["schemas"]
    for (method, path), operation in documented(spec).items():
        assert operation.get("responses"), (method, path)
        assert "default" in operation["responses"], (method, path)
        if (method, path) in PUBLIC:
            assert operation.get("security") == [], (method, path)
        if method in ("post", "put", "patch") and "requestBody" in operation:
            media = "multipart/form-data" if (method, path) in MULTIPART else "application/json"
            assert operation["requestBody"]["content"][media]["schema"], (method, path)
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    assert login["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("PasswordLoginInput")


def test_interactive_docs_are_served(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.get_data(as_text=True)
