"""The organiser's check-in screen over HTTP: the signed link, the state, the QR image and how it degrades."""

import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import time_machine
import zxingcpp
from PIL import Image

from clock import utcnow
from extensions import db
from models import Activity, Attendance
from services import checkin_tokens
from tests.factories import auth, error_code, make_member, make_staff, region_tree

NOON = datetime(2025, 6, 1, 4, 0, 7, tzinfo=UTC)  # 12:00:07 in Beijing


def make_activity(community, starts_at, ends_at, title="垃圾分类宣传日", status="published"):
    activity = Activity(community_id=community.id, title=title, category="environment", starts_at=starts_at,
                        ends_at=ends_at, capacity=50, requires_signup=False, status=status)
    db.session.add(activity)
    db.session.commit()
    return activity


def screen_path(client, staff, activity):
    response = client.post(f"/api/v1/activities/{activity.id}/screen", headers=auth(staff))
    assert response.status_code == 200, response.get_json()
    return urlparse(response.get_json()["url"]).path


def test_screen_link_is_for_staff_of_the_activitys_community(client):
    tree = region_tree()
    activity = make_activity(tree["a1"], utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=1))
    path = f"/api/v1/activities/{activity.id}/screen"

    response = client.post(path, headers=auth(make_staff("street_admin", tree["street_a"])))

    assert response.status_code == 200
    body = response.get_json()
    assert re.fullmatch(r"https://baodao\.test/screen/[A-Za-z0-9_.-]+", body["url"])
    assert datetime.fromisoformat(body["expires_at"]) == activity.ends_at
    assert body["expires_at"].endswith("+08:00")
    assert client.post(path, headers=auth(make_member())).status_code == 403
    outsider = client.post(path, headers=auth(make_staff("community_admin", tree["b1"])))
    assert outsider.status_code == 404 and error_code(outsider) == "activity_not_found"
    assert client.post("/api/v1/activities/999999/screen",
                       headers=auth(make_staff("community_admin", tree["a1"]))).status_code == 404
    assert client.post(path).status_code == 401


def test_no_link_for_an_ended_or_cancelled_activity(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    ended = make_activity(tree["a1"], utcnow() - timedelta(hours=2), utcnow() - timedelta(minutes=1))
    cancelled = make_activity(tree["a1"], utcnow(), utcnow() + timedelta(hours=1), status="cancelled")

    response = client.post(f"/api/v1/activities/{ended.id}/screen", headers=auth(admin))
    assert response.status_code == 409 and error_code(response) == "activity_ended"
    response = client.post(f"/api/v1/activities/{cancelled.id}/screen", headers=auth(admin))
    assert response.status_code == 409 and error_code(response) == "activity_cancelled"


def test_state_shows_a_current_token_and_the_count_of_people_checked_in(client, app):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    with time_machine.travel(NOON, tick=False):
        activity = make_activity(tree["a1"], NOON - timedelta(minutes=10), NOON + timedelta(hours=1))
        path = screen_path(client, admin, activity)
        first, second = make_member(), make_member()
        db.session.add_all([
            Attendance(member_id=first.id, activity_id=activity.id, checked_in_at=NOON, checked_out_at=NOON),
            Attendance(member_id=first.id, activity_id=activity.id, checked_in_at=NOON),  # came back: still one
            Attendance(member_id=second.id, activity_id=activity.id, checked_in_at=NOON),
        ])
        db.session.commit()

        response = client.get(path + "/state")

        assert response.status_code == 200
        state = response.get_json()
        assert state["title"] == "垃圾分类宣传日"
        assert state["status"] == "open"
        assert state["checked_in"] == 2
        assert checkin_tokens.decode(state["token"]) == ("activity", activity.id, int(NOON.timestamp()) // 30)
        assert datetime.fromisoformat(state["rotates_at"]) == datetime(2025, 6, 1, 4, 0, 30, tzinfo=UTC)
        assert datetime.fromisoformat(state["expires_at"]) == datetime(2025, 6, 1, 4, 1, 0, tzinfo=UTC)


def test_token_rotates_and_the_screen_asks_again_before_the_shown_token_expires(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    with time_machine.travel(NOON, tick=False) as traveller:
        activity = make_activity(tree["a1"], NOON - timedelta(minutes=10), NOON + timedelta(hours=1))
        path = screen_path(client, admin, activity)
        before = client.get(path + "/state").get_json()
        rotates_at = datetime.fromisoformat(before["rotates_at"])
        assert rotates_at < datetime.fromisoformat(before["expires_at"])

        traveller.move_to(rotates_at)
        after = client.get(path + "/state").get_json()

        assert after["token"] != before["token"]
        # The token still on a phone's screen stays good for one more period.
        assert checkin_tokens.decode(before["token"])[1] == activity.id


def test_qrcode_image_carries_the_current_token(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    with time_machine.travel(NOON, tick=False):
        activity = make_activity(tree["a1"], NOON - timedelta(minutes=10), NOON + timedelta(hours=1))
        path = screen_path(client, admin, activity)
        token = client.get(path + "/state").get_json()["token"]

        response = client.get(path + "/qrcode.png")

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    assert [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(response.data)))] == [token]


def test_page_is_a_self_contained_html_page_with_the_title_qr_and_count(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=1),
                             title="<b>敬老</b>义诊")
    path = screen_path(client, admin, activity)

    response = client.get(path)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "&lt;b&gt;敬老&lt;/b&gt;义诊" in html and "<b>敬老" not in html
    assert f'src="{path}/qrcode.png"' in html
    assert f'"{path}/state"' in html
    assert 'id="count">0<' in html
    # Nothing from another host: the page works offline on a venue's network.
    assert "http://" not in html and "https://" not in html and "<link" not in html
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_an_invalid_or_tampered_link_shows_a_readable_message_and_no_qr(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=1))
    path = screen_path(client, admin, activity)
    tampered = path[:-2] + ("AA" if not path.endswith("AA") else "BB")

    for bad in ("/screen/not-a-link", tampered):
        page = client.get(bad)
        assert page.status_code == 404
        assert page.mimetype == "text/html"
        html = page.get_data(as_text=True)
        assert "大屏链接无效" in html and "<img" not in html
        state = client.get(bad + "/state")
        assert state.status_code == 404 and error_code(state) == "screen_link_invalid"
        assert client.get(bad + "/qrcode.png").status_code == 404


