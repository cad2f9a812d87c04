"""Does the placement hold? On a real Nova (the lab): real scheduling, real faults, real host ids.

Each test gets a Keystone project and user of its own; the cloud is registered with the lab admin's
credentials (scoped to the `admin` project through `project_id`), as an operator registers a cloud,
and the tenant with its own user's, so that Cohort acts in the tenant as its user and lists compute
hosts as the admin. Servers are booted behind Cohort's back, through Nova's API as the tenant's user
would, or onto a named host by the admin (a forced placement, which bypasses the scheduler), and
Cohort learns of them by pulling.
"""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

import cohort_lab
from cohort.cloud.openstack import OpenStackDriver
from cohort.openstack import reconcile
from cohort.openstack.models import ServerGroup
from cohort.openstack.placement import hosts_cache
from tests.conftest import lab_tenant, make_group

URL = "/api/openstack-server-groups/"
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


@pytest.fixture
def nova(lab, world, settings):
    """The world's first tenant on the lab, in a cloud registered with the lab admin's credentials."""
    settings.CLOUD_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
    hosts_cache.clear()
    tenant, access, admin = lab_tenant(lab, world, "place")
    driver = OpenStackDriver(tenant.cloud_access())

    def boot(name, group, host=None):
        return cohort_lab.boot_server(access, name, group.backend_id, host=host, admin=admin if host else None)

    yield tenant, driver, boot
    hosts_cache.clear()


def group_in(tenant, driver, name, policy, **rules):
    remote = driver.create_server_group(name=name, policy=policy, rules=rules)
    return make_group(tenant, name, policy=policy, rules=rules, backend_id=remote.id)


def pulled(tenant, group) -> str:
    reconcile.pull_tenant(tenant.pk)
    return ServerGroup.objects.get(pk=group.pk).placement_status


def report(api, user, group) -> dict:
    response = api(user).get(f"{URL}{group.uuid.hex}/placement/")
    assert response.status_code == 200, response.content
    return response.json()


def test_anti_affinity_fills_the_hosts_then_nova_refuses_a_member(world, api, lab, nova):
    tenant, driver, boot = nova
    group = group_in(tenant, driver, "spread", "anti-affinity")
    boot("vm-0", group)
    boot("vm-1", group)
    assert pulled(tenant, group) == "satisfied"
    staff = report(api, world.users.staff, group)
    assert (staff["enabled_hosts"], staff["room"]) == (len(lab.hosts), len(lab.hosts) - 2)  # the lab's free hosts

    boot("vm-2", group)
    assert pulled(tenant, group) == "satisfied"
    refused = boot("vm-3", group)
    assert (refused.status, refused.fault_message) == ("ERROR", NO_VALID_HOST)
    assert pulled(tenant, group) == "satisfied"  # a failed member is not placed

    instance = api(world.users.member).get("/api/openstack-instances/", {"backend_id": refused.id}).json()[0]
    assert (instance["runtime_state"], instance["host_id"], instance["fault_message"]) == ("ERROR", "", NO_VALID_HOST)
    staff = report(api, world.users.staff, group)
    member = report(api, world.users.member, group)
    assert (
        staff["failed"]
        == member["failed"]
        == [{"uuid": instance["uuid"], "name": "vm-3", "status": "ERROR", "fault_message": NO_VALID_HOST}]
    )
    assert (staff["hosts"], staff["largest_host_members"], staff["room"]) == (3, 1, 0)
    # staff see host names, a project member only short labels of the per-project host ids
    assert sorted(h["host_name"] for h in staff["by_host"]) == sorted(lab.hosts)
    assert [h["host_name"] for h in member["by_host"]] == [None] * 3
    assert [h["host"] for h in member["by_host"]] == [h["host"] for h in staff["by_host"]]
    assert not any(host in str(member) for host in lab.hosts)


def test_soft_anti_affinity_with_four_members_on_three_hosts_is_degraded(world, api, lab, nova):
    tenant, driver, boot = nova
    group = group_in(tenant, driver, "soft", "soft-anti-affinity")
    for n in range(len(lab.hosts) + 1):
        assert boot(f"vm-{n}", group).status == "ACTIVE"
    assert pulled(tenant, group) == "degraded"
    # no plan can spread them on the lab's hosts: the report says what a person can do
    staff = report(api, world.users.staff, group)
    assert staff["plan"] == []
    assert staff["blocked"] == (
        f"{len(lab.hosts)} hosts are enabled and this soft-anti-affinity group has {len(lab.hosts) + 1} members: "
        "enable or add a host, or remove a member"
    )


