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
from cohort.openstack.placement import (
    NOTHING_TO_DO,
    Member,
    host_id_of,
    host_label,
    hosts_cache,
    leaving_order,
    plan,
    refresh_placement,
    room,
    verdict,
)
from tests.conftest import make_group, memory_project

URL = "/api/openstack-server-groups/"
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
A, B, C, D = "a" * 56, "b" * 56, "c" * 56, "d" * 56
NAMES = {A: "host1", B: "host2", C: "host3", D: "host4"}


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


def vm(n: int, host=None, status="ACTIVE", at=None) -> Member:
    """vm-n on `host` (None: no host), recorded at second `at` (default n: the higher, the newer)."""
    return Member(status, host or "", uuid=f"{n:032x}", name=f"vm-{n}", recorded=float(n if at is None else at))


def moves(result) -> list[tuple[str, str, str, str]]:
    """A plan's moves as (member, host it leaves, host it joins or "", reason), hosts by name."""
    return [(m.member.name, NAMES[m.from_host_id], NAMES.get(m.to_host_id, ""), m.reason) for m in result.moves]


def plan_of(policy, members, rules=None, enabled=(A, B, C)):
    return plan(policy, rules, members, enabled_host_ids=None if enabled is None else set(enabled), host_names=NAMES)


SHARES_1 = "shares host1 with vm-1"
TIED = "outside host1, which holds as many of the group's members as any host (2 of 4)"


@pytest.mark.parametrize(
    ("policy", "rules", "members", "enabled", "expected"),
    [
        # anti-affinity: all but one member of a shared host leave, the newest first
        ("anti-affinity", None, [vm(1, A), vm(2, A), vm(3, B)], (A, B, C), [("vm-2", "host1", "", SHARES_1)]),
        ("anti-affinity", None, [vm(3, A), vm(1, A), vm(2, A)], (A, B, C),
         [("vm-3", "host1", "", SHARES_1), ("vm-2", "host1", "", SHARES_1)]),
        ("soft-anti-affinity", None, [vm(1, A), vm(2, B), vm(3, C), vm(4, A)], (A, B, C, D),
         [("vm-4", "host1", "", SHARES_1)]),
        # the most crowded host first, then by host name
        ("anti-affinity", None, [vm(1, B), vm(2, B), vm(3, A), vm(4, A), vm(5, A)], (A, B, C, D, "e" * 56, "f" * 56),
         [("vm-5", "host1", "", "shares host1 with vm-3"), ("vm-4", "host1", "", "shares host1 with vm-3"),
          ("vm-2", "host2", "", "shares host2 with vm-1")]),
        # a tie in record time: the greater uuid is the newer
        ("anti-affinity", None, [vm(7, A, at=1), vm(8, A, at=1), vm(9, A, at=2)], (A, B, C),
         [("vm-9", "host1", "", "shares host1 with vm-7"), ("vm-8", "host1", "", "shares host1 with vm-7")]),
        # max_server_per_host: the excess of each host
        ("anti-affinity", {"max_server_per_host": 2}, [vm(1, A), vm(2, A), vm(3, A), vm(4, B)], (A, B, C),
         [("vm-3", "host1", "", "host1 holds 3, max_server_per_host is 2")]),
        ("anti-affinity", {"max_server_per_host": 2}, [vm(n, A) for n in range(1, 6)], (A, B, C),
         [("vm-5", "host1", "", "host1 holds 5, max_server_per_host is 2"),
          ("vm-4", "host1", "", "host1 holds 5, max_server_per_host is 2"),
          ("vm-3", "host1", "", "host1 holds 5, max_server_per_host is 2")]),
        # a crowded host that is disabled is left all the same: Nova moves servers off a disabled host
        ("anti-affinity", None, [vm(1, A), vm(2, A)], (B,), [("vm-2", "host1", "", SHARES_1)]),
        # affinity: the members outside the host holding most join it
        ("affinity", None, [vm(1, A), vm(2, A), vm(3, B)], (A, B, C),
         [("vm-3", "host2", "host1", "outside host1, where the group's other members are")]),
        ("soft-affinity", None, [vm(1, B), vm(2, B), vm(3, A)], (A, B, C),
         [("vm-3", "host1", "host2", "outside host2, where the group's other members are")]),
        ("affinity", None, [vm(1, A), vm(2, A), vm(3, A), vm(4, B), vm(5, C)], (A, B, C),
         [("vm-4", "host2", "host1", "outside host1, which holds most of the group's members (3 of 5)"),
          ("vm-5", "host3", "host1", "outside host1, which holds most of the group's members (3 of 5)")]),
        # ties: the first host by name, ...
        ("affinity", None, [vm(1, B), vm(2, A)], (A, B, C),
         [("vm-1", "host2", "host1", "outside host1, where the group's other members are")]),
        ("soft-affinity", None, [vm(1, B), vm(2, A), vm(3, B), vm(4, A)], (A, B, C),
         [("vm-3", "host2", "host1", TIED), ("vm-1", "host2", "host1", TIED)]),
        # ... unless it is disabled
        ("affinity", None, [vm(1, B), vm(2, A)], (B, C),
         [("vm-2", "host1", "host2", "outside host2, where the group's other members are")]),
        # where the cloud does not list its hosts, the plan is Nova's scheduler's to check
        ("soft-anti-affinity", None, [vm(1, A), vm(2, B), vm(3, C), vm(4, A)], None, [("vm-4", "host1", "", SHARES_1)]),
        # members without a host never move: being built, or never placed
        ("anti-affinity", None, [vm(1, A), vm(2, A), vm(3), vm(4, status="ERROR")], (A, B, C),
         [("vm-2", "host1", "", SHARES_1)]),
        ("anti-affinity", None, [vm(1, A), vm(2, A), Member("DELETED", B, name="gone")], (A, B, C),
         [("vm-2", "host1", "", SHARES_1)]),
    ],
)  # fmt: skip
def test_plan_moves(policy, rules, members, enabled, expected):
    result = plan_of(policy, members, rules, enabled)
    assert result.blocked is None and result.actionable
    assert moves(result) == expected


