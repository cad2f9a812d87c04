"""Tenant quotas on the web page (issue 18): a bar per quota, red at the limit, and the create form
disabled, with the reason, when the tenant is full."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from cohort.openstack.models import ServerGroup, Tenant
from tests.conftest import make_group

FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = [FAST_HASHER]


def page_of(user) -> str:
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    response = client.get("/ui/")
    assert response.status_code == 200
    return response.content.decode()


def quota_line(html: str, tenant, name: str) -> str:
    block = re.search(rf'data-tenant="{tenant.uuid.hex}">(.*?)</div>', html, re.S).group(1)
    return re.search(rf'<p class="quota[^"]*" data-quota="{name}">.*?</p>', block, re.S).group(0)


def test_each_tenant_shows_a_bar_per_quota_red_at_the_limit(world):
    make_group(world.tenant, "a")
    make_group(world.tenant, "b")
    Tenant.objects.filter(pk=world.tenant.pk).update(server_group_quota=2, server_group_member_quota=-1)

    html = page_of(world.users.member)

    groups = quota_line(html, world.tenant, "server_group_count")
    assert 'class="quota full"' in groups and '<progress max="2" value="2">' in groups and "2 of 2" in groups
    members = quota_line(html, world.tenant, "server_group_member_count")
    assert "unlimited" in members and "full" not in members and "<progress" not in members
    assert world.other_tenant.uuid.hex not in html  # another customer's tenant: not even its quotas


def test_a_tenant_whose_limits_are_unknown_says_so(world):
    html = page_of(world.users.owner)
    assert "limit unknown" in quota_line(html, world.tenant, "server_group_count")


def test_the_create_form_is_disabled_with_the_reason_when_the_tenant_is_full(world):
    make_group(world.tenant, "a")
    Tenant.objects.filter(pk=world.tenant.pk).update(server_group_quota=1)

    html = page_of(world.users.manager)

    assert '<fieldset class="create-fields" disabled>' in html
    assert "acme-tenant is full: its quota server_group_count allows 1 server groups and it has 1." in html


def test_a_full_tenant_is_disabled_among_others_that_have_room(world):
    second = world.web.tenants.create(name="acme-second", service_settings=world.cloud, backend_id="acme-2")
    make_group(world.tenant, "a")
    Tenant.objects.filter(pk=world.tenant.pk).update(server_group_quota=1)

    html = page_of(world.users.manager)

    assert '<fieldset class="create-fields">' in html
    assert re.search(rf'<option value="{world.tenant.uuid.hex}" disabled title="acme-tenant is full', html)
    assert re.search(rf'<option value="{second.uuid.hex}">', html)


def test_a_create_posted_into_a_full_tenant_is_refused_with_the_quota(world):
    make_group(world.tenant, "a")
    Tenant.objects.filter(pk=world.tenant.pk).update(server_group_quota=1)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(world.users.manager)

    response = client.post(
        "/ui/groups/create/", {"name": "b", "policy": "affinity", "tenant": world.tenant.uuid.hex}, follow=True
    )

    assert "quota server_group_count is used up: limit 1, usage 1" in response.content.decode()
    assert not ServerGroup.objects.filter(name="b").exists()
