"""Closing an account (DELETE /me): commitments released through the usual services, personal data erased from
every table, tokens refused, hours and certificates kept under the volunteer number."""

import hashlib
import json
from datetime import timedelta

import pytest
import requests
import time_machine
from cryptography.exceptions import InvalidTag
from sqlalchemy import MetaData, select
from stdnum.cn import ric

from clock import utcnow
from extensions import db
from models import (
    Appeal,
    Certificate,
    CorrectionRequest,
    LoginAttempt,
    Notification,
    OutboundMessage,
    PoolMembership,
    Report,
    RoleAssignment,
    ShiftAssignment,
    Signup,
    SubscriptionGrant,
    TeamEvent,
    TeamMember,
    User,
    Wish,
)
from schedulers.jobs import JOBS, run
from services import pii
from tests.activity_factories import make_activity, make_post_shift, make_record
from tests.appeal_factories import act, submit
from tests.conftest import fire_at_once
from tests.factories import auth, error_code, make_grants, make_member, make_staff, region_tree
from tests.team_factories import make_team

NAME = "欧阳注销"
PHONE = "13977120846"
ID_NUMBER = "110108198506071" + "23"
ID_NUMBER += ric.calc_check_digit(ID_NUMBER + "0")
OPENID = "openid-closing-7f3q9"


def sign_in(client, fake_wechat, code, openid):
    fake_wechat.logins[code] = openid
    response = client.post("/api/v1/auth/wechat", json={"code": code})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["user"]["id"], {"Authorization": f"Bearer {body['access_token']}"}


def close(client, headers):
    return client.delete("/api/v1/me", headers=headers)


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def member_with_everything(client, fake_wechat, tree):
    """A member signed in through WeChat with a profile and every kind of commitment and history there is, made
    through the API wherever the API makes it (so every copy of the name the services make is made)."""
    admin = make_staff("community_admin", tree["a1"])
    member_id, headers = sign_in(client, fake_wechat, "code-closing", OPENID)
    # Every text quoting the name also waits in the moderation queue, a copy of its own.
    fake_wechat.text_verdicts = {NAME: "review"}
    ok(client.patch("/api/v1/me", headers=headers, json={"name": NAME, "phone": PHONE, "id_number": ID_NUMBER}))
    member = db.session.get(User, member_id)
    pending_report = ok(client.post("/api/v1/reports", headers=headers, json={"community_id": tree["a1"].id}), 201)
    activity = make_activity(tree["a1"], capacity=1)
    ok(client.post(f"/api/v1/activities/{activity.id}/signups", headers=headers), 201)
    post, shift = make_post_shift(tree["a1"], utcnow() + timedelta(days=2))
    ok(client.post(f"/api/v1/posts/{post.id}/pool", headers=headers), 201)
    ok(client.post(f"/api/v1/shifts/{shift.id}/signups", headers=headers), 201)
    wish = ok(client.post("/api/v1/wishes", headers=auth(admin), json={
        "community_id": tree["a1"].id, "title": "帮独居老人买米"}), 201)
    ok(client.post(f"/api/v1/wishes/{wish['id']}/claim", headers=headers))
    approved = make_record(member, tree["a1"], hours="3.00", status="approved")
    pending = make_record(member, tree["a1"], hours="1.00", status="pending")
    accepted = ok(client.post(f"/api/v1/service-records/{approved.id}/correction-requests", headers=headers,
                              json={"hours": 3.5, "reason": f"{NAME}签退晚了"}), 201)
    ok(client.post(f"/api/v1/correction-requests/{accepted['id']}/accept", headers=auth(admin)))
    ok(client.post(f"/api/v1/service-records/{pending.id}/correction-requests", headers=headers,
                   json={"hours": 0.5, "reason": f"我是{NAME}，提前走了"}), 201)
    done = ok(client.post("/api/v1/wishes", headers=auth(admin), json={
        "community_id": tree["a1"].id, "title": "陪老人就医"}), 201)
    ok(client.post(f"/api/v1/wishes/{done['id']}/claim", headers=headers))
    ok(client.post(f"/api/v1/wishes/{done['id']}/fulfil", headers=headers, json={"note": f"{NAME}已陪同"}))
    today = utcnow().date()
    certificate = ok(client.post("/api/v1/certificates", headers=auth(admin), json={
        "issuer_id": tree["a1"].id, "member_id": member_id, "from": (today - timedelta(days=30)).isoformat(),
        "to": today.isoformat()}), 201)
    open_appeal = ok(submit(client, member, tree["a1"], title=f"{NAME}反映楼道堆物",
                            content=f"我是{NAME}，电话{PHONE}，楼道堆物"), 201)
    ok(act(client, admin, open_appeal["id"], "accept"))
    ok(act(client, admin, open_appeal["id"], "convert", {"to": "wish"}), 201)
    answered = ok(submit(client, member, tree["a1"], title="路灯不亮"), 201)
    ok(act(client, admin, answered["id"], "accept"))
    ok(act(client, admin, answered["id"], "resolve", {"reply": "已修好"}))
    ok(act(client, member, answered["id"], "rate", {"score": 5, "comment": f"{NAME}谢谢社区"}))
    assert db.session.scalar(select(Notification.id).where(Notification.member_id == member_id)) is not None
    return {"member_id": member_id, "headers": headers, "admin": admin, "activity": activity, "post": post,
            "shift": shift, "wish": wish, "approved": approved, "pending": pending, "certificate": certificate,
            "open_appeal": open_appeal, "answered": answered, "report": pending_report}