@pytest.mark.parametrize(
    ("policy", "rules", "members"),
    [
        ("anti-affinity", None, []),
        ("anti-affinity", None, [vm(1, A), vm(2, B), vm(3, C)]),  # satisfied
        ("anti-affinity", None, [vm(1, A), vm(2, B), vm(3, C), vm(4, status="ERROR")]),  # satisfied; 4 never placed
        ("anti-affinity", None, [vm(1, A), vm(2)]),  # pending
        ("anti-affinity", {"max_server_per_host": 2}, [vm(1, A), vm(2, A)]),
        ("soft-anti-affinity", None, [vm(1, A), vm(2, B)]),
        ("affinity", None, [vm(1, A), vm(2, A), vm(3)]),  # pending
        ("soft-affinity", None, [vm(1, A), Member("DELETED", B)]),
        ("soft-affinity", None, [vm(1, status="ERROR")]),
    ],
)
def test_no_plan_unless_degraded_or_violated(policy, rules, members):
    assert plan_of(policy, members, rules) == NOTHING_TO_DO
    assert NOTHING_TO_DO.moves == () and NOTHING_TO_DO.blocked is None and not NOTHING_TO_DO.actionable


@pytest.mark.parametrize(
    ("policy", "rules", "members", "enabled", "expected"),
    [
        ("anti-affinity", None, [vm(1, A), vm(2, B), vm(3, C), vm(4, A)], (A, B, C),
         "3 hosts are enabled and this anti-affinity group has 4 members: enable or add a host, or remove a member"),
        ("soft-anti-affinity", None, [vm(1, A), vm(2, B), vm(3, C), vm(4, A)], (A, B, C),
         "3 hosts are enabled and this soft-anti-affinity group has 4 members: enable or add a host, "
         "or remove a member"),
        ("soft-anti-affinity", None, [vm(n, A) for n in range(1, 6)], (A, B),
         "2 hosts are enabled and this soft-anti-affinity group has 5 members: enable or add 3 hosts, "
         "or remove 3 members"),
        ("anti-affinity", None, [vm(1, A), vm(2, A)], (A,),
         "1 host is enabled and this anti-affinity group has 2 members: enable or add a host, or remove a member"),
        # a disabled host keeps its member, but takes no other
        ("anti-affinity", None, [vm(1, A), vm(2, A), vm(3, B), vm(4, C)], (A, B),
         "2 hosts are enabled and this anti-affinity group has 4 members: enable or add a host, or remove a member"),
        ("anti-affinity", {"max_server_per_host": 2}, [*[vm(n, A) for n in range(1, 4)], vm(4, B), vm(5, B),
         vm(6, C), vm(7, C)], (A, B, C),
         "3 hosts are enabled and this anti-affinity group allows 2 per host and has 7 members: enable or add "
         "a host, or remove a member"),
        ("anti-affinity", {"max_server_per_host": 2}, [*[vm(n, A) for n in range(1, 6)], vm(6, B), vm(7, B),
         vm(8, C), vm(9, C)], (A, B, C),
         "3 hosts are enabled and this anti-affinity group allows 2 per host and has 9 members: enable or add "
         "2 hosts, or remove 3 members"),
        # a member Nova never placed is not moved: it must be rebuilt or deleted
        ("anti-affinity", None, [vm(1, A), vm(2, B), vm(3, C), vm(4, A), vm(5, status="ERROR")], (A, B, C),
         "3 hosts are enabled and this anti-affinity group has 4 placed members: enable or add a host, or remove "
         "a member; vm-5 was never placed (no valid host): rebuild or delete it"),
        # affinity is blocked only where the host holding most is disabled
        ("affinity", None, [vm(1, A), vm(2, A), vm(3, B)], (B, C),
         "host1 holds most of this affinity group's members (2 of 3) and is disabled: enable it, so that the "
         "others can join it there, or move the members together by hand"),
        ("soft-affinity", None, [vm(1, A), vm(2, A), vm(3, B), vm(4, status="ERROR"), vm(5, status="ERROR")], (C,),
         "host1 holds most of this soft-affinity group's members (2 of 3) and is disabled: enable it, so that the "
         "others can join it there, or move the members together by hand; vm-4 and vm-5 were never placed (no "
         "valid host): rebuild or delete them"),
    ],
)  # fmt: skip
def test_plan_blocked_by_the_enabled_hosts_says_what_to_do(policy, rules, members, enabled, expected):
    result = plan_of(policy, members, rules, enabled)
    assert (result.moves, result.blocked) == ((), expected)
    assert not result.actionable


