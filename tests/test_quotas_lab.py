"""Quotas on a real Nova (the lab), as issue 18 must show them, in one module on the session's one lab.

The cloud is registered with the lab admin's credentials (scoped to the `admin` project), as an
operator registers a cloud, so `set_quotas` writes through Nova's `os-quota-sets`; the tenant has its
own Keystone project and user, with whom Cohort reads `GET /limits`, creates groups, and a server is
booted (`cohort lab-boot`). Tasks run eagerly once the request's transaction commits.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

import cohort_lab
from cohort.cloud.openstack import OpenStackDriver
from cohort.core.states import State
from cohort.openstack import reconcile
from cohort.openstack.models import ServerGroup, Tenant
from cohort.openstack.placement import hosts_cache
from tests.api.support import GROUPS, assert_error, tenant_path
from tests.conftest import lab_tenant, make_group

MEMBERS_OVER_QUOTA = "Quota exceeded, too many servers in group"


@pytest.fixture
def nova(lab, world, settings):
    """The world's first tenant on the lab: a project of its own, in a cloud registered with the admin."""
    settings.CLOUD_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
    hosts_cache.clear()
    tenant, _, _ = lab_tenant(lab, world, "quota")
    yield tenant, OpenStackDriver(tenant.cloud_access())
    hosts_cache.clear()


def novas_quota_set(lab, project_id: str) -> dict:
    """What Nova's own `GET /os-quota-sets/{project}` says, as the lab's admin."""
    response = cohort_lab.connect(lab.admin()).compute.get(f"/os-quota-sets/{project_id}")
    assert response.status_code == 200, response.text
    return response.json()["quota_set"]


def set_quotas(api, world, tenant, **quotas):
    return api(world.users.staff).post(tenant_path(tenant, "set_quotas/"), quotas, format="json")


def create(api, world, tenant, capture, name: str):
    with capture(execute=True):
        return api(world.users.owner).post(GROUPS, {"name": name, "tenant": tenant.uuid.hex}, format="json")


def shown(api, world, tenant) -> dict:
    body = api(world.users.member).get(tenant_path(tenant)).json()
    return {q["name"]: (q["limit"], q["usage"]) for q in body["quotas"]}


def test_a_group_quota_of_two_set_by_staff_refuses_the_third_create_before_nova(
    world, api, lab, nova, django_capture_on_commit_callbacks
):
    tenant, driver = nova
    capture = django_capture_on_commit_callbacks

    response = set_quotas(api, world, tenant, server_group_count=2)

    assert response.status_code == 202, response.content
    assert novas_quota_set(lab, tenant.backend_id)["server_groups"] == 2
    assert response.json()["quotas"][0] == {"name": "server_group_count", "limit": 2, "usage": 0}
    made = [create(api, world, tenant, capture, f"g{n}") for n in range(2)]
    assert [r.status_code for r in made] == [201, 201]
    assert set(ServerGroup.objects.filter(tenant=tenant).values_list("state", flat=True)) == {State.OK}
    assert shown(api, world, tenant)["server_group_count"] == (2, 2)

    third = create(api, world, tenant, capture, "g2")

    assert assert_error(third, 409)["detail"].startswith(
        "The tenant's quota server_group_count is used up: limit 2, usage 2."
    )
    assert not ServerGroup.objects.filter(tenant=tenant, name="g2").exists()
    assert len(driver.list_server_groups()) == 2
    with capture(execute=True):
        gone = api(world.users.owner).delete(f"{GROUPS}{made[0].json()['uuid']}/")
    assert gone.status_code == 204
    again = create(api, world, tenant, capture, "g2")
    assert again.status_code == 201, again.content
    assert ServerGroup.objects.get(uuid=again.json()["uuid"]).state == State.OK
    assert len(driver.list_server_groups()) == 2


def test_novas_refusal_of_a_quota_is_shown_in_novas_words(world, api, nova, django_capture_on_commit_callbacks):
    tenant, _ = nova
    for n in range(2):
        create(api, world, tenant, django_capture_on_commit_callbacks, f"g{n}")

    response = set_quotas(api, world, tenant, server_group_count=1)

    assert assert_error(response, 409)["detail"] == (
        "OpenStack refused the quotas: Quota limit 1 for server_groups must be greater than or equal to already used "
        "and reserved 2."
    )


def test_a_member_quota_of_two_limits_the_room_and_lab_boot_prints_novas_refusal(world, api, lab, nova):
    tenant, driver = nova
    assert set_quotas(api, world, tenant, server_group_member_count=2).status_code == 202
    remote = driver.create_server_group(name="web", policy="anti-affinity")
    group = make_group(tenant, "web", policy="anti-affinity", backend_id=remote.id)

    def lab_boot(name):
        out = StringIO()
        call_command("lab-boot", tenant.uuid.hex, name, "--group", group.uuid.hex, stdout=out)
        return out.getvalue()

    assert " ACTIVE host_id=" in lab_boot("web-0")
    assert reconcile.pull_tenant(tenant.pk)
    report = api(world.users.staff).get(f"{GROUPS}{group.uuid.hex}/placement/").json()
    assert (report["enabled_hosts"], report["room"], report["room_limited_by"]) == (len(lab.hosts), 1, "quota")

    assert " ACTIVE host_id=" in lab_boot("web-1")
    with pytest.raises(CommandError, match=MEMBERS_OVER_QUOTA):
        lab_boot("web-2")  # Nova refuses it at its API: no server is made

    assert reconcile.pull_tenant(tenant.pk)
    report = api(world.users.staff).get(f"{GROUPS}{group.uuid.hex}/placement/").json()
    assert (report["room"], report["room_limited_by"], report["failed"]) == (0, "quota", [])
    assert shown(api, world, tenant)["server_group_member_count"] == (2, 2)


def test_a_quota_changed_behind_cohorts_back_errs_the_create_and_refreshes_the_limit(
    world, api, lab, nova, django_capture_on_commit_callbacks
):
    tenant, _ = nova
    cohort_lab.set_quota(lab.admin(), tenant.backend_id, server_groups=0)  # Cohort has not pulled since

    response = create(api, world, tenant, django_capture_on_commit_callbacks, "over")

    group = ServerGroup.objects.get(uuid=response.json()["uuid"])
    assert (group.state, group.error_message) == (State.ERRED, "Quota exceeded, too many server groups.")
    assert Tenant.objects.get(pk=tenant.pk).server_group_quota == 0
    assert shown(api, world, tenant)["server_group_count"] == (0, 0)
