"""A group that goes away while a request reads it is 404, never a 500 (CONTRACT section 7).

Each test removes the row at a fixed point of the request (after the view read it, before or after
the service wrote it) by wrapping that step, so the race is hit every time, not by timing.
"""

from __future__ import annotations

import pytest

from cohort.openstack import services
from cohort.openstack.api.views import ServerGroupViewSet
from cohort.openstack.models import ServerGroup
from tests.api.support import GROUPS, assert_error, group_path, tenant_path, tenant_url
from tests.conftest import make_group

NOT_FOUND = {"detail": "Not found."}


def vanish_after(monkeypatch, owner, name: str) -> None:
    """Make `owner.name` delete every server group right after it returns."""
    original = getattr(owner, name)

    def wrapped(*args, **kwargs):
        result = original(*args, **kwargs)
        ServerGroup.objects.all().delete()
        return result

    monkeypatch.setattr(owner, name, wrapped)


@pytest.fixture
def staff(world, api):
    return api(world.users.staff)


def test_retrieve_of_a_group_deleted_after_lookup_is_404(world, staff, monkeypatch):
    group = make_group(world.tenant, "g")
    vanish_after(monkeypatch, ServerGroupViewSet, "get_object_pk")
    assert_error(staff.get(group_path(group)), 404, NOT_FOUND)


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("step", ["get_object", "service"])
def test_update_of_a_group_deleted_meanwhile_is_404(world, staff, monkeypatch, method, step):
    """Gone before the service locks the row, or after it wrote it and before the answer."""
    group = make_group(world.tenant, "g")
    if step == "get_object":
        vanish_after(monkeypatch, ServerGroupViewSet, "get_object")
    else:
        vanish_after(monkeypatch, services, "server_group_update")
    response = getattr(staff, method)(group_path(group), {"name": "renamed"}, format="json")
    assert_error(response, 404, NOT_FOUND)


@pytest.mark.parametrize("via", ["collection", "tenant"])
def test_create_whose_group_is_deleted_before_the_answer_is_404(world, staff, monkeypatch, via):
    vanish_after(monkeypatch, services, "server_group_create")
    if via == "collection":
        response = staff.post(GROUPS, {"name": "g", "tenant": tenant_url(world.tenant)}, format="json")
    else:
        response = staff.post(tenant_path(world.tenant, "create_server_group/"), {"name": "g"}, format="json")
    assert_error(response, 404, NOT_FOUND)


@pytest.mark.parametrize("action", ["pull/", "set_ok/", "set_erred/", "unlink/"])
def test_actions_on_a_group_deleted_after_lookup_are_never_500(world, staff, monkeypatch, action):
    """These answer without reading the row again: pull is accepted (its task finds nothing to do),
    unlink is done, set_ok and set_erred find no row in a state to move from (409)."""
    group = make_group(world.tenant, "g")
    vanish_after(monkeypatch, ServerGroupViewSet, "get_object")
    response = staff.post(group_path(group, action), {}, format="json")
    assert response.status_code in (202, 204, 404, 409), (response.status_code, response.content)
    if response.status_code >= 400:
        assert_error(response, response.status_code)


def test_tenant_deleted_before_create_locks_it_is_404(world, staff, monkeypatch):
    from cohort.openstack.api.views import TenantViewSet

    original = TenantViewSet.get_object

    def get_object_then_delete(self):
        tenant = original(self)
        type(tenant).objects.filter(pk=tenant.pk).delete()
        return tenant

    monkeypatch.setattr(TenantViewSet, "get_object", get_object_then_delete)
    response = staff.post(tenant_path(world.tenant, "create_server_group/"), {"name": "g"}, format="json")
    assert_error(response, 404, NOT_FOUND)


@pytest.mark.parametrize("action", ["delete", "set_ok", "set_erred"])
def test_a_state_change_of_a_group_deleted_after_lookup_is_404_not_409(world, staff, monkeypatch, action):
    group = make_group(world.tenant, "g")
    vanish_after(monkeypatch, ServerGroupViewSet, "get_object")
    if action == "delete":
        response = staff.delete(group_path(group))
    else:
        response = staff.post(f"{group_path(group)}{action}/", {}, format="json")
    assert_error(response, 404, NOT_FOUND)