def test_a_failing_member_leaves_first_and_nova_cannot_migrate_it():
    failing = vm(1, A, status="ERROR")  # in ERROR on a host: placed, and the oldest
    result = plan_of("anti-affinity", [failing, vm(2, A), vm(3, B)])
    assert moves(result) == [("vm-1", "host1", "", "shares host1 with vm-2")]
    assert result.blocked == (
        "vm-1 is ERROR and Nova migrates only ACTIVE or SHUTOFF servers: reset its state or rebuild it, or delete it"
    )
    assert not result.actionable


def test_a_member_nova_can_migrate_leaves_before_one_it_cannot():
    result = plan_of("anti-affinity", [vm(1, A), vm(2, A, status="PAUSED"), vm(3, A, status="SHUTOFF")])
    assert moves(result) == [
        ("vm-3", "host1", "", "shares host1 with vm-2"),
        ("vm-1", "host1", "", "shares host1 with vm-2"),
    ]
    assert result.actionable


def test_a_plan_that_needs_a_member_in_the_middle_of_a_task_waits_for_it():
    result = plan_of("affinity", [vm(1, A), vm(2, A), vm(3, B, status="MIGRATING"), vm(4, C, status="SUSPENDED")])
    assert [m.member.name for m in result.moves] == ["vm-3", "vm-4"]
    assert result.blocked == (
        "vm-3 is MIGRATING and Nova migrates only ACTIVE or SHUTOFF servers: wait until it is ACTIVE or SHUTOFF "
        "again; vm-4 is SUSPENDED and Nova migrates only ACTIVE or SHUTOFF servers: make it ACTIVE or SHUTOFF, "
        "or delete it"
    )


