"""Security headers: the admin may not be framed and runs under a Content-Security-Policy it still
works with; nothing is sniffed; the token answer is never cached."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from cohort.openstack.models import Tenant
from cohort.structure.models import Customer, Project, ServiceSettings

pytestmark = pytest.mark.django_db


class InlineCode(HTMLParser):
    """What a `default-src 'self'` policy would block in a page: inline scripts, inline event
    handlers and style attributes, and anything loaded from another origin."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src"):
            self.in_inline_script = True
        for name, value in attrs.items():
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
            if name in ("src", "href") and value and value.startswith(("http:", "https:", "//")):
                if tag != "a":
                    self.found.append(f"<{tag} {name}={value}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_inline_script = False

    def handle_data(self, data):
        if self.in_inline_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")


def blocked_by_csp(html: bytes) -> list[str]:
    parser = InlineCode()
    parser.feed(html.decode())
    return parser.found


def assert_admin_headers(response) -> None:
    assert response["X-Frame-Options"] == "DENY"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_admin_login_page_renders_under_its_policy():
    response = Client(HTTP_HOST="localhost").get("/admin/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content
    assert_admin_headers(response)
    assert blocked_by_csp(response.content) == []


def test_admin_pages_need_nothing_the_policy_blocks():
    root = get_user_model().objects.create_superuser("root", password="pw-for-test")
    cloud = ServiceSettings.objects.create(name="prod", auth_url="https://k/v3")
    project = Project.objects.create(customer=Customer.objects.create(name="Acme"), name="web")
    tenant = Tenant.objects.create(name="t", project=project, service_settings=cloud)
    client = Client(HTTP_HOST="localhost")
    client.force_login(root)
    for path in (
        "/admin/",
        "/admin/structure/servicesettings/",
        "/admin/structure/servicesettings/add/",
        f"/admin/openstack/tenant/{tenant.pk}/change/",
        "/admin/openstack/servergroup/",
        "/admin/auth/user/",
        f"/admin/auth/user/{root.pk}/change/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_admin_headers(response)
        assert blocked_by_csp(response.content) == [], path


def test_admin_login_works_under_the_policy():
    get_user_model().objects.create_superuser("root", password="pw-for-test")
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    page = client.get("/admin/login/")
    token = page.cookies["csrftoken"].value
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": "pw-for-test", "csrfmiddlewaretoken": token, "next": "/admin/"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert_admin_headers(response)


@pytest.mark.parametrize("path", ["/api/", "/api/openstack-server-groups/", "/api/nothing/"])
def test_api_answers_are_not_sniffed_nor_framed(path):
    response = APIClient().get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    "body, status",
    [({"username": "root", "password": "pw-for-test"}, 200), ({"username": "root", "password": "no"}, 401), ({}, 400)],
)
def test_token_answers_are_never_cached(body, status):
    get_user_model().objects.create_user("root", password="pw-for-test")
    response = APIClient().post("/api-auth/password/", body, format="json")
    assert response.status_code == status
    assert "no-store" in response["Cache-Control"].split(", ")
    assert response["X-Content-Type-Options"] == "nosniff"
