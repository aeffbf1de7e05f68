"""Content security over real HTTP against the fake WeChat: msg_sec_check on members' appeal texts and comments
(pass, risky, review, WeChat failing), media_check_async on photos with the verdict pushed to /wechat/events with
WeChat's signature, the moderation queue, and everything accepted as is when WeChat is not configured."""

import io
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import time_machine
from PIL import Image
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import Appeal, ModerationItem, Notification, Upload
from models.upload import UploadReview
from schedulers.jobs import JOBS, run
from tests.appeal_factories import act, appeal_world, file_for_resident, get, submit
from tests.factories import auth, error_code
from tests.fake_wechat import media_check_event, push_query

TOKEN = "test-push-token"


@pytest.fixture
def world(fake_wechat):
    return appeal_world()


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def jpeg():
    out = io.BytesIO()
    Image.new("RGB", (30, 30), (10, 120, 10)).save(out, "JPEG")
    return out.getvalue()


def upload(client, user):
    response = client.post("/api/v1/uploads", data={"file": (io.BytesIO(jpeg()), "p.jpg")}, headers=auth(user),
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def push(client, body, token=TOKEN, **query):
    return client.post("/api/v1/wechat/events", query_string={**push_query(token), **query}, json=body)


def fetch(client, url):
    parsed = urlparse(url)
    return client.get(parsed.path, query_string={k: v[0] for k, v in parse_qs(parsed.query).items()})


# Text.

def test_a_members_title_and_content_are_checked_with_its_openid_and_scene_3(client, world, fake_wechat):
    response = submit(client, world["resident"], world["a1"])
    assert response.status_code == 201
    checks = [body for _m, _p, _q, body in fake_wechat.calls("/wxa/msg_sec_check")]
    assert {c["content"] for c in checks} == {"楼道堆满快递纸箱", "3号楼2单元楼道堆物，影响通行，存在消防隐患"}
    assert {(c["scene"], c["version"], c["openid"]) for c in checks} == {(3, 2, world["resident"].openid)}
    assert response.get_json()["moderation"] is None


def test_risky_text_is_422_content_rejected_naming_the_field_and_nothing_is_stored(client, world, fake_wechat):
    fake_wechat.text_verdicts = {"赌博": "risky"}
    response = submit(client, world["resident"], world["a1"], content="楼下有人聚众赌博")
    assert response.status_code == 422 and error_code(response) == "content_rejected"
    assert list(response.get_json()["error"]["details"]) == ["content"]
    assert count(Appeal) == 0 and count(ModerationItem) == 0


def test_review_text_is_stored_and_queued_for_the_communitys_staff(client, world, fake_wechat):
    fake_wechat.text_verdicts = {"楼道": "review"}
    response = submit(client, world["resident"], world["a1"], content="楼下噪音扰民")
    assert response.status_code == 201
    appeal = response.get_json()
    assert appeal["moderation"] == "review"
    queue = client.get("/api/v1/moderation", headers=auth(world["admin_a1"])).get_json()["items"]
    assert [(i["object"], i["field"], i["text"]) for i in queue] == [
        ({"type": "appeal", "id": appeal["id"]}, "title", "楼道堆满快递纸箱")]
    assert queue[0]["author_id"] == world["resident"].id
    assert client.get("/api/v1/moderation", headers=auth(world["admin_b1"])).get_json()["items"] == []

    approved = client.post(f"/api/v1/moderation/{queue[0]['id']}/approve", headers=auth(world["admin_a1"]))
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert get(client, world["admin_a1"], appeal["id"]).get_json()["moderation"] is None
    again = client.post(f"/api/v1/moderation/{queue[0]['id']}/approve", headers=auth(world["admin_a1"]))
    assert again.status_code == 409 and error_code(again) == "invalid_state"


def test_rejected_text_is_erased_and_its_author_told(client, world, fake_wechat):
    fake_wechat.text_verdicts = {"噪音": "review"}
    appeal_id = submit(client, world["resident"], world["a1"], content="楼下噪音扰民").get_json()["id"]
    item = client.get("/api/v1/moderation", headers=auth(world["admin_a1"])).get_json()["items"][0]
    other = client.post(f"/api/v1/moderation/{item['id']}/reject", json={"reason": "含不实信息"},
                        headers=auth(world["admin_b1"]))
    assert other.status_code == 404
    for bad in ({}, {"reason": ""}, {"reason": "  "}):
        response = client.post(f"/api/v1/moderation/{item['id']}/reject", json=bad, headers=auth(world["admin_a1"]))
        assert response.status_code == 422, bad
    response = client.post(f"/api/v1/moderation/{item['id']}/reject", json={"reason": "含不实信息"},
                           headers=auth(world["admin_a1"]))
    assert response.status_code == 200 and response.get_json()["text"] is None
    assert db.session.get(Appeal, appeal_id).content == ""
    assert count(Notification, Notification.kind == "content_rejected",
                 Notification.member_id == world["resident"].id) == 1


def test_wechat_failing_or_unreachable_stores_the_text_for_review_never_a_5xx(client, world, fake_wechat):
    fake_wechat.text_errcode = -1
    first = submit(client, world["resident"], world["a1"])
    fake_wechat.text_errcode = None
    fake_wechat.down = True
    second = submit(client, world["resident"], world["a1"])
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["moderation"] == second.get_json()["moderation"] == "review"
    assert count(ModerationItem, ModerationItem.status == "review") == 4


def test_long_text_is_checked_in_parts_of_2500_characters(client, world, fake_wechat):
    fake_wechat.text_verdicts = {"违禁": "risky"}
    content = "好" * 2600 + "违禁"
    response = submit(client, world["resident"], world["a1"], content=content[:5000])
    assert response.status_code == 422 and error_code(response) == "content_rejected"
    parts = [body["content"] for _m, _p, _q, body in fake_wechat.calls("/wxa/msg_sec_check")]
    assert max(len(p) for p in parts) == 2500 and "违禁" in parts[-1]


def test_staff_text_is_not_checked(client, world, fake_wechat):
    fake_wechat.text_verdicts = {"楼道": "risky"}
    assert file_for_resident(client, world["admin_a1"], world["a1"]).status_code == 201
    assert fake_wechat.calls("/wxa/msg_sec_check") == []


def test_a_rating_comment_is_checked_with_scene_2(client, world, fake_wechat):
    appeal_id = submit(client, world["resident"], world["a1"]).get_json()["id"]
    act(client, world["admin_a1"], appeal_id, "accept")
    act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已处理"})
    fake_wechat.text_verdicts = {"骗子": "risky"}
    risky = act(client, world["resident"], appeal_id, "rate", {"score": 1, "comment": "都是骗子"})
    assert risky.status_code == 422 and error_code(risky) == "content_rejected"
    assert list(risky.get_json()["error"]["details"]) == ["rating_comment"]
    assert db.session.get(Appeal, appeal_id).status == "resolved"
    fake_wechat.text_verdicts = {"一般": "review"}
    held = act(client, world["resident"], appeal_id, "rate", {"score": 3, "comment": "一般般"})
    assert held.status_code == 200 and held.get_json()["moderation"] == "review"
    scenes = {body["scene"] for _m, _p, _q, body in fake_wechat.calls("/wxa/msg_sec_check")
              if "一般" in body["content"] or "骗子" in body["content"]}
    assert scenes == {2}


def test_without_wechat_text_and_photos_are_accepted_as_they_are(app, client, world, fake_wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_APPID", None)
    monkeypatch.setitem(app.config, "WECHAT_SECRET", None)
    fake_wechat.text_verdicts = {"楼道": "risky"}
    photo = upload(client, world["resident"])
    response = submit(client, world["resident"], world["a1"], photo_ids=[photo["id"]])
    assert response.status_code == 201 and response.get_json()["moderation"] is None
    assert fake_wechat.requests == []
    street = get(client, world["street_admin"], response.get_json()["id"]).get_json()
    assert [p["id"] for p in street["photos"]] == [photo["id"]]


# Photos.

def test_a_members_photo_is_sent_to_media_check_async_with_a_fetchable_link(client, world, fake_wechat):
    photo = upload(client, world["resident"])
    (trace_id, body), = fake_wechat.media_checks
    assert body["media_type"] == 2 and body["version"] == 2 and body["openid"] == world["resident"].openid
    assert body["media_url"].startswith("https://baodao.test/api/v1/uploads/")
    assert fetch(client, body["media_url"]).status_code == 200
    assert db.session.get(Upload, photo["id"]).trace_id == trace_id


def test_a_photo_is_held_until_the_verdict_and_shown_once_it_passes(client, world, fake_wechat):
    photo = upload(client, world["resident"])
    appeal_id = submit(client, world["resident"], world["a1"], photo_ids=[photo["id"]]).get_json()["id"]
    act(client, world["admin_a1"], appeal_id, "accept")
    act(client, world["admin_a1"], appeal_id, "escalate", {"department_id": world["department"].id, "note": "请"})
    for user in ("resident", "admin_a1"):
        assert len(get(client, world[user], appeal_id).get_json()["photos"]) == 1, user
    for user in ("street_admin", "department_admin"):
        assert get(client, world[user], appeal_id).get_json()["photos"] == [], user
    (trace_id, _body), = fake_wechat.media_checks

    response = push(client, media_check_event(trace_id, "pass"))
    assert response.status_code == 200 and response.get_data(as_text=True) == "success"
    assert response.headers["Content-Type"].startswith("text/plain")
    for user in ("street_admin", "department_admin"):
        assert len(get(client, world[user], appeal_id).get_json()["photos"]) == 1, user


def test_a_risky_verdict_removes_the_photo_everywhere(client, world, fake_wechat):
    photo = upload(client, world["resident"])
    appeal_id = submit(client, world["resident"], world["a1"], photo_ids=[photo["id"]]).get_json()["id"]
    (trace_id, _body), = fake_wechat.media_checks
    assert push(client, media_check_event(trace_id, "risky")).status_code == 200
    assert get(client, world["resident"], appeal_id).get_json()["photos"] == []
    assert get(client, world["admin_a1"], appeal_id).get_json()["photos"] == []
    assert fetch(client, photo["url"]).status_code == 404
    assert db.session.get(Upload, photo["id"]).review == UploadReview.REJECTED
    assert count(Notification, Notification.kind == "content_rejected") == 1
    # WeChat may push the same event again: nothing more happens.
    assert push(client, media_check_event(trace_id, "pass")).status_code == 200
    assert db.session.get(Upload, photo["id"]).review == UploadReview.REJECTED


def test_a_review_verdict_goes_to_moderation(client, world, fake_wechat):
    photo = upload(client, world["resident"])
    appeal_id = submit(client, world["resident"], world["a1"], photo_ids=[photo["id"]]).get_json()["id"]
    (trace_id, _body), = fake_wechat.media_checks
    push(client, media_check_event(trace_id, "review"))
    assert get(client, world["admin_a1"], appeal_id).get_json()["moderation"] == "review"
    item = client.get("/api/v1/moderation", headers=auth(world["admin_a1"])).get_json()["items"][0]
    assert item["field"] == "photo" and item["photo"]["id"] == photo["id"] and "text" not in item
    client.post(f"/api/v1/moderation/{item['id']}/approve", headers=auth(world["admin_a1"]))
    assert len(get(client, world["street_admin"], appeal_id).get_json()["photos"]) == 1


def test_a_photo_under_review_before_it_is_attached_is_queued_when_it_is(client, world, fake_wechat):
    photo = upload(client, world["resident"])
    (trace_id, _body), = fake_wechat.media_checks
    push(client, media_check_event(trace_id, "review"))
    assert count(ModerationItem) == 0
    appeal_id = submit(client, world["resident"], world["a1"], photo_ids=[photo["id"]]).get_json()["id"]
    item = db.session.scalar(select(ModerationItem))
    assert (item.object_id, item.upload_id, item.community_id) == (appeal_id, photo["id"], world["a1"].id)


def test_no_verdict_within_an_hour_asks_once_more_then_staff_decide(client, world, fake_wechat):
    photo = upload(client, world["resident"])
    submit(client, world["resident"], world["a1"], photo_ids=[photo["id"]])
    job = JOBS["recheck_photos"]
    assert run(job) == {"asked_again": 0, "to_review": 0}
    with time_machine.travel(utcnow() + timedelta(hours=1, minutes=1)):
        assert run(job) == {"asked_again": 1, "to_review": 0}
    assert len(fake_wechat.media_checks) == 2
    with time_machine.travel(utcnow() + timedelta(hours=2, minutes=2)):
        assert run(job) == {"asked_again": 0, "to_review": 1}
    assert db.session.get(Upload, photo["id"]).review == UploadReview.REVIEW
    assert count(ModerationItem, ModerationItem.upload_id == photo["id"]) == 1


def test_staff_photos_are_not_checked(client, world, fake_wechat):
    photo = upload(client, world["admin_a1"])
    assert fake_wechat.media_checks == []
    assert db.session.get(Upload, photo["id"]).review == UploadReview.PASSED


# The push endpoint.

def test_wechats_url_check_echoes_the_echostr(client):
    response = client.get("/api/v1/wechat/events", query_string={**push_query(TOKEN), "echostr": "abc123"})
    assert response.status_code == 200 and response.get_data(as_text=True) == "abc123"
    assert response.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_bad_signature_is_403_invalid_signature(client, method):
    for query in (push_query("another-token"), {}, {**push_query(TOKEN), "nonce": "changed"}):
        response = client.open("/api/v1/wechat/events", method=method, query_string={**query, "echostr": "x"},
                               json={} if method == "POST" else None)
        assert response.status_code == 403 and error_code(response) == "invalid_signature", query


def test_without_a_push_token_the_endpoint_is_503(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_PUSH_TOKEN", None)
    response = client.get("/api/v1/wechat/events", query_string=push_query(TOKEN))
    assert response.status_code == 503 and error_code(response) == "wechat_not_configured"


def test_unknown_events_and_unknown_traces_are_ignored(client, world):
    for body in ({"Event": "user_enter_tempsession"}, media_check_event("no-such-trace", "risky"), [1, 2], "text"):
        response = push(client, body)
        assert response.status_code == 200 and response.get_data(as_text=True) == "success"
    xml = client.post("/api/v1/wechat/events", query_string=push_query(TOKEN), data="<xml></xml>",
                      content_type="text/xml")
    assert xml.status_code == 200


def test_moderation_is_for_community_staff(client, world):
    for user in ("resident", "unit_admin", "department_admin"):
        response = client.get("/api/v1/moderation", headers=auth(world[user]))
        assert response.status_code == 403 and error_code(response) == "community_staff_only", user
    assert client.get("/api/v1/moderation?community_id=999999", headers=auth(world["admin_a1"])).status_code == 422
    assert client.get(f"/api/v1/moderation?community_id={world['b1'].id}",
                      headers=auth(world["admin_a1"])).status_code == 404
    missing = client.post("/api/v1/moderation/999999/approve", headers=auth(world["admin_a1"]))
    assert missing.status_code == 404