def test_an_affinity_tie_leaves_the_failing_member_to_move():
    result = plan_of("affinity", [vm(1, A, status="ERROR"), vm(2, B)])
    assert [(m.member.name, NAMES[m.to_host_id]) for m in result.moves] == [("vm-1", "host2")]


def test_leaving_order_is_failing_then_movable_then_newest():
    members = [vm(1, A), vm(2, A, status="PAUSED"), vm(3, A, status="ERROR"), vm(4, A), vm(5, A, status="SHUTOFF")]
    assert [m.name for m in leaving_order(members)] == ["vm-3", "vm-5", "vm-4", "vm-1", "vm-2"]


def test_the_words_name_hosts_as_asked():
    members = [vm(1, A), vm(2, A)]
    labelled = plan("anti-affinity", None, members, enabled_host_ids={A, B}, host_names=NAMES, shown=host_label)
    assert [m.reason for m in labelled.moves] == [f"shares {A[:8]} with vm-1"]
    unnamed = plan("affinity", None, [vm(1, A), vm(2, A), vm(3, B)])  # no names, no enabled hosts known
    assert [m.reason for m in unnamed.moves] == [f"outside {A[:8]}, where the group's other members are"]
    nameless = Member("ACTIVE", A, uuid="f" * 32, recorded=0.0)  # a server without a name is called by its uuid
    assert [m.reason for m in plan("anti-affinity", None, [nameless, vm(1, A)]).moves] == [
        f"shares {A[:8]} with {'f' * 32}"
    ]


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


# --- the plan in the report -------------------------------------------------------------------------


def test_the_report_plans_a_move_naming_hosts_as_it_names_them(admin_cloud, api):
    world = admin_cloud
    group = nova_group(world, "forced", "anti-affinity")
    cloud = memory_project(world.tenant)
    cloud.boot_server("vm-1", group.backend_id, host="host1")
    cloud.boot_server("vm-3", group.backend_id, host="host2")
    reconcile.pull(group.pk)
    assert (placement(api, world.users.staff, group)["plan"], placement(api, world.users.staff, group)["blocked"]) == (
        [],
        None,
    )
    cloud.boot_server("vm-2", group.backend_id, host="host1")  # recorded after vm-1 and vm-3: the newest
    reconcile.pull(group.pk)
    moved = Instance.objects.get(server_group=group, name="vm-2").uuid.hex

    staff = placement(api, world.users.staff, group)
    assert staff["placement_status"] == "violated"
    assert staff["plan"] == [
        {"server": {"uuid": moved, "name": "vm-2"}, "from": "host1", "reason": "shares host1 with vm-1"}
    ]
    assert (staff["blocked"], staff["last_heal"]) == (None, None)
    assert list(staff)[-3:] == ["plan", "blocked", "last_heal"]

    member = placement(api, world.users.member, group)
    label = host_id_of(world.tenant.backend_id, "host1")[:8]
    assert member["plan"] == [
        {"server": {"uuid": moved, "name": "vm-2"}, "from": label, "reason": f"shares {label} with vm-1"}
    ]
    assert member["blocked"] is None and "host1" not in str(member)


def test_the_report_says_what_blocks_a_plan_until_a_host_is_added(admin_cloud, api):
    world = admin_cloud
    group = nova_group(world, "soft", "soft-anti-affinity")
    cloud = memory_project(world.tenant)
    for n in range(4):
        cloud.boot_server(f"vm-{n}", group.backend_id)  # the fourth shares host1 with vm-0
    reconcile.pull(group.pk)
    for user in (world.users.staff, world.users.member):
        report = placement(api, user, group)
        assert (report["placement_status"], report["plan"]) == ("degraded", [])
        assert report["blocked"] == (
            "3 hosts are enabled and this soft-anti-affinity group has 4 members: enable or add a host, "
            "or remove a member"
        )

    MemoryCloud.hosts(world.cloud.auth_url)["host4"] = ComputeHost("host4")
    hosts_cache.clear()
    staff = placement(api, world.users.staff, group)
    assert (staff["enabled_hosts"], staff["blocked"]) == (4, None)
    assert [(m["server"]["name"], m["from"], m["reason"]) for m in staff["plan"]] == [
        ("vm-3", "host1", "shares host1 with vm-0")
    ]


