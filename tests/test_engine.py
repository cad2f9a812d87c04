"""The asynchronous engine: state machine, cloud outcomes, idempotent retries, reconciliation.

Tasks run eagerly here, when the test lets the transaction's on-commit callbacks fire; the cloud is
the in-memory Nova, inspected behind Cohort's back through `memory_project`.
"""

import pytest

from cohort.cloud import Forbidden, Unreachable
from cohort.core.states import State
from cohort.openstack import reconcile, steps
from cohort.openstack.models import Instance, ServerGroup
from tests.conftest import make_group, memory_project

URL = "/api/openstack-server-groups/"


def create(api, user, tenant, capture, **body):
    with capture(execute=True):
        response = api(user).post(f"/api/openstack-tenants/{tenant.uuid.hex}/create_server_group/", body, format="json")
    assert response.status_code == 201, response.content
    return ServerGroup.objects.filter(uuid=response.json()["uuid"]).first(), response.json()


def test_create_answers_scheduled_and_a_worker_reaches_ok(world, api, django_capture_on_commit_callbacks):
    group, body = create(
        api,
        world.users.manager,
        world.tenant,
        django_capture_on_commit_callbacks,
        name="web",
        policy="anti-affinity",
        rules={"max_server_per_host": 2},
    )
    assert body["state"] == "CREATION_SCHEDULED" and body["backend_id"] == ""
    assert group.state == State.OK
    remote = memory_project(world.tenant).groups[group.backend_id]
    assert (remote.name, remote.policy, remote.rules) == ("web", "anti-affinity", {"max_server_per_host": 2})


def test_cloud_failure_leaves_erred_with_the_clouds_message(world, api, django_capture_on_commit_callbacks):
    memory_project(world.tenant).failures["create_server_group"] = Forbidden("Quota exceeded, too many server groups.")
    group, _ = create(api, world.users.owner, world.tenant, django_capture_on_commit_callbacks, name="x")
    assert group.state == State.ERRED
    assert group.error_message == "Quota exceeded, too many server groups."
    assert group.backend_id == ""


def test_unexpected_worker_error_is_recorded_not_stuck(world, monkeypatch):
    group = make_group(world.tenant, "boom", state=State.CREATION_SCHEDULED)

    def explode(tenant):
        raise RuntimeError("driver misconfigured")

    monkeypatch.setattr(steps, "cloud_for", explode)
    steps.advance(group.pk)
    group.refresh_from_db()
    assert group.state == State.ERRED
    assert "driver misconfigured" in group.error_message
    assert "Traceback" in group.error_traceback


def test_redelivered_create_adopts_the_group_nova_already_made(world):
    """A worker died after Nova created the group but before the outcome was saved."""
    group = make_group(world.tenant, "half", state=State.CREATING)
    cloud = memory_project(world.tenant)
    from cohort.cloud.memory import MemoryDriver

    made = MemoryDriver(world.tenant.cloud_access()).create_server_group(name="half", policy="affinity")
    steps.advance(group.pk)
    group.refresh_from_db()
    assert (group.state, group.backend_id) == (State.OK, made.id)
    assert len(cloud.groups) == 1  # no second group, no orphan


def test_provision_runs_once_even_if_delivered_twice(world):
    group = make_group(world.tenant, "twice", state=State.CREATION_SCHEDULED)
    steps.advance(group.pk)
    steps.advance(group.pk)
    assert len(memory_project(world.tenant).groups) == 1


def test_unlinked_while_creating_leaves_no_orphan(world, monkeypatch):
    group = make_group(world.tenant, "gone", state=State.CREATION_SCHEDULED)
    real = steps.cloud_for

    def unlink_midway(tenant):
        driver = real(tenant)
        create = driver.create_server_group

        def create_then_unlink(**kwargs):
            remote = create(**kwargs)
            ServerGroup.objects.filter(pk=group.pk).delete()
            return remote

        driver.create_server_group = create_then_unlink
        return driver

    monkeypatch.setattr(steps, "cloud_for", unlink_midway)
    steps.advance(group.pk)
    assert memory_project(world.tenant).groups == {}


def test_a_second_attempt_racing_the_first_leaves_no_duplicate_in_nova(world, monkeypatch):
    """A create re-queued while the first attempt is still in Nova's hands: whichever finishes second
    finds the record linked to the other's group and deletes its own."""
    group = make_group(world.tenant, "raced", state=State.CREATING)
    real = steps.cloud_for

    def first_attempt_finishes_meanwhile(tenant):
        driver = real(tenant)
        create = driver.create_server_group

        def create_while_another_links(**kwargs):
            other = create(**kwargs)  # the first attempt's group, linked while we work
            ServerGroup.objects.filter(pk=group.pk).update(state=State.OK, backend_id=other.id)
            return create(**kwargs)

        driver.create_server_group = create_while_another_links
        return driver

    monkeypatch.setattr(steps, "cloud_for", first_attempt_finishes_meanwhile)
    steps.advance(group.pk)
    group.refresh_from_db()
    cloud = memory_project(world.tenant)
    assert list(cloud.groups) == [group.backend_id]  # one group in Nova, the linked one


