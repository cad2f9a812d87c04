"""Throttling of `POST /api-auth/password/` (cohort.core.throttling): failed attempts per username and
per client address, refused with 429 before any password is hashed, counted across processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import types

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from rest_framework.test import APIClient

from cohort import settings as cohort_settings
from cohort.core import auth_views, throttling
from cohort.core.models import LoginFailures
from tests.conftest import make_user
from tests.workers import database_url

LOGIN = "/api-auth/password/"
PASSWORD = "right-password"
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"  # the real one takes a second a password


# The throttle counts in fixed windows of the clock (a minute by default). A test whose attempts
# straddled the end of one would see its count start over (it did, once, on a loaded machine): the
# throttle's clock stands still inside a window instead, unless a test moves it.
WINDOW_START = 1_800_000_000.0  # a whole number of minutes and of hours


@pytest.fixture(autouse=True)
def steady_clock(monkeypatch):
    monkeypatch.setattr(throttling, "time", types.SimpleNamespace(time=lambda: WINDOW_START + 5))


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = [FAST_HASHER]


@pytest.fixture
def users(db):
    made = {}
    for name in ("alice", "bob", "carol"):
        made[name] = make_user(name)
        made[name].set_password(PASSWORD)
        made[name].save()
    return made


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """The usernames whose password was checked (hashed), in order."""
    checked = []
    original = auth_views.authenticate

    def counting(request, **credentials):
        checked.append(credentials["username"])
        return original(request, **credentials)

    monkeypatch.setattr(auth_views, "authenticate", counting)
    return checked


def login(username: str, password: str = "wrong", address: str = "10.0.0.1", **extra):
    body = {"username": username, "password": password}
    return APIClient().post(LOGIN, body, format="json", REMOTE_ADDR=address, **extra)


def assert_throttled(response, window: int = 60) -> int:
    """A 429 in DRF's shape, with the seconds until the window ends in `Retry-After`."""
    assert response.status_code == 429, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    assert list(response.json()) == ["detail"] and "throttled" in response.json()["detail"]
    wait = int(response["Retry-After"])
    assert 1 <= wait <= window
    return wait


@pytest.fixture(autouse=True)
def rates(settings):
    """The defaults, stated: the tests count to them."""
    settings.LOGIN_RATE_ADDRESS = (20, 60)
    settings.LOGIN_RATE_USER_ADDRESS = (5, 60)
    settings.LOGIN_RATE_GLOBAL = (30, 60)


def test_the_sixth_failure_on_a_username_from_one_address_is_429_before_hashing(users, hashes):
    for _ in range(5):
        assert login("alice").status_code == 401
    assert len(hashes) == 5
    assert_throttled(login("alice"))
    assert_throttled(login("alice", PASSWORD))  # locked from that address, even with the right password
    assert len(hashes) == 5
    assert login("bob", PASSWORD).status_code == 200  # another username from that address still may


def test_nobody_can_lock_a_user_out_from_another_address(users, hashes):
    for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        for _ in range(6):
            login("alice", address=address)
    assert login("alice", PASSWORD, address="10.0.0.4").status_code == 200


def test_a_username_is_counted_whatever_its_case(users, hashes):
    for name in ["alice", "ALICE", "Alice", "ａｌｉｃｅ", "alice"]:
        assert login(name).status_code == 401
    assert_throttled(login("aLiCe"))


def test_the_twenty_first_failure_from_an_address_is_429_for_every_username(users, hashes):
    for index in range(20):
        assert login(f"nobody-{index}", address="10.0.0.1").status_code == 401
    assert_throttled(login("bob", PASSWORD, address="10.0.0.1"))
    assert len(hashes) == 20
    assert login("bob", PASSWORD, address="10.0.0.2").status_code == 200


