"""QR check-in (CONTRACT: QR check-in) and the closing of forgotten check-outs."""

import base64
import io
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import PIL.Image
import pytest
import requests
import time_machine
import zxingcpp
from sqlalchemy import func, insert, select, text

from extensions import db
from models import Attendance, Post, RecordChange, ServiceRecord, Shift, User
from schedulers.jobs import JOBS, run
from services import checkin_tokens, checkins
from services.database import add_sqlite_math_functions
from tests.activity_factories import FAR, PLACE, confirm, make_activity, make_post_shift
from tests.conftest import fire_at_once, postgres_only
from tests.factories import auth, error_code, make_member, make_staff, region_tree

T0 = datetime(2030, 5, 1, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
HERE = {"lat": PLACE[0], "lng": PLACE[1]}


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def scene(clock):
    """An activity 09:00–11:00 local (capacity 5) in a1, its admin, and a member with a confirmed seat."""
    tree = region_tree()
    activity = make_activity(tree["a1"], starts_at=T0, hours=2, category="environment")
    member = make_member()
    confirm(activity, member)
    return {"tree": tree, "activity": activity, "member": member,
            "admin": make_staff("community_admin", tree["a1"])}


def scan(client, user, token, where=HERE):
    return client.post("/api/v1/checkins", json={"token": token, **where}, headers=auth(user))


def token_for(activity):
    return checkin_tokens.activity_token(activity)[0]


def test_token_is_a_short_scene_safe_string_with_expiry(client, scene):
    token, expires_at = checkin_tokens.activity_token(scene["activity"])
    assert re.fullmatch(r"[0-9A-Za-z_-]{1,32}", token)
    assert expires_at == datetime.fromtimestamp((int(T0.timestamp()) // 30 + 2) * 30, tz=UTC)
    assert checkin_tokens.decode(token) == ("activity", scene["activity"].id, int(T0.timestamp()) // 30)


def test_qrcode_json_and_png_whose_text_is_the_token(client, scene):
    headers = auth(scene["admin"])
    url = f"/api/v1/activities/{scene['activity'].id}/qrcode"
    body = client.get(url, headers=headers).get_json()
    assert body["token"] == token_for(scene["activity"])
    assert body["url"] == f"https://baodao.test/checkin?t={body['token']}"
    assert body["expires_at"].endswith("+08:00")
    png = client.get(f"{url}?format=png", headers=headers)
    assert png.status_code == 200 and png.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(png.data)))
    assert [d.text for d in decoded] == [body["token"]]


def test_qrcode_is_for_staff_of_that_community(client, scene):
    url = f"/api/v1/activities/{scene['activity'].id}/qrcode"
    assert client.get(url, headers=auth(scene["member"])).status_code == 403
    outsider = make_staff("community_admin", scene["tree"]["b1"])
    assert client.get(url, headers=auth(outsider)).status_code == 404
    assert client.get("/api/v1/activities/999999/qrcode", headers=auth(scene["admin"])).status_code == 404
    assert client.get(f"{url}?format=gif", headers=auth(scene["admin"])).status_code == 422


def test_check_in_duplicate_then_check_out_with_a_pending_record(client, scene, clock):
    activity, member = scene["activity"], scene["member"]
    clock.move_to(T0 + timedelta(minutes=5))
    first = scan(client, member, token_for(activity))
    assert first.status_code == 201
    body = first.get_json()
    assert body["action"] == "check_in"
    assert body["attendance"]["checked_in_at"] == "2030-05-01T09:05:00+08:00"

    clock.shift(59)
    repeat = scan(client, member, token_for(activity))
    assert repeat.status_code == 200 and repeat.get_json()["action"] == "duplicate"
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0

    clock.move_to(T0 + timedelta(minutes=85, seconds=35))
    out = scan(client, member, token_for(activity))
    assert out.status_code == 200
    body = out.get_json()
    assert body["action"] == "check_out"
    assert body["attendance"]["minutes"] == 80
    # 1 h 20 min 35 s = 1.3430 h, rounded down.
    assert body["service_record"]["hours"] == 1.34
    assert body["service_record"]["status"] == "pending"
    record = db.session.get(ServiceRecord, body["service_record"]["id"])
    assert (record.member_id, record.activity_id, record.community_id, record.category, record.source) == (
        member.id, activity.id, activity.community_id, "environment", "checkin")
    assert record.hours == Decimal("1.34")
    assert db.session.scalar(select(RecordChange.action).where(RecordChange.record_id == record.id)) == "create"
    # A double tap at check-out is a duplicate, not a new check-in.
    clock.shift(10)
    assert scan(client, member, token_for(activity)).get_json()["action"] == "duplicate"
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1


def test_hours_are_clipped_to_the_activity_window(client, scene, clock):
    activity, member = scene["activity"], scene["member"]
    clock.move_to(T0 - timedelta(minutes=30))
    assert scan(client, member, token_for(activity)).status_code == 201
    clock.move_to(T0 + timedelta(hours=2))
    body = scan(client, member, token_for(activity)).get_json()
    assert body["action"] == "check_out"
    assert body["attendance"]["minutes"] == 150
    assert body["service_record"]["hours"] == 2.0
    record = db.session.get(ServiceRecord, body["service_record"]["id"])
    assert (record.started_at, record.ended_at) == (T0, T0 + timedelta(hours=2))


def test_window_is_thirty_minutes_before_start_to_the_end(client, scene, clock):
    activity, member = scene["activity"], scene["member"]
    clock.move_to(T0 - timedelta(minutes=31))
    early = scan(client, member, token_for(activity))
    assert early.status_code == 409 and error_code(early) == "outside_window"
    clock.move_to(T0 + timedelta(hours=2, seconds=1))
    late = scan(client, member, token_for(activity))
    assert late.status_code == 409 and error_code(late) == "outside_window"
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0


def test_out_of_range_is_refused(client, scene):
    far = scan(client, scene["member"], token_for(scene["activity"]), {"lat": FAR[0], "lng": FAR[1]})
    assert far.status_code == 403 and error_code(far) == "out_of_range"
    # ~150 m away is inside a 200 m radius.
    near = scan(client, scene["member"], token_for(scene["activity"]), {"lat": PLACE[0] + 0.00135, "lng": PLACE[1]})
    assert near.status_code == 201


def test_the_radius_holds_to_the_metre_at_check_in_and_at_check_out(client, scene, clock):
    """A first scan is one statement and a check-out takes the full path: both apply the same 200 m radius."""
    metre = 1 / 111_195.08  # degrees of latitude per metre on a sphere of the earth's mean radius

    def north(metres):
        return {"lat": PLACE[0] + metres * metre, "lng": PLACE[1]}

    member, activity = scene["member"], scene["activity"]
    assert error_code(scan(client, member, token_for(activity), north(201))) == "out_of_range"
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 0
    assert scan(client, member, token_for(activity), north(199)).status_code == 201
    clock.shift(120)
    assert error_code(scan(client, member, token_for(activity), north(201))) == "out_of_range"
    assert scan(client, member, token_for(activity), north(199)).get_json()["action"] == "check_out"


def test_a_place_without_a_radius_accepts_a_scan_from_anywhere(client, scene):
    scene["activity"].radius_m = None
    db.session.commit()
    far = scan(client, scene["member"], token_for(scene["activity"]), {"lat": FAR[0], "lng": FAR[1]})
    assert far.status_code == 201


def test_sqlite_without_math_functions_gets_stand_ins_for_the_radius_rule():
    connection = sqlite3.connect(":memory:")
    add_sqlite_math_functions(connection)
    assert connection.execute("SELECT power(sin(radians(30)), 2), cos(0), power(2, 10), sin(NULL), power(NULL, 2)"
                              ).fetchone() == (pytest.approx(0.25), 1.0, 1024.0, None, None)


def test_sign_up_is_required_where_the_activity_requires_it(client, scene):
    stranger = make_member()
    refused = scan(client, stranger, token_for(scene["activity"]))
    assert refused.status_code == 403 and error_code(refused) == "not_signed_up"
    open_activity = make_activity(scene["tree"]["a1"], starts_at=T0, requires_signup=False)
    assert scan(client, stranger, token_for(open_activity)).status_code == 201


def test_waitlisted_member_is_not_signed_up(client, scene):
    activity = make_activity(scene["tree"]["a1"], starts_at=T0 + timedelta(minutes=10), capacity=1)
    first, second = make_member(), make_member()
    for m in (first, second):
        client.post(f"/api/v1/activities/{activity.id}/signups", headers=auth(m))
    assert error_code(scan(client, second, token_for(activity))) == "not_signed_up"
    assert scan(client, first, token_for(activity)).status_code == 201


def test_forged_altered_expired_and_foreign_tokens_are_refused(app, client, scene, clock):
    activity, member = scene["activity"], scene["member"]
    token = token_for(activity)

    def refused(bad):
        response = scan(client, member, bad)
        assert response.status_code == 400, bad
        return error_code(response)

    # Altered in any one character.
    for i in (0, 5, 15, 31):
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        changed = alphabet[(alphabet.index(token[i]) + 1) % 64]
        assert refused(token[:i] + changed + token[i + 1:]) == "invalid_token"
    for garbled in ("", "abc", token + "A", "!" * 32, "é" * 32):
        assert refused(garbled) == "invalid_token"
    # Signed with another key.
    app.config["SECRET_KEY"], original = "another-secret", app.config["SECRET_KEY"]
    try:
        foreign_key = token_for(activity)
    finally:
        app.config["SECRET_KEY"] = original
    assert refused(foreign_key) == "invalid_token"
    # A retired key id is no longer accepted.
    assert refused(checkin_tokens.encode("activity", activity.id, int(T0.timestamp()) // 30, key_id=9)) == \
        "invalid_token"
    # The MAC of this activity on another activity's id.
    other = make_activity(scene["tree"]["a1"], starts_at=T0)
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[2:6] = other.id.to_bytes(4, "big")
    assert refused(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")) == "invalid_token"
    # Accepted for one extra period, then expired.
    clock.shift(30)
    assert scan(client, member, token).status_code == 201
    clock.shift(60)
    assert refused(token) == "token_expired"


def test_rotated_keys_stay_valid_while_accepted(app, client, scene, monkeypatch):
    old = token_for(scene["activity"])
    monkeypatch.setitem(app.config, "CHECKIN_KEY_ID", 2)
    monkeypatch.setitem(app.config, "CHECKIN_ACCEPTED_KEY_IDS", [1, 2])
    new = token_for(scene["activity"])
    assert new != old
    assert checkin_tokens.decode(old)[1] == checkin_tokens.decode(new)[1] == scene["activity"].id
    app.config["CHECKIN_ACCEPTED_KEY_IDS"] = [2]
    with pytest.raises(Exception, match="invalid_token"):
        checkin_tokens.decode(old)


def test_cancelled_activity_refuses_scans(client, scene):
    token = token_for(scene["activity"])
    client.post(f"/api/v1/activities/{scene['activity'].id}/cancel", headers=auth(scene["admin"]))
    response = scan(client, scene["member"], token)
    assert response.status_code == 409 and error_code(response) == "activity_cancelled"


def test_post_token_is_static_and_needs_a_shift_on_now(client, clock):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    on_shift, off_shift = make_member(), make_member()
    post, shift = make_post_shift(tree["a1"], starts_at=T0 + timedelta(minutes=20), assignees=[on_shift])
    body = client.get(f"/api/v1/posts/{post.id}/qrcode", headers=auth(admin)).get_json()
    token = body["token"]
    assert body["expires_at"] is None and len(token) <= 32
    # WeChat is configured: the printed code is the mini-program code of the token (the fake draws it as a QR code).
    png = client.get(f"/api/v1/posts/{post.id}/qrcode?format=png", headers=auth(admin))
    assert [d.text for d in zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(png.data)))] == [
        f"pages/checkin/index?scene={token}&env=release"]
    assert client.get(f"/api/v1/posts/{post.id}/qrcode", headers=auth(on_shift)).status_code == 403

    refused = scan(client, off_shift, token)
    assert refused.status_code == 403 and error_code(refused) == "not_signed_up"
    checked_in = scan(client, on_shift, token)
    assert checked_in.status_code == 201
    assert checked_in.get_json()["attendance"]["shift_id"] == shift.id
    clock.move_to(T0 + timedelta(hours=2))
    out = scan(client, on_shift, token).get_json()
    assert out["action"] == "check_out"
    record = db.session.get(ServiceRecord, out["service_record"]["id"])
    # Clipped to the shift (09:20–11:20), category from the post's kind, community from the post.
    assert record.hours == Decimal("1.66")
    assert (record.shift_id, record.category, record.community_id) == (shift.id, "environment", tree["a1"].id)
    # Days later the same printed code is valid but no shift is on.
    clock.move_to(T0 + timedelta(days=3))
    late = scan(client, on_shift, token)
    assert late.status_code == 409 and error_code(late) == "outside_window"


def test_post_scan_accepts_only_active_assignments(client, clock):
    tree = region_tree()
    member = make_member()
    post, _shift = make_post_shift(tree["a1"], starts_at=T0, assignees=[member], status="declined")
    assert error_code(scan(client, member, checkin_tokens.post_token(post))) == "not_signed_up"
    post, _shift = make_post_shift(tree["a1"], starts_at=T0, kind="gate", assignees=[member],
                                   status="standin_requested")
    assert scan(client, member, checkin_tokens.post_token(post)).status_code == 201


def test_forgotten_check_out_is_closed_at_the_scheduled_end_for_review(client, scene, clock):
    activity, member = scene["activity"], scene["member"]
    scan(client, member, token_for(activity))
    job = JOBS["close_open_attendances"]
    assert job.trigger == "interval" and job.trigger_args == {"minutes": 5}
    clock.move_to(T0 + timedelta(hours=1, minutes=59))
    assert run(job) == 0  # still on
    clock.move_to(T0 + timedelta(hours=2, minutes=10))
    assert error_code(scan(client, member, token_for(activity))) == "outside_window"
    assert run(job) == 1
    attendance = db.session.scalar(select(Attendance))
    assert attendance.checked_out_at == T0 + timedelta(hours=2)
    assert attendance.needs_review is True and attendance.minutes == 120
    record = db.session.scalar(select(ServiceRecord))
    assert record.status == "pending" and record.source == "auto_closed" and "自动签退" in record.description
    assert record.hours == Decimal("2.00")
    assert run(job) == 0
    late = scan(client, member, token_for(activity))
    assert late.status_code == 409 and error_code(late) == "outside_window"


def test_forgotten_check_out_at_a_post_is_closed_at_the_shift_end_for_review(client, clock):
    tree = region_tree()
    member, other = make_member(), make_member()
    post, shift = make_post_shift(tree["a1"], starts_at=T0, assignees=[member, other])
    for someone in (member, other):
        assert scan(client, someone, checkin_tokens.post_token(post)).status_code == 201
    clock.move_to(T0 + timedelta(hours=1))
    assert scan(client, other, checkin_tokens.post_token(post)).json["action"] == "check_out"
    clock.move_to(T0 + timedelta(hours=2, minutes=5))
    assert checkins.close_open_attendances() == 1
    attendance = db.session.scalar(select(Attendance).where(Attendance.member_id == member.id))
    assert attendance.checked_out_at == shift.ends_at and attendance.needs_review is True
    record = db.session.scalar(select(ServiceRecord).where(ServiceRecord.member_id == member.id))
    assert record.shift_id == shift.id and record.source == "auto_closed" and record.hours == Decimal("2.00")
    assert checkins.close_open_attendances() == 0


def test_malformed_check_in_bodies_are_refused(client, scene):
    headers = auth(scene["member"])
    assert client.post("/api/v1/checkins", json={"token": "x"}, headers=headers).status_code == 422
    assert client.post("/api/v1/checkins", json={"token": "x", "lat": 100, "lng": 0},
                       headers=headers).status_code == 422
    assert client.post("/api/v1/checkins", json=["x"], headers=headers).status_code == 400
    assert client.post("/api/v1/checkins", json={"token": token_for(scene["activity"]), **HERE}).status_code == 401


def test_twelve_simultaneous_scans_open_one_attendance(live_server):
    tree = region_tree()
    activity = make_activity(tree["a1"], starts_at=datetime.now(UTC) + timedelta(minutes=10))
    member = make_member()
    confirm(activity, member)
    headers = auth(member)
    token = token_for(activity)
    activity_id = activity.id
    db.session.commit()
    results = fire_at_once(12, lambda i: requests.post(f"{live_server}/api/v1/checkins", headers=headers,
                                                       json={"token": token, **HERE}, timeout=60))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] * 11 + [201]
    assert sorted(r.json()["action"] for r in results) == ["check_in"] + ["duplicate"] * 11
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Attendance).where(
        Attendance.activity_id == activity_id)) == 1


