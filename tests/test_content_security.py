"""Content security for every other text members write and others read, over real HTTP against the fake WeChat:
member names (scene 1), wish fulfilment notes and correction request reasons (scene 2). Appeal titles, contents and
rating comments are in test_moderation.py."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from clock import utcnow
from extensions import db
from models import CorrectionRequest, ModerationItem, Notification, User, Wish
from tests.activity_factories import make_post_shift, make_record
from tests.factories import auth, error_code, make_member, make_report, make_staff, make_unit, region_tree


@pytest.fixture
def tree(fake_wechat):
    return region_tree()


def checks(fake_wechat):
    return [body for _m, _p, _q, body in fake_wechat.calls("/wxa/msg_sec_check")]


def queue(client, staff):
    response = client.get("/api/v1/moderation", headers=auth(staff))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def rename(client, member, name):
    return client.patch("/api/v1/me", json={"name": name}, headers=auth(member))


# Names (scene 1).

def test_a_members_new_name_is_checked_with_its_openid_and_scene_1(client, tree, fake_wechat):
    member = make_member("原名")
    response = rename(client, member, "新名字")
    assert response.status_code == 200 and response.get_json()["moderation"] is None
    assert [(c["content"], c["scene"], c["version"], c["openid"]) for c in checks(fake_wechat)] == [
        ("新名字", 1, 2, member.openid)]
    fake_wechat.requests.clear()
    assert client.patch("/api/v1/me", json={"name": "新名字", "in_service": True},
                        headers=auth(member)).status_code == 200
    assert checks(fake_wechat) == []  # the same name is not checked again


def test_a_risky_name_is_422_content_rejected_naming_name_and_nothing_changes(client, tree, fake_wechat):
    member = make_member("原名")
    fake_wechat.text_verdicts = {"赌": "risky"}
    response = client.patch("/api/v1/me", json={"name": "赌神", "phone": "13812345678"}, headers=auth(member))
    assert response.status_code == 422 and error_code(response) == "content_rejected"
    assert list(response.get_json()["error"]["details"]) == ["name"]
    db.session.expire_all()
    stored = db.session.get(User, member.id)
    assert (stored.name, stored.phone) == ("原名", None) and count(ModerationItem) == 0


def test_a_name_under_review_is_hidden_from_other_members_until_staff_approve(client, tree, fake_wechat):
    admin = make_staff("community_admin", tree["a1"])
    member, fellow = make_member("原名"), make_member("同班")
    make_report(member, tree["a1"])
    _post, shift = make_post_shift(tree["a1"], utcnow() + timedelta(days=1), assignees=(member, fellow))
    fake_wechat.text_verdicts = {"可疑": "review"}
    response = rename(client, member, "可疑名")
    assert response.status_code == 200 and response.get_json()["moderation"] == "review"
    assert response.get_json()["name"] == "可疑名"

    def names_seen_by(user):
        (row,) = [s for s in client.get("/api/v1/me/shifts", headers=auth(user)).get_json()["items"]
                  if s["id"] == shift.id]
        return {a["member_id"]: a["name"] for a in row["assignees"]}

    assert names_seen_by(fellow) == {member.id: None, fellow.id: "同班"}
    assert names_seen_by(member)[member.id] == "可疑名"
    (item,) = queue(client, admin)
    assert (item["object"], item["field"], item["text"], item["author_id"]) == (
        {"type": "user", "id": member.id}, "name", "可疑名", member.id)
    assert queue(client, make_staff("community_admin", tree["b1"])) == []
    assert client.post(f"/api/v1/moderation/{item['id']}/approve", headers=auth(admin)).status_code == 200
    assert names_seen_by(fellow)[member.id] == "可疑名"
    assert client.get("/api/v1/me", headers=auth(member)).get_json()["moderation"] is None


def test_a_rejected_name_is_erased_and_its_member_told(client, tree, fake_wechat):
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("原名")
    make_report(member, tree["a1"])
    fake_wechat.text_verdicts = {"可疑": "review"}
    rename(client, member, "可疑名")
    (item,) = queue(client, admin)
    response = client.post(f"/api/v1/moderation/{item['id']}/reject", json={"reason": "名称不当"}, headers=auth(admin))
    assert response.status_code == 200 and response.get_json()["text"] is None
    db.session.expire_all()
    assert db.session.get(User, member.id).name is None
    assert count(Notification, Notification.member_id == member.id, Notification.kind == "content_rejected") == 1


def test_renaming_again_takes_the_old_name_out_of_the_queue(client, tree, fake_wechat):
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("原名")
    make_report(member, tree["a1"])
    fake_wechat.text_verdicts = {"可疑": "review"}
    rename(client, member, "可疑名")
    assert len(queue(client, admin)) == 1
    assert rename(client, member, "正常名").get_json()["moderation"] is None
    assert queue(client, admin) == []


def test_a_name_of_a_member_not_reported_anywhere_waits_for_a_sysadmin(client, tree, fake_wechat):
    member = make_member("原名")
    fake_wechat.text_verdicts = {"可疑": "review"}
    rename(client, member, "可疑名")
    assert queue(client, make_staff("community_admin", tree["a1"])) == []
    sysadmin = make_staff("sysadmin")
    (item,) = queue(client, sysadmin)
    assert client.post(f"/api/v1/moderation/{item['id']}/approve", headers=auth(sysadmin)).status_code == 200


def test_wechat_failing_puts_a_name_to_review_never_a_5xx(client, tree, fake_wechat):
    member = make_member("原名")
    fake_wechat.down = True
    response = rename(client, member, "新名字")
    assert response.status_code == 200 and response.get_json()["moderation"] == "review"
    fake_wechat.down = False
    fake_wechat.text_errcode = -1
    assert rename(client, member, "又一个名字").get_json()["moderation"] == "review"


def test_staff_names_are_not_checked(client, tree, fake_wechat):
    staff = make_staff("community_admin", tree["a1"])
    staff.openid = "openid-staff-member"  # a staff account that also signs in through the mini-program
    db.session.commit()
    fake_wechat.text_verdicts = {"书记": "risky"}
    response = rename(client, staff, "王书记")
    assert response.status_code == 200 and response.get_json()["moderation"] is None
    assert checks(fake_wechat) == []


# Wish fulfilment notes (scene 2).

def claimed_wish(client, tree):
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("认领人")
    wish = client.post("/api/v1/wishes", json={"community_id": tree["a1"].id, "title": "帮老人买米"},
                       headers=auth(admin)).get_json()
    assert client.post(f"/api/v1/wishes/{wish['id']}/claim", headers=auth(member)).status_code == 200
    return admin, member, wish["id"]


def fulfil(client, user, wish_id, note):
    return client.post(f"/api/v1/wishes/{wish_id}/fulfil", json={"note": note}, headers=auth(user))


def test_a_fulfilment_note_is_checked_with_scene_2(client, tree, fake_wechat):
    _admin, member, wish_id = claimed_wish(client, tree)
    response = fulfil(client, member, wish_id, "已送米上门")
    assert response.status_code == 200 and response.get_json()["moderation"] is None
    assert [(c["content"], c["scene"], c["openid"]) for c in checks(fake_wechat)] == [
        ("已送米上门", 2, member.openid)]


def test_a_risky_fulfilment_note_is_422_and_the_wish_stays_claimed(client, tree, fake_wechat):
    _admin, member, wish_id = claimed_wish(client, tree)
    fake_wechat.text_verdicts = {"加微信": "risky"}
    response = fulfil(client, member, wish_id, "已完成，加微信领红包")
    assert response.status_code == 422 and error_code(response) == "content_rejected"
    assert list(response.get_json()["error"]["details"]) == ["fulfil_note"]
    db.session.expire_all()
    wish = db.session.get(Wish, wish_id)
    assert (wish.status, wish.fulfil_note) == ("claimed", None)


def test_a_fulfilment_note_under_review_is_queued_and_erased_when_rejected(client, tree, fake_wechat):
    admin, member, wish_id = claimed_wish(client, tree)
    fake_wechat.text_verdicts = {"电话": "review"}
    response = fulfil(client, member, wish_id, "已送达，有事打我电话")
    assert response.status_code == 200 and response.get_json()["moderation"] == "review"
    assert client.get(f"/api/v1/wishes/{wish_id}", headers=auth(admin)).get_json()["moderation"] == "review"
    (item,) = queue(client, admin)
    assert (item["object"], item["field"]) == ({"type": "wish", "id": wish_id}, "fulfil_note")
    assert client.post(f"/api/v1/moderation/{item['id']}/reject", json={"reason": "含联系方式"},
                       headers=auth(admin)).status_code == 200
    db.session.expire_all()
    wish = db.session.get(Wish, wish_id)
    assert (wish.status, wish.fulfil_note) == ("fulfilled", None)


def test_a_unit_admins_fulfilment_note_is_not_checked(client, tree, fake_wechat):
    admin = make_staff("community_admin", tree["a1"])
    unit = make_unit(tree["a1"])
    unit_admin = make_staff("unit_admin", unit)
    wish = client.post("/api/v1/wishes", json={"community_id": tree["a1"].id, "title": "修理轮椅"},
                       headers=auth(admin)).get_json()
    assert client.post(f"/api/v1/wishes/{wish['id']}/claim", json={"unit_id": unit.id},
                       headers=auth(unit_admin)).status_code == 200
    fake_wechat.text_verdicts = {"单位": "risky"}
    assert fulfil(client, unit_admin, wish["id"], "单位志愿者已完成").status_code == 200
    assert checks(fake_wechat) == []


# Correction request reasons (scene 2).

def test_a_correction_reason_is_checked_risky_is_422_and_review_is_queued(client, tree, fake_wechat):
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("申请人")
    record = make_record(member, tree["a1"], hours="1.00", status="approved")
    url = f"/api/v1/service-records/{record.id}/correction-requests"
    fake_wechat.text_verdicts = {"骗子": "risky", "投诉": "review"}
    risky = client.post(url, json={"hours": 2, "reason": "你们都是骗子"}, headers=auth(member))
    assert risky.status_code == 422 and error_code(risky) == "content_rejected"
    assert list(risky.get_json()["error"]["details"]) == ["reason"] and count(CorrectionRequest) == 0
    assert checks(fake_wechat)[0]["scene"] == 2
    held = client.post(url, json={"hours": 2, "reason": "少记了一小时，要投诉"}, headers=auth(member))
    assert held.status_code == 201 and held.get_json()["moderation"] == "review"
    listed = client.get("/api/v1/correction-requests", headers=auth(admin)).get_json()["items"]
    assert [r["moderation"] for r in listed] == ["review"]
    (item,) = queue(client, admin)
    assert (item["object"], item["field"]) == ({"type": "correction", "id": held.get_json()["id"]},
                                               "reason")
    assert client.post(f"/api/v1/moderation/{item['id']}/reject", json={"reason": "用语不当"},
                       headers=auth(admin)).status_code == 200
    db.session.expire_all()
    assert db.session.get(CorrectionRequest, held.get_json()["id"]).reason == ""
