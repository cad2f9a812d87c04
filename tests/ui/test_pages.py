"""The web page at /ui/ through Django's test client: who sees what, who may do what, and that every
refusal is a message or a 4xx page, never a 500. The browser tests (test_browser.py) run it for real."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cohort.core.models import LoginFailures, SignInLink
from cohort.core.states import State
from cohort.openstack.models import Instance, ServerGroup
from cohort.openstack.placement import host_id_of, hosts_cache, placement_report, placement_reports, refresh_placement
from cohort.ui.views import CONTENT_SECURITY_POLICY, PAGE_SIZE
from tests.conftest import make_group, make_user
from tests.test_security_headers import blocked_by_csp

PASSWORD = "a-password-for-the-page"
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = [FAST_HASHER]


@pytest.fixture(autouse=True)
def no_cached_hosts():
    hosts_cache.clear()
    yield
    hosts_cache.clear()


@pytest.fixture
def page(world):
    """`page(user)`: a browser-like client signed in as `user` (None: anonymous), CSRF enforced."""

    def client_for(user=None) -> Client:
        client = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")
        if user is not None:
            client.force_login(user)
        return client

    return client_for


def csrf(client: Client) -> str:
    """The CSRF token of the client's session, as a form carries it (from a page it has seen)."""
    response = client.get("/ui/")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', response.content)
    assert match, response.content[:500]
    return match.group(1).decode()


def post(client: Client, path: str, data: dict | None = None, **extra):
    return client.post(path, {"csrfmiddlewaretoken": csrf(client), **(data or {})}, **extra)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def member(group, name, status="ACTIVE", host="", fault=""):
    tenant = group.tenant
    return Instance.objects.create(
        tenant=tenant,
        server_group=group,
        name=name,
        backend_id=f"{group.name}-{name}",
        status=status,
        host_id=host_id_of(tenant.backend_id, host) if host else "",
        fault_message=fault,
    )


@pytest.fixture
def violated(world):
    """An anti-affinity group of acme with two members on host1, one on host2 and one that Nova could
    not place; its verdict computed as a pull computes it."""
    group = make_group(world.tenant, "spread", policy="anti-affinity")
    member(group, "vm-1", host="host1")
    member(group, "vm-2", host="host1")
    member(group, "vm-3", host="host2")
    member(group, "vm-4", status="ERROR", fault="No valid host was found. There are not enough hosts available.")
    refresh_placement([group])
    group.refresh_from_db()
    assert group.placement_status == "violated"
    return group


