"""Does the placement hold? The verdict function, and the verdict, report and host names on the memory cloud.

The memory cloud schedules as Nova does (`cohort.cloud.memory`); an admin's forced host breaks a
policy. Pulls refresh the members' facts from the paged server listing and store the verdict; the
`/placement/` action reports it. The same on the real Nova is in `tests/test_placement_lab.py`.
"""

import logging

import pytest

from cohort.cloud import ComputeHost
from cohort.cloud.memory import MemoryCloud, MemoryDriver
from cohort.events.models import Event
from cohort.openstack import reconcile
from cohort.openstack.models import Instance, ServerGroup
from cohort.openstack.placement import Member, host_id_of, hosts_cache, room, verdict
from tests.conftest import make_group, memory_project

URL = "/api/openstack-server-groups/"
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
A, B, C = "a" * 56, "b" * 56, "c" * 56


def on(*hosts: str) -> list[Member]:
    return [Member("ACTIVE", host) for host in hosts]


FAILED = Member("ERROR", "")
BUILDING = Member("BUILD", "")
DELETED = Member("DELETED", A)


@pytest.mark.parametrize(
    ("policy", "rules", "members", "expected"),
    [
        ("anti-affinity", {}, [], "empty"),
        ("anti-affinity", {}, [DELETED], "empty"),
        ("anti-affinity", {}, on(A, B, C), "satisfied"),
        ("anti-affinity", {}, [*on(A, B, C), FAILED], "satisfied"),
        ("anti-affinity", {}, on(A, B, A), "violated"),
        ("anti-affinity", {}, [*on(A, A), BUILDING], "violated"),  # a violation does not wait for the build
        ("anti-affinity", {}, [*on(A, B), BUILDING], "pending"),
        ("anti-affinity", {}, [*on(A, B), DELETED, Member("SOFT_DELETED", A)], "satisfied"),
        ("anti-affinity", {"max_server_per_host": 2}, on(A, A, B), "satisfied"),
        ("anti-affinity", {"max_server_per_host": 2}, on(A, A, A), "violated"),
        ("affinity", {}, on(A, A, A), "satisfied"),
        ("affinity", {}, on(A, A, B), "violated"),
        ("affinity", {}, [*on(A), FAILED], "satisfied"),
        ("soft-anti-affinity", {}, on(A, B, C), "satisfied"),
        ("soft-anti-affinity", {}, on(A, B, C, A), "degraded"),
        ("soft-affinity", {}, on(A, A), "satisfied"),
        ("soft-affinity", {}, on(A, B), "degraded"),
        ("soft-affinity", {}, [BUILDING], "pending"),
        ("anti-affinity", {}, [Member("ERROR", A), Member("ACTIVE", A)], "violated"),  # ERROR on a host: placed
    ],
)
def test_verdict(policy, rules, members, expected):
    assert verdict(policy, rules, members) == expected


@pytest.mark.parametrize(
    ("policy", "rules", "members", "expected"),
    [
        ("anti-affinity", {}, on(A), 2),
        ("anti-affinity", {}, on(A, B, C), 0),
        ("anti-affinity", {"max_server_per_host": 2}, on(A), 5),
        ("anti-affinity", {"max_server_per_host": 2}, on(A, A, A), 4),  # an over-full host gives no negative room
        ("soft-anti-affinity", {}, on(A, A), 2),
        ("anti-affinity", {}, [FAILED, FAILED], 3),
    ],
)
def test_room_counts_free_places_on_enabled_hosts(policy, rules, members, expected):
    assert room(policy, rules, members, {A, B, C}) == expected


@pytest.fixture
def admin_cloud(world):
    """The world's cloud registered with a cloud admin's credentials (the memory cloud's `admin:` token)."""
    world.cloud.credentials = {"token": "admin:admin"}
    world.cloud.save()
    world.tenant.refresh_from_db()
    hosts_cache.clear()
    yield world
    hosts_cache.clear()


def nova_group(world, name: str, policy: str, **rules):
    remote = MemoryDriver(world.tenant.cloud_access()).create_server_group(name=name, policy=policy, rules=rules)
    return make_group(world.tenant, name, policy=policy, rules=rules, backend_id=remote.id)


