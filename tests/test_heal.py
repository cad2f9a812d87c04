"""The heal engine (`cohort.openstack.heal`) on the in-memory Nova: the request and who may make it, the
moves (live for ACTIVE, cold and confirmed for SHUTOFF, to the majority host for affinity), the way it
stops (Nova's refusal, no valid host, a move that does not help, an unreachable cloud), a worker that
dies at any point of a move, the per-cloud bound, and auto-heal with its flapping guard.

Steps run in this process: the request's message runs eagerly when a test lets the on-commit
callbacks fire, and `run_heal` advances the group as the sweep would until it settles. The in-memory
Nova migrates at once; the lab's real scheduler is in tests/test_heal_lab.py.
"""

from __future__ import annotations

import pytest

from cohort.cloud import Forbidden, Unreachable
from cohort.cloud.memory import MemoryDriver
from cohort.core import claims, intent
from cohort.core.states import State
from cohort.events.models import Event
from cohort.metrics.instruments import heal_duration, heal_moves
from cohort.openstack import heal, reconcile, steps
from cohort.openstack.models import Heal, ServerGroup
from cohort.openstack.placement import hosts_cache
from tests.conftest import make_group, memory_project

URL = "/api/openstack-server-groups/"


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def cloud(admin_cloud):
    """The in-memory Nova of the world's tenant, its cloud registered with a cloud admin's credentials."""
    return memory_project(admin_cloud.tenant)


def broken_group(world, cloud, name="web", policy="anti-affinity", hosts=("host1", "host1"), **rules):
    """A group in Nova whose members were forced onto `hosts`, pulled, judged."""
    remote = MemoryDriver(world.tenant.cloud_access()).create_server_group(name=name, policy=policy, rules=rules)
    group = make_group(world.tenant, name, policy=policy, rules=rules, backend_id=remote.id)
    for n, host in enumerate(hosts, 1):
        cloud.boot_server(f"{name}-{n}", remote.id, host=host)
    reconcile.pull_tenant(world.tenant.pk)
    group.refresh_from_db()
    return group


def hosts_of(cloud, group) -> list[str]:
    return sorted(cloud.servers[m].host for m in cloud.groups[group.backend_id].members)


def run_heal(group, limit: int = 40) -> ServerGroup:
    """Advance `group` as the sweep would, until it settles."""
    for _ in range(limit):
        group.refresh_from_db()
        if group.state not in (State.UPDATE_SCHEDULED, State.UPDATING):
            return group
        steps.advance(group.pk)
    raise AssertionError(f"the heal did not settle in {limit} steps")


def ask(api, user, group, capture=None, **body):
    if capture is None:
        return api(user).post(f"{URL}{group.uuid.hex}/heal/", body, format="json")
    with capture(execute=True):
        return api(user).post(f"{URL}{group.uuid.hex}/heal/", body, format="json")


def events_of(group) -> list[str]:
    return list(Event.objects.filter(scope_uuid=group.uuid).order_by("pk").values_list("event_type", flat=True))


def test_a_violated_anti_affinity_group_is_mended_with_one_live_migration(world, api, cloud, capture):
    group = broken_group(world, cloud)
    assert group.placement_status == "violated"
    moved, healed = heal_moves.labels("succeeded")._value.get(), heal_duration.labels("succeeded")._sum.get()
    response = ask(api, world.users.staff, group, capture)
    assert response.status_code == 202, response.content
    assert response.json()["plan"] == [
        {"server": {"uuid": response.json()["plan"][0]["server"]["uuid"], "name": "web-2"}, "from": "host1",
         "reason": "shares host1 with web-1"}
    ]  # fmt: skip
    group = run_heal(group)
    assert (group.state, group.placement_status) == (State.OK, "satisfied")
    assert hosts_of(cloud, group) == ["host1", "host2"]
    assert [m.migration.kind for m in cloud.moves] == ["live"]  # exactly one move
    assert heal_moves.labels("succeeded")._value.get() == moved + 1
    assert heal_duration.labels("succeeded")._sum.get() > healed
    report = api(world.users.staff).get(f"{URL}{group.uuid.hex}/placement/").json()
    last = report["last_heal"]
    assert (last["moves_done"], last["stopped_because"], last["automatic"]) == (1, None, False)
    assert last["finished"] and last["moves"][0]["from"] == "host1" and last["moves"][0]["to"] == "host2"
    assert (report["plan"], report["blocked"]) == ([], None)
    heal_events = [e for e in events_of(group) if "heal" in e]
    assert heal_events == [
        "openstack_server_group_heal_requested",
        "openstack_server_group_heal_move_succeeded",
        "openstack_server_group_heal_succeeded",
    ]
    member_view = api(world.users.member).get(f"{URL}{group.uuid.hex}/placement/").json()["last_heal"]
    assert member_view["moves"][0]["from"] is None  # host names are staff's


