"""Mending placement on a real Nova: the heal engine's moves go through the lab's Nova API and its
scheduler, which honours each group's policy on live and cold migration.

One lab for the module, apart from the session's (tests/hosts_lab.py), since some tests add a host;
each test works in a Keystone project of its own and counts the enabled hosts it finds. The cloud is
registered with the lab admin's credentials (the engine moves servers with them), the tenant with
its own user's. Servers are forced onto hosts by the admin to break a group, as an operator's forced
placement does. Steps run in this process, as a worker runs them, except in the test that SIGKILLs a
real worker in the middle of a move.
"""

from __future__ import annotations

import time

import pytest

import cohort_lab
from cohort.cloud.openstack import OpenStackDriver
from cohort.core.states import State
from cohort.events.models import Event
from cohort.openstack import reconcile, steps
from cohort.openstack.models import Heal, Instance, ServerGroup
from cohort.openstack.placement import hosts_cache
from tests.conftest import lab_tenant, make_group
from tests.hosts_lab import Running, lab_host
from tests.workers import FAST_INTENT, kill_worker, real_broker, start_worker, stop_worker, wait_for

pytestmark = [
    pytest.mark.skipif(not cohort_lab.nova_installed(), reason="needs the `lab` extra (pip install -e '.[lab]')"),
    pytest.mark.slow,
]

URL = "/api/openstack-server-groups/"
OPENSTACK_DRIVER = "cohort.cloud.openstack.OpenStackDriver"
HEAL_WITHIN = 60.0


class Mend:
    """A tenant of the world in a project of its own on the hosts lab."""

    def __init__(self, running, world):
        self.running = running
        self.lab = running.lab
        self.tenant, self.access, self.admin_access = lab_tenant(self.lab, world, "mend")
        self.cloud = self.tenant.service_settings
        self.driver = OpenStackDriver(self.tenant.cloud_access())
        self.admin = running.admin

    def group(self, name: str, policy: str, **rules) -> ServerGroup:
        remote = self.driver.create_server_group(name=name, policy=policy, rules=rules)
        return make_group(self.tenant, name, policy=policy, rules=rules, backend_id=remote.id)

    def boot(self, name: str, group: ServerGroup, host: str | None = None):
        admin = self.admin_access if host else None
        return cohort_lab.boot_server(self.access, name, group.backend_id, host=host, admin=admin)

    def pulled(self, group: ServerGroup) -> ServerGroup:
        hosts_cache.clear()  # the hosts as they are now, not as a minute ago
        reconcile.pull_tenant(self.tenant.pk)
        return ServerGroup.objects.get(pk=group.pk)

    def hosts_of(self, group: ServerGroup) -> dict[str, str]:
        """Member name -> the host Nova has it on."""
        members = self.driver.get_server_group(group.backend_id).members
        return {self.admin.get_server(m).name: self.admin.get_server(m).host for m in members}

    def migrations(self, group: ServerGroup) -> list:
        members = self.driver.get_server_group(group.backend_id).members
        return [migration for m in members for migration in self.admin.list_server_migrations(m)]


@pytest.fixture(scope="module")
def mend_lab(tmp_path_factory):
    running = Running(tmp_path_factory.mktemp("mend-lab"))
    yield running
    running.lab.stop()


@pytest.fixture
def mend(mend_lab, world, settings):
    settings.CLOUD_DRIVER = OPENSTACK_DRIVER
    hosts_cache.clear()
    yield Mend(mend_lab, world)
    hosts_cache.clear()