def test_the_global_count_refuses_addresses_that_failed_but_not_one_that_has_not(users, hashes):
    """30 failures in all: an address that has failed is refused before hashing, whatever the username;
    an address that has not may still sign in, and its first mistake is still checked."""
    for index in range(30):
        assert login(f"nobody-{index}", address=f"10.0.0.{index % 6 + 1}").status_code == 401
    assert len(hashes) == 30
    assert_throttled(login("bob", PASSWORD, address="10.0.0.1"))
    assert_throttled(login("nobody-99", address="10.0.0.6"))
    assert len(hashes) == 30
    assert login("alice", PASSWORD, address="10.0.9.9").status_code == 200
    assert login("carol", address="10.0.9.8").status_code == 401  # a first mistake from a new address
    assert_throttled(login("carol", PASSWORD, address="10.0.9.8"))  # then it too has failed
    assert len(hashes) == 32


def test_successful_logins_are_not_counted(users):
    for _ in range(25):
        assert login("alice", PASSWORD).status_code == 200
    for _ in range(5):
        assert login("alice").status_code == 401
    assert_throttled(login("alice"))


def test_a_new_window_starts_over(users, monkeypatch):
    now = 1_800_000_000.0  # a whole number of minutes
    monkeypatch.setattr(throttling.time, "time", lambda: now + 5)
    for _ in range(5):
        login("alice")
    assert assert_throttled(login("alice")) == 55
    monkeypatch.setattr(throttling.time, "time", lambda: now + 60)
    assert login("alice", PASSWORD).status_code == 200


def test_rates_come_from_the_settings(users, settings):
    settings.LOGIN_RATE_USER_ADDRESS = (2, 3600)
    settings.LOGIN_RATE_ADDRESS = None
    settings.LOGIN_RATE_GLOBAL = None
    for _ in range(2):
        assert login("alice").status_code == 401
    assert_throttled(login("alice"), window=3600)
    for index in range(50):
        assert login(f"nobody-{index}").status_code == 401  # no limit per address, nor for everyone


def test_the_global_count_works_without_a_limit_per_address(users, settings):
    settings.LOGIN_RATE_ADDRESS = None
    settings.LOGIN_RATE_GLOBAL = (3, 60)
    for index in range(3):
        assert login(f"nobody-{index}").status_code == 401
    assert_throttled(login("nobody-9"))
    assert login("bob", PASSWORD, address="10.0.0.2").status_code == 200


def test_the_old_per_username_setting_is_refused_loudly():
    done = subprocess.run(
        [sys.executable, "-c", "import cohort.settings"], capture_output=True, text=True, timeout=60,
        env={**__import__("os").environ, "COHORT_LOGIN_RATE_USER": "10/minute"},
    )  # fmt: skip
    assert done.returncode != 0 and "COHORT_LOGIN_RATE_USER_ADDRESS" in done.stderr


def test_invalid_bodies_are_400_and_not_counted(users):
    for _ in range(20):
        assert APIClient().post(LOGIN, {"username": "alice"}, format="json").status_code == 400
    assert not LoginFailures.objects.filter(count__gt=0).exists()


def test_the_username_is_stored_only_as_a_digest(users):
    login("my password typed here")
    keys = list(LoginFailures.objects.values_list("key", flat=True))
    assert len(keys) == 3 and not any("password" in key for key in keys)
    assert {"address:10.0.0.1", "global"} < set(keys)


@pytest.mark.parametrize(
    "meta, proxies, expected",
    [
        ({"REMOTE_ADDR": "10.0.0.1"}, 0, "10.0.0.1"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, 0, "10.0.0.1"),  # not trusted
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}, 1, "1.2.3.4"),
        ({"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.9"}, 2, "1.2.3.4"),
        ({"REMOTE_ADDR": "2001:db8:1:2:3:4:5:6"}, 0, "2001:db8:1:2::/64"),
        ({"REMOTE_ADDR": "::ffff:10.1.2.3"}, 0, "10.1.2.3"),
        ({"REMOTE_ADDR": "not an address"}, 0, "not an address"),
    ],
)
def test_client_address(settings, meta, proxies, expected):
    from django.test import RequestFactory

    settings.NUM_PROXIES = proxies
    request = RequestFactory().get("/", **meta)
    request.META.update(meta)
    assert throttling.client_address(request) == expected