def placement(api, user, group):
    response = api(user).get(f"{URL}{group.uuid.hex}/placement/")
    assert response.status_code == 200, response.content
    return response.json()


def test_anti_affinity_on_three_hosts_then_a_fourth_member_fails_with_novas_fault(world, api):
    group = nova_group(world, "spread", "anti-affinity")
    assert group.placement_status == "empty"
    cloud = memory_project(world.tenant)
    booted = [cloud.boot_server(f"vm-{n}", group.backend_id) for n in range(3)]
    reconcile.pull(group.pk)
    group.refresh_from_db()
    assert group.placement_status == "satisfied" and group.placement_checked_at is not None

    fourth = cloud.boot_server("vm-3", group.backend_id)
    reconcile.pull_tenant(world.tenant.pk)
    group.refresh_from_db()
    assert group.placement_status == "satisfied"  # the failed member is not placed
    instance = api(world.users.member).get(f"/api/openstack-instances/?backend_id={fourth.id}").json()[0]
    assert (instance["runtime_state"], instance["host_id"], instance["fault_message"]) == ("ERROR", "", NO_VALID_HOST)
    assert instance["seen_at"]
    report = placement(api, world.users.member, group)
    assert report["failed"] == [
        {"uuid": instance["uuid"], "name": "vm-3", "status": "ERROR", "fault_message": NO_VALID_HOST}
    ]
    assert (report["hosts"], report["largest_host_members"], report["largest_host_share"]) == (3, 1, 0.3333)
    assert sorted(m["name"] for h in report["by_host"] for m in h["members"]) == [s.name for s in booted]
    # the memory cloud's credentials are no admin's: no host names, no room on the hosts, and no error;
    # the member quota (Nova's default 10, read by the tenant pull) still bounds the room
    assert [h["host_name"] for h in report["by_host"]] == [None] * 3
    assert (report["enabled_hosts"], report["room"], report["room_limited_by"]) == (None, 6, "quota")
    assert all(len(h["host"]) == 8 for h in report["by_host"])


def test_a_member_forced_onto_an_occupied_host_violates_anti_affinity_and_the_change_is_recorded(world, caplog):
    group = nova_group(world, "forced", "anti-affinity")
    cloud = memory_project(world.tenant)
    cloud.boot_server("vm-1", group.backend_id)
    reconcile.pull(group.pk)
    cloud.boot_server("vm-2", group.backend_id, host="host1")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cohort.openstack.placement"):
        reconcile.pull(group.pk)
    group.refresh_from_db()
    assert group.placement_status == "violated"
    assert [r.getMessage() for r in caplog.records if r.name == "cohort.openstack.placement"] == [
        f"server group {group.uuid.hex} (forced): placement satisfied -> violated"
    ]
    assert [r.levelno for r in caplog.records if "placement satisfied" in r.getMessage()] == [logging.WARNING]
    changes = Event.objects.filter(event_type="openstack_server_group_placement_changed", scope_uuid=group.uuid)
    assert [e.context["changes"] for e in changes.order_by("created", "pk")] == [
        {"placement_status": ["empty", "satisfied"]},
        {"placement_status": ["satisfied", "violated"]},
    ]


def test_staff_see_host_names_and_room_a_project_member_sees_labels(admin_cloud, api):
    world = admin_cloud
    group = nova_group(world, "names", "anti-affinity", max_server_per_host=2)
    cloud = memory_project(world.tenant)
    for n in range(2):
        cloud.boot_server(f"vm-{n}", group.backend_id, host="host2")
    reconcile.pull(group.pk)
    staff = placement(api, world.users.staff, group)
    member = placement(api, world.users.member, group)
    assert staff["placement_status"] == member["placement_status"] == "satisfied"
    assert [(h["host"], h["host_name"]) for h in staff["by_host"]] == [
        (host_id_of(world.tenant.backend_id, "host2")[:8], "host2")
    ]
    assert [h["host_name"] for h in member["by_host"]] == [None]
    assert "host2" not in str(member)
    assert staff["enabled_hosts"] == member["enabled_hosts"] == 3
    assert staff["room"] == 4  # host1 and host3 take two each; host2 is full