def test_dry_run_answers_the_plan_and_changes_nothing(world, api, cloud, capture):
    group = broken_group(world, cloud)
    before = (events_of(group), len(cloud.calls))
    response = ask(api, world.users.staff, group, capture, dry_run=True)
    assert response.status_code == 200
    body = response.json()
    assert body["placement_status"] == "violated" and body["blocked"] is None
    assert [move["server"]["name"] for move in body["plan"]] == ["web-2"]
    group.refresh_from_db()
    assert group.state == State.OK and not Heal.objects.exists() and cloud.moves == []
    assert events_of(group) == before[0]
    assert not any(call.endswith(("migrate_server", "confirm_server_migration")) for call in cloud.calls[before[1] :])


@pytest.mark.parametrize(
    "body, field",
    [({"dry_run": "yes"}, "dry_run"), ({"dry_run": 1}, "dry_run"), ({"dry_run": None}, "dry_run"),
     ({"dryrun": True}, "dryrun")],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(world, api, cloud, body, field):
    group = broken_group(world, cloud)
    response = ask(api, world.users.staff, group, **body)
    assert response.status_code == 400 and field in response.json(), response.content
    assert not Heal.objects.exists()


def test_only_staff_may_heal_others_get_403_or_404(world, api, cloud):
    group = broken_group(world, cloud)
    for user in (world.users.owner, world.users.manager, world.users.admin, world.users.member):
        assert ask(api, user, group).status_code == 403
        assert ask(api, user, group, dry_run=True).status_code == 403
    assert ask(api, world.users.stranger, group).status_code == 404
    assert ask(api, None, group).status_code == 401
    assert not Heal.objects.exists()


def test_409_when_there_is_nothing_to_mend_or_the_plan_is_blocked_or_the_group_is_busy(world, api, cloud):
    fine = broken_group(world, cloud, "fine", hosts=("host1", "host2"))
    response = ask(api, world.users.staff, fine)
    assert response.status_code == 409 and "nothing to mend" in response.json()["detail"]
    crowded = broken_group(world, cloud, "crowded", "soft-anti-affinity", ("host1", "host1", "host2", "host3"))
    response = ask(api, world.users.staff, crowded)
    assert response.status_code == 409 and "blocked" in response.json()["detail"]
    assert "3 hosts are enabled" in response.json()["detail"]
    busy = broken_group(world, cloud, "busy")
    ServerGroup.objects.filter(pk=busy.pk).update(state=State.UPDATING)
    response = ask(api, world.users.staff, busy)
    assert response.status_code == 409 and "only a group in OK" in response.json()["detail"]
    assert not Heal.objects.exists()


def test_a_shutoff_member_is_cold_migrated_confirmed_and_stays_shutoff(world, api, cloud, capture):
    group = broken_group(world, cloud)
    newest = [s for s in cloud.servers.values() if s.name == "web-2"][0]
    cloud.stop_server(newest.id)
    reconcile.pull_tenant(world.tenant.pk)
    assert ask(api, world.users.staff, group, capture).status_code == 202
    group = run_heal(group)
    assert (group.state, group.placement_status) == (State.OK, "satisfied")
    assert [(m.migration.kind, m.migration.status) for m in cloud.moves] == [("cold", "confirmed")]
    assert cloud.servers[newest.id].status == "SHUTOFF" and cloud.servers[newest.id].host != "host1"
    assert Heal.objects.get().moves[0]["kind"] == "cold"


def test_affinity_brings_the_outsider_to_the_majority_host(world, api, cloud, capture):
    group = broken_group(world, cloud, "close", "affinity", ("host2", "host2", "host3"))
    assert group.placement_status == "violated"
    assert ask(api, world.users.staff, group, capture).status_code == 202
    group = run_heal(group)
    assert (group.placement_status, hosts_of(cloud, group)) == ("satisfied", ["host2"] * 3)


def test_max_server_per_host_leaves_at_most_two_per_host(world, api, cloud, capture):
    group = broken_group(world, cloud, "pairs", "anti-affinity", ("host1",) * 3, max_server_per_host=2)
    assert ask(api, world.users.staff, group, capture).status_code == 202
    group = run_heal(group)
    hosts = hosts_of(cloud, group)
    assert group.placement_status == "satisfied" and max(hosts.count(h) for h in set(hosts)) <= 2
    assert len(cloud.moves) == 1


def test_two_moves_one_at_a_time_then_satisfied(world, api, cloud, capture):
    group = broken_group(world, cloud, "three", "anti-affinity", ("host1",) * 3)
    assert ask(api, world.users.staff, group, capture).status_code == 202
    group = run_heal(group)
    assert (group.placement_status, hosts_of(cloud, group)) == ("satisfied", ["host1", "host2", "host3"])
    assert Heal.objects.get().moves_done == 2 and len(cloud.moves) == 2


def test_nova_refusing_the_move_stops_the_heal_with_novas_words(world, api, cloud, capture):
    group = broken_group(world, cloud)
    cloud.failures["live_migrate_server"] = Forbidden(
        "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed."
    )
    assert ask(api, world.users.staff, group, capture).status_code == 202
    group = run_heal(group)
    assert (group.state, group.placement_status) == (State.OK, "violated")
    last = Heal.objects.get()
    assert "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live" in last.stopped_because
    assert last.finished and last.moves_done == 0 and cloud.moves == []
    assert events_of(group)[-1] == "openstack_server_group_heal_stopped"


def test_no_valid_host_at_move_time_stops_the_heal_with_novas_words(world, api, cloud, capture):
    group = broken_group(world, cloud)
    assert ask(api, world.users.staff, group, capture=None).status_code == 202  # not run yet
    for name in ("host2", "host3"):  # the free hosts go away before the worker moves anything
        cloud.compute_hosts[name] = type(cloud.compute_hosts[name])(name, enabled=False, up=True)
    hosts_cache.clear()
    group = run_heal(group)
    last = Heal.objects.get()
    assert group.state == State.OK and last.finished and last.moves_done == 0
    assert "No valid host" in last.stopped_because or "blocked" in last.stopped_because


def test_a_cold_move_that_finds_no_host_stops_with_the_migrations_words(world, api, cloud, capture):
    group = broken_group(world, cloud)
    newest = [s for s in cloud.servers.values() if s.name == "web-2"][0]
    cloud.stop_server(newest.id)
    reconcile.pull_tenant(world.tenant.pk)
    assert ask(api, world.users.staff, group).status_code == 202
    original = cloud.destinations
    cloud.destinations = lambda server, named: []  # the scheduler finds nothing after Nova accepted the move
    try:
        group = run_heal(group)
    finally:
        cloud.destinations = original
    last = Heal.objects.get()
    assert group.state == State.OK and last.moves[0]["outcome"] == "failed"
    assert "No valid host" in last.stopped_because and "web-2" in last.stopped_because


def died_with_a_move_in_flight(group, cloud):
    """The state a worker leaves when it dies just after writing down the move of web-2 (not yet
    marked sent): the lease given up, the group in UPDATING. Returns web-2."""
    lease = intent.claim(ServerGroup.objects, group.pk, states={State.UPDATE_SCHEDULED})
    running = heal.running_heal(group)
    server = [s for s in cloud.servers.values() if s.name == "web-2"][0]
    heal._write(running, lease, moving=server.id, moving_name="web-2", moving_from="host1", moving_kind="live",
                moving_since=running.started, moving_sent=False, remaining=1, verdict="violated")  # fmt: skip
    ServerGroup.objects.filter(pk=group.pk).update(lease_owner="", state=State.UPDATING)
    return server


def test_a_worker_dying_before_nova_heard_of_the_move_sends_it_once(world, api, cloud):
    group = broken_group(world, cloud)
    assert ask(api, world.users.staff, group).status_code == 202
    died_with_a_move_in_flight(group, cloud)  # written, then the worker died before asking Nova
    group = run_heal(group)
    assert group.placement_status == "satisfied" and len(cloud.moves) == 1


def test_a_worker_dying_after_nova_accepted_the_move_never_moves_it_twice(world, api, cloud):
    group = broken_group(world, cloud)
    assert ask(api, world.users.staff, group).status_code == 202
    server = died_with_a_move_in_flight(group, cloud)
    MemoryDriver(world.tenant.admin_access()).live_migrate_server(server.id)  # Nova did it; nobody wrote it down
    group = run_heal(group)
    assert group.placement_status == "satisfied" and len(cloud.moves) == 1
    assert Heal.objects.get().moves_done == 1


def test_an_unreachable_cloud_is_tried_again_then_the_heal_stops_and_the_group_is_ok(world, api, cloud, settings):
    settings.STEP_ATTEMPTS = 2
    group = broken_group(world, cloud)
    assert ask(api, world.users.staff, group).status_code == 202
    for _ in range(3):
        cloud.failures["get_server_group"] = Unreachable("Nova did not answer in time.")
        ServerGroup.objects.filter(pk=group.pk).update(lease_owner="")
        steps.advance(group.pk)
    group.refresh_from_db()
    last = Heal.objects.get()
    assert group.state == State.OK and "did not answer" in last.stopped_because and cloud.moves == []


def test_moves_on_one_cloud_are_bounded(world, api, cloud, settings):
    settings.HEAL_CONCURRENCY = 1
    first = broken_group(world, cloud, "first")
    second = broken_group(world, cloud, "second")
    for group in (first, second):
        assert ask(api, world.users.staff, group).status_code == 202
    moving = Heal.objects.get(group=first)  # in the middle of a move: the cloud's one move slot is its own
    Heal.objects.filter(pk=moving.pk).update(moving="elsewhere", moving_since=moving.started)
    assert claims.take(claims.cloud_slots(world.tenant.service_settings_id, "move", 1)[0], f"heal-{moving.pk}", 60)
    ServerGroup.objects.filter(pk=second.pk).update(lease_owner="")
    steps.advance(second.pk)
    assert not any(m.migration.server_id in cloud.groups[second.backend_id].members for m in cloud.moves)
    assert Heal.objects.get(group=second).moving == ""  # waits its turn


def test_auto_heal_mends_on_reconciliation_only_where_switched_on(world, cloud, capture):
    group = broken_group(world, cloud)
    with capture(execute=True):
        reconcile.pull_tenant(world.tenant.pk)
    assert not Heal.objects.exists()  # off by default
    world.cloud.auto_heal = True
    world.cloud.save()
    with capture(execute=True):
        reconcile.pull_tenant(world.tenant.pk)
    group = run_heal(group)
    assert group.placement_status == "satisfied" and Heal.objects.get().automatic
    assert "reconciliation" in Event.objects.get(event_type="openstack_server_group_heal_requested").message


def test_auto_heal_does_not_flap_a_group_that_broke_again_within_the_hour(world, api, cloud, capture):
    world.cloud.auto_heal = True
    world.cloud.save()
    group = broken_group(world, cloud)
    group = run_heal(group)
    assert group.placement_status == "satisfied" and Heal.objects.count() == 1
    mover = [s for s in cloud.servers.values() if s.name == "web-2"][0]
    mover.host = "host1"  # broken again, behind Cohort's back
    with capture(execute=True):
        reconcile.pull_tenant(world.tenant.pk)
    group.refresh_from_db()
    assert group.placement_status == "violated" and Heal.objects.count() == 1
    report = api(world.users.staff).get(f"{URL}{group.uuid.hex}/placement/").json()
    assert report["last_heal"]["auto_heal_paused_until"] is not None
    assert ask(api, world.users.staff, group, capture).status_code == 202  # a person may still ask


def test_a_blocked_plan_is_counted_for_the_metric(world, cloud):
    broken_group(world, cloud, "crowded", "soft-anti-affinity", ("host1", "host1", "host2", "host3"))
    assert ServerGroup.objects.get(name="crowded").plan_blocked


def test_the_cloud_command_switches_auto_heal(world, capsys):
    from django.core.management import call_command

    call_command("cloud", world.cloud.name, "--auto-heal", "on")
    world.cloud.refresh_from_db()
    assert world.cloud.auto_heal
    call_command("cloud", world.cloud.name, "--auto-heal", "off")
    world.cloud.refresh_from_db()
    assert not world.cloud.auto_heal


def test_the_page_offers_staff_a_mend_button_that_heals(world, cloud, capture):
    from django.test import Client

    group = broken_group(world, cloud)
    member = Client(HTTP_HOST="127.0.0.1")
    member.force_login(world.users.manager)
    assert b"Mend" not in member.get("/ui/").content  # a manager sees the plan, not the button
    assert member.post(f"/ui/groups/{group.uuid}/mend/").status_code == 403
    staff = Client(HTTP_HOST="127.0.0.1")
    staff.force_login(world.users.staff)
    page = staff.get("/ui/").content.decode()
    assert "Mend…" in page and "Move 1 server now" in page
    with capture(execute=True):
        done = staff.post(f"/ui/groups/{group.uuid}/mend/", {"next": "/ui/"})
    assert done.status_code == 302
    group = run_heal(group)
    assert group.placement_status == "satisfied"
    page = staff.get("/ui/").content.decode()
    assert "Mend…" not in page and "mended it with 1 move." in page


@pytest.mark.django_db(transaction=True)
def test_a_heal_writes_each_of_its_changes_in_a_transaction_of_its_own(world, api, cloud):
    """Outside a test's transaction, as a worker runs it: every event is written with its change."""
    group = broken_group(world, cloud)
    assert ask(api, world.users.staff, group).status_code == 202
    group = run_heal(group)
    assert (group.state, group.placement_status, Heal.objects.get().stopped_because) == (State.OK, "satisfied", "")
