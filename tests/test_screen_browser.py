"""The check-in screen in a real headless browser: the QR code on the page checks a member in, the live count
follows, and a new code appears after rotation; dates and times are the deployment's whatever the browser's zone;
a failed poll is said on the screen, and an expired code taken down."""

import io
import re
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import zxingcpp
from PIL import Image

from clock import utcnow
from extensions import db
from tests.browser import require_chromium, start_chromium
from tests.factories import auth, make_member, make_staff, region_tree
from tests.test_screen import make_activity, screen_path

require_chromium()
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TOKEN = re.compile(r"^[0-9A-Za-z_-]{32}$")
ROTATE_SECONDS = 3
# Far from Asia/Shanghai (the deployment's TIMEZONE in the tests): 12 or 13 hours behind.
BROWSER_TIMEZONE = "America/New_York"


@pytest.fixture
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def browser_elsewhere():
    driver = start_chromium(timezone=BROWSER_TIMEZONE)
    yield driver
    driver.quit()


def qr_on_screen(driver):
    """The text of the QR code visible in a screenshot of the page, or None."""
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png()))
    texts = [barcode.text for barcode in zxingcpp.read_barcodes(image)]
    return texts[0] if len(texts) == 1 else None


def check_in(live_server, member, token):
    return requests.post(f"{live_server}/api/v1/checkins", json={"token": token, "lat": 39.9, "lng": 116.4},
                         headers=auth(member), timeout=30)


def test_screen_qr_checks_in_counts_and_rotates_in_a_real_browser(app, client, live_server, browser, monkeypatch):
    monkeypatch.setitem(app.config, "QR_ROTATE_SECONDS", ROTATE_SECONDS)
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=1),
                             title="社区垃圾分类宣传日")
    first, second = make_member(), make_member()
    path = screen_path(client, admin, activity)
    db.session.commit()  # end the test's read transaction: on SQLite it would hold the live server's writes

    browser.get(live_server + path)
    WebDriverWait(browser, 15).until(lambda d: d.execute_script(
        "var i = document.getElementById('qr'); return i.complete && i.naturalWidth > 0 && !!i.dataset.token;"))
    assert browser.find_element("id", "title").text == "社区垃圾分类宣传日"
    assert browser.find_element("id", "count").text == "0"

    token = WebDriverWait(browser, 10, poll_frequency=0.2).until(qr_on_screen)
    assert TOKEN.match(token)
    response = check_in(live_server, first, token)
    assert response.status_code == 201, response.text
    assert response.json()["action"] == "check_in"
    WebDriverWait(browser, 10, poll_frequency=0.2).until(lambda d: d.find_element("id", "count").text == "1")

    deadline = time.monotonic() + 4 * ROTATE_SECONDS
    rotated = None
    while time.monotonic() < deadline:
        rotated = qr_on_screen(browser)
        if rotated and rotated != token:
            break
        time.sleep(0.3)
    assert rotated and rotated != token, "the QR code did not rotate"
    response = check_in(live_server, second, rotated)
    assert response.status_code == 201, response.text
    WebDriverWait(browser, 10, poll_frequency=0.2).until(lambda d: d.find_element("id", "count").text == "2")


def test_screen_link_that_is_invalid_reads_clearly_in_a_real_browser(live_server, browser):
    browser.get(f"{live_server}/screen/forged-link")
    assert "大屏链接无效" in browser.find_element("id", "message").text
    assert browser.find_elements("tag name", "img") == []


def test_screen_writes_dates_and_times_in_the_deployments_zone_not_the_browsers(client, live_server,
                                                                               browser_elsewhere):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    starts = (utcnow() + timedelta(hours=3)).replace(second=0, microsecond=0)
    activity = make_activity(tree["a1"], starts, starts + timedelta(hours=2), title="消防安全隐患排查")
    activity.address = "和平里社区服务站"
    db.session.commit()
    path = screen_path(client, admin, activity)
    db.session.commit()

    browser_elsewhere.get(live_server + path)
    zone = browser_elsewhere.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone;")
    assert zone == BROWSER_TIMEZONE
    beijing = ZoneInfo("Asia/Shanghai")
    opens = (starts - timedelta(minutes=30)).astimezone(beijing)
    expected = f"签到将于 {opens.year}年{opens.month}月{opens.day}日 {opens:%H:%M} 开始"
    # Wait for the first poll's answer to have been rendered by the page's own script.
    WebDriverWait(browser_elsewhere, 10).until(lambda d: d.execute_script(
        "return performance.getEntriesByType('resource').some(function (e) { return /\\/state$/.test(e.name); });"))
    assert browser_elsewhere.find_element("id", "message").text == expected
    local_start, local_end = starts.astimezone(beijing), (starts + timedelta(hours=2)).astimezone(beijing)
    when = browser_elsewhere.find_element("id", "when").text
    assert when.startswith(f"{local_start.year}年{local_start.month}月{local_start.day}日（星期")
    assert f"{local_start:%H:%M}" in when and f"{local_end:%H:%M}" in when
    assert browser_elsewhere.find_element("id", "place").text == "和平里社区服务站"
    # The browser's own reading of the same instant names another hour: the page did not use it.
    browser_hour = browser_elsewhere.execute_script("return new Date(arguments[0]).getHours();", opens.isoformat())
    assert browser_hour != opens.hour


def test_screen_says_when_polling_fails_and_takes_an_expired_code_down(app, client, live_server, browser,
                                                                       monkeypatch):
    monkeypatch.setitem(app.config, "QR_ROTATE_SECONDS", ROTATE_SECONDS)
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    activity = make_activity(tree["a1"], utcnow() - timedelta(minutes=10), utcnow() + timedelta(hours=1))
    path = screen_path(client, admin, activity)
    db.session.commit()

    browser.get(live_server + path)
    WebDriverWait(browser, 15).until(lambda d: d.execute_script(
        "var i = document.getElementById('qr'); return i.complete && i.naturalWidth > 0 && !!i.dataset.token;"))
    offline = browser.find_element("id", "offline")
    assert not offline.is_displayed()

    # The network between the projector and the server goes: every poll of the state fails.
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/state"]})
    WebDriverWait(browser, 10, poll_frequency=0.2).until(lambda d: offline.is_displayed())
    assert "网络连接中断" in offline.text
    # Past the shown code's expiry (two rotation periods at most) the screen shows no code to scan in vain.
    WebDriverWait(browser, 4 * ROTATE_SECONDS, poll_frequency=0.2).until(
        lambda d: not d.find_element("id", "qr-area").is_displayed())
    assert "二维码已失效" in browser.find_element("id", "message").text
    assert qr_on_screen(browser) is None

    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    WebDriverWait(browser, 10, poll_frequency=0.2).until(lambda d: d.find_element("id", "qr-area").is_displayed())
    assert not offline.is_displayed()
    assert TOKEN.match(WebDriverWait(browser, 10, poll_frequency=0.2).until(qr_on_screen))
