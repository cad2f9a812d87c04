"""The real asynchronous path: a Celery worker process, a real broker, the same database.

Nothing runs eagerly here. The API queues tasks on commit; a separate `celery worker` process takes
them from the broker (Redis or RabbitMQ when `COHORT_TEST_BROKER_URL` names one, as CI does; else
kombu's filesystem transport, which also crosses processes), runs the cloud work on its own
in-memory Nova and writes the outcome to the test database, which the test then reads.
"""

import pytest

from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from tests.workers import real_broker, start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def worker(tmp_path_factory, django_db_setup, django_db_blocker):
    """One worker process for the module, and this process sending to the same broker."""
    with django_db_blocker.unblock(), real_broker(tmp_path_factory.mktemp("worker")) as env:
        process = start_worker(env)
        try:
            yield process
        finally:
            stop_worker(process)


def test_create_and_delete_through_a_real_worker(world, api, worker):
    client = api(world.users.manager)
    response = client.post(
        f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/",
        {"name": "real", "policy": "anti-affinity"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["state"] == "CREATION_SCHEDULED"
    url = f"/api/openstack-server-groups/{response.json()['uuid']}/"
    body = wait_for(lambda: (b := client.get(url).json())["state"] == "OK" and b, "the group to reach OK")
    assert body["backend_id"] and body["error_message"] == ""

    assert client.delete(url).status_code == 204
    wait_for(lambda: client.get(url).status_code == 404, "the group to be deleted")


def test_a_cloud_refusal_reaches_the_record_through_the_worker(world, api, worker):
    """The worker's in-memory Nova allows ten groups per project, as Nova does by default."""
    client = api(world.users.owner)
    for index in range(11):
        response = client.post(
            "/api/openstack-server-groups/",
            {"name": f"g{index}", "tenant": world.tenant.uuid.hex},
            format="json",
        )
        assert response.status_code == 201
    wait_for(lambda: not ServerGroup.objects.exclude(state__in=[State.OK, State.ERRED]).exists(), "all to settle")
    states = dict(ServerGroup.objects.values_list("name", "state"))
    assert list(states.values()).count(State.OK) == 10
    erred = ServerGroup.objects.get(state=State.ERRED)
    assert erred.error_message == "Quota exceeded, too many server groups."
