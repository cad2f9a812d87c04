"""The web page in a real browser: Debian's `chromium`, driven headless through `chromium-driver` by
Selenium, against a real `cohort serve` on the lab (a real Keystone and Nova) on 127.0.0.1.

A project member logs in and sees an anti-affinity group whose placement an operator broke (a server
forced onto a host that already holds a member, `cohort lab-boot --host`) with its verdict `violated`
and the fault of the member Nova could not place, each host as an anonymous label; a manager creates a
group through the page, reloads until it is OK, and deletes it; staff see the host names (the demo
cloud is registered with the lab admin's credentials), as the placement report shows them. Screenshots of the
placement pictures are saved under tests/artifacts/ (printed). After each session the browser's log
must hold no error, and every request the browser made (its performance log) must have gone to
127.0.0.1; the browser is also told to resolve no other host, so nothing could leave anyway.

Without chromium, chromium-driver or the lab the tests skip, except under CI (`CI=true`), where they
fail (`.ci/run` installs the two packages).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from bench.mixed_load import Serve, serve_environment

import cohort_lab
from tests import services
from tests.workers import FAST_INTENT

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.database_free]

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PASSWORDS = {"member": "member-pw-for-the-browser", "manager": "manager-pw-for-the-browser", "admin": "admin-pw-3"}
PROJECT = "Demo project"  # the demo tenant's project (cohort.embedded.demo)
LAB_HOSTS = ("host1", "host2", "host3")
NO_VALID_HOST = "No valid host was found"
WAIT = 90.0


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Site:
    serve: Serve
    env: dict[str, str]
    base: str
    spread: str  # the uuid of the group whose placement was broken on purpose

    def cohort(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cohort.cli", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"cohort {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        with httpx.Client(base_url=self.serve.api, headers=self.serve.headers, timeout=30) as client:
            return client.request(method, path, **kwargs)

    def group(self, uuid: str) -> dict | None:
        response = self.api("GET", f"/openstack-server-groups/{uuid}/")
        return None if response.status_code == 404 else response.json()


def until(check, what: str, timeout: float = WAIT, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(interval)


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    return services.require("chromium", "chromium"), services.require("chromedriver", "chromium-driver")


@pytest.fixture(scope="module")
def site(chromium, tmp_path_factory):
    """`cohort serve` on the lab, with a member and a manager of the demo project (and the admin)
    given passwords by `cohort user`, and a group whose placement holds a violation and a failure."""
    if not cohort_lab.nova_installed():
        message = "the browser tests run cohort serve on the lab: pip install -e '.[lab]'"
        pytest.fail(message) if in_ci() else pytest.skip(message)
    home = tmp_path_factory.mktemp("ui-serve")
    serve = Serve.start(home, lab=True, env=FAST_INTENT)
    try:
        site = Site(serve, serve_environment(home), f"http://127.0.0.1:{serve.port}", "")
        for name, password in PASSWORDS.items():
            site.cohort("user", name, "--password", "-", stdin=password + "\n")
        site.cohort("role", "member", "member", "--project", PROJECT)
        site.cohort("role", "manager", "manager", "--project", PROJECT)
        site.spread = broken_group(site)
        yield site
    finally:
        serve.stop()


def broken_group(site: Site) -> str:
    """An anti-affinity group on the lab's three hosts: three members placed by the scheduler, a
    fourth that no host can take (ERROR, with Nova's fault), and a fifth forced by the lab's admin
    onto the first member's host (a violation). Pulled until Cohort's verdict says so."""
    from cohort.openstack.placement import host_id_of  # how Nova names a host to a project

    created = site.api(
        "POST", f"/openstack-tenants/{site.serve.tenant}/create_server_group/",
        json={"name": "spread", "policy": "anti-affinity"},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    uuid = created.json()["uuid"]
    until(lambda: (site.group(uuid) or {}).get("state") == "OK", "the group to be OK")
    project = site.api("GET", f"/openstack-tenants/{site.serve.tenant}/").json()["backend_id"]
    host_of = {host_id_of(project, host): host for host in LAB_HOSTS}
    booted = [site.cohort("lab-boot", site.serve.tenant, f"vm-{n}", "--group", uuid) for n in range(1, 5)]
    first = re.search(r"ACTIVE host_id=(\w+)", booted[0])
    assert first and first.group(1) in host_of, booted[0]
    assert NO_VALID_HOST in booted[3], booted[3]  # the fourth: no host left that the policy allows
    forced = site.cohort("lab-boot", site.serve.tenant, "vm-5", "--group", uuid, "--host", host_of[first.group(1)])
    assert f"host_id={first.group(1)}" in forced, forced
    assert site.api("POST", f"/openstack-server-groups/{uuid}/pull/").status_code == 202

    def verdict():
        return site.api("GET", f"/openstack-server-groups/{uuid}/?field=placement_status").json()["placement_status"]

    until(lambda: verdict() == "violated", "the verdict to become violated")
    return uuid


@pytest.fixture
def browser(chromium, tmp_path):
    binary, driver_path = chromium
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # tests may run as root, where chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1200",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no name but 127.0.0.1 resolves
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(executable_path=driver_path, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@contextmanager
def checked(driver):
    """What the browser logged while the block ran: no console error, and no request to anywhere but
    127.0.0.1 (each request's URL from the performance log; at least one must be there)."""
    driver.get_log("browser"), driver.get_log("performance")  # start from a clean log
    yield
    errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"the browser logged errors: {errors}"
    urls = []  # what goes over a network (not chrome://, data: or about: of the browser itself)
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            url = message["params"].get("request", message["params"]).get("url", "")
            if urlsplit(url).scheme in ("http", "https", "ws", "wss", "ftp"):
                urls.append(url)
    assert any(urlsplit(url).path == "/static/ui/ui.css" for url in urls), (
        f"the performance log shows no request for the style sheet: the check would prove nothing ({urls})"
    )
    elsewhere = [url for url in urls if urlsplit(url).hostname != "127.0.0.1"]
    assert not elsewhere, f"requests left 127.0.0.1: {elsewhere}"


def log_in(driver, site: Site, username: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(site.base + "/ui/")
    assert urlsplit(driver.current_url).path == "/ui/login/"  # sent to the login page first
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORDS[username])
    driver.find_element(By.CSS_SELECTOR, ".login button[type=submit]").click()
    until(lambda: urlsplit(driver.current_url).path == "/ui/", f"{username} to be logged in", 30)
    assert driver.find_element(By.CSS_SELECTOR, ".bar .who").text.startswith(username)


def log_out(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, ".bar .logout button").click()
    until(lambda: urlsplit(driver.current_url).path == "/ui/login/", "the logout", 30)


def article(driver, uuid: str):
    from selenium.common.exceptions import NoSuchElementException
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.ID, f"group-{uuid.replace('-', '')}")
    except NoSuchElementException:
        return None


def screenshot(element, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    element.screenshot(str(path))
    assert path.stat().st_size > 1000
    print(f"screenshot of the placement picture: {path}")
    return path


def test_the_banners_sign_in_link_opens_the_page_once_with_the_readmes_tenant_chosen(site, browser):
    """First of the module: the link is good for ten minutes from serve's start. It signs admin in
    without a password, once; the create form has the README's tenant (the first by name) chosen; and
    the delete confirmation of the broken group says how many servers it leaves without a group."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    link = re.search(r"Web page: (http://\S+/ui/sign-in/\S+/)", site.serve.output())[1]
    with checked(browser):
        browser.get(link)
        until(lambda: urlsplit(browser.current_url).path == "/ui/", "the link to sign admin in", 30)
        assert browser.find_element(By.CSS_SELECTOR, ".bar .who").text.startswith("admin")
        chosen = Select(browser.find_element(By.CSS_SELECTOR, "details.create select[name=tenant]"))
        assert chosen.first_selected_option.get_attribute("value") == site.serve.tenant
        card = article(browser, site.spread)
        card.find_element(By.CSS_SELECTOR, "details.delete summary").click()
        warning = card.find_element(By.CSS_SELECTOR, "details.delete .delete-members").text
        assert warning.endswith("5 servers will be left running without a group."), warning
        log_out(browser)
    browser.get(link)  # used (a 410, which the browser logs as an error: outside `checked`)
    assert "used or has expired" in browser.find_element(By.TAG_NAME, "body").text
    browser.get(site.base + "/ui/")
    assert urlsplit(browser.current_url).path == "/ui/login/"  # nobody is signed in


def test_a_project_member_sees_the_violated_verdict_and_the_fault(site, browser):
    from selenium.webdriver.common.by import By

    with checked(browser):
        log_in(browser, site, "member")
        card = article(browser, site.spread)
        assert card is not None, browser.page_source[:3000]
        assert card.get_attribute("data-verdict") == "violated"
        assert card.find_element(By.CSS_SELECTOR, ".verdict").text.lower() == "violated"
        columns = [h.text for h in card.find_elements(By.CSS_SELECTOR, ".placement .host-name")]
        assert columns[-1].lower() == "not placed" and len(columns) == 4, columns  # three hosts, then the failed
        assert not set(columns) & set(LAB_HOSTS)  # a tenant user sees labels, never host names
        assert all(re.fullmatch(r"[0-9a-f]{8}", label) for label in columns[:3]), columns
        busiest = card.find_elements(By.CSS_SELECTOR, ".placement .host")[0]
        assert len(busiest.find_elements(By.CSS_SELECTOR, ".member.status-active")) == 2
        fault = card.find_element(By.CSS_SELECTOR, ".unplaced .fault").text
        assert NO_VALID_HOST in fault
        assert not card.find_elements(By.CSS_SELECTOR, ".actions")  # a member manages nothing
        browser.get(site.base + "/ui/?verdict=violated")
        assert article(browser, site.spread) is not None
        browser.get(site.base + "/ui/?verdict=satisfied")
        assert article(browser, site.spread) is None
        browser.get(site.base + "/ui/")
        screenshot(article(browser, site.spread).find_element(By.CSS_SELECTOR, ".placement"), "placement-member.png")
        screenshot(article(browser, site.spread), "group-member.png")
        log_out(browser)


def test_a_manager_creates_a_group_sees_it_reach_ok_and_deletes_it(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with checked(browser):
        log_in(browser, site, "manager")
        create = browser.find_element(By.CSS_SELECTOR, "details.create")
        if not create.get_attribute("open"):  # open already when the list is empty
            create.find_element(By.TAG_NAME, "summary").click()
        browser.find_element(By.ID, "id_name").send_keys("made-in-the-browser")
        Select(browser.find_element(By.ID, "id_policy")).select_by_value("soft-anti-affinity")
        Select(browser.find_element(By.ID, "id_create_tenant")).select_by_value(site.serve.tenant)
        browser.find_element(By.CSS_SELECTOR, "details.create button[type=submit]").click()
        message = browser.find_element(By.CSS_SELECTOR, ".messages .success").text
        assert message == "Server group made-in-the-browser is being created in demo-tenant.", message
        made = [a for a in browser.find_elements(By.CSS_SELECTOR, "article.group") if "made-in-the-browser" in a.text]
        assert len(made) == 1
        uuid = made[0].get_attribute("data-uuid")

        def state() -> str:
            browser.refresh()
            card = article(browser, uuid)
            return card.get_attribute("data-state") if card else ""

        until(lambda: state() == "OK", "the new group to be OK on the page", interval=1)
        card = article(browser, uuid)
        assert card.get_attribute("data-verdict") == "empty"
        assert site.group(uuid)["backend_id"]  # made in Nova
        card.find_element(By.CSS_SELECTOR, "details.delete summary").click()
        card.find_element(By.CSS_SELECTOR, "details.delete button[type=submit]").click()
        message = browser.find_element(By.CSS_SELECTOR, ".messages .success").text
        assert message == "Server group made-in-the-browser is being deleted.", message
        until(lambda: not browser.refresh() and article(browser, uuid) is None, "the group to leave the page")
        assert site.group(uuid) is None
        log_out(browser)


def test_staff_see_what_the_placement_report_shows_staff(site, browser):
    from selenium.webdriver.common.by import By

    report = site.api("GET", f"/openstack-server-groups/{site.spread}/placement/").json()
    expected = [column["host_name"] or column["host"] for column in report["by_host"]] + ["Not placed"]
    assert set(expected[:3]) <= set(LAB_HOSTS), report  # the demo cloud has the lab admin's credentials
    with checked(browser):
        log_in(browser, site, "admin")
        card = article(browser, site.spread)
        assert card.get_attribute("data-verdict") == "violated"
        assert [h.text for h in card.find_elements(By.CSS_SELECTOR, ".placement .host-name")] == expected
        # three hosts cannot hold four placed members apart: no plan, and what a person can do instead
        assert report["plan"] == [] and "vm-4 was never placed" in report["blocked"], report
        assert card.find_element(By.CSS_SELECTOR, ".plan .blocked").text == f"Blocked: {report['blocked']}"
        assert card.find_elements(By.CSS_SELECTOR, ".actions")  # staff manage everything
        screenshot(card.find_element(By.CSS_SELECTOR, ".placement"), "placement-staff.png")
        screenshot(card, "group-staff.png")
        log_out(browser)


def test_staff_mend_the_group_with_one_press_once_a_host_is_added(site, browser):
    from selenium.webdriver.common.by import By

    assert "host4 added" in site.cohort("lab-host", "add", "host4")
    assert site.api("POST", f"/openstack-server-groups/{site.spread}/pull/").status_code == 202

    def plan():  # the report's hosts are asked once a minute: the dry run asks afresh
        body = {"dry_run": True}
        return site.api("POST", f"/openstack-server-groups/{site.spread}/heal/", json=body).json()["plan"]

    moves = until(plan, "a plan of one move")
    assert len(moves) == 1, moves
    with checked(browser):
        log_in(browser, site, "admin")
        card = until(
            lambda: not browser.refresh()
            and article(browser, site.spread).find_elements(By.CSS_SELECTOR, "details.mend"),
            "the plan and its Mend button on the page",
            timeout=90,
        )
        card = article(browser, site.spread)
        assert moves[0]["server"]["name"] in card.find_element(By.CSS_SELECTOR, ".plan .moves").text
        card.find_element(By.CSS_SELECTOR, "details.mend summary").click()
        card.find_element(By.CSS_SELECTOR, "details.mend button[type=submit]").click()  # the confirmation
        message = browser.find_element(By.CSS_SELECTOR, ".messages .success").text
        assert message.startswith("Heal of spread was scheduled"), message
        until(
            lambda: not browser.refresh()
            and article(browser, site.spread).get_attribute("data-verdict") == "satisfied",
            "the page to show the group satisfied",
        )
        # The move is recorded (and the verdict satisfied) a moment before the heal is: the page may
        # first say "running, 1 move done so far".
        until(
            lambda: not browser.refresh()
            and "mended it with 1 move."
            in article(browser, site.spread).find_element(By.CSS_SELECTOR, ".last-heal").text,
            "the page to say the heal mended the group",
        )
        card = article(browser, site.spread)
        assert card.get_attribute("data-verdict") == "satisfied"
        assert "mended it with 1 move." in card.find_element(By.CSS_SELECTOR, ".last-heal").text
        screenshot(card, "group-mended.png")
        log_out(browser)