# --- signing in --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/ui/"),
        ("get", "/ui/?tenant=x&verdict=violated"),
        ("post", "/ui/groups/create/"),
        ("post", "/ui/groups/00000000-0000-0000-0000-000000000000/pull/"),
        ("post", "/ui/groups/00000000-0000-0000-0000-000000000000/delete/"),
    ],
)
def test_anonymous_is_sent_to_the_login_page_and_nothing_happens(world, method, path):
    group_count = ServerGroup.objects.count()
    response = getattr(Client(HTTP_HOST="127.0.0.1"), method)(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/ui/login/?next=")
    assert ServerGroup.objects.count() == group_count


def test_login_with_the_password_of_cohort_user_then_logout(world):
    world.users.member.set_password(PASSWORD)
    world.users.member.save()
    client = Client(enforce_csrf_checks=True, HTTP_HOST="127.0.0.1")
    form = client.get("/ui/login/?next=/ui/%3Ftenant%3D" + world.tenant.uuid.hex)
    assert form.status_code == 200 and b'name="password"' in form.content
    token = form.cookies["csrftoken"].value
    wrong = client.post("/ui/login/", {"username": "member", "password": "nope", "csrfmiddlewaretoken": token})
    assert wrong.status_code == 200 and b"Please enter a correct username and password" in wrong.content
    target = f"/ui/?tenant={world.tenant.uuid.hex}"
    body = {"username": "member", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": target}
    right = client.post("/ui/login/", body)
    assert right.status_code == 302 and right["Location"] == f"/ui/?tenant={world.tenant.uuid.hex}"
    assert client.get("/ui/").status_code == 200
    assert client.get("/ui/logout/").status_code == 405  # signing out is a POST, with its CSRF token
    out = client.post("/ui/logout/", {"csrfmiddlewaretoken": csrf(client)})
    assert out.status_code == 302 and out["Location"] == "/ui/login/"
    assert client.get("/ui/").status_code == 302


def test_a_sign_in_link_works_once_within_its_time_and_from_this_machine_only(world, monkeypatch):
    from cohort.core import authentication

    key = authentication.issue_sign_in_link(world.users.member)
    assert not SignInLink.objects.filter(digest=key).exists()  # only its digest is kept
    elsewhere = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="192.0.2.7").get(f"/ui/sign-in/{key}/")
    assert elsewhere.status_code == 403 and SignInLink.objects.count() == 1  # not used up by the refusal
    client = Client(HTTP_HOST="127.0.0.1")
    first = client.get(f"/ui/sign-in/{key}/")
    assert first.status_code == 302 and first["Location"] == "/ui/"
    assert client.get("/ui/").status_code == 200 and b"member" in client.get("/ui/").content
    again = Client(HTTP_HOST="127.0.0.1").get(f"/ui/sign-in/{key}/")
    assert again.status_code == 410 and b"used or has expired" in again.content
    assert Client(HTTP_HOST="127.0.0.1").get("/ui/sign-in/not-a-key/").status_code == 410
    late = authentication.issue_sign_in_link(world.users.member)
    later = timezone.now() + timedelta(seconds=authentication.SIGN_IN_LINK_SECONDS + 1)
    monkeypatch.setattr(authentication.timezone, "now", lambda: later)
    assert Client(HTTP_HOST="127.0.0.1").get(f"/ui/sign-in/{late}/").status_code == 410
    assert SignInLink.objects.count() == 0


@pytest.mark.parametrize("target", ["https://elsewhere.example/", "//elsewhere.example/", "javascript:alert(1)"])
def test_login_never_sends_anyone_elsewhere(world, target):
    world.users.member.set_password(PASSWORD)
    world.users.member.save()
    response = Client(HTTP_HOST="127.0.0.1").post(
        "/ui/login/", {"username": "member", "password": PASSWORD, "next": target}
    )
    assert response.status_code == 302 and response["Location"] == "/ui/"


def test_an_inactive_user_cannot_log_in_and_is_signed_out(world, page):
    world.users.member.set_password(PASSWORD)
    world.users.member.is_active = False
    world.users.member.save()
    response = Client(HTTP_HOST="127.0.0.1").post("/ui/login/", {"username": "member", "password": PASSWORD})
    assert response.status_code == 200 and b"Please enter a correct username and password" in response.content
    assert page(world.users.member).get("/ui/").status_code == 302


def test_ui_login_failures_are_throttled_with_the_apis_counts(world, monkeypatch, settings):
    from django.contrib.auth import forms
    from prometheus_client import REGISTRY

    settings.LOGIN_RATE_USER_ADDRESS = (10, 3600)  # an hour's window: a slow run does not cross into the next one

    world.users.member.set_password(PASSWORD)
    world.users.member.save()
    hashed = []
    original = forms.authenticate
    monkeypatch.setattr(forms, "authenticate", lambda request, **kw: hashed.append(1) or original(request, **kw))
    failures = {"endpoint": "ui", "reason": "invalid"}
    before = REGISTRY.get_sample_value("cohort_login_failures_total", failures) or 0
    client = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="10.1.1.1")
    for _ in range(5):
        assert client.post("/ui/login/", {"username": "member", "password": "wrong"}).status_code == 200
    api = Client(HTTP_HOST="127.0.0.1", REMOTE_ADDR="10.1.1.1")
    for _ in range(5):
        response = api.post("/api-auth/password/", {"username": "member", "password": "wrong"}, "application/json")
        assert response.status_code == 401
    refused = client.post("/ui/login/", {"username": "member", "password": PASSWORD})
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 3600
    assert b"Too many failed logins" in refused.content
    assert "_auth_user_id" not in client.session  # locked even with the right password
    assert len(hashed) == 5  # refused before its password was hashed
    assert REGISTRY.get_sample_value("cohort_login_failures_total", failures) == before + 5
    throttled = REGISTRY.get_sample_value("cohort_login_failures_total", {"endpoint": "ui", "reason": "throttled"})
    assert throttled and throttled >= 1
    assert refused["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_a_successful_ui_login_is_not_counted_and_blank_fields_are_not_counted(world):
    world.users.member.set_password(PASSWORD)
    world.users.member.save()
    client = Client(HTTP_HOST="127.0.0.1")
    assert client.post("/ui/login/", {"username": "member", "password": ""}).status_code == 200
    assert client.post("/ui/login/", {"username": "member", "password": PASSWORD}).status_code == 302
    assert sum(LoginFailures.objects.values_list("count", flat=True)) == 0


# --- seeing ------------------------------------------------------------------------------------------


def test_a_member_sees_their_groups_with_the_verdict_and_faults_and_anonymous_hosts(world, page, violated):
    make_group(world.other_tenant, "globex-secret")
    response = page(world.users.member).get("/ui/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "spread" in html and "globex-secret" not in html and "globex-tenant" not in html
    assert re.search(r'data-verdict="violated"', html)
    assert "No valid host was found. There are not enough hosts available." in html
    hosts = re.findall(r'<h3 class="host-name"[^>]*>([^<]+)</h3>', html)
    host1 = host_id_of(world.tenant.backend_id, "host1")
    host2 = host_id_of(world.tenant.backend_id, "host2")
    assert hosts == [host1[:8], host2[:8], "Not placed"]  # the busiest host first; no name, no full id
    assert "host1" not in html and host1 not in html
    # a member manages nothing: no create form, no buttons
    assert 'action="/ui/groups/create/"' not in html and "/pull/" not in html and "/delete/" not in html


def test_staff_see_host_names_where_the_clouds_credentials_may_list_them(world, page, violated):
    world.cloud.credentials = {"token": "admin:ops"}
    world.cloud.save()
    html = page(world.users.staff).get("/ui/").content.decode()
    hosts = re.findall(r'<h3 class="host-name"[^>]*>([^<]+)</h3>', html)
    assert hosts == ["host1", "host2", "Not placed"]
    assert "The cloud has 3 enabled hosts." in html and "Room for 1 more member." in html
    hosts_cache.clear()
    member_html = page(world.users.member).get("/ui/").content.decode()
    assert "host1" not in member_html  # the same cloud, a tenant user: labels only


def plan_of(html: str) -> list[str]:
    """The moves of the page's plans, as read: "vm-2 leaves host1: shares host1 with vm-1"."""
    moves = re.findall(r'<li class="move">(.*?)</li>', html, re.S)
    return [re.sub(r"<[^>]+>", "", move) for move in moves]


def test_the_plan_is_shown_under_the_picture_naming_hosts_as_the_picture_does(world, page, violated):
    newest = Instance.objects.get(server_group=violated, name="vm-2")
    Instance.objects.filter(pk=newest.pk).update(created=newest.created + timedelta(seconds=1))
    label = host_id_of(world.tenant.backend_id, "host1")[:8]
    html = page(world.users.member).get("/ui/").content.decode()
    assert plan_of(html) == [f"vm-2 leaves {label}: shares {label} with vm-1"]
    assert "To mend the placement, move 1 server" in html and 'class="blocked"' not in html
    assert html.index('aria-label="Placement of spread"') < html.index('aria-label="Plan for spread"')
    assert "Never placed: rebuild or delete it." in html  # vm-4, which the plan does not move

    world.cloud.credentials = {"token": "admin:ops"}
    world.cloud.save()
    html = page(world.users.staff).get("/ui/").content.decode()
    assert plan_of(html) == ["vm-2 leaves host1: shares host1 with vm-1"]


def test_what_blocks_a_plan_is_shown(world, page):
    world.cloud.credentials = {"token": "admin:ops"}
    world.cloud.save()
    group = make_group(world.tenant, "soft", policy="soft-anti-affinity")
    for n, host in enumerate(["host1", "host2", "host3", "host1"]):
        member(group, f"s-{n}", host=host)
    refresh_placement([group])
    satisfied = make_group(world.tenant, "fine", policy="affinity")
    member(satisfied, "f-1", host="host1")
    refresh_placement([satisfied])
    html = page(world.users.member).get("/ui/").content.decode()
    assert plan_of(html) == []
    assert html.count('class="plan"') == 1  # the satisfied group has none
    assert (
        '<p class="blocked"><strong>Blocked:</strong> 3 hosts are enabled and this soft-anti-affinity group has 4 '
        "members: enable or add a host, or remove a member</p>"
    ) in html


def test_members_being_built_wait_in_a_column_of_their_own(world, page):
    group = make_group(world.tenant, "building", policy="affinity")
    member(group, "b-1", status="BUILD")
    member(group, "b-2", host="host3")
    refresh_placement([group])
    html = page(world.users.member).get("/ui/").content.decode()
    assert 'data-verdict="pending"' in html
    assert re.findall(r'<h3 class="host-name"[^>]*>([^<]+)</h3>', html)[1] == "No host yet"
    assert re.search(r'class="member status-building" data-status="BUILD"><span class="member-name">b-1<', html)


def test_a_page_of_reports_is_each_groups_report(world, violated):
    group = make_group(world.tenant, "building", policy="soft-anti-affinity")
    member(group, "b-1", status="BUILD")
    member(group, "b-2", host="host3")
    member(group, "gone", status="DELETED", host="host3")
    refresh_placement([group])
    world.cloud.credentials = {"token": "admin:ops"}
    world.cloud.save()
    groups = list(ServerGroup.objects.select_related("tenant__service_settings").order_by("name"))
    for staff in (True, False):
        reports = placement_reports(groups, staff=staff)
        for group, report in zip(groups, reports, strict=True):
            assert report == placement_report(group=group, staff=staff)
            assert [m["name"] for m in report["waiting"]] == (["b-1"] if group.name == "building" else [])


def test_filters_by_tenant_and_verdict(world, page, violated):
    make_group(world.tenant, "fresh")  # empty
    web2 = world.web.tenants.create(name="acme-second", service_settings=world.cloud, backend_id="acme-second")
    make_group(web2, "elsewhere")
    client = page(world.users.member)

    def names(query):
        response = client.get("/ui/" + query)
        assert response.status_code == 200
        return sorted(re.findall(r'<h2 class="name">([^<]+)</h2>', response.content.decode()))

    assert names("") == ["elsewhere", "fresh", "spread"]
    assert names(f"?tenant={world.tenant.uuid.hex}") == ["fresh", "spread"]
    assert names("?verdict=violated") == ["spread"]
    assert names("?verdict=violated&verdict=empty") == ["elsewhere", "fresh", "spread"]
    assert names(f"?tenant={web2.uuid.hex}&verdict=empty") == ["elsewhere"]


@pytest.mark.parametrize("query", ["?tenant=nonsense", "?verdict=broken", "?page=x", "?page=999"])
def test_a_bad_filter_is_shown_never_a_500(world, page, violated, query):
    response = page(world.users.member).get("/ui/" + query)
    assert response.status_code == 200
    if "tenant" in query or "verdict" in query:
        assert b"Select a valid choice" in response.content and b"spread" not in response.content


def test_another_customers_tenant_is_not_a_filter_choice(world, page):
    make_group(world.other_tenant, "globex-secret")
    response = page(world.users.member).get(f"/ui/?tenant={world.other_tenant.uuid.hex}")
    assert b"Select a valid choice" in response.content and b"globex-secret" not in response.content


def test_pages_of_groups(world, page):
    for n in range(PAGE_SIZE + 3):
        make_group(world.tenant, f"g-{n:02}")
    client = page(world.users.member)
    first = client.get("/ui/?verdict=empty").content.decode()
    assert first.count('<article class="group"') == PAGE_SIZE and "page 1 of 2" in first
    assert 'href="?verdict=empty&amp;page=2"' in first
    second = client.get("/ui/?verdict=empty&page=2").content.decode()
    assert second.count('<article class="group"') == 3 and "g-12" in second


def test_the_list_costs_the_same_queries_whatever_its_groups(world, page):
    world.cloud.credentials = {"token": "admin:ops"}
    world.cloud.save()
    client = page(world.users.manager)

    def queries() -> int:
        client.get("/ui/")  # warm: the compute hosts are cached per cloud
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/ui/").status_code == 200
        return len(captured)

    group = make_group(world.tenant, "one", policy="anti-affinity")
    member(group, "m", host="host1")
    few = queries()
    second_tenant = world.web.tenants.create(name="acme-second", service_settings=world.cloud, backend_id="acme-2")
    policies = ["anti-affinity", "soft-anti-affinity", "affinity", "soft-affinity"]
    groups = []
    for n in range(PAGE_SIZE + 5):
        group = make_group(world.tenant if n % 2 else second_tenant, f"g-{n}", policy=policies[n % 4])
        for m in range(3):  # on host1, host2, host1: each group needs a plan (the ERROR one's is blocked)
            member(group, f"m-{m}", host=f"host{m % 2 + 1}", status="ERROR" if m == 2 and n % 3 else "ACTIVE")
        groups.append(group)
    refresh_placement(groups)
    many = queries()
    assert many == few
    html = client.get("/ui/").content.decode()
    assert html.count('class="plan"') == PAGE_SIZE and 'class="blocked"' in html and '<li class="move">' in html


def test_pages_carry_no_script_and_their_policy(world, page, violated):
    for client, path in ((Client(HTTP_HOST="127.0.0.1"), "/ui/login/"), (page(world.users.manager), "/ui/")):
        response = client.get(path)
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert "script-src" not in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
        assert b"<script" not in response.content
        assert blocked_by_csp(response.content) == []
        assert "no-store" in response["Cache-Control"]
        assert response["X-Frame-Options"] == "DENY"


def test_the_style_sheet_and_icon_are_served_by_the_app(world):
    for path in ("/static/ui/ui.css", "/static/ui/favicon.svg"):
        response = Client(HTTP_HOST="127.0.0.1").get(path)
        assert response.status_code == 200, path
        assert b"".join(response.streaming_content if response.streaming else [response.content])


# --- acting ------------------------------------------------------------------------------------------


def test_a_manager_creates_a_group_through_the_page(world, page, django_capture_on_commit_callbacks):
    client = page(world.users.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client,
            "/ui/groups/create/",
            {"name": "  made-here ", "policy": "anti-affinity", "tenant": world.tenant.uuid.hex,
             "max_server_per_host": "2", "next": "/ui/?verdict=empty"},
        )  # fmt: skip
    assert response.status_code == 302 and response["Location"] == "/ui/?verdict=empty"
    group = ServerGroup.objects.get(name="made-here")
    assert group.tenant == world.tenant and group.rules == {"max_server_per_host": 2}
    assert group.state == State.OK and group.backend_id  # the eager worker made it in Nova
    shown = client.get("/ui/?verdict=empty")
    assert "Server group made-here is being created in acme-tenant." in messages_of(shown)
    assert re.search(r'data-state="OK" data-verdict="empty"', shown.content.decode())


@pytest.mark.parametrize(
    "data, expected",
    [
        ({"name": "tab\there"}, "Name: "),
        ({"name": ""}, "Name: This field is required."),
        ({"policy": "scatter"}, "Policy: Select a valid choice."),
        ({"policy": "affinity", "max_server_per_host": "2"}, "Rules are supported only with the anti-affinity policy."),
        ({"max_server_per_host": "0"}, "Max servers per host: Ensure this value is greater than or equal to 1."),
        ({"name": "taken"}, "Server group name should be unique."),
    ],
)
def test_bad_creates_are_messages(world, page, data, expected):
    make_group(world.tenant, "taken")
    client = page(world.users.manager)
    before = ServerGroup.objects.count()
    body = {"name": "ok-name", "policy": "anti-affinity", "tenant": world.tenant.uuid.hex, **data}
    response = post(client, "/ui/groups/create/", body, follow=True)
    assert response.status_code == 200
    assert any(expected in message for message in messages_of(response)), messages_of(response)
    assert ServerGroup.objects.count() == before


@pytest.mark.parametrize("who", ["member", "stranger"])
def test_create_in_a_tenant_one_may_not_manage_is_refused(world, page, who):
    client = page(getattr(world.users, who))
    for tenant in (world.tenant, world.other_tenant):
        response = post(client, "/ui/groups/create/", {"name": "x", "tenant": tenant.uuid.hex}, follow=True)
        assert any("Tenant: Select a valid choice" in m for m in messages_of(response)), messages_of(response)
    assert not ServerGroup.objects.filter(name="x").exists()


def test_a_manager_pulls_and_deletes(world, page, django_capture_on_commit_callbacks):
    group = make_group(world.tenant, "to-go")
    client = page(world.users.manager)
    response = post(client, f"/ui/groups/{group.uuid}/pull/", follow=True)
    assert "Pull of to-go was scheduled." in messages_of(response)
    response = post(client, f"/ui/groups/{group.uuid}/delete/", follow=True)
    assert "Server group to-go is being deleted." in messages_of(response)
    group.refresh_from_db()
    assert group.state == State.DELETION_SCHEDULED
    again = post(client, f"/ui/groups/{group.uuid}/delete/", follow=True)  # not in a state to delete
    assert again.status_code == 200
    assert "to-go: Valid states for operation: OK, Erred." in messages_of(again)
    pulled = post(client, f"/ui/groups/{group.uuid}/pull/", follow=True)
    assert "to-go: Valid states for operation: OK, Erred." in messages_of(pulled)


def test_a_pull_of_a_group_never_made_in_nova_is_a_message(world, page):
    group = make_group(world.tenant, "no-backend", state=State.ERRED)
    response = post(page(world.users.manager), f"/ui/groups/{group.uuid}/pull/", follow=True)
    assert any("never created in OpenStack" in m for m in messages_of(response))


@pytest.mark.parametrize("action", ["pull", "delete"])
def test_who_may_not_act_gets_403_or_404_and_nothing_changes(world, page, action):
    acme = make_group(world.tenant, "acme-group")
    globex = make_group(world.other_tenant, "globex-group")
    member_refused = post(page(world.users.member), f"/ui/groups/{acme.uuid}/{action}/")
    assert member_refused.status_code == 403 and b"You do not have permission" in member_refused.content
    for user, group in ((world.users.stranger, acme), (world.users.manager, globex), (world.users.owner, globex)):
        response = post(page(user), f"/ui/groups/{group.uuid}/{action}/")
        assert response.status_code == 404 and b"Server group not found." in response.content
        assert b"acme-group" not in response.content and b"globex-group" not in response.content
    missing = post(page(world.users.staff), f"/ui/groups/{'0' * 8}-0000-0000-0000-{'0' * 12}/{action}/")
    assert missing.status_code == 404
    assert {g.state for g in ServerGroup.objects.all()} == {State.OK}


def test_every_form_needs_its_csrf_token(world, page):
    group = make_group(world.tenant, "guarded")
    client = page(world.users.manager)
    for path, data in (
        ("/ui/groups/create/", {"name": "forged", "tenant": world.tenant.uuid.hex}),
        (f"/ui/groups/{group.uuid}/delete/", {}),
        (f"/ui/groups/{group.uuid}/pull/", {}),
        ("/ui/logout/", {}),
        ("/ui/login/", {"username": "manager", "password": "x"}),
    ):
        response = client.post(path, data)
        assert response.status_code == 403, path
        assert "CSRF" in response.json()["detail"]
    group.refresh_from_db()
    assert group.state == State.OK and not ServerGroup.objects.filter(name="forged").exists()
    assert client.get("/ui/").status_code == 200  # still signed in


def test_staff_act_on_any_customers_groups(world, page):
    globex = make_group(world.other_tenant, "globex-group")
    client = page(world.users.staff)
    response = post(client, f"/ui/groups/{globex.uuid}/delete/", follow=True)
    assert "Server group globex-group is being deleted." in messages_of(response)
    html = client.get("/ui/").content.decode()
    assert world.other_tenant.uuid.hex in html  # a choice of both forms


def test_a_user_without_a_password_cannot_log_in(world):
    user = make_user("nopass")
    user.set_unusable_password()
    user.save()
    response = Client(HTTP_HOST="127.0.0.1").post("/ui/login/", {"username": "nopass", "password": "anything"})
    assert response.status_code == 200 and "_auth_user_id" not in response.client.session


def test_small_truths_no_room_the_delete_confirmation_and_the_preselected_tenant(world, page, violated):
    from cohort.openstack.models import Tenant

    world.cloud.credentials = {"token": "admin:ops"}
    world.cloud.save()
    make_group(world.tenant, "full", policy="anti-affinity")
    full = ServerGroup.objects.get(name="full")
    for n, host in enumerate(("host1", "host2", "host3")):
        member(full, f"f-{n}", host=host)
    refresh_placement([full])
    html = page(world.users.staff).get("/ui/").content.decode()
    assert "No room for more members." in html and "Room for 0" not in html
    # deleting a group with members leaves its servers running without a group, and the page says how many
    assert "4 servers will be left running without a group." in html  # spread: two placed, one failed, ...
    assert "3 servers will be left running without a group." in html
    # the create form preselects nothing by hand: its first tenant (by name) is the browser's choice
    Tenant.objects.create(name="zz-last", project=world.web, service_settings=world.cloud, backend_id="zz")
    options = re.findall(
        r'<select[^>]*name="tenant"[^>]*>(.*?)</select>', page(world.users.owner).get("/ui/").content.decode(), re.S
    )
    created = re.findall(r'<option value="(\w+)"', options[-1])
    assert created[0] == world.tenant.uuid.hex  # acme-tenant before zz-last