def needles():
    """Every form in which the member's name, phone, ID number and openid could be stored: plain, in JSON's ASCII
    escapes, the ID number's mask and keyed fingerprint, and common unkeyed hashes of each."""
    forms = {NAME, json.dumps(NAME)[1:-1], PHONE, ID_NUMBER, ID_NUMBER.lower(), OPENID, pii.lookup_hash(ID_NUMBER),
             pii.mask_id_number(ID_NUMBER)}
    for value in (NAME, PHONE, ID_NUMBER, OPENID):
        for algorithm in ("md5", "sha1", "sha256"):
            forms.add(hashlib.new(algorithm, value.encode()).hexdigest())
    return forms


def _readings(value):
    """Every way a stored value can be read as text: as it is, JSON both ways, bytes raw and decrypted."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
        texts = [value.decode("utf-8", "replace")]
        try:
            texts.append(pii.decrypt(value))
        except (InvalidTag, ValueError):
            pass
        return texts
    if isinstance(value, (dict, list)):
        return [json.dumps(value, ensure_ascii=False), json.dumps(value)]
    return [] if value is None else [str(value)]


def traces_left():
    """``[(table, column, form)]`` for every stored value of every table of the database (reflected, so tables of
    any model are included) that holds one of the needles; binary values are also decrypted with the PII key."""
    metadata = MetaData()
    metadata.reflect(bind=db.session.connection())
    found = []
    forms = needles()
    for table in metadata.sorted_tables:
        for row in db.session.execute(table.select()).mappings():
            for column, value in row.items():
                found += [(table.name, column, form) for text in _readings(value) for form in forms if form in text]
    return found


# The scan reflects the tables; SQLite cannot reflect the expression index on lower(username), which it does not need.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection")
def test_no_trace_of_the_member_remains_in_any_table(client, fake_wechat):
    tree = region_tree()
    world = member_with_everything(client, fake_wechat, tree)
    make_grants(db.session.get(User, world["member_id"]), "tmpl-record", 2)
    found = set(traces_left())
    assert {table for table, _, _ in found} >= {"users", "appeals", "certificates", "moderation_items",
                                                "record_changes", "wishes", "notifications"}
    # The scan reads the ciphertext and the keyed fingerprint too.
    assert {("users", "id_number_encrypted", ID_NUMBER), ("users", "id_number_hash", pii.lookup_hash(ID_NUMBER)),
            ("users", "openid", OPENID)} <= found

    assert close(client, world["headers"]).status_code == 204

    db.session.expire_all()
    assert traces_left() == []
    member_id = world["member_id"]
    user = db.session.get(User, member_id)
    assert user.closed_at is not None and not user.is_active and user.volunteer_number.startswith("BD")
    assert db.session.scalar(select(Signup.status).where(Signup.member_id == member_id)) == "cancelled"
    assert db.session.scalar(select(PoolMembership.id).where(PoolMembership.member_id == member_id)) is None
    assert db.session.scalar(select(ShiftAssignment.status).where(ShiftAssignment.member_id == member_id)) == \
        "declined"
    wish = db.session.get(Wish, world["wish"]["id"])
    assert wish.status == "open" and wish.claimer_member_id is None
    assert db.session.get(Report, world["report"]["id"]).status == "withdrawn"
    requests = dict(db.session.execute(select(CorrectionRequest.record_id, CorrectionRequest.status).where(
        CorrectionRequest.member_id == member_id)).all())
    assert requests == {world["approved"].id: "accepted", world["pending"].id: "declined"}
    number = db.session.get(User, member_id).volunteer_number
    assert db.session.scalar(select(Wish.beneficiary).where(Wish.appeal_id == world["open_appeal"]["id"])) == number
    assert db.session.scalar(select(Notification.id).where(Notification.member_id == member_id)) is None
    assert db.session.scalar(select(OutboundMessage.id).where(OutboundMessage.member_id == member_id)) is None
    assert db.session.scalars(select(SubscriptionGrant).where(SubscriptionGrant.member_id == member_id)).all() == []
    # Hours stay, under the volunteer number; the open appeal is still the community's to answer.
    assert db.session.get(type(world["approved"]), world["approved"].id).status == "approved"
    assert db.session.get(Certificate, world["certificate"]["id"]).member_id == member_id
    admin = world["admin"]
    shown = ok(client.get(f"/api/v1/appeals/{world['open_appeal']['id']}", headers=auth(admin)))
    assert shown["status"] == "accepted" and shown["resident"]["name"] == "已注销"
    assert shown["resident"]["phone_masked"] is None
    assert shown["timeline"][0]["actor_name"] == "已注销"
    assert number in shown["content"] and number in shown["title"]
    told = db.session.scalars(select(Notification.title).where(Notification.member_id == admin.id,
                                                               Notification.kind == "appeal_submitted")).all()
    assert told and all(number in title for title in told if "堆物" in title)


def test_closing_promotes_the_waitlist_and_asks_the_pool_for_a_stand_in(client, fake_wechat):
    tree = region_tree()
    member_id, headers = sign_in(client, fake_wechat, "code-a", "openid-a")
    waiting, helper = make_member("候补者"), make_member("替班者")
    activity = make_activity(tree["a1"], capacity=1)
    ok(client.post(f"/api/v1/activities/{activity.id}/signups", headers=headers), 201)
    assert ok(client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(waiting)), 201)["status"] == \
        "waitlisted"
    post, shift = make_post_shift(tree["a1"], utcnow() + timedelta(days=1))
    for who in (headers, auth(helper)):
        ok(client.post(f"/api/v1/posts/{post.id}/pool", headers=who), 201)
    ok(client.post(f"/api/v1/shifts/{shift.id}/signups", headers=headers), 201)
    # A second shift at another post nobody else is in: its seat is simply freed.
    lone_post, lone_shift = make_post_shift(tree["a1"], utcnow() + timedelta(days=3))
    ok(client.post(f"/api/v1/shifts/{lone_shift.id}/signups", headers=headers), 201)

    assert close(client, headers).status_code == 204

    db.session.expire_all()
    promoted = db.session.scalar(select(Signup).where(Signup.member_id == waiting.id))
    assert promoted.status == "confirmed"
    assert db.session.scalar(select(Notification.kind).where(
        Notification.member_id == waiting.id, Notification.kind == "signup_promoted")) == "signup_promoted"
    asked = db.session.scalars(select(Notification.member_id).where(Notification.kind == "standin_request")).all()
    assert asked == [helper.id]
    accepted = client.post(f"/api/v1/shifts/{shift.id}/standin/accept", headers=auth(helper))
    assert accepted.status_code == 200, accepted.get_json()
    statuses = dict(db.session.execute(select(ShiftAssignment.shift_id, ShiftAssignment.status).where(
        ShiftAssignment.member_id == member_id)).all())
    assert statuses == {shift.id: "replaced", lone_shift.id: "declined"}
    db.session.refresh(lone_shift)
    assert lone_shift.filled == 0


def test_closing_ends_team_memberships_as_leaving_does_and_team_claims_stay_with_the_team(client, fake_wechat):
    tree = region_tree()
    member_id, headers = sign_in(client, fake_wechat, "code-t", "openid-t")
    leader = make_member("另一位队长")
    team = make_team(tree["a1"], leaders=[leader, db.session.get(User, member_id)])
    asked = make_team(tree["a1"], name="在职党员心愿认领队")
    ok(client.post(f"/api/v1/teams/{asked.id}/members", headers=headers), 201)
    wish = Wish(community_id=tree["a1"].id, title="读报", status="open")
    db.session.add(wish)
    db.session.commit()
    ok(client.post(f"/api/v1/wishes/{wish.id}/claim", json={"team_id": team.id}, headers=headers))

    assert close(client, headers).status_code == 204

    db.session.expire_all()
    assert db.session.scalars(select(TeamMember).where(TeamMember.member_id == member_id)).all() == []
    left = db.session.scalars(select(TeamEvent.team_id).where(
        TeamEvent.member_id == member_id, TeamEvent.action == "left").order_by(TeamEvent.team_id)).all()
    assert left == [team.id, asked.id]
    # The team's claim is the team's: its other leader carries it on.
    assert db.session.get(Wish, wish.id).status == "claimed"
    done = client.post(f"/api/v1/wishes/{wish.id}/fulfil", json={"note": "已送达"}, headers=auth(leader))
    assert done.status_code == 200, done.get_json()


def test_a_staff_account_cannot_close_and_a_member_with_a_role_gets_409(client):
    tree = region_tree()
    staff = make_staff("community_admin", tree["a1"])
    refused = close(client, auth(staff))
    assert refused.status_code == 403 and error_code(refused) == "members_only"
    member = make_member("兼职书记")
    member.roles.append(RoleAssignment(role="community_admin", scope_type="region", scope_id=tree["a2"].id))
    db.session.commit()
    conflict = close(client, auth(member))
    assert conflict.status_code == 409 and error_code(conflict) == "has_staff_role"
    db.session.expire_all()
    assert db.session.get(User, member.id).name == "兼职书记"


def test_every_token_is_refused_after_closing(client, fake_wechat):
    _, headers = sign_in(client, fake_wechat, "code-t", "openid-t")
    fake_wechat.logins["code-t2"] = "openid-t"
    second = client.post("/api/v1/auth/wechat", json={"code": "code-t2"}).get_json()
    other = {"Authorization": f"Bearer {second['access_token']}"}
    assert close(client, headers).status_code == 204
    for used in (headers, other):
        assert client.get("/api/v1/me", headers=used).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh",
                            headers={"Authorization": f"Bearer {second['refresh_token']}"})
    assert refreshed.status_code == 401
    assert close(client, headers).status_code == 401


def test_signing_in_again_with_wechat_starts_a_new_member(client, fake_wechat):
    old_id, headers = sign_in(client, fake_wechat, "code-r", "openid-returning")
    ok(client.patch("/api/v1/me", headers=headers, json={"name": "回头客"}))
    assert close(client, headers).status_code == 204
    fake_wechat.logins["code-r2"] = "openid-returning"
    again = ok(client.post("/api/v1/auth/wechat", json={"code": "code-r2"}))
    assert again["is_new"] is True and again["user"]["id"] != old_id
    assert again["user"]["name"] is None
    me = ok(client.get("/api/v1/me", headers={"Authorization": f"Bearer {again['access_token']}"}))
    assert me["approved_hours"] == 0 and me["volunteer_number"] != db.session.get(User, old_id).volunteer_number


def test_certificate_verification_after_closing_shows_the_volunteer_number(client, fake_wechat):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member_id, headers = sign_in(client, fake_wechat, "code-c", "openid-c")
    ok(client.patch("/api/v1/me", headers=headers, json={"name": "欧阳明月", "id_number": ID_NUMBER}))
    member = db.session.get(User, member_id)
    make_record(member, tree["a1"], hours="2.50", status="approved")
    today = utcnow().date()
    issued = ok(client.post("/api/v1/certificates", headers=auth(admin), json={
        "issuer_id": tree["a1"].id, "member_id": member_id, "from": (today - timedelta(days=7)).isoformat(),
        "to": today.isoformat()}), 201)
    url = f"/api/v1/certificates/verify/{issued['verify_code']}"
    before = ok(client.get(url))
    assert before["name_masked"] == "欧***" and before["volunteer_number"] == member.volunteer_number

    assert close(client, headers).status_code == 204

    after = ok(client.get(url))
    assert after["valid"] is True and after["name_masked"] is None
    assert after["volunteer_number"] == member.volunteer_number and after["total_hours"] == 2.5
    page = client.get(url, headers={"Accept": "text/html"}).get_data(as_text=True)
    assert member.volunteer_number in page and "（已注销）" in page and "欧阳" not in page
    pdf = client.get(f"/api/v1/certificates/{issued['id']}/pdf", headers=auth(admin))
    assert pdf.status_code == 200


def test_history_and_lists_show_the_volunteer_number_instead_of_the_name(client, fake_wechat):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member_id, headers = sign_in(client, fake_wechat, "code-h", "openid-h")
    ok(client.patch("/api/v1/me", headers=headers, json={"name": "留痕者"}))
    wish = ok(client.post("/api/v1/wishes", headers=auth(admin), json={
        "community_id": tree["a1"].id, "title": "送药上门"}), 201)
    ok(client.post(f"/api/v1/wishes/{wish['id']}/claim", headers=headers))
    ok(client.post(f"/api/v1/wishes/{wish['id']}/fulfil", headers=headers, json={"note": "已送达"}))
    appeal = ok(submit(client, db.session.get(User, member_id), tree["a1"]), 201)
    number = db.session.get(User, member_id).volunteer_number

    assert close(client, headers).status_code == 204

    shown = ok(client.get(f"/api/v1/wishes/{wish['id']}", headers=auth(admin)))
    assert shown["status"] == "fulfilled" and shown["claimer_name"] == number
    timeline = ok(client.get(f"/api/v1/appeals/{appeal['id']}", headers=auth(admin)))["timeline"]
    assert timeline[0]["action"] == "submitted" and timeline[0]["actor_name"] == "已注销"
    assert db.session.scalar(select(Appeal.resident_name).where(Appeal.id == appeal["id"])) == "已注销"


# Simultaneous requests at a live server (PostgreSQL with TEST_DATABASE_URL; SQLite serialises them).

def test_members_closing_at_once_each_promote_one_of_the_waitlist(client, live_server):
    tree = region_tree()
    activity = make_activity(tree["a1"], capacity=3)
    leaving = [make_member(f"离开{i}") for i in range(3)]
    waiting = [make_member(f"候补{i}") for i in range(4)]
    for member in leaving + waiting:
        ok(client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(member)), 201)
    desks = [auth(member) for member in leaving]
    answers = fire_at_once(3, lambda i: requests.delete(f"{live_server}/api/v1/me", headers=desks[i], timeout=60))
    assert [a.status_code for a in answers] == [204, 204, 204]
    db.session.expire_all()
    statuses = dict(db.session.execute(select(Signup.member_id, Signup.status).where(
        Signup.activity_id == activity.id)).all())
    assert [statuses[m.id] for m in waiting] == ["confirmed", "confirmed", "confirmed", "waitlisted"]
    db.session.refresh(activity)
    assert activity.confirmed_count == 3


def test_closing_twice_at_once_closes_once(client, live_server):
    member = make_member("两次注销")
    desks = [auth(member), auth(member)]
    answers = fire_at_once(2, lambda i: requests.delete(f"{live_server}/api/v1/me", headers=desks[i], timeout=60))
    assert sorted(a.status_code for a in answers) in ([204, 204], [204, 401])
    db.session.expire_all()
    user = db.session.get(User, member.id)
    assert user.closed_at is not None and user.name is None and user.openid is None


def test_a_former_staff_member_closing_loses_its_password_sign_in_too(client):
    member = make_member("前书记")
    staff = make_staff("community_admin", region_tree()["a1"])
    member.username, member.password_hash = "former.secretary", staff.password_hash  # its role since removed
    db.session.commit()
    assert client.post("/api/v1/auth/login", json={"username": "former.secretary", "password": "wrong"}) \
        .status_code == 401
    assert close(client, auth(member)).status_code == 204
    db.session.expire_all()
    assert db.session.get(User, member.id).username is None
    assert db.session.scalar(select(LoginAttempt.id).where(LoginAttempt.username_key == "login:former.secretary")) \
        is None
    assert client.post("/api/v1/auth/login", json={"username": "former.secretary", "password": "password123"}) \
        .status_code == 401


def test_a_stand_in_nobody_took_is_no_no_show_of_the_closed_account(client, fake_wechat):
    tree = region_tree()
    member_id, headers = sign_in(client, fake_wechat, "code-n", "openid-n")
    stays = make_member("留下的")
    post, shift = make_post_shift(tree["a1"], utcnow() + timedelta(days=1))
    for who in (headers, auth(stays)):
        ok(client.post(f"/api/v1/posts/{post.id}/pool", headers=who), 201)
    for who in (headers, auth(stays)):
        ok(client.post(f"/api/v1/shifts/{shift.id}/signups", headers=who), 201)
    assert close(client, headers).status_code == 204
    with time_machine.travel(shift.ends_at + timedelta(hours=1), tick=False):
        assert run(JOBS["mark_no_shows"]) == 1
    db.session.expire_all()
    statuses = dict(db.session.execute(select(ShiftAssignment.member_id, ShiftAssignment.status).where(
        ShiftAssignment.shift_id == shift.id)).all())
    assert statuses == {member_id: "declined", stays.id: "no_show"}