def test_delete_goes_through_deleting_and_removes_record_and_nova_group(world, api, django_capture_on_commit_callbacks):
    group, _ = create(api, world.users.admin, world.tenant, django_capture_on_commit_callbacks, name="d")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users.admin).delete(f"{URL}{group.uuid.hex}/")
    assert response.status_code == 204
    assert not ServerGroup.objects.filter(pk=group.pk).exists()
    assert memory_project(world.tenant).groups == {}


def test_delete_of_group_gone_from_nova_counts_as_deleted(world):
    group = make_group(world.tenant, "ghost", state=State.DELETION_SCHEDULED, backend_id="not-in-nova")
    steps.advance(group.pk)
    assert not ServerGroup.objects.filter(pk=group.pk).exists()


def test_delete_refused_by_the_cloud_keeps_the_record_erred(world):
    group = make_group(world.tenant, "stays", state=State.DELETION_SCHEDULED, backend_id="x")
    memory_project(world.tenant).failures["delete_server_group"] = Forbidden("Policy doesn't allow it.")
    steps.advance(group.pk)
    group.refresh_from_db()
    assert (group.state, group.error_message) == (State.ERRED, "Policy doesn't allow it.")
    assert (group.due_at, group.lease_owner) == (None, "")


def test_rename_is_local_and_stays_ok(world, api, django_capture_on_commit_callbacks):
    group, _ = create(api, world.users.manager, world.tenant, django_capture_on_commit_callbacks, name="a")
    response = api(world.users.manager).patch(f"{URL}{group.uuid.hex}/", {"name": "b"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "b"
    assert response.json()["state"] == "OK"
    assert memory_project(world.tenant).calls.count("create_server_group") == 1


def test_policy_change_on_empty_group_replaces_the_nova_group(world, api, django_capture_on_commit_callbacks):
    group, _ = create(api, world.users.manager, world.tenant, django_capture_on_commit_callbacks, name="p")
    old = group.backend_id
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users.manager).patch(
            f"{URL}{group.uuid.hex}/", {"policy": "soft-anti-affinity"}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["state"] == "UPDATE_SCHEDULED"
    group.refresh_from_db()
    assert group.state == State.OK and group.backend_id != old
    cloud = memory_project(world.tenant)
    assert list(cloud.groups) == [group.backend_id]
    assert cloud.groups[group.backend_id].policy == "soft-anti-affinity"


def test_policy_change_on_group_with_members_is_refused(world, api):
    group = make_group(world.tenant, "busy")
    Instance.objects.create(tenant=world.tenant, backend_id="srv-1", name="vm1", server_group=group)
    response = api(world.users.manager).put(
        f"{URL}{group.uuid.hex}/", {"name": "busy", "policy": "anti-affinity"}, format="json"
    )
    assert response.status_code == 409
    assert "members" in response.json()["detail"]
    group.refresh_from_db()
    assert (group.state, group.policy) == (State.OK, "affinity")


def test_pull_refreshes_members_and_policy(world, api, django_capture_on_commit_callbacks):
    group, _ = create(
        api,
        world.users.manager,
        world.tenant,
        django_capture_on_commit_callbacks,
        name="m",
        policy="anti-affinity",
    )
    cloud = memory_project(world.tenant)
    first = cloud.boot_server("vm-1", group.backend_id)
    second = cloud.boot_server("vm-2", group.backend_id)
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users.manager).post(f"{URL}{group.uuid.hex}/pull/")
    assert response.status_code == 202 and "detail" in response.json()
    body = api(world.users.manager).get(f"{URL}{group.uuid.hex}/").json()
    assert [(i["backend_id"], i["name"]) for i in body["instances"]] == [
        (first.id, "vm-1"),
        (second.id, "vm-2"),
    ]
    hosts = set(Instance.objects.filter(server_group=group).values_list("host_id", flat=True))
    assert len(hosts) == 2  # anti-affinity: two hosts


def test_pull_of_group_gone_from_nova_marks_it_erred(world):
    group = make_group(world.tenant, "vanished", backend_id="missing")
    reconcile.pull(group.pk)
    group.refresh_from_db()
    assert group.state == State.ERRED
    assert "gone" in group.error_message


def test_tenant_pull_imports_updates_removes_and_skips_transitional(world, api, django_capture_on_commit_callbacks):
    from cohort.cloud.memory import MemoryDriver

    driver = MemoryDriver(world.tenant.cloud_access())
    outside = driver.create_server_group(name="made-outside", policy="soft-affinity")
    recovering = driver.create_server_group(name="recovering", policy="affinity")
    member = memory_project(world.tenant).boot_server("outside-vm", outside.id)
    erred = make_group(world.tenant, "recovering", state=State.ERRED, backend_id=recovering.id, error_message="x")
    stale = make_group(world.tenant, "stale", backend_id="deleted-behind-our-back")
    busy = make_group(world.tenant, "busy", state=State.DELETING, backend_id="also-gone")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.users.owner).post(f"/api/openstack-tenants/{world.tenant.uuid.hex}/pull_server_groups/")
    assert response.status_code == 202 and "status" in response.json()
    imported = ServerGroup.objects.get(backend_id=outside.id)
    assert (imported.name, imported.policy, imported.state) == ("made-outside", "soft-affinity", State.OK)
    assert list(imported.instances.values_list("backend_id", flat=True)) == [member.id]
    erred.refresh_from_db()
    assert (erred.state, erred.error_message) == (State.OK, "")
    assert not ServerGroup.objects.filter(pk=stale.pk).exists()
    assert ServerGroup.objects.filter(pk=busy.pk, state=State.DELETING).exists()
    calls = memory_project(world.tenant).calls
    assert calls.count("list_server_groups") == 1 and calls.count("list_servers") == 1
    assert calls.count("get_server_group") == 1  # only to confirm that the stale group is gone