@pytest.mark.parametrize(
    "value, expected",
    [("10/minute", (10, 60)), ("5/s", (5, 1)), ("100/hour", (100, 3600)), ("1/day", (1, 86400)), ("off", None)],
)
def test_rate_settings(monkeypatch, value, expected):
    monkeypatch.setenv("COHORT_TEST_RATE", value)
    assert cohort_settings.env_rate("COHORT_TEST_RATE", "1/s") == expected


@pytest.mark.parametrize("value", ["10", "ten/minute", "10/fortnight", "-1/minute"])
def test_bad_rate_settings_say_what_is_expected(monkeypatch, value):
    monkeypatch.setenv("COHORT_TEST_RATE", value)
    with pytest.raises(ImproperlyConfigured, match="10/minute"):
        cohort_settings.env_rate("COHORT_TEST_RATE", "1/s")


# --- across processes ---------------------------------------------------------------------------------------

ATTEMPTS = """
import django, json, sys, types
django.setup()
from django.conf import settings
from django.test import Client
from cohort.core import throttling
throttling.time = types.SimpleNamespace(time=lambda: float(sys.argv[2]))  # both in one window
settings.PASSWORD_HASHERS = [sys.argv[1]]
client = Client(HTTP_HOST="localhost")
body = json.dumps({"username": "alice", "password": "wrong"})
statuses = [client.post("/api-auth/password/", body, content_type="application/json").status_code for _ in range(6)]
print(json.dumps(statuses))
"""


@pytest.mark.django_db(transaction=True)
def test_failures_are_counted_across_processes(tmp_path):
    """Two processes, six wrong passwords each for one username from one address, at the same time:
    five reach the password check between them, not twelve (as a per-process count would let through)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "cohort.settings",
        "COHORT_HOME": str(tmp_path),
        "COHORT_DATABASE_URL": database_url(),
        "COHORT_BROKER_URL": "memory://",
        "COHORT_LOG_LEVEL": "ERROR",
        "PYTHONPATH": ":".join(sys.path),
    }
    command = [sys.executable, "-c", textwrap.dedent(ATTEMPTS), FAST_HASHER, str(WINDOW_START + 5)]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    statuses = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        statuses += json.loads(out)
    assert sorted(set(statuses)) == [401, 429], statuses
    assert statuses.count(401) <= 5 and statuses.count(429) >= 7, statuses
    assert LoginFailures.objects.get(key=throttling.user_address_key("alice", "127.0.0.1")).count <= 5


# --- the admin's login page, the other door to the same passwords ----------------------------------------------


def admin_login(client, username: str, password: str = "wrong"):
    return client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})


def test_the_admin_login_shares_the_count_and_refuses_before_hashing(users, hashes, monkeypatch):
    from django.contrib.auth import forms

    checked = []
    original = forms.authenticate
    monkeypatch.setattr(forms, "authenticate", lambda request, **kw: checked.append(1) or original(request, **kw))
    users["alice"].is_staff = True
    users["alice"].save()
    client = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.0.0.1")
    for _ in range(3):
        assert admin_login(client, "alice").status_code == 200  # the form again, with its error
    for _ in range(2):
        assert login("alice").status_code == 401
    assert_throttled(admin_login(client, "alice", PASSWORD))
    assert_throttled(login("alice", PASSWORD))
    assert len(checked) + len(hashes) == 5


def test_a_successful_admin_login_is_not_counted(users):
    users["alice"].is_staff = True
    users["alice"].save()
    for _ in range(12):
        client = Client(HTTP_HOST="localhost")
        response = admin_login(client, "alice", PASSWORD)
        assert response.status_code == 302 and response["Location"] == "/admin/"
    assert login("alice", PASSWORD).status_code == 200
