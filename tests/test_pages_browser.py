"""Pages a person opens, in a real headless Chromium: the API docs with no way out to any other host (an
intranet without a CDN), and the certificate verify page a phone opens after scanning the certificate's QR code."""

from urllib.parse import urlparse

import pytest
import requests

from extensions import db
from tests.browser import require_chromium, start_chromium
from tests.factories import make_member, region_tree
from tests.test_certificates import issue, make_record

require_chromium()
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def offline_browser(live_server):
    driver = start_chromium(only_hosts=[urlparse(live_server).hostname])
    yield driver
    driver.quit()


def test_the_api_docs_render_every_operation_with_no_other_host_reachable(live_server, offline_browser):
    # The premise: another host cannot be reached from this browser.
    with pytest.raises(WebDriverException, match="net::ERR_"):
        offline_browser.get("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")

    document = requests.get(f"{live_server}/api/v1/openapi.json", timeout=30).json()
    operations = sum(1 for methods in document["paths"].values() for method in methods
                     if method in ("get", "post", "put", "patch", "delete"))
    offline_browser.get(f"{live_server}/api/v1/docs")
    # Swagger UI knows every operation; with this many it renders them as they scroll into view.
    WebDriverWait(offline_browser, 30, poll_frequency=0.3).until(lambda d: d.execute_script(
        "return window.ui && window.ui.specSelectors.operations().size") == operations)
    summaries = {e.text for e in offline_browser.find_elements("css selector", ".opblock-summary-path")}
    assert "/api/v1/auth/login" in summaries
    fetched = offline_browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });")
    assert any(name.endswith("/api/v1/docs/assets/swagger-ui-bundle.js") for name in fetched)
    assert all(name.startswith(live_server) for name in fetched), fetched


def test_a_phone_scanning_the_certificate_sees_a_readable_page(client, live_server, offline_browser):
    tree = region_tree()
    member = make_member("欧阳明月")
    make_record(member, tree["a1"], 3, "2.25")
    body = issue(client, member, tree["a1"]).get_json()
    db.session.commit()

    # The QR code on the certificate holds verify_url, under PUBLIC_BASE_URL; here the live server stands in.
    offline_browser.get(live_server + urlparse(body["verify_url"]).path)
    assert offline_browser.title == "志愿服务证明核验"
    assert offline_browser.find_element("id", "verdict").text == "✔ 证明真实有效"
    assert offline_browser.find_element("id", "number").text == body["number"]
    assert offline_browser.find_element("id", "name").text == "欧***"
    assert offline_browser.find_element("id", "hours").text == "2.25 小时"
    assert offline_browser.find_element("id", "period").text == "2025年3月1日 至 2025年3月31日"
    assert offline_browser.find_element("id", "issuer").text == "a1社区"
    assert "欧阳明月" not in offline_browser.page_source

    offline_browser.get(f"{live_server}/api/v1/certificates/verify/{'x' * 32}")
    assert offline_browser.find_element("id", "verdict").text == "✘ 未找到该证明"
    assert "验证码有误" in offline_browser.find_element("id", "message").text
