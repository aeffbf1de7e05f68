"""What an outside attacker found (issue 16), each hole closed for its whole class."""

import base64
import hashlib
import hmac
import io
import json
import zipfile
from datetime import timedelta

import pytest
import requests
import time_machine
from sqlalchemy import func, select

from clock import to_local, utcnow
from extensions import db
from models import Certificate, ServiceRecord, ShiftAssignment, User
from services import checkin_tokens
from tests.activity_factories import PLACE, confirm, make_activity, make_post_shift, make_record
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, error_code, make_member, make_staff, region_tree


def login(client, username, password):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


# Self-approval through a puppet account.

def test_a_community_admin_cannot_approve_its_own_hours_through_an_account_it_made(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    entered = client.post("/api/v1/service-records", headers=auth(admin), json={
        "member_id": admin.id, "started_at": "2030-03-01T08:00:00", "ended_at": "2030-03-01T18:00:00", "hours": 10})
    assert entered.status_code == 201
    made = client.post("/api/v1/staff", headers=auth(admin), json={
        "username": "puppet", "password": "password123", "name": "傀儡", "role": "community_admin",
        "scope_id": tree["a1"].id})
    assert made.status_code == 201
    puppet = db.session.get(User, made.get_json()["id"])
    assert puppet.created_by == admin.id

    record_id = entered.get_json()["id"]
    for peer in (puppet, make_staff("community_admin", tree["a1"])):
        refused = client.post(f"/api/v1/service-records/{record_id}/approve", headers=auth(peer))
        assert refused.status_code == 403 and error_code(refused) == "own_record"
        assert client.patch(f"/api/v1/service-records/{record_id}", headers=auth(peer),
                            json={"hours": 9, "reason": "改"}).status_code == 403
    assert db.session.get(ServiceRecord, record_id).status == "pending"
    street = make_staff("street_admin", tree["street_a"])
    assert client.post(f"/api/v1/service-records/{record_id}/approve", headers=auth(street)).status_code == 200
    history = client.get(f"/api/v1/service-records/{record_id}/history", headers=auth(street)).get_json()["items"]
    assert [(h["action"], h["actor_name"]) for h in history] == [("create", admin.name), ("approve", street.name)]


def test_a_members_hours_are_still_decided_by_its_community_admin(client):
    tree = region_tree()
    record = make_record(make_member(), tree["a1"])
    admin = make_staff("community_admin", tree["a1"])
    assert client.post(f"/api/v1/service-records/{record.id}/approve", headers=auth(admin)).status_code == 200


# Usernames in any case.

def test_usernames_differing_only_in_case_are_one(client):
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    body = {"password": "password123", "name": "王伟", "role": "community_admin", "scope_id": tree["a1"].id}
    assert client.post("/api/v1/staff", headers=auth(admin), json={**body, "username": "Wang.Wei"}).status_code == 201
    again = client.post("/api/v1/staff", headers=auth(admin), json={**body, "username": "wang.wei"})
    assert again.status_code == 409 and error_code(again) == "username_taken"
    assert login(client, "WANG.WEI", "password123").status_code == 200


@postgres_only
def test_simultaneous_usernames_in_two_cases_leave_one(client, live_server):
    tree = region_tree()
    headers = auth(make_staff("district_admin", tree["district"]))
    names = ["Li.Fang", "li.fang", "LI.FANG", "lI.fAnG"]

    def create(i):
        return requests.post(f"{live_server}/api/v1/staff", headers=headers, timeout=30, json={
            "username": names[i], "password": "password123", "name": "李芳", "role": "community_admin",
            "scope_id": tree["a1"].id}).status_code

    assert sorted(fire_at_once(len(names), create)) == [201, 409, 409, 409]
    assert db.session.scalar(select(func.count()).select_from(User).where(
        func.lower(User.username) == "li.fang")) == 1


# The sign-in failure limit, where every process sees it.

@postgres_only
def test_simultaneous_wrong_passwords_are_checked_ten_times_at_most(client, live_server):
    admin = make_staff("sysadmin")
    db.session.commit()

    def attempt(_):
        return requests.post(f"{live_server}/api/v1/auth/login", timeout=30,
                             json={"username": admin.username, "password": "wrong"}).status_code

    answers = fire_at_once(30, attempt)
    assert answers.count(401) == 10 and answers.count(429) == 20
    assert login(client, admin.username, "password123").status_code == 429


def test_the_failure_limit_counts_a_username_in_any_case(client):
    admin = make_staff("sysadmin")
    for n in range(10):
        assert login(client, admin.username.upper() if n % 2 else admin.username, "wrong").status_code == 401
    locked = login(client, admin.username.title(), "password123")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "900"


def test_the_window_passes(client):
    admin = make_staff("sysadmin")
    start = utcnow()
    with time_machine.travel(start, tick=False):
        for _ in range(10):
            login(client, admin.username, "wrong")
        assert login(client, admin.username, "password123").status_code == 429
    with time_machine.travel(start + timedelta(minutes=16), tick=False):
        assert login(client, admin.username, "password123").status_code == 200


# Hours for a shift one has left.

def test_a_member_who_checked_in_early_cannot_leave_the_shift(client):
    tree = region_tree()
    member, other = make_member(), make_member()
    post, shift = make_post_shift(tree["a1"], utcnow() + timedelta(minutes=20), assignees=[member, other])
    token = checkin_tokens.post_token(post)
    scan = {"token": token, "lat": PLACE[0], "lng": PLACE[1]}
    assert client.post("/api/v1/checkins", json=scan, headers=auth(member)).status_code == 201
    for path in (f"/api/v1/shifts/{shift.id}/signups/me", f"/api/v1/shifts/{shift.id}/standin"):
        refused = client.open(path, method="DELETE" if path.endswith("me") else "POST", headers=auth(member))
        assert refused.status_code == 409 and error_code(refused) == "already_checked_in", path
    assert db.session.scalar(select(ShiftAssignment.status).where(
        ShiftAssignment.member_id == member.id)) == "checked_in"


def test_a_check_out_from_a_seat_no_longer_held_credits_no_hours(client):
    tree = region_tree()
    member = make_member()
    post, shift = make_post_shift(tree["a1"], utcnow() - timedelta(minutes=10), assignees=[member])
    scan = {"token": checkin_tokens.post_token(post), "lat": PLACE[0], "lng": PLACE[1]}
    with time_machine.travel(utcnow(), tick=False):
        assert client.post("/api/v1/checkins", json=scan, headers=auth(member)).status_code == 201
    # The seat went to someone else meanwhile (as a stand-in race or staff repair could leave it).
    db.session.execute(ShiftAssignment.__table__.update().values(status="replaced"))
    db.session.commit()
    with time_machine.travel(utcnow() + timedelta(minutes=30), tick=False):
        out = client.post("/api/v1/checkins", json=scan, headers=auth(member)).get_json()
    assert out["action"] == "check_out" and out["service_record"] is None
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0


# Who sees the names on a duty roster.

def test_a_roster_names_its_volunteers_only_to_staff_and_to_those_on_the_shift(client):
    tree = region_tree()
    on_shift, outsider = make_member("王伟"), make_member("李芳")
    post, shift = make_post_shift(tree["a1"], utcnow() + timedelta(days=1), assignees=[on_shift])
    day = to_local(shift.starts_at).date().isoformat()  # the shift's local day (tomorrow in UTC may be later here)

    def names(user):
        rows = client.get(f"/api/v1/posts/{post.id}/shifts?from={day}&to={day}", headers=auth(user)).get_json()
        return [a["name"] for row in rows["items"] for a in row["assignees"]]

    assert names(outsider) == ["王*"]
    assert names(on_shift) == ["王伟"]
    assert names(make_staff("community_admin", tree["a1"])) == ["王伟"]
    assert names(make_staff("community_admin", tree["b1"])) == ["王*"]


# Screen links that can be revoked.

def _screen(client, admin, activity):
    opened = client.post(f"/api/v1/activities/{activity.id}/screen", headers=auth(admin)).get_json()
    return opened["id"], opened["url"].split("/screen/", 1)[1]


def test_a_screen_link_can_be_revoked_and_dies_with_its_makers_account(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], starts_at=utcnow() - timedelta(minutes=5))
    kept_id, kept = _screen(client, admin, activity)
    revoked_id, revoked = _screen(client, admin, activity)
    assert client.get(f"/screen/{revoked}/state").status_code == 200
    outsider = make_staff("community_admin", tree["b1"])
    assert client.delete(f"/api/v1/screen-links/{revoked_id}", headers=auth(outsider)).status_code == 404
    assert client.delete(f"/api/v1/screen-links/{revoked_id}", headers=auth(admin)).status_code == 204
    gone = client.get(f"/screen/{revoked}/state")
    assert gone.status_code == 404 and error_code(gone) == "screen_link_invalid"
    assert client.get(f"/screen/{kept}/state").status_code == 200
    admin.is_active = False
    db.session.commit()
    assert client.get(f"/screen/{kept}/state").status_code == 404
    assert client.get(f"/screen/{kept}").status_code == 404


