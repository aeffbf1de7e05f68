"""The check-in screen in a real headless browser: the QR code on the page checks a member in, the live count
follows, and a new code appears after rotation."""

import io
import os
import re
import time
from datetime import timedelta

import pytest
import requests
import zxingcpp
from PIL import Image

from clock import utcnow
from extensions import db
from tests.factories import auth, make_member, make_staff, region_tree
from tests.test_screen import make_activity, screen_path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = ("needs Debian's chromium and its driver: `apt-get install -y chromium chromium-driver` "
                "and `pip install selenium` (.ci/run installs both)")

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(INSTALL_HINT, allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason=INSTALL_HINT)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

TOKEN = re.compile(r"^[0-9A-Za-z_-]{32}$")
ROTATE_SECONDS = 3


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     "--window-size=1280,800"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
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