def test_after_the_activity_ends_the_page_says_so_and_shows_no_qr(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    with time_machine.travel(NOON, tick=False) as traveller:
        activity = make_activity(tree["a1"], NOON - timedelta(minutes=10), NOON + timedelta(hours=1))
        path = screen_path(client, admin, activity)
        db.session.add(Attendance(member_id=make_member().id, activity_id=activity.id, checked_in_at=NOON))
        db.session.commit()

        traveller.move_to(NOON + timedelta(hours=1))
        page = client.get(path)
        state = client.get(path + "/state").get_json()
        image = client.get(path + "/qrcode.png")

    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert "活动已结束" in html and "垃圾分类宣传日" in html and "共 1 人签到" in html and "<img" not in html
    assert state["status"] == "ended" and state["token"] is None and state["checked_in"] == 1
    assert image.status_code == 409 and error_code(image) == "activity_ended"


def test_a_cancelled_activity_closes_its_screen(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=1))
    path = screen_path(client, admin, activity)
    activity.status = "cancelled"
    db.session.commit()

    page = client.get(path)
    assert page.status_code == 410 and "活动已取消" in page.get_data(as_text=True)
    assert client.get(path + "/state").get_json()["status"] == "cancelled"


def test_before_check_in_opens_the_screen_waits_without_a_code(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    with time_machine.travel(NOON, tick=False):
        activity = make_activity(tree["a1"], NOON + timedelta(hours=2), NOON + timedelta(hours=3))
        path = screen_path(client, admin, activity)
        state = client.get(path + "/state").get_json()
        page = client.get(path)
        image = client.get(path + "/qrcode.png")

    assert state["status"] == "upcoming" and state["token"] is None
    assert datetime.fromisoformat(state["opens_at"]) == NOON + timedelta(hours=1, minutes=30)
    # 13:30 in Beijing, with the date: the deployment's TIMEZONE, whatever the projector's browser thinks.
    assert page.status_code == 200 and "签到将于 2025年6月1日 13:30 开始" in page.get_data(as_text=True)
    assert state["opens_text"] == "2025年6月1日 13:30"
    assert 'src="' not in page.get_data(as_text=True)
    assert image.status_code == 409 and error_code(image) == "activity_upcoming"
