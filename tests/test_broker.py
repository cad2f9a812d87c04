"""The real asynchronous path: a Celery worker process, a real broker, the same database.

Nothing runs eagerly here. The API queues tasks on commit; a separate `celery worker` process takes
them from the broker (Redis or RabbitMQ when `COHORT_TEST_BROKER_URL` names one, as CI does; else
kombu's filesystem transport, which also crosses processes), runs the cloud work on its own
in-memory Nova and writes the outcome to the test database, which the test then reads.
"""

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from cohort.celery import app as celery_app
from cohort.core.states import State
from cohort.openstack.models import ServerGroup

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def forget_connections() -> None:
    """Drop the app's cached connection pools, which hold the broker URL they were made with."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(scope="module")
def worker(tmp_path_factory, django_db_setup, django_db_blocker):
    """One worker process for the module, and this process sending to the same broker."""
    home = tmp_path_factory.mktemp("worker")
    broker_url = os.environ.get("COHORT_TEST_BROKER_URL") or "filesystem://"
    with django_db_blocker.unblock():
        url = database_url()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cohort.settings",
        "COHORT_HOME": str(home),
        "COHORT_DATABASE_URL": url,
        "COHORT_BROKER_URL": broker_url,
        "COHORT_CLOUD_DRIVER": "cohort.cloud.memory.MemoryDriver",
        "COHORT_TASKS_EAGER": "0",
    }
    broker = home / "broker"  # where the worker's settings put the filesystem transport's folders
    # The app reads Django's CELERY_* settings, so overrides use those names.
    overrides = {
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": False,
        "CELERY_BROKER_TRANSPORT_OPTIONS": {
            "data_folder_in": str(broker / "queue"),
            "data_folder_out": str(broker / "queue"),
            "control_folder": str(broker / "control"),
            "processed_folder": str(broker / "processed"),
        }
        if broker_url.startswith("filesystem")
        else {},
    }
    for folder in ("queue", "control", "processed"):
        (broker / folder).mkdir(parents=True)
    previous = {key: celery_app.conf[key.removeprefix("CELERY_").lower()] for key in overrides}
    celery_app.conf.update(overrides)
    forget_connections()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "cohort",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
    )
    try:
        yield process
    finally:
        celery_app.conf.update(previous)
        forget_connections()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


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
    wait_for(
        lambda: not ServerGroup.objects.exclude(state__in=[State.OK, State.ERRED]).exists(), "all to settle"
    )
    states = dict(ServerGroup.objects.values_list("name", "state"))
    assert list(states.values()).count(State.OK) == 10
    erred = ServerGroup.objects.get(state=State.ERRED)
    assert erred.error_message == "Quota exceeded, too many server groups."
