"""Tenant quotas (issue 18) on the in-memory Nova: what tenants show, pull_quotas, set_quotas, and the
create refused before Nova would refuse it.

The lab scenario (the real Nova) is `tests/test_quotas_lab.py`; the race of sixteen creates is in
`tests/api/test_races.py`.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cohort.cloud import QUOTA_MAX
from cohort.core.states import State
from cohort.events.models import Event
from cohort.openstack import reconcile
from cohort.openstack.clouds import cloud_for
from cohort.openstack.models import Instance, ServerGroup, Tenant
from tests.api.support import GROUPS, TENANTS, assert_error, assert_field_error, tenant_path, tenant_url
from tests.conftest import make_group, make_tenant, memory_project

UNKNOWN = [
    {"name": "server_group_count", "limit": None, "usage": 0},
    {"name": "server_group_member_count", "limit": None, "usage": 0},
]


def quotas(api, user, tenant) -> dict[str, tuple[int | None, int]]:
    response = api(user).get(tenant_path(tenant))
    assert response.status_code == 200, response.content
    return {q["name"]: (q["limit"], q["usage"]) for q in response.json()["quotas"]}


def set_limits(tenant, groups: int | None, members: int | None = None) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(server_group_quota=groups, server_group_member_quota=members)


@pytest.fixture
def admin_cloud(world):
    """The cloud registered with a cloud admin's credentials (what set_quotas writes with)."""
    world.cloud.credentials = {"token": "admin:admin"}
    world.cloud.save()
    return world.cloud


def test_a_tenant_shows_both_quotas_unknown_until_nova_says(world, api):
    assert api(world.users.owner).get(tenant_path(world.tenant)).json()["quotas"] == UNKNOWN


def test_usage_counts_groups_holding_a_nova_group_and_the_largest_groups_members(world, api):
    web = make_group(world.tenant, "web")
    db = make_group(world.tenant, "db")
    make_group(world.tenant, "coming", state=State.CREATION_SCHEDULED)
    make_group(world.tenant, "refused", state=State.ERRED)  # no backend id: holds nothing in Nova
    for n in range(3):
        Instance.objects.create(tenant=world.tenant, server_group=web, name=f"w{n}", backend_id=f"w{n}")
    Instance.objects.create(tenant=world.tenant, server_group=db, name="d0", backend_id="d0")
    Instance.objects.create(tenant=world.tenant, name="loose", backend_id="loose")

    assert quotas(api, world.users.member, world.tenant) == {
        "server_group_count": (None, 3),
        "server_group_member_count": (None, 3),
    }


def test_pull_quotas_reads_novas_limits(world, api, django_capture_on_commit_callbacks):
    project = memory_project(world.tenant)
    project.quota, project.member_quota = 4, 6

    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users.manager).post(tenant_path(world.tenant, "pull_quotas/"))

    assert (response.status_code, list(response.json())) == (202, ["status"])
    assert quotas(api, world.users.owner, world.tenant) == {
        "server_group_count": (4, 0),
        "server_group_member_count": (6, 0),
    }
    changed = Event.objects.filter(event_type="openstack_tenant_quota_changed").order_by("pk")
    assert [e.context["changes"] for e in changed] == [
        {"server_group_count": [None, 4]},
        {"server_group_member_count": [None, 6]},
    ]


def test_every_tenant_pull_refreshes_the_quotas_and_only_changes_are_events(world):
    memory_project(world.tenant).quota = 3
    assert reconcile.pull_tenant(world.tenant.pk)
    assert reconcile.pull_tenant(world.tenant.pk)  # the same limits again: no event

    tenant = Tenant.objects.get(pk=world.tenant.pk)
    assert (tenant.server_group_quota, tenant.server_group_member_quota) == (3, 10)
    assert tenant.quotas_pulled_at is not None
    assert Event.objects.filter(event_type="openstack_tenant_quota_changed").count() == 2


def test_pull_quotas_needs_the_tenant_ok(world, api):
    Tenant.objects.filter(pk=world.tenant.pk).update(state=State.ERRED)
    response = api(world.users.owner).post(tenant_path(world.tenant, "pull_quotas/"))
    assert_error(response, 409, {"detail": "Valid states for operation: OK."})


def test_set_quotas_writes_to_nova_and_answers_what_nova_now_says(world, api, admin_cloud):
    make_group(world.tenant, "web")
    body = {"server_group_count": 2, "server_group_member_count": -1, "instances": 5}  # Waldur's other names: ignored

    response = api(world.users.staff).post(tenant_path(world.tenant, "set_quotas/"), body, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["quotas"] == [
        {"name": "server_group_count", "limit": 2, "usage": 1},
        {"name": "server_group_member_count", "limit": -1, "usage": 0},
    ]
    project = memory_project(world.tenant)
    assert (project.quota, project.member_quota) == (2, -1)
    event = Event.objects.filter(event_type="openstack_tenant_quota_changed").order_by("pk").first()
    assert event.context["user_username"] == "staff"
    assert event.context["changes"] == {"server_group_count": [None, 2]}


def test_set_quotas_sets_only_what_is_given(world, api, admin_cloud):
    memory_project(world.tenant).member_quota = 7
    response = api(world.users.staff).post(
        tenant_path(world.tenant, "set_quotas/"), {"server_group_count": 9}, format="json"
    )
    assert response.status_code == 202, response.content
    assert quotas(api, world.users.staff, world.tenant) == {
        "server_group_count": (9, 0),
        "server_group_member_count": (7, 0),
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"server_group_count": "many"}, "server_group_count"),
        ({"server_group_count": 1.5}, "server_group_count"),
        ({"server_group_count": True}, "server_group_count"),
        ({"server_group_count": -2}, "server_group_count"),
        ({"server_group_member_count": QUOTA_MAX + 1}, "server_group_member_count"),
        ({"server_group_member_count": None}, "server_group_member_count"),
        ({}, "non_field_errors"),
        ({"instances": 3}, "non_field_errors"),
    ],
    ids=["text", "fraction", "boolean", "below-unlimited", "above-novas-largest", "null", "nothing", "only-others"],
)
def test_set_quotas_refuses_bad_values_naming_the_field(world, api, admin_cloud, body, field):
    response = api(world.users.staff).post(tenant_path(world.tenant, "set_quotas/"), body, format="json")

    assert_field_error(response, field)
    assert memory_project(world.tenant).calls == []


