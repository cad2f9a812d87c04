"""A step stuck in a cloud call that never returns is cut off by the task's time limit.

No HTTP timeout helps a call that never returns (a driver bug, a library deadlock): the worker pool's
time limit must, which is why workers run Celery's prefork pool and never `solo`. Its own module, so
that no other test's worker shares the broker.
"""

import pytest

from cohort.core.states import State
from cohort.openstack.models import ServerGroup
from tests.workers import real_broker, start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True)]


def test_a_step_stuck_in_a_cloud_call_is_cut_off_by_the_task_time_limit(world, api, tmp_path):
    with real_broker(tmp_path / "limited") as env:
        env = {**env, "COHORT_TASK_TIME_LIMIT": "32", "COHORT_STEP_ATTEMPTS": "1"}  # soft limit: 2 s
        process = start_worker(env, driver="tests.hanging_driver.HangingCreateDriver")
        try:
            response = api(world.users.manager).post(
                f"/api/openstack-tenants/{world.tenant.uuid.hex}/create_server_group/", {"name": "x"}, format="json"
            )
            group = ServerGroup.objects.get(uuid=response.json()["uuid"])
            settled = wait_for(
                lambda: (g := ServerGroup.objects.get(pk=group.pk)).state == State.ERRED and g, "the limit", 30
            )
            assert settled.error_message == "The cloud did not answer in time."
        finally:
            stop_worker(process)