# A certificate batch run twice issues one set.

def test_a_certificate_batch_run_again_hands_out_the_same_certificates(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    for member in (make_member(), make_member()):
        make_record(member, tree["a1"], status="approved", started_at=utcnow() - timedelta(days=3))
    body = {"issuer_id": tree["a1"].id, "from": (utcnow() - timedelta(days=10)).date().isoformat(),
            "to": utcnow().date().isoformat()}

    def batch():
        response = client.post("/api/v1/certificates/batch", headers=auth(admin), json=body)
        assert response.status_code == 200
        return sorted(zipfile.ZipFile(io.BytesIO(response.data)).namelist())

    first = batch()
    assert batch() == first and len(first) == 2
    assert db.session.scalar(select(func.count()).select_from(Certificate)) == 2


# Tokens this app would never have made.

def _forged(claims):
    from flask import current_app

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    key = current_app.config["JWT_SECRET_KEY"].encode()
    signature = base64.urlsafe_b64encode(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()).rstrip(b"=")
    return {"Authorization": f"Bearer {signing_input}.{signature.decode()}"}


@pytest.mark.parametrize("change", [
    {"exp": None}, {"type": None}, {"type": "other"}, {"sid": {"a": 1}}, {"sid": 12}, {"sid": None},
    {"sub": 5}, {"jti": None}, {"exp": "tomorrow"}, {"exp": True},
])
def test_a_token_with_missing_or_malformed_claims_is_401(client, change):
    member = make_member()
    good = auth(member)["Authorization"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    assert client.get("/api/v1/me", headers=_forged(claims)).status_code == 200
    claims.update(change)
    claims = {k: v for k, v in claims.items() if v is not None}
    response = client.get("/api/v1/me", headers=_forged(claims))
    assert response.status_code == 401 and error_code(response) == "token_invalid", change


# Withdrawing after the event.

def test_a_sign_up_cannot_be_withdrawn_after_the_activity_ended(client):
    tree = region_tree()
    member, waiting = make_member(), make_member()
    activity = make_activity(tree["a1"], starts_at=utcnow() - timedelta(hours=3), hours=2, capacity=1)
    confirm(activity, member)
    response = client.delete(f"/api/v1/activities/{activity.id}/signups/me", headers=auth(member))
    assert response.status_code == 409 and error_code(response) == "activity_ended"
    assert client.delete(f"/api/v1/activities/{activity.id}/signups/me",
                         headers=auth(waiting)).status_code == 404


# Validators that took Unicode digits and a trailing newline.

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("field, value", [
    ("phone", "13800138000".translate(ARABIC_INDIC)), ("phone", "13800138000\n"), ("phone", "１３８００１３８０００"),
    ("id_number", "11010519491231002X".translate(ARABIC_INDIC)), ("id_number", "11010519491231002X\n"),
])
def test_phones_and_id_numbers_are_ascii_digits_to_the_end(client, field, value):
    member = make_member()
    response = client.patch("/api/v1/me", headers=auth(member), json={field: value})
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == [field]
    db.session.refresh(member)
    assert member.phone is None and member.id_number_hash is None


def test_an_id_number_written_with_a_small_x_is_the_same_number(client):
    first, second = make_member(), make_member()
    assert client.patch("/api/v1/me", headers=auth(first), json={"id_number": "11010519491231002X"}).status_code == 200
    taken = client.patch("/api/v1/me", headers=auth(second), json={"id_number": "11010519491231002x"})
    assert taken.status_code == 409 and error_code(taken) == "id_number_taken"


def test_a_check_in_token_with_a_trailing_newline_is_invalid(client):
    tree = region_tree()
    member = make_member()
    activity = make_activity(tree["a1"], starts_at=utcnow() - timedelta(minutes=5), requires_signup=False)
    token, _ = checkin_tokens.activity_token(activity)
    for garbled in (token + "\n", token[:-1] + "٣"):
        response = client.post("/api/v1/checkins", headers=auth(member),
                               json={"token": garbled, "lat": PLACE[0], "lng": PLACE[1]})
        assert response.status_code == 400 and error_code(response) == "invalid_token"
    assert client.post("/api/v1/checkins", headers=auth(member),
                       json={"token": token, "lat": PLACE[0], "lng": PLACE[1]}).status_code == 201


def test_a_username_with_a_trailing_newline_is_refused(client):
    tree = region_tree()
    admin = make_staff("district_admin", tree["district"])
    response = client.post("/api/v1/staff", headers=auth(admin), json={
        "username": "wangwei\n", "password": "password123", "name": "王伟", "role": "community_admin",
        "scope_id": tree["a1"].id})
    assert response.status_code == 422 and list(response.get_json()["error"]["details"]) == ["username"]