def test_novas_refusal_is_shown_in_novas_words(world, api, admin_cloud):
    for n in range(2):  # in Nova, behind Cohort's back
        cloud_for(world.tenant).create_server_group(name=f"g{n}", policy="affinity")

    response = api(world.users.staff).post(
        tenant_path(world.tenant, "set_quotas/"), {"server_group_count": 1}, format="json"
    )

    assert_error(response, 409)
    assert response.json()["detail"] == (
        "OpenStack refused the quotas: Quota limit 1 for server_groups must be greater than or equal to already used "
        "and reserved 2."
    )
    assert Tenant.objects.get(pk=world.tenant.pk).server_group_quota is None


def test_a_cloud_that_does_not_answer_leaves_the_quotas_unchanged_and_says_so(world, api, admin_cloud):
    from cohort.cloud import Unreachable

    memory_project(world.tenant).failures["set_quotas"] = Unreachable("timed out")  # the admin acts there
    response = api(world.users.staff).post(
        tenant_path(world.tenant, "set_quotas/"), {"server_group_count": 1}, format="json"
    )
    assert assert_error(response, 409)["detail"] == "OpenStack did not answer, so the quotas are unchanged: timed out"
    assert Tenant.objects.get(pk=world.tenant.pk).server_group_quota is None


def test_set_quotas_without_the_clouds_own_credentials_says_so(world, api):
    response = api(world.users.staff).post(
        tenant_path(world.tenant, "set_quotas/"), {"server_group_count": 1}, format="json"
    )
    assert "no credentials of its own" in assert_error(response, 409)["detail"]


@pytest.mark.parametrize("endpoint", ["collection", "tenant"])
def test_a_create_over_the_group_quota_is_409_with_no_record_and_no_nova_call(
    world, api, endpoint, django_capture_on_commit_callbacks
):
    make_group(world.tenant, "a")
    make_group(world.tenant, "b")
    set_limits(world.tenant, 2)
    c = api(world.users.owner)

    with django_capture_on_commit_callbacks(execute=True):
        if endpoint == "collection":
            response = c.post(GROUPS, {"name": "c", "tenant": tenant_url(world.tenant)}, format="json")
        else:
            response = c.post(tenant_path(world.tenant, "create_server_group/"), {"name": "c"}, format="json")

    assert assert_error(response, 409) == {
        "detail": "The tenant's quota server_group_count is used up: limit 2, usage 2. Delete a server group, "
        "or ask staff to raise the quota."
    }
    assert not ServerGroup.objects.filter(name="c").exists()
    assert memory_project(world.tenant).calls == []


@pytest.mark.parametrize("limit", [None, -1, 3])
def test_creates_within_the_quota_or_without_one_go_ahead(world, api, limit):
    make_group(world.tenant, "a")
    make_group(world.tenant, "b")
    make_group(world.tenant, "refused", state=State.ERRED)  # an erred create holds no quota
    set_limits(world.tenant, limit)

    response = api(world.users.owner).post(
        tenant_path(world.tenant, "create_server_group/"), {"name": "c"}, format="json"
    )

    assert response.status_code == 201, response.content


def test_a_quota_nova_enforces_behind_cohorts_back_errs_the_create_and_refreshes_the_limit(
    world, api, django_capture_on_commit_callbacks
):
    memory_project(world.tenant).quota = 0  # Cohort still believes there is room (limit unknown)

    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users.owner).post(
            tenant_path(world.tenant, "create_server_group/"), {"name": "c"}, format="json"
        )

    group = ServerGroup.objects.get(uuid=response.json()["uuid"])
    assert (group.state, group.error_message) == (State.ERRED, "Quota exceeded, too many server groups.")
    assert Tenant.objects.get(pk=world.tenant.pk).server_group_quota == 0
    retry = api(world.users.owner).post(tenant_path(world.tenant, "create_server_group/"), {"name": "d"}, format="json")
    assert "limit 0, usage 0" in assert_error(retry, 409)["detail"]


def test_the_tenant_list_costs_the_same_queries_however_many_tenants(world, api):
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api(world.users.staff).get(TENANTS, {"page_size": 50})
        assert response.status_code == 200
        return len(captured)

    few = count()
    for k in range(8):
        tenant = make_tenant(f"more-{k}", world.web, world.cloud)
        group = make_group(tenant, f"g{k}")
        Instance.objects.create(tenant=tenant, server_group=group, name=f"s{k}", backend_id=f"s{k}")
    assert count() == few
