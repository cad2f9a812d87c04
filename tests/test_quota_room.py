"""The member quota bounds a group's room (issue 18): `room` is the smaller of what the policy allows
on the enabled hosts and what `server_group_member_count` allows, and `room_limited_by` says which."""

from __future__ import annotations

import pytest

from cohort.cloud import Forbidden
from cohort.cloud.memory import MemoryDriver
from cohort.openstack import reconcile
from cohort.openstack.models import Instance
from cohort.openstack.placement import limited_room
from tests.conftest import make_group, memory_project


@pytest.mark.parametrize(
    ("policy_room", "member_quota", "members", "expected"),
    [
        (3, None, 0, (3, "hosts")),  # quota unknown: the hosts decide
        (3, -1, 5, (3, "hosts")),  # unlimited
        (3, 2, 0, (2, "quota")),
        (1, 2, 2, (0, "quota")),  # full: no room, whatever the hosts
        (1, 10, 2, (1, "hosts")),
        (2, 4, 2, (2, "quota")),  # a tie: Nova's refusal comes first (at the API)
        (None, 5, 3, (2, "quota")),  # an affinity policy: only the quota bounds it
        (None, None, 3, (None, None)),
        (0, 1, 4, (0, "quota")),  # more members than the quota (lowered later): no negative room
    ],
)
def test_limited_room(policy_room, member_quota, members, expected):
    assert limited_room(policy_room, member_quota, members) == expected


def test_a_member_quota_of_two_limits_the_room_and_a_third_boot_is_refused(admin_cloud, api):
    world = admin_cloud
    remote = MemoryDriver(world.tenant.cloud_access()).create_server_group(name="web", policy="anti-affinity")
    group = make_group(world.tenant, "web", policy="anti-affinity", backend_id=remote.id)
    cloud = memory_project(world.tenant)
    cloud.member_quota = 2
    cloud.boot_server("web-0", remote.id)
    assert reconcile.pull_tenant(world.tenant.pk)  # members and quotas, fresh

    report = api(world.users.member).get(f"/api/openstack-server-groups/{group.uuid.hex}/placement/").json()
    assert (report["enabled_hosts"], report["room"], report["room_limited_by"]) == (3, 1, "quota")

    cloud.boot_server("web-1", remote.id)
    with pytest.raises(Forbidden, match="Quota exceeded, too many servers in group"):
        cloud.boot_server("web-2", remote.id)
    assert reconcile.pull_tenant(world.tenant.pk)
    report = api(world.users.member).get(f"/api/openstack-server-groups/{group.uuid.hex}/placement/").json()
    assert (report["room"], report["room_limited_by"]) == (0, "quota")
    assert Instance.objects.filter(server_group=group).count() == 2
    tenant = api(world.users.member).get(f"/api/openstack-tenants/{world.tenant.uuid.hex}/").json()
    assert tenant["quotas"][1] == {"name": "server_group_member_count", "limit": 2, "usage": 2}


def test_the_memory_cloud_counts_a_groups_members_per_user_as_nova_does(world):
    """As the README's run on the lab shows: a server an admin forced into a group does not count
    against the tenant user's next boot."""
    remote = MemoryDriver(world.tenant.cloud_access()).create_server_group(name="web", policy="soft-affinity")
    cloud = memory_project(world.tenant)
    cloud.member_quota = 1
    cloud.boot_server("forced", remote.id, host="host1")  # the admin's
    cloud.boot_server("mine", remote.id)  # the tenant user's first

    with pytest.raises(Forbidden, match="too many servers in group"):
        cloud.boot_server("mine-too", remote.id)
