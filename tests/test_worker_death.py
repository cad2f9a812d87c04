"""A worker dies in the middle of a create: the record must not stay stuck.

A real worker process picks the task up and hangs inside the cloud call; the test kills it with
SIGKILL, starts another worker, and runs the periodic unsticking (`resolve_stuck`) as `cohort beat`
would. The record must settle (ERRED with a message saying the create was interrupted, or OK if the
broker redelivered the task and the retry created the group), never stay in CREATING.
"""

import signal

import pytest

from cohort.core.states import SETTLED, State
from cohort.openstack import backend
from cohort.openstack.models import ServerGroup
from tests.workers import real_broker, start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_create_interrupted_by_a_dead_worker_is_resolved(world, api, tmp_path, settings):
    settings.STUCK_AFTER_SECONDS = 0
    with real_broker(tmp_path) as env:
        doomed = start_worker(env, driver="tests.slow_driver.HangingCreateDriver")
        survivor = None
        try:
            response = api(world.users.manager).post(
                f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/", {"name": "x"}, format="json"
            )
            assert response.status_code == 201
            group = ServerGroup.objects.get(uuid=response.json()["uuid"])
            wait_for(lambda: ServerGroup.objects.get(pk=group.pk).state == State.CREATING, "the worker to start")
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(timeout=10)
            assert ServerGroup.objects.get(pk=group.pk).state == State.CREATING  # stuck, for now

            survivor = start_worker(env)
            assert backend.resolve_stuck() == 1
            settled = wait_for(
                lambda: (g := ServerGroup.objects.get(pk=group.pk)).state in SETTLED and g, "the record to settle"
            )
            if settled.state == State.ERRED:
                assert "interrupted" in settled.error_message
            else:
                assert settled.backend_id  # a redelivered create made it after all
        finally:
            stop_worker(doomed)
            if survivor is not None:
                stop_worker(survivor)
