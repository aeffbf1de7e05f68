"""Debian's headless Chromium driven by selenium, for the tests that look at pages as a person would."""

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = ("needs Debian's chromium and its driver: `apt-get install -y chromium chromium-driver` "
                "and `pip install selenium` (.ci/run installs both)")


def require_chromium():
    """Skip the calling module where Chromium or selenium is absent."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(INSTALL_HINT, allow_module_level=True)
    pytest.importorskip("selenium.webdriver", reason=INSTALL_HINT)


def start_chromium(timezone=None, only_hosts=None, insecure_tls=False, window_size=(1280, 800)):
    """A headless Chromium. ``timezone`` sets its TZ (the zone its JavaScript sees); ``only_hosts`` lets it reach
    those hosts alone: every other name resolves to nothing, so a page needing a CDN would fail to load it;
    ``insecure_tls`` accepts the tests' self-signed certificate. Its console is kept (``driver.get_log("browser")``)
    so a test can see every JavaScript error and refused resource."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                     "--window-size={},{}".format(*window_size)):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if only_hosts is not None:
        exclusions = "".join(f", EXCLUDE {host}" for host in only_hosts)
        options.add_argument(f"--host-resolver-rules=MAP * ~NOTFOUND{exclusions}")
        options.add_argument("--proxy-server=http://127.0.0.1:9")  # nothing listens: no way out but direct hosts
        options.add_argument("--proxy-bypass-list=" + ";".join(only_hosts))
    if insecure_tls:
        options.add_argument("--ignore-certificate-errors")
    env = {**os.environ, "TZ": timezone} if timezone else None
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env=env), options=options)
    driver.set_page_load_timeout(30)
    return driver