def test_a_member_forced_onto_an_occupied_host_violates_anti_affinity(world, api, lab, nova):
    tenant, driver, boot = nova
    group = group_in(tenant, driver, "forced", "anti-affinity")
    boot("vm-0", group, host=lab.hosts[0])
    boot("vm-1", group, host=lab.hosts[1])
    assert pulled(tenant, group) == "satisfied"
    forced = boot("vm-2", group, host=lab.hosts[0])
    assert forced.status == "ACTIVE"
    assert pulled(tenant, group) == "violated"
    staff = report(api, world.users.staff, group)
    assert [(h["host_name"], len(h["members"])) for h in staff["by_host"]] == [(lab.hosts[0], 2), (lab.hosts[1], 1)]
    assert (staff["largest_host_members"], staff["largest_host_share"]) == (2, 0.6667)
    # the plan: the forced member, recorded last, leaves; a project member sees the host's label
    moved = {"uuid": staff["by_host"][0]["members"][1]["uuid"], "name": "vm-2"}
    assert [m["name"] for m in staff["by_host"][0]["members"]] == ["vm-0", "vm-2"]
    assert staff["plan"] == [{"server": moved, "from": lab.hosts[0], "reason": f"shares {lab.hosts[0]} with vm-0"}]
    assert staff["blocked"] is None
    label = staff["by_host"][0]["host"]
    assert report(api, world.users.member, group)["plan"] == [
        {"server": moved, "from": label, "reason": f"shares {label} with vm-0"}
    ]
    assert api(world.users.member).get(URL, {"placement_status": "violated", "field": "name"}).json() == [
        {"name": "forced"}
    ]


def test_affinity_keeps_its_members_together(api, nova):
    tenant, driver, boot = nova
    group = group_in(tenant, driver, "together", "affinity")
    servers = [boot(f"vm-{n}", group) for n in range(3)]
    assert len({server.host_id for server in servers}) == 1
    assert pulled(tenant, group) == "satisfied"


def test_max_server_per_host_two_holds_with_two_on_a_host_and_breaks_with_three(world, api, lab, nova):
    tenant, driver, boot = nova
    group = group_in(tenant, driver, "pairs", "anti-affinity", max_server_per_host=2)
    boot("vm-0", group, host=lab.hosts[0])
    boot("vm-1", group, host=lab.hosts[0])
    assert pulled(tenant, group) == "satisfied"
    staff = report(api, world.users.staff, group)
    assert staff["room"] == 2 * (len(lab.hosts) - 1)  # two more on each other host
    boot("vm-2", group, host=lab.hosts[0])
    assert pulled(tenant, group) == "violated"


def test_credentials_that_cannot_list_hosts_give_nulls_not_errors(world, api, lab, nova):
    tenant, driver, boot = nova
    cloud = tenant.service_settings
    cloud.credentials = dict(tenant.credentials)  # the tenant's own user: Nova answers 403 to os-services
    cloud.save()
    group = group_in(tenant, driver, "plain", "anti-affinity")
    boot("vm-0", group)
    assert pulled(tenant, group) == "satisfied"
    staff = report(api, world.users.staff, group)
    assert (staff["enabled_hosts"], staff["room"], staff["by_host"][0]["host_name"]) == (None, None, None)


def test_lab_boot_prints_the_fault_and_boots_onto_a_named_host(lab, nova):
    tenant, driver, _ = nova
    group = group_in(tenant, driver, "by-command", "anti-affinity")

    def lab_boot(name, *options):
        out = StringIO()
        call_command("lab-boot", tenant.uuid.hex, name, "--group", group.uuid.hex, *options, stdout=out)
        return out.getvalue().splitlines()

    for n in range(len(lab.hosts)):
        assert " ACTIVE host_id=" in lab_boot(f"vm-{n}")[0]
    refused = lab_boot("vm-refused")
    assert " ERROR host_id=-" in refused[0] and refused[1:] == [f"fault: {NO_VALID_HOST}"]
    forced = lab_boot("vm-forced", "--host", lab.hosts[0], "--lab-dir", str(lab.state_dir))
    assert len(forced) == 1 and " ACTIVE host_id=" in forced[0]
    assert pulled(tenant, group) == "violated"
    with pytest.raises(CommandError, match="no running lab"):
        lab_boot("vm-nowhere", "--host", lab.hosts[0], "--lab-dir", "/nonexistent")