def test_tenant_pull_imports_a_duplicate_nova_name_without_breaking_uniqueness(world):
    from cohort.cloud.memory import MemoryDriver

    driver = MemoryDriver(world.tenant.cloud_access())
    driver.create_server_group(name="twin", policy="affinity")
    driver.create_server_group(name="twin", policy="affinity")
    reconcile.pull_tenant(world.tenant.pk)
    names = sorted(ServerGroup.objects.filter(tenant=world.tenant).values_list("name", flat=True))
    assert len(names) == 2 and names[0] == "twin" and names[1].startswith("twin (")


@pytest.mark.parametrize("target", ["set_ok", "set_erred"])
def test_staff_can_unstick_any_state(world, api, target):
    group = make_group(world.tenant, "s", state=State.DELETING, error_message="old")
    body = {"error_message": "manual", "error_traceback": "tb"} if target == "set_erred" else {}
    response = api(world.users.staff).post(f"{URL}{group.uuid.hex}/{target}/", body, format="json")
    assert response.status_code == 200 and "detail" in response.json()
    group.refresh_from_db()
    expected = (State.OK, "", "") if target == "set_ok" else (State.ERRED, "manual", "tb")
    assert (group.state, group.error_message, group.error_traceback) == expected


def test_unlink_removes_record_but_not_the_cloud_group(world, api, django_capture_on_commit_callbacks):
    group, _ = create(api, world.users.manager, world.tenant, django_capture_on_commit_callbacks, name="u")
    response = api(world.users.staff).post(f"{URL}{group.uuid.hex}/unlink/")
    assert response.status_code == 204
    assert not ServerGroup.objects.filter(pk=group.pk).exists()
    assert group.backend_id in memory_project(world.tenant).groups


def test_the_periodic_job_pulls_each_cloud_in_one_task_and_spares_an_unreachable_one(world, monkeypatch):
    from cohort.openstack import tasks
    from cohort.structure.models import ServiceSettings
    from tests.conftest import make_tenant

    down = ServiceSettings.objects.create(name="down", auth_url="memory://down", auth_type="admin_token")
    first, second = make_tenant("d1", world.web, down), make_tenant("d2", world.web, down)
    pulled = []
    real = reconcile.pull_tenant

    def pull(tenant_id):
        pulled.append(tenant_id)
        if tenant_id == first.pk:
            memory_project(first).failures["list_server_groups"] = Unreachable("The cloud did not answer")
        return real(tenant_id)

    monkeypatch.setattr(reconcile, "pull_tenant", pull)
    tasks.reconcile_all()
    assert first.pk in pulled and second.pk not in pulled  # the cloud did not answer: spared this round
    assert {world.tenant.pk, world.other_tenant.pk} <= set(pulled)  # the other cloud's tenants, all


@pytest.mark.django_db(transaction=True)
def test_the_answer_shows_the_group_as_written_however_fast_the_worker(world, api):
    """Tasks run eagerly here, at the commit itself: the fastest worker there can be. The 201 and the
    200 of a policy change must still show the scheduled state, as the contract says."""
    client = api(world.users.manager)
    response = client.post(
        f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/", {"name": "fast"}, format="json"
    )
    assert response.status_code == 201 and response.json()["state"] == "CREATION_SCHEDULED"
    group = ServerGroup.objects.get(uuid=response.json()["uuid"])
    assert group.state == State.OK  # the worker ran at the commit
    response = client.post(URL, {"name": "fast2", "tenant": world.tenant.uuid.hex}, format="json")
    assert response.status_code == 201 and response.json()["state"] == "CREATION_SCHEDULED"
    response = client.patch(f"{URL}{group.uuid.hex}/", {"policy": "anti-affinity"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "UPDATE_SCHEDULED"