def _plan_nodes(node):
    yield node
    for child in node.get("Plans", ()):
        yield from _plan_nodes(child)


def _rows_read(table, statement, **params):
    """For each node of the PostgreSQL plan that reads ``table`` or one of its indexes: the rows it returned plus the
    rows it read and dropped (EXPLAIN ANALYZE)."""
    compiled = statement.compile(db.engine, compile_kwargs={"render_postcompile": True})
    plan = db.session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), {**compiled.params, **params}).scalar()[0]["Plan"]
    return [node["Actual Rows"] + node.get("Rows Removed by Filter", 0) for node in _plan_nodes(plan)
            if node.get("Relation Name") == table or str(node.get("Index Name", "")).startswith((f"ix_{table}_",
                                                                                                 f"uq_{table}_"))]


@postgres_only
def test_a_scan_at_a_big_event_reads_only_the_members_own_attendances(scene):
    """2,000 check-ins already at the activity, recorded after the planner's statistics were taken (a new event):
    the scan's lookup must not read them. With one index per column PostgreSQL intersected both, and the activity's
    side held every check-in so far."""
    activity, member = scene["activity"], scene["member"]
    db.session.execute(text("ANALYZE attendances"))
    users, attendances = User.__table__, Attendance.__table__
    others = db.session.scalars(insert(users).returning(users.c.id), [
        {"openid": f"big-event-{i}", "political_status": "masses", "in_service": False, "unavailable_weekdays": [],
         "unavailable_dates": [], "is_active": True, "created_at": T0} for i in range(2000)]).all()
    db.session.execute(insert(attendances), [
        {"member_id": other, "activity_id": activity.id, "checked_in_at": T0, "checked_out_at": T0 + timedelta(hours=1),
         "minutes": 60, "needs_review": False} for other in others])
    rows = _rows_read("attendances", checkins.SCAN_STATEMENTS["activity"], member_id=member.id, place_id=activity.id,
                      **HERE)
    assert rows and max(rows) <= 1, rows
    # A first scan's single statement looks for the member's open or recent attendance there the same way.
    rows = _rows_read("attendances", checkins._first_check_in(False), member_id=member.id, place_id=activity.id,
                      now=T0, latest_start=T0 + timedelta(minutes=30), debounced_since=T0 - timedelta(minutes=1),
                      **HERE)
    assert rows and max(rows) <= 1, rows
    db.session.rollback()