def run_heal(group: ServerGroup, within: float = HEAL_WITHIN) -> ServerGroup:
    """Advance the group as a worker would (its lease is given back between looks at a move)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        group.refresh_from_db()
        if group.state not in (State.UPDATE_SCHEDULED, State.UPDATING):
            return group
        steps.advance(group.pk)
        time.sleep(0.2)
    raise AssertionError(f"the heal of {group.name} did not settle within {within} s")


def heal(api, world, group, **body):
    return api(world.users.staff).post(f"{URL}{group.uuid.hex}/heal/", body, format="json")


def report(api, world, group) -> dict:
    return api(world.users.staff).get(f"{URL}{group.uuid.hex}/placement/").json()


def test_soft_anti_affinity_blocked_on_full_hosts_mended_with_one_move_once_a_host_is_added(world, api, mend):
    hosts = mend.running.enabled_hosts()
    group = mend.group("soft", "soft-anti-affinity")
    for n in range(len(hosts) + 1):
        mend.boot(f"vm-{n}", group)
    group = mend.pulled(group)
    assert group.placement_status == "degraded"
    staff = report(api, world, group)
    assert staff["plan"] == [] and staff["blocked"].startswith(f"{len(hosts)} hosts are enabled")
    assert "enable or add a host" in staff["blocked"]
    assert heal(api, world, group).status_code == 409

    new = f"host{len(mend.admin.list_compute_hosts()) + 1}"
    lab_host(mend.running, "add", new)
    group = mend.pulled(group)
    staff = report(api, world, group)
    assert len(staff["plan"]) == 1 and staff["blocked"] is None
    moving = staff["plan"][0]["server"]
    backend_id = Instance.objects.get(uuid=moving["uuid"]).backend_id

    assert heal(api, world, group).status_code == 202
    group = run_heal(group)
    assert (group.state, group.placement_status) == (State.OK, "satisfied")
    moves = mend.admin.list_server_migrations(backend_id)
    assert [(m.kind, m.status, m.dest_host) for m in moves] == [("live", "completed", new)]
    assert len(mend.migrations(group)) == 1  # exactly one migration in the group
    server = mend.admin.get_server(backend_id)  # same server, same uuid, running on the new host
    assert (server.status, server.host) == ("ACTIVE", new)
    assert Instance.objects.get(uuid=moving["uuid"]).backend_id == backend_id
    last = report(api, world, group)["last_heal"]
    assert (last["moves_done"], last["stopped_because"], last["moves"][0]["to"]) == (1, None, new)


def test_dry_run_then_a_forced_anti_affinity_member_moves_off_the_shared_host(world, api, mend):
    hosts = mend.running.enabled_hosts()
    group = mend.group("forced", "anti-affinity")
    mend.boot("vm-0", group, host=hosts[0])
    mend.boot("vm-1", group, host=hosts[1])
    mend.pulled(group)  # Cohort records them: vm-2, recorded later, is the newest
    mend.boot("vm-2", group, host=hosts[0])  # forced onto an occupied host; others are free
    group = mend.pulled(group)
    assert group.placement_status == "violated"

    events = Event.objects.filter(scope_uuid=group.uuid).count()
    dry = heal(api, world, group, dry_run=True)
    assert dry.status_code == 200 and [m["server"]["name"] for m in dry.json()["plan"]] == ["vm-2"]
    assert mend.migrations(group) == [] and Event.objects.filter(scope_uuid=group.uuid).count() == events

    assert heal(api, world, group).status_code == 202
    group = run_heal(group)
    assert (group.state, group.placement_status) == (State.OK, "satisfied")
    placed = mend.hosts_of(group)
    assert len(set(placed.values())) == 3 and placed["vm-0"] == hosts[0] and placed["vm-1"] == hosts[1]
    assert len(mend.migrations(group)) == 1


def test_max_server_per_host_two_leaves_at_most_two_per_host(world, api, mend):
    hosts = mend.running.enabled_hosts()
    group = mend.group("pairs", "anti-affinity", max_server_per_host=2)
    for n in range(3):
        mend.boot(f"vm-{n}", group, host=hosts[0])
    assert mend.pulled(group).placement_status == "violated"
    assert heal(api, world, group).status_code == 202
    group = run_heal(group)
    placed = list(mend.hosts_of(group).values())
    assert group.placement_status == "satisfied" and max(placed.count(h) for h in placed) <= 2


def test_affinity_brings_the_member_forced_elsewhere_to_the_others(world, api, mend):
    hosts = mend.running.enabled_hosts()
    group = mend.group("together", "affinity")
    mend.boot("vm-0", group)
    mend.boot("vm-1", group)
    home = mend.hosts_of(group)["vm-0"]
    elsewhere = next(h for h in hosts if h != home)
    mend.boot("vm-2", group, host=elsewhere)
    assert mend.pulled(group).placement_status == "violated"
    assert heal(api, world, group).status_code == 202
    group = run_heal(group)
    assert group.placement_status == "satisfied" and set(mend.hosts_of(group).values()) == {home}


def test_a_shutoff_member_is_cold_migrated_confirmed_and_stays_shutoff(world, api, mend):
    hosts = mend.running.enabled_hosts()
    group = mend.group("cold", "anti-affinity")
    mend.boot("vm-0", group, host=hosts[0])
    mend.pulled(group)  # recorded first: vm-1 is the newest, the one to leave
    stopped = mend.boot("vm-1", group, host=hosts[0])
    cohort_lab.stop_server(mend.access, stopped.id)
    assert mend.pulled(group).placement_status == "violated"
    assert heal(api, world, group).status_code == 202
    group = run_heal(group)
    assert group.placement_status == "satisfied"
    server = mend.admin.get_server(stopped.id)
    assert server.status == "SHUTOFF" and server.host != hosts[0]
    assert [(m.kind, m.status) for m in mend.admin.list_server_migrations(stopped.id)] == [("cold", "confirmed")]


def test_nova_refusing_and_no_valid_host_leave_the_group_ok_with_novas_words(world, api, mend, monkeypatch):
    hosts = mend.running.enabled_hosts()
    group = mend.group("refused", "anti-affinity")
    mend.boot("vm-0", group, host=hosts[0])
    mend.boot("vm-1", group, host=hosts[0])
    assert mend.pulled(group).placement_status == "violated"

    # the cloud registered with credentials without the admin role: Nova answers 403 to the move
    mend.cloud.credentials = dict(mend.tenant.credentials)
    mend.cloud.save()
    hosts_cache.clear()
    assert heal(api, world, group).status_code == 202
    group = run_heal(group)
    last = Heal.objects.filter(group=group).latest("started")
    assert group.state == State.OK and last.moves_done == 0
    assert "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live" in last.stopped_because
    assert mend.migrations(group) == []

    # the admin's credentials again; every free host goes away between the plan and the move
    mend.cloud.credentials = {**mend.admin_access.credentials, "project_id": mend.admin_access.project_id}
    mend.cloud.save()
    group = mend.pulled(group)
    assert heal(api, world, group).status_code == 202
    free = [h for h in hosts if h != hosts[0]]
    migrate = OpenStackDriver.live_migrate_server

    def hosts_gone_first(driver, server_id, host=None):
        for name in free:
            lab_host(mend.running, "disable", name)
        return migrate(driver, server_id, host)

    monkeypatch.setattr(OpenStackDriver, "live_migrate_server", hosts_gone_first)
    try:
        group = run_heal(group)
    finally:
        for name in free:
            lab_host(mend.running, "enable", name)
    last = Heal.objects.filter(group=group).latest("started")
    assert group.state == State.OK and "No valid host was found" in last.stopped_because, last.stopped_because
    assert set(mend.hosts_of(group).values()) == {hosts[0]}  # nothing else changed


def test_auto_heal_mends_a_degraded_group_by_itself_only_when_switched_on(
    world, api, mend, django_capture_on_commit_callbacks
):
    hosts = mend.running.enabled_hosts()
    group = mend.group("auto", "soft-anti-affinity")
    for n in range(len(hosts) + 1):
        mend.boot(f"vm-{n}", group)
    assert mend.pulled(group).placement_status == "degraded"
    lab_host(mend.running, "add", f"host{len(mend.admin.list_compute_hosts()) + 1}")

    with django_capture_on_commit_callbacks(execute=True):
        group = mend.pulled(group)  # auto-heal is off: reconciliation moves nothing
    assert group.state == State.OK and not Heal.objects.filter(group=group).exists()

    mend.cloud.auto_heal = True
    mend.cloud.save()
    with django_capture_on_commit_callbacks(execute=True):
        mend.pulled(group)
    group = run_heal(group)
    assert group.placement_status == "satisfied" and Heal.objects.get(group=group).automatic
    assert len(mend.migrations(group)) == 1


@pytest.fixture
def worker_env(tmp_path, transactional_db):
    with real_broker(tmp_path) as env:
        yield {**env, **FAST_INTENT, "COHORT_CLOUD_DRIVER": OPENSTACK_DRIVER, "COHORT_LOG_LEVEL": "INFO"}


def test_a_worker_killed_in_the_middle_of_a_move_moves_no_server_twice(world, api, mend, worker_env):
    hosts = mend.running.enabled_hosts()
    group = mend.group("killed", "anti-affinity")
    for n in range(3):
        mend.boot(f"vm-{n}", group, host=hosts[0])  # two moves to make
    assert mend.pulled(group).placement_status == "violated"
    members = sorted(mend.hosts_of(group))
    worker = start_worker(worker_env, driver=OPENSTACK_DRIVER)
    try:
        assert heal(api, world, group).status_code == 202
        wait_for(lambda: Heal.objects.filter(group=group).exclude(moving="").exists(), "a move in flight", 60)
        kill_worker(worker)
        worker = start_worker(worker_env, driver=OPENSTACK_DRIVER)
        wait_for(lambda: ServerGroup.objects.get(pk=group.pk).state == State.OK, "the heal to settle", 60)
    finally:
        stop_worker(worker)
    group.refresh_from_db()
    assert group.placement_status == "satisfied" and Heal.objects.get(group=group).stopped_because == ""
    assert sorted(mend.hosts_of(group)) == members  # no member lost
    moved = [m.server_id for m in mend.migrations(group)]
    assert len(moved) == len(set(moved)) == 2  # two servers moved, each once