def test_a_disabled_host_gives_no_room(admin_cloud, api):
    world = admin_cloud
    MemoryCloud.hosts(world.cloud.auth_url)["host3"] = ComputeHost("host3", enabled=False)
    group = nova_group(world, "room", "anti-affinity")
    memory_project(world.tenant).boot_server("vm", group.backend_id)
    reconcile.pull(group.pk)
    report = placement(api, world.users.staff, group)
    assert (report["enabled_hosts"], report["room"]) == (2, 1)


def test_soft_anti_affinity_four_members_on_three_hosts_is_degraded(world):
    group = nova_group(world, "soft", "soft-anti-affinity")
    cloud = memory_project(world.tenant)
    for n in range(4):
        cloud.boot_server(f"vm-{n}", group.backend_id)
    reconcile.pull_tenant(world.tenant.pk)
    group.refresh_from_db()
    assert group.placement_status == "degraded"


def test_list_shows_and_filters_on_placement_status(world, api):
    spread = nova_group(world, "spread", "anti-affinity")
    soft = nova_group(world, "soft", "soft-anti-affinity")
    nova_group(world, "empty", "affinity")
    cloud = memory_project(world.tenant)
    cloud.boot_server("a", spread.backend_id)
    for n in range(4):
        cloud.boot_server(f"s-{n}", soft.backend_id)
    cloud.boot_server("b", spread.backend_id, host="host1")
    cloud.boot_server("c", spread.backend_id, host="host1")
    reconcile.pull_tenant(world.tenant.pk)
    client = api(world.users.member)
    listed = {g["name"]: g["placement_status"] for g in client.get(URL).json()}
    assert listed == {"spread": "violated", "soft": "degraded", "empty": "empty"}
    both = client.get(URL, {"placement_status": ["violated", "degraded"], "field": ["name", "placement_status"]})
    assert both.json() == [
        {"name": "soft", "placement_status": "degraded"},
        {"name": "spread", "placement_status": "violated"},
    ]
    assert client.get(URL, {"placement_status": "nonsense"}).status_code == 400


def test_placement_has_the_groups_visibility(world, api):
    group = make_group(world.other_tenant, "theirs")
    assert api(world.users.member).get(f"{URL}{group.uuid.hex}/placement/").status_code == 404
    assert api(None).get(f"{URL}{group.uuid.hex}/placement/").status_code == 401
    assert api(world.users.staff).get(f"{URL}{group.uuid.hex}/placement/").json()["placement_status"] == "empty"


def test_deleted_servers_leave_the_verdict(world):
    group = nova_group(world, "heal", "anti-affinity")
    cloud = memory_project(world.tenant)
    cloud.boot_server("vm-1", group.backend_id, host="host1")
    extra = cloud.boot_server("vm-2", group.backend_id, host="host1")
    reconcile.pull(group.pk)
    assert ServerGroup.objects.get(pk=group.pk).placement_status == "violated"
    cloud.delete_server(extra.id)
    reconcile.pull(group.pk)
    assert ServerGroup.objects.get(pk=group.pk).placement_status == "satisfied"
    assert Instance.objects.filter(server_group=group).count() == 1


def test_the_clouds_own_project_id_scopes_only_its_own_access(world):
    cloud, tenant = world.cloud, world.tenant
    cloud.credentials = {"username": "admin", "password": "pw", "user_domain_name": "Default", "project_id": "adm"}
    tenant.credentials = {"username": "tenant-user", "password": "tpw"}
    acting = tenant.cloud_access()
    assert (acting.project_id, dict(acting.credentials)) == (
        tenant.backend_id,
        {"username": "tenant-user", "password": "tpw", "user_domain_name": "Default"},
    )
    admin = tenant.admin_access()
    assert (admin.project_id, dict(admin.credentials)) == (
        "adm",
        {"username": "admin", "password": "pw", "user_domain_name": "Default"},
    )
    cloud.credentials = {"user_domain_name": "Default"}  # nothing of its own to log in with
    assert tenant.admin_access() is None
    cloud.credentials = {"username": "operator", "password": "pw"}  # no project: scoped to the tenant's
    assert tenant.admin_access().project_id == tenant.backend_id