@postgres_only
def test_a_scan_at_a_post_reads_only_that_posts_shifts(clock):
    """300 posts with a fortnight's roster generated after the planner's statistics were taken, and a scan at a post
    whose next shift is tomorrow: looking for its shift on now must not read the other posts' shifts. With an index
    on ends_at alone PostgreSQL read every coming shift of every post."""
    tree = region_tree()
    member = make_member()
    post, _shift = make_post_shift(tree["a1"], T0 + timedelta(days=1), assignees=[member])
    posts, shifts = Post.__table__, Shift.__table__
    others = db.session.scalars(insert(posts).returning(posts.c.id), [
        {"community_id": tree["a1"].id, "name": f"{i}号桶站", "kind": "bin_station", "created_at": T0}
        for i in range(300)]).all()

    def fortnight(first_day):
        return [{"post_id": other, "starts_at": T0 + timedelta(days=day, hours=hour),
                 "ends_at": T0 + timedelta(days=day, hours=hour + 2), "seats": 2, "filled": 0, "created_at": T0}
                for other in others for day in range(first_day, first_day + 14) for hour in (0, 10)]

    db.session.execute(insert(shifts), fortnight(-14))
    db.session.execute(text("ANALYZE shifts"))
    db.session.execute(insert(shifts), fortnight(1))
    rows = _rows_read("shifts", checkins.shift_on_now(member.id, post.id, T0))
    assert rows and max(rows) <= 1, rows
    db.session.rollback()


@postgres_only
def test_closing_forgotten_check_outs_reads_only_the_open_attendances(scene):
    """3,000 closed attendances of past events and one still open after its end: the job that runs every 5 minutes
    must read only the open one. One query over both kinds of place read the whole table, a cost growing with
    history."""
    activity, member = scene["activity"], scene["member"]
    attendances = Attendance.__table__
    db.session.execute(insert(attendances), [
        {"member_id": member.id, "activity_id": activity.id, "checked_in_at": T0 - timedelta(days=day),
         "checked_out_at": T0 - timedelta(days=day, hours=-1), "minutes": 60, "needs_review": False}
        for day in range(1, 3001)])
    db.session.execute(insert(attendances), {"member_id": member.id, "activity_id": activity.id,
                                             "checked_in_at": T0, "needs_review": False})
    db.session.execute(text("ANALYZE attendances"))
    for statement in checkins.attendances_open_after_end(T0 + timedelta(hours=3)):
        rows = _rows_read("attendances", statement)
        assert rows and max(rows) <= 1, rows
    db.session.rollback()
