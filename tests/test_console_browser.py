"""The console in a real headless Chromium at a laptop's 1366×768: sign in, approve a report, bulk-approve records,
escalate an appeal and answer it as the department's admin, issue a certificate batch in the background and
download it; no page logs a JavaScript error or a refused resource. Screenshots of the main pages go to
CONSOLE_SCREENSHOTS (a temporary folder by default)."""

import io
import os
import time
import zipfile
from pathlib import Path

import pytest

from clock import local_today
from extensions import db
from models import Appeal, Report, ServiceRecord
from schedulers.jobs import JOBS, run
from tests.activity_factories import make_record
from tests.appeal_factories import accepted_appeal, appeal_world
from tests.browser import require_chromium, start_chromium
from tests.console_helpers import PASSWORD
from tests.factories import make_member, make_report

require_chromium()
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path_factory.mktemp("console-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(window_size=(1366, 768))
    driver.downloads = tmp_path / "downloads"
    driver.downloads.mkdir()
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(driver.downloads)})
    yield driver
    driver.quit()


def errors_logged(driver):
    """What the page's console said at SEVERE level since last asked: script errors, refused resources, CSP."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def visit(driver, url, shots=None, name=None):
    driver.get(url)
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")
    settled(driver, shots, name)


def settled(driver, shots=None, name=None):
    """The page shown has no error in its console (and, named, is photographed)."""
    assert errors_logged(driver) == [], driver.current_url
    assert "Traceback" not in driver.page_source
    if shots is not None:
        driver.save_screenshot(str(shots / f"{name}.png"))


def submit_and_wait(driver, element):
    """Click a form's button and wait for the page it leads to."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def release():
    """End the test's own transaction: on SQLite every transaction holds the write lock the server needs."""
    db.session.commit()


def sign_in(driver, live_server, user):
    username, name = user.username, user.name
    release()
    visit(driver, f"{live_server}/console/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    submit_and_wait(driver, driver.find_element(By.ID, "login"))
    assert driver.find_element(By.ID, "who").text == (name or username)
    settled(driver)


def sign_out(driver):
    submit_and_wait(driver, driver.find_element(By.ID, "signout"))
    assert driver.current_url.endswith("/console/login")


def flash(driver):
    return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, ".flash"))


def uses_a_cjk_font(driver):
    """The page's Chinese is drawn in a font that has it (not boxes): a CJK line is as wide as its characters."""
    return driver.execute_script(
        "var s = document.createElement('span'); s.textContent = '社区工作者工作台'; document.body.appendChild(s);"
        "var w = s.getBoundingClientRect().width; s.remove(); return w;") > 8 * 10


def test_a_community_worker_approves_reports_and_hours_and_sends_an_appeal_to_a_department(
        client, live_server, browser, shots):
    world = appeal_world()
    admin, department_admin = world["admin_a1"], world["department_admin"]
    report_id = make_report(make_member(name="王建华"), world["a1"], status="pending").id
    pending = [make_record(make_member(name=f"志愿者{i}"), world["a1"]).id for i in range(4)]
    appeal_id = accepted_appeal(client, world, title="3号楼楼道堆物")
    number = db.session.get(Appeal, appeal_id).number

    sign_in(browser, live_server, admin)
    assert "待我处理" in browser.page_source and uses_a_cjk_font(browser)
    assert browser.find_element(By.CSS_SELECTOR, "#count-reports .number").text == "1"
    settled(browser, shots, "dashboard")

    # A report, approved from the dashboard's link.
    submit_and_wait(browser, browser.find_element(By.ID, "count-reports"))
    settled(browser, shots, "reports")
    submit_and_wait(browser, browser.find_element(By.CSS_SELECTOR, f"#report-{report_id} button.approve"))
    assert f"报到 #{report_id} 已通过" in flash(browser)
    settled(browser)
    assert db.session.get(Report, report_id).status == "approved"
    release()

    # The morning's hours, all ticked and approved at once (after the page's confirmation).
    visit(browser, f"{live_server}/console/records?status=pending", shots, "records")
    browser.find_element(By.ID, "select-all").click()
    assert all(box.is_selected() for box in browser.find_elements(By.NAME, "ids"))
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.ID, "approve-selected").click()
    WebDriverWait(browser, 5).until(expected_conditions.alert_is_present()).accept()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(old))
    assert "已批准 4 条服务记录" in flash(browser)
    settled(browser)
    assert {db.session.get(ServiceRecord, i).status for i in pending} == {"approved"}
    release()

    # The appeal, escalated to the street's department.
    visit(browser, f"{live_server}/console/appeals/{appeal_id}")
    Select(browser.find_element(By.ID, "department")).select_by_visible_text("甲街道 · 甲街道城管执法队")
    browser.find_element(By.ID, "escalate-note").send_keys("请执法队清理楼道堆物")
    submit_and_wait(browser, browser.find_element(By.ID, "escalate"))
    assert "诉求已吹哨至职能部门" in flash(browser)
    settled(browser, shots, "appeal")
    sign_out(browser)

    # The department's admin answers from its inbox.
    sign_in(browser, live_server, department_admin)
    visit(browser, f"{live_server}/console/appeals", shots, "department-inbox")
    assert "部门收件箱" in browser.page_source
    submit_and_wait(browser, browser.find_element(By.LINK_TEXT, number))
    browser.find_element(By.ID, "answer-reply").send_keys("已清理完毕，并加强巡查")
    submit_and_wait(browser, browser.find_element(By.ID, "answer"))
    assert "诉求已报到答复" in flash(browser)
    settled(browser)
    sign_out(browser)

    # Back with the community, which sees the answer and can resolve it.
    sign_in(browser, live_server, admin)
    visit(browser, f"{live_server}/console/appeals/{appeal_id}")
    assert browser.find_element(By.ID, "department-answer").text == "已清理完毕，并加强巡查"
    assert browser.find_element(By.ID, "resolve").is_displayed()
    assert db.session.get(Appeal, appeal_id).status == "accepted"
    release()


