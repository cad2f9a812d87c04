"""Races that the database, not Python, must settle: run on SQLite and on PostgreSQL (CI runs both).

Each test fires the same request from several threads at once, each thread with its own database
connection, and checks that exactly one wins and the others get the documented error.
"""

import threading

import pytest
from django.db import connection

from cohort.core.states import State
from cohort.openstack import steps
from cohort.openstack.clouds import cloud_for
from cohort.openstack.models import ServerGroup, Tenant
from tests.conftest import make_group, memory_project

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 6


def race(request, threads: int = THREADS) -> list:
    """Run `request()` in `threads` threads released together; return their responses."""
    barrier = threading.Barrier(threads)
    responses = [None] * threads

    def run(index: int) -> None:
        try:
            barrier.wait()
            responses[index] = request()
        finally:
            connection.close()

    started = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=60)
    return responses


def test_only_one_of_many_concurrent_creates_with_one_name_wins(world, api, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    clients = [api(world.users.manager) for _ in range(THREADS)]
    counter = iter(range(THREADS))
    url = f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/"
    responses = race(lambda: clients[next(counter)].post(url, {"name": "same"}, format="json"))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [400] * (THREADS - 1), [r.content for r in responses]
    refused = [r.json() for r in responses if r.status_code == 400]
    assert all(body == {"non_field_errors": ["Server group name should be unique."]} for body in refused)
    assert ServerGroup.objects.filter(tenant=world.tenant, name="same").count() == 1


def test_only_one_of_many_concurrent_deletes_is_accepted(world, api):
    group = make_group(world.tenant, "once")
    clients = [api(world.users.owner) for _ in range(THREADS)]
    counter = iter(range(THREADS))
    url = f"/api/openstack-server-groups/{group.uuid.hex}/"
    responses = race(lambda: clients[next(counter)].delete(url))
    statuses = sorted(response.status_code for response in responses)
    # The winner's delete runs at once here (eager tasks), so a loser finds the record either in
    # transition (409) or already gone (404); none is accepted twice.
    assert statuses.count(204) == 1, [r.content for r in responses]
    assert set(statuses) <= {204, 404, 409}
    assert not ServerGroup.objects.filter(pk=group.pk).exclude(state=State.DELETING).exists()


def test_concurrent_creates_cannot_pass_the_group_quota_together(world, api, settings):
    """Sixteen creates into a tenant with room for five: exactly five records and five Nova groups;
    the other eleven are 409 naming the quota. The check and the insert are one transaction under the
    tenant's row lock, so no two creates count the same free slot."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    creates, room = 16, 5
    memory_project(world.tenant).quota = 7
    for n in range(2):
        made = cloud_for(world.tenant).create_server_group(name=f"held-{n}", policy="affinity")
        make_group(world.tenant, f"held-{n}", backend_id=made.id)
    Tenant.objects.filter(pk=world.tenant.pk).update(server_group_quota=7)
    clients = [api(world.users.manager) for _ in range(creates)]
    counter = iter(range(creates))
    url = f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/"

    def create():
        n = next(counter)
        return clients[n].post(url, {"name": f"new-{n}"}, format="json")

    responses = race(create, threads=creates)

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * room + [409] * (creates - room), [r.content for r in responses]
    refused = {r.json()["detail"] for r in responses if r.status_code == 409}
    assert refused == {
        "The tenant's quota server_group_count is used up: limit 7, usage 7. Delete a server group, or ask staff "
        "to raise the quota."
    }
    made = ServerGroup.objects.filter(tenant=world.tenant, name__startswith="new-")
    assert made.count() == room
    for pk in made.exclude(state=State.OK).values_list("pk", flat=True):  # left to the sweep: a cloud's
        steps.advance(pk)  # concurrency limit held them back
    assert set(made.values_list("state", flat=True)) == {State.OK}
    assert len(memory_project(world.tenant).groups) == 2 + room
