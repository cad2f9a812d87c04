"""The driver contract for moving servers: live and cold migration through Nova's scheduler.

Each case runs on the in-memory Nova and on the lab (a real Nova whose fake hosts really migrate
servers), with the cloud admin's driver (`tenant.admin`, logged in to a project of its own, as a
cloud is registered) moving the tenant's servers. A move never names a host unless the case says so:
the scheduler picks one that honours the server's group, which is what these cases check, together
with Nova's own words for every refusal. Moves on the lab finish in the background, so a case waits
for the migration Nova records (`settled`). None of this depends on how the driver logged in
(`novas_own`): the application-credential variant is left out.
"""

from __future__ import annotations

import time

import pytest

from cohort.cloud.base import BadRequest, CloudDriver, Conflict, Forbidden, NotFound, RemoteMigration

from .conftest import MEMORY_URL, Tenant, _memory_tenant

pytestmark = [pytest.mark.novas_own, pytest.mark.database_free]

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."
COLD_NO_VALID_HOST = "No valid host was found. No valid host found for cold migrate"
SETTLE_SECONDS = 30.0


def settled(admin: CloudDriver, server_id: str, count: int = 1) -> list[RemoteMigration]:
    """The server's migrations once there are `count` and the newest is done or failed."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        migrations = admin.list_server_migrations(server_id)
        if len(migrations) >= count and (migrations[-1].done or migrations[-1].failed):
            return migrations
        if time.monotonic() > deadline:
            raise AssertionError(f"the migration of {server_id} did not settle: {migrations}")
        time.sleep(0.1)


def host_of(tenant: Tenant, server_id: str) -> str:
    host = tenant.admin.get_server(server_id).host
    assert host, f"the cloud admin sees no host for {server_id}"
    return host


def test_a_server_shows_its_host_to_the_cloud_admin_only(tenant: Tenant) -> None:
    server = tenant.boot_server("web")

    seen_by_tenant = tenant.driver.get_server(server.id)
    seen_by_admin = tenant.admin.get_server(server.id)

    assert (seen_by_tenant.id, seen_by_tenant.status, seen_by_tenant.host, seen_by_tenant.task_state) == (
        server.id,
        "ACTIVE",
        None,
        None,
    )
    assert seen_by_admin.host and seen_by_admin.host_id == seen_by_tenant.host_id
    assert tenant.admin.list_server_migrations(server.id) == []
    assert tenant.admin.move_failure(server.id) == ""


def test_an_unknown_server_is_not_found(tenant: Tenant) -> None:
    with pytest.raises(NotFound) as gone:
        tenant.admin.get_server("00000000-0000-4000-8000-000000000000")

    assert gone.value.message == "Instance 00000000-0000-4000-8000-000000000000 could not be found."


def test_live_migration_without_a_host_honours_anti_affinity(tenant: Tenant) -> None:
    group = tenant.driver.create_server_group(name="web", policy="anti-affinity")
    moving, sibling = (tenant.boot_server(f"web-{n}", group.id) for n in range(2))
    source, sibling_host = host_of(tenant, moving.id), host_of(tenant, sibling.id)

    tenant.admin.live_migrate_server(moving.id)

    (migration,) = settled(tenant.admin, moving.id)
    moved = tenant.admin.get_server(moving.id)
    assert moved.host not in (source, sibling_host)  # the scheduler avoided the sibling's host
    assert (moved.status, moved.id) == ("ACTIVE", moving.id)
    assert (migration.kind, migration.status) == ("live", "completed")
    assert (migration.server_id, migration.source_host, migration.dest_host) == (moving.id, source, moved.host)
    assert migration.done and not migration.failed
    assert tenant.driver.get_server_group(group.id).members == tuple(sorted((moving.id, sibling.id)))


def test_cold_migration_waits_for_its_confirmation_and_keeps_the_power_state(tenant: Tenant) -> None:
    group = tenant.driver.create_server_group(name="db", policy="anti-affinity")
    moving, sibling = (tenant.boot_server(f"db-{n}", group.id) for n in range(2))
    tenant.stop_server(moving.id)
    source, sibling_host = host_of(tenant, moving.id), host_of(tenant, sibling.id)

    tenant.admin.migrate_server(moving.id)

    (migration,) = settled(tenant.admin, moving.id)
    resized = tenant.admin.get_server(moving.id)
    assert (migration.kind, migration.status, migration.source_host) == ("cold", "finished", source)
    assert resized.status == "VERIFY_RESIZE"
    assert resized.host == migration.dest_host and resized.host not in (source, sibling_host)

    tenant.admin.confirm_server_migration(moving.id)

    assert tenant.admin.get_server(moving.id).status == "SHUTOFF"
    assert [m.status for m in tenant.admin.list_server_migrations(moving.id)] == ["confirmed"]


def test_a_move_with_no_valid_host_fails_in_novas_words(cloud) -> None:
    tenant = cloud.tenant()
    group = tenant.driver.create_server_group(name="full", policy="anti-affinity")
    members = [tenant.boot_server(f"full-{n}", group.id) for n in range(cloud.hosts)]
    server_id = members[0].id
    before = host_of(tenant, server_id)

    # live: Nova schedules inside the request (compute API 2.30) and refuses it there
    with pytest.raises(BadRequest) as refused:
        tenant.admin.live_migrate_server(server_id)

    assert refused.value.message == NO_VALID_HOST
    (live,) = tenant.admin.list_server_migrations(server_id)
    assert (live.kind, live.status, live.failed) == ("live", "error", True)
    assert tenant.admin.move_failure(server_id) == NO_VALID_HOST

    # cold: Nova answers 202 before it schedules; the migration fails afterwards
    tenant.admin.migrate_server(server_id)

    live, cold = settled(tenant.admin, server_id, count=2)
    assert (cold.kind, cold.status, cold.dest_host) == ("cold", "error", "")
    assert tenant.admin.move_failure(server_id) == COLD_NO_VALID_HOST
    assert tenant.driver.move_failure(server_id) == "Nova recorded this move as failed; only a cloud admin may see why."
    server = tenant.admin.get_server(server_id)
    assert (server.status, server.host) == ("ACTIVE", before)


def test_affinity_takes_a_stray_member_back_to_the_others(tenant: Tenant, cloud) -> None:
    group = tenant.driver.create_server_group(name="cache", policy="affinity")
    together = [tenant.boot_server(f"cache-{n}", group.id) for n in range(2)]
    home = host_of(tenant, together[0].id)
    elsewhere = next(f"host{n}" for n in range(1, cloud.hosts + 1) if f"host{n}" != home)
    stray = tenant.boot_server("stray", group.id, host=elsewhere)  # the admin's forced placement

    tenant.admin.live_migrate_server(stray.id)

    settled(tenant.admin, stray.id)
    assert host_of(tenant, stray.id) == home


def test_max_server_per_host_is_honoured_by_a_move(tenant: Tenant) -> None:
    group = tenant.driver.create_server_group(name="db", policy="anti-affinity", rules={"max_server_per_host": 2})
    moving = tenant.boot_server("a", group.id, host="host1")
    tenant.boot_server("b", group.id, host="host2")
    for n in range(2):
        tenant.boot_server(f"c-{n}", group.id, host="host3")

    tenant.admin.live_migrate_server(moving.id)

    settled(tenant.admin, moving.id)
    assert host_of(tenant, moving.id) == "host2"  # room for a second member there; host3 holds two


def test_a_named_host_is_checked_by_the_scheduler(tenant: Tenant) -> None:
    group = tenant.driver.create_server_group(name="web", policy="anti-affinity")
    moving, sibling = (tenant.boot_server(f"web-{n}", group.id) for n in range(2))

    with pytest.raises(BadRequest) as refused:
        tenant.admin.live_migrate_server(moving.id, host=host_of(tenant, sibling.id))
    assert refused.value.message == NO_VALID_HOST

    for move in (tenant.admin.live_migrate_server, tenant.admin.migrate_server):
        with pytest.raises(BadRequest) as unknown:
            move(moving.id, host="nohost")
        assert unknown.value.message == "Compute host nohost could not be found."


def test_moves_are_a_cloud_admins_acts(tenant: Tenant) -> None:
    server = tenant.boot_server("web")

    refusals = {}
    for name, call in (
        ("live", lambda: tenant.driver.live_migrate_server(server.id)),
        ("cold", lambda: tenant.driver.migrate_server(server.id)),
        ("migrations", lambda: tenant.driver.list_server_migrations(server.id)),
    ):
        with pytest.raises(Forbidden) as refused:
            call()
        refusals[name] = refused.value.message

    assert refusals == {
        "live": "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
        "cold": "Policy doesn't allow os_compute_api:os-migrate-server:migrate to be performed.",
        "migrations": "Policy doesn't allow os_compute_api:os-migrations:index to be performed.",
    }
    assert tenant.admin.list_server_migrations(server.id) == []


def test_moves_in_the_wrong_state_conflict(tenant: Tenant) -> None:
    server = tenant.boot_server("web")

    with pytest.raises(Conflict) as not_resized:
        tenant.admin.confirm_server_migration(server.id)
    tenant.stop_server(server.id)
    with pytest.raises(Conflict) as stopped:
        tenant.admin.live_migrate_server(server.id)

    assert not_resized.value.message == f"Cannot 'confirmResize' instance {server.id} while it is in vm_state active"
    assert stopped.value.message == f"Cannot 'os-migrateLive' instance {server.id} while it is in vm_state stopped"


def test_the_memory_cloud_skips_a_disabled_host_on_a_move() -> None:
    """The lab's side of this is in tests/test_lab_hosts.py, on a lab of its own."""
    from cohort.cloud.base import ComputeHost
    from cohort.cloud.memory import MemoryCloud

    tenant = _memory_tenant("disabled-host")
    group = tenant.driver.create_server_group(name="web", policy="anti-affinity")
    moving, _ = (tenant.boot_server(f"web-{n}", group.id) for n in range(2))
    MemoryCloud.hosts(MEMORY_URL)["host3"] = ComputeHost("host3", enabled=False)

    with pytest.raises(BadRequest) as refused:
        tenant.admin.live_migrate_server(moving.id)
    assert refused.value.message == NO_VALID_HOST

    MemoryCloud.hosts(MEMORY_URL)["host3"] = ComputeHost("host3")
    tenant.admin.live_migrate_server(moving.id)
    assert host_of(tenant, moving.id) == "host3"