def test_a_certificate_batch_runs_in_the_background_with_its_progress_and_downloads(
        client, live_server, browser, shots):
    world = appeal_world()
    for i in range(3):
        make_record(make_member(name=f"志愿者{i}"), world["a1"], status="approved", hours="2.50")
    sign_in(browser, live_server, world["admin_a1"])
    visit(browser, f"{live_server}/console/certificates", shots, "certificates")
    today = local_today()
    for field, value in (("batch-from", today.replace(month=1, day=1)), ("batch-to", today)):
        browser.execute_script("arguments[0].value = arguments[1];", browser.find_element(By.ID, field),
                               value.isoformat())
    submit_and_wait(browser, browser.find_element(By.ID, "batch-submit"))
    assert "/console/jobs/" in browser.current_url
    assert "排队中" in browser.find_element(By.ID, "job-text").text
    assert not browser.find_element(By.ID, "job-download").is_displayed()

    # A worker takes the job (the scheduler would); the page's poll shows it done and offers the zip.
    release()
    assert run(JOBS["run_background_jobs"]) == 1
    release()
    WebDriverWait(browser, 15, poll_frequency=0.3).until(
        lambda d: d.find_element(By.ID, "job-download").is_displayed())
    assert browser.find_element(By.ID, "job-text").text == "已完成：共 3 份"
    assert browser.execute_script("return document.getElementById('job-bar').value") == 3
    settled(browser, shots, "certificate-job")
    browser.find_element(By.ID, "job-download").click()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not list(browser.downloads.glob("*.zip")):
        time.sleep(0.2)
    [archive] = browser.downloads.glob("*.zip")
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as pdfs:
        assert len(pdfs.namelist()) == 3 and all(name.endswith(".pdf") for name in pdfs.namelist())
    assert errors_logged(browser) == []


def test_every_main_page_shows_without_script_errors(client, live_server, browser, shots):
    from clock import utcnow
    from tests.activity_factories import make_activity, make_post_shift
    from tests.governance_factories import schedule

    world = appeal_world()
    record_id = make_record(make_member(), world["a1"], status="approved", hours="4.00", category="environment").id
    post_id = make_post_shift(world["a1"], utcnow(), assignees=[make_member(name="赵志愿")])[0].id
    activity_id = make_activity(world["a1"]).id
    meeting_id = schedule(client, world["admin_a1"], world["a1"])["id"]
    appeal_id = accepted_appeal(client, world)
    sign_in(browser, live_server, world["street_admin"])
    for path, name in (("/console/", "street-dashboard"), ("/console/charts", "charts"),
                       ("/console/activities", "activities"), ("/console/activities/new", "activity-new"),
                       (f"/console/activities/{activity_id}/edit", "activity-edit"),
                       ("/console/posts", "posts"), (f"/console/posts/{post_id}", "post-roster"),
                       ("/console/meetings", "meetings"), (f"/console/meetings/{meeting_id}", "meeting-minutes"),
                       ("/console/tasks", "tasks"), ("/console/appeals", "appeals"),
                       (f"/console/appeals/{appeal_id}", "appeal-accepted"),
                       ("/console/records", "records-all"), (f"/console/records/{record_id}", "record"),
                       ("/console/certificates", "certificates-street"), ("/console/jobs", "jobs"),
                       ("/console/shifts/short", "short-shifts"), ("/console/wishes/overdue", "overdue-wishes")):
        visit(browser, live_server + path, shots, name)
    visit(browser, f"{live_server}/console/posts/{post_id}")
    assert "赵志愿" in browser.find_element(By.ID, "roster").text
    visit(browser, f"{live_server}/console/charts")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart-months rect.bar")) == 12
    # An unknown object: a readable 404 page, the page's own status the only thing its console reports.
    browser.get(f"{live_server}/console/appeals/999999")
    assert browser.find_element(By.ID, "error-message").text == "诉求不存在或不在管辖范围内"
    assert [m for m in errors_logged(browser) if "/console/appeals/999999 " not in m] == []
