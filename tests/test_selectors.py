"""The selectors of who sees and manages what: closed by default, one rule for every model.

What each role sees and may do through the API is tested in tests/api/test_permissions.py; these are
the properties every caller of a selector (API, services, web page) relies on.
"""

from __future__ import annotations

import inspect

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cohort.openstack import selectors as openstack_selectors
from cohort.openstack.models import ServerGroup
from cohort.structure import selectors as structure_selectors
from cohort.structure.models import Customer
from tests.conftest import make_group, make_user

GENERIC = {"objects_visible_to", "objects_manageable_by", "objects_not_manageable_by"}


def public_selectors():
    for module in (structure_selectors, openstack_selectors):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_"):
                yield name, function


def test_every_selector_is_keyword_only():
    for name, function in public_selectors():
        parameters = inspect.signature(function).parameters.values()
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters), f"{name} takes positional arguments"


@pytest.mark.parametrize("who", ["anonymous", "inactive"])
def test_every_selector_gives_nothing_to_a_caller_not_signed_in(world, who):
    group = make_group(world.tenant, "g")
    if who == "anonymous":
        user = AnonymousUser()
    else:
        user = make_user("inactive", staff=True)  # staff, even: inactive comes first
        user.is_active = False
        user.save()
    for name, selector in public_selectors():
        if name == "object_manageable_by":
            assert selector(user=user, obj=group) is False
        elif name in GENERIC:
            assert not selector(user=user, queryset=ServerGroup.objects.all()).exists(), name
        else:
            assert not selector(user=user).exists(), name


def test_a_model_that_does_not_say_where_its_project_is_raises(world):
    with pytest.raises(ImproperlyConfigured, match="Customer has no project_path"):
        structure_selectors.objects_visible_to(user=world.users.owner, queryset=Customer.objects.all())


@pytest.mark.parametrize(
    "role, may", [("owner", True), ("manager", True), ("admin", True), ("member", False), ("stranger", False)]
)
def test_object_manageable_by_is_one_rule_for_groups_and_tenants(world, role, may):
    user = getattr(world.users, role)
    group = make_group(world.tenant, "g")
    assert structure_selectors.object_manageable_by(user=user, obj=group) is may
    assert structure_selectors.object_manageable_by(user=user, obj=world.tenant) is may
    assert structure_selectors.object_manageable_by(user=user, obj=world.other_tenant) is False


def test_staff_manage_anything_without_a_query(world):
    group = make_group(world.other_tenant, "g")
    with CaptureQueriesContext(connection) as queries:
        assert structure_selectors.object_manageable_by(user=world.users.staff, obj=group) is True
    assert len(queries) == 0


def test_manageable_and_not_manageable_split_what_is_seen(world):
    make_group(world.tenant, "acme")
    make_group(world.other_tenant, "globex")
    for role in ("staff", "owner", "member", "stranger"):
        user = getattr(world.users, role)
        seen = openstack_selectors.server_groups_visible_to(user=user)
        manageable = structure_selectors.objects_manageable_by(user=user, queryset=seen)
        unmanageable = structure_selectors.objects_not_manageable_by(user=user, queryset=seen)
        names = {group.name for group in seen}
        assert {g.name for g in manageable} | {g.name for g in unmanageable} == names, role
        assert not {g.name for g in manageable} & {g.name for g in unmanageable}, role
