"""Races that the database, not Python, must settle: run on SQLite and on PostgreSQL (CI runs both).

Each test fires the same request from several threads at once, each thread with its own database
connection, and checks that exactly one wins and the others get the documented error.
"""

import threading

import pytest
from django.db import connection

from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from tests.conftest import make_group

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 6


def race(request) -> list:
    """Run `request()` in THREADS threads released together; return their responses."""
    barrier = threading.Barrier(THREADS)
    responses = [None] * THREADS

    def run(index: int) -> None:
        try:
            barrier.wait()
            responses[index] = request()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
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
