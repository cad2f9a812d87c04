"""Cohort end to end against a real Nova (the lab): the API, the engine and the OpenStack driver.

Each test gets a Keystone project and user of its own, registered in Cohort as a real cloud is
(Keystone's /v3, the user's password); Cohort finds Nova in the catalog. Tasks run in this process
when the test lets commits happen; servers are booted through Nova's API as a tenant user would,
behind Cohort's back, and Cohort learns of them only by pulling.
"""

import uuid

import pytest

import cohort_lab
from cohort.cloud.openstack import OpenStackDriver
from cohort.core.states import State
from cohort.openstack.models import Instance, ServerGroup
from cohort.structure.models import ServiceSettings
from tests.conftest import make_tenant

URL = "/api/openstack-server-groups/"


@pytest.fixture
def nova(lab, world, settings):
    """The world's first tenant, moved onto the lab."""
    settings.CLOUD_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
    access = lab.tenant(f"cohort-{uuid.uuid4().hex[:10]}")
    cloud = ServiceSettings.objects.create(name="lab", auth_url=lab.auth_url, region=access.region)
    tenant = make_tenant("lab-tenant", world.web, cloud, backend_id=access.project_id)
    tenant.credentials = dict(access.credentials)
    tenant.save()
    driver = OpenStackDriver(tenant.cloud_access())
    return tenant, driver, lambda name, group_id=None: cohort_lab.boot_server(access, name, group_id)


def create(api, user, tenant, capture, **body):
    with capture(execute=True):
        response = api(user).post(f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/", body, format="json")
    assert response.status_code == 201, response.content
    return ServerGroup.objects.get(uuid=response.json()["uuid"])


def pull(api, user, group, capture):
    with capture(execute=True):
        assert api(user).post(f"{URL}{group.uuid.hex}/pull/").status_code == 202
    group.refresh_from_db()
    return api(user).get(f"{URL}{group.uuid.hex}/").json()


def test_anti_affinity_group_with_members_on_distinct_hosts(world, api, nova, django_capture_on_commit_callbacks):
    tenant, driver, boot = nova
    capture, manager = django_capture_on_commit_callbacks, world.users.manager
    group = create(api, manager, tenant, capture, name="spread", policy="anti-affinity")
    assert group.state == State.OK
    assert driver.get_server_group(group.backend_id).policy == "anti-affinity"

    servers = [boot(f"vm-{i}", group.backend_id) for i in range(4)]  # three hosts: the fourth fits nowhere
    body = pull(api, manager, group, capture)
    assert sorted(i["backend_id"] for i in body["instances"]) == sorted(s.id for s in servers)
    instances = Instance.objects.filter(server_group=group)
    placed = [i.host_id for i in instances if i.status == "ACTIVE"]
    assert len(placed) == 3 and len(set(placed)) == 3
    assert [i.status for i in instances if not i.host_id] == ["ERROR"]


def test_policy_change_replaces_the_nova_group(world, api, nova, django_capture_on_commit_callbacks):
    tenant, driver, _ = nova
    capture, manager = django_capture_on_commit_callbacks, world.users.manager
    group = create(api, manager, tenant, capture, name="swap", policy="affinity")
    old = group.backend_id
    with capture(execute=True):
        body = {"policy": "anti-affinity", "rules": {"max_server_per_host": 2}}
        assert api(manager).patch(f"{URL}{group.uuid.hex}/", body, format="json").status_code == 200
    group.refresh_from_db()
    assert group.state == State.OK and group.backend_id != old
    remote = driver.get_server_group(group.backend_id)
    assert (remote.policy, dict(remote.rules)) == ("anti-affinity", {"max_server_per_host": 2})
    assert old not in {g.id for g in driver.list_server_groups()}


def test_nova_refusal_leaves_the_record_erred_with_novas_message(
    world, api, nova, lab, django_capture_on_commit_callbacks
):
    tenant, _, _ = nova
    cohort_lab.set_quota(lab.admin(), tenant.backend_id, server_groups=0)
    group = create(api, world.users.owner, tenant, django_capture_on_commit_callbacks, name="over")
    assert group.state == State.ERRED
    assert group.error_message == "Quota exceeded, too many server groups."


def test_pull_shows_the_truth_after_changes_behind_cohorts_back(world, api, nova, django_capture_on_commit_callbacks):
    tenant, driver, boot = nova
    capture, owner = django_capture_on_commit_callbacks, world.users.owner
    kept = create(api, owner, tenant, capture, name="kept", policy="soft-affinity")
    doomed = create(api, owner, tenant, capture, name="doomed")
    outside = driver.create_server_group(name="outside", policy="soft-anti-affinity")
    member = boot("outsider-vm", outside.id)
    driver.delete_server_group(doomed.backend_id)

    assert pull(api, owner, doomed, capture)["state"] == "ERRED"
    assert "gone" in doomed.error_message

    with capture(execute=True):
        response = api(owner).post(f"/api/openstack-tenants/{tenant.uuid.hex}/pull_server_groups/")
    assert response.status_code == 202
    names = set(ServerGroup.objects.filter(tenant=tenant).values_list("name", flat=True))
    assert names == {"kept", "outside"}  # the erred record of the deleted group is gone too
    imported = ServerGroup.objects.get(tenant=tenant, name="outside")
    assert (imported.state, imported.policy, imported.backend_id) == (State.OK, "soft-anti-affinity", outside.id)
    assert list(imported.instances.values_list("backend_id", flat=True)) == [member.id]
    assert ServerGroup.objects.get(pk=kept.pk).state == State.OK


def test_delete_removes_the_group_from_nova(world, api, nova, django_capture_on_commit_callbacks):
    tenant, driver, boot = nova
    capture = django_capture_on_commit_callbacks
    group = create(api, world.users.admin, tenant, capture, name="bye", policy="anti-affinity")
    server = boot("stays", group.backend_id)
    with capture(execute=True):
        assert api(world.users.admin).delete(f"{URL}{group.uuid.hex}/").status_code == 204
    assert not ServerGroup.objects.filter(pk=group.pk).exists()
    assert group.backend_id not in {g.id for g in driver.list_server_groups()}
    assert server.id in {s.id for s in driver.list_servers()}  # Nova keeps the servers