def test_without_the_clouds_hosts_the_plan_is_not_checked_against_them(world, api):
    group = nova_group(world, "soft", "soft-anti-affinity")
    cloud = memory_project(world.tenant)
    for n in range(4):
        cloud.boot_server(f"vm-{n}", group.backend_id)
    reconcile.pull(group.pk)
    report = placement(api, world.users.staff, group)  # the cloud's credentials are no admin's
    assert report["enabled_hosts"] is None and report["blocked"] is None
    assert [m["server"]["name"] for m in report["plan"]] == ["vm-3"]


def test_a_member_never_placed_is_not_moved_and_a_satisfied_group_has_no_plan(admin_cloud, api):
    world = admin_cloud
    group = nova_group(world, "spread", "anti-affinity")
    cloud = memory_project(world.tenant)
    for n in range(4):
        cloud.boot_server(f"vm-{n}", group.backend_id)  # the fourth: no valid host
    reconcile.pull(group.pk)
    report = placement(api, world.users.staff, group)
    assert report["placement_status"] == "satisfied" and [m["name"] for m in report["failed"]] == ["vm-3"]
    assert (report["plan"], report["blocked"], report["last_heal"]) == ([], None, None)

    cloud.boot_server("vm-4", group.backend_id, host="host1")
    reconcile.pull(group.pk)
    report = placement(api, world.users.staff, group)
    assert report["placement_status"] == "violated" and report["plan"] == []
    assert report["blocked"] == (
        "3 hosts are enabled and this anti-affinity group has 4 placed members: enable or add a host, or remove a "
        "member; vm-3 was never placed (no valid host): rebuild or delete it"
    )


@pytest.mark.parametrize("policy", ["affinity", "soft-affinity"])
def test_the_report_plans_affinity_towards_the_host_holding_most(admin_cloud, api, policy):
    world = admin_cloud
    group = nova_group(world, "together", policy)
    cloud = memory_project(world.tenant)
    for n in range(2):
        cloud.boot_server(f"vm-{n}", group.backend_id, host="host2")
    cloud.boot_server("vm-2", group.backend_id, host="host3")
    reconcile.pull(group.pk)
    report = placement(api, world.users.staff, group)
    assert [(m["server"]["name"], m["from"], m["reason"]) for m in report["plan"]] == [
        ("vm-2", "host3", "outside host2, where the group's other members are")
    ]
    assert report["blocked"] is None
    MemoryCloud.hosts(world.cloud.auth_url)["host2"] = ComputeHost("host2", enabled=False)
    hosts_cache.clear()
    report = placement(api, world.users.member, group)
    label = host_id_of(world.tenant.backend_id, "host2")[:8]
    assert report["plan"] == []
    assert report["blocked"] == (
        f"{label} holds most of this {policy} group's members (2 of 3) and is disabled: enable it, so that the "
        "others can join it there, or move the members together by hand"
    )


def test_the_report_of_an_empty_or_pending_group_has_no_plan(world, api):
    empty = nova_group(world, "empty", "anti-affinity")
    report = placement(api, world.users.member, empty)
    assert (report["placement_status"], report["plan"], report["blocked"], report["last_heal"]) == (
        "empty",
        [],
        None,
        None,
    )
    pending = nova_group(world, "pending", "anti-affinity")
    for n, (status, host) in enumerate([("ACTIVE", "a" * 56), ("BUILD", "")]):
        Instance.objects.create(
            tenant=world.tenant, server_group=pending, name=f"vm-{n}", backend_id=f"p-{n}", status=status, host_id=host
        )
    refresh_placement([pending])
    report = placement(api, world.users.member, pending)
    assert (report["placement_status"], report["plan"], report["blocked"]) == ("pending", [], None)
