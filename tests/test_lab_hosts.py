"""The lab's hosts come and go while it runs: `cohort lab-host add|disable|enable NAME`.

One lab of its own for the whole module (adding a host would change the session lab that the other
tests count hosts on; tests/hosts_lab.py), started in a temporary state directory, driven the way a
person drives the lab of `cohort serve`: the command finds it through `lab.json`. The tests run in
order and build on each other (host4, added first, is used again after the restart). Moves themselves (live and cold, no
valid host, refusals) are the driver contract's, on both clouds: `tests/cloud/test_driver_moves.py`.
"""

from __future__ import annotations

import time

import pytest
from django.core.management import CommandError

import cohort_lab
from cohort.cloud.base import BadRequest
from cohort.cloud.openstack import OpenStackDriver
from tests.hosts_lab import Running, lab_host

pytestmark = [
    pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs the `lab` extra (pip install -e '.[lab]')"),
    pytest.mark.slow,
    pytest.mark.database_free,
]

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    running = Running(tmp_path_factory.mktemp("hosts-lab"))
    yield running
    running.lab.stop()


def hosts(running: Running) -> dict[str, bool]:
    return {host.name: host.enabled for host in running.admin.list_compute_hosts()}


def settled(admin: OpenStackDriver, server_id: str, count: int) -> list:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        migrations = admin.list_server_migrations(server_id)
        if len(migrations) >= count and (migrations[-1].done or migrations[-1].failed):
            return migrations
        time.sleep(0.1)
    raise AssertionError(f"the migration of {server_id} did not settle")


def test_an_added_host_takes_the_move_that_had_nowhere_to_go(running):
    access = running.lab.tenant("grow")
    driver, admin = OpenStackDriver(access), running.admin
    group = driver.create_server_group(name="spread", policy="anti-affinity")
    members = [cohort_lab.boot_server(access, f"vm-{n}", group.id) for n in range(3)]
    with pytest.raises(BadRequest, match="No valid host"):
        admin.live_migrate_server(members[0].id)  # every host holds a member

    said = lab_host(running, "add", "host4")

    assert said == "host4 added; the lab's compute hosts: host1, host2, host3, host4"
    assert hosts(running) == {"host1": True, "host2": True, "host3": True, "host4": True}
    started = time.monotonic()
    admin.live_migrate_server(members[0].id)
    failed, moved = settled(admin, members[0].id, count=2)
    seconds = time.monotonic() - started
    assert (failed.status, moved.status, moved.kind, moved.dest_host) == ("error", "completed", "live", "host4")
    assert admin.get_server(members[0].id).host == "host4"
    assert seconds < 10, f"a live migration on the lab took {seconds:.1f} s"


def test_a_disabled_host_is_skipped_and_an_enabled_one_used_again(running):
    access = running.lab.tenant("shrink")
    driver, admin = OpenStackDriver(access), running.admin
    group = driver.create_server_group(name="spread", policy="anti-affinity")

    assert lab_host(running, "disable", "host1") == "host1 disabled: the scheduler skips it; the servers on it stay"
    booted = [cohort_lab.boot_server(access, f"vm-{n}", group.id) for n in range(4)]

    assert hosts(running)["host1"] is False
    assert sorted(admin.get_server(server.id).host for server in booted[:3]) == ["host2", "host3", "host4"]
    assert (booted[3].status, booted[3].fault_message) == ("ERROR", NO_VALID_HOST)

    with pytest.raises(BadRequest, match="No valid host"):
        admin.live_migrate_server(booted[0].id)  # host1, the only host without a member, is disabled

    assert lab_host(running, "enable", "host1") == "host1 enabled: the scheduler may use it again"
    admin.live_migrate_server(booted[0].id)

    assert hosts(running)["host1"] is True
    assert settled(admin, booted[0].id, count=2)[-1].dest_host == "host1"
    assert admin.get_server(booted[0].id).host == "host1"


def test_mistakes_are_named(running):
    with pytest.raises(CommandError, match="the lab has a compute host host2 already"):
        lab_host(running, "add", "host2")
    unknown = r"The lab has no compute host host9 \(its hosts: host1, host2, host3, host4\)"
    with pytest.raises(CommandError, match=unknown):
        lab_host(running, "disable", "host9")


def test_the_lab_remembers_added_and_disabled_hosts_across_a_restart(running):
    access = running.lab.tenant("grow")  # made in the first test: its server is on host4
    on_host4 = [s for s in OpenStackDriver(access).list_servers() if running.admin.get_server(s.id).host == "host4"]
    lab_host(running, "disable", "host2")

    running.restart()

    assert running.lab.hosts == ("host1", "host2", "host3", "host4")
    assert hosts(running) == {"host1": True, "host2": False, "host3": True, "host4": True}
    assert [running.admin.get_server(s.id).host for s in on_host4] == ["host4"]
    assert lab_host(running, "enable", "host2") == "host2 enabled: the scheduler may use it again"
