"""Fair to every cloud: a hung cloud does not stop another cloud's creates (issue 20).

gunicorn and a Celery worker with as many pool processes as `cohort serve` gives it run Cohort on the
test database and broker (as in `tests/test_faults.py`), with two clouds: the lab, and a Keystone that
accepts connections and never answers (`tests/silent_cloud.py`), so that each step against it holds
its worker for the whole `COHORT_CLOUD_TIMEOUT`. More creates are queued to the hung cloud than the
worker has processes; then creates on the lab must all reach OK long before the hung ones could
time out. Without the per-cloud limit (`COHORT_CLOUD_CONCURRENCY` huge) every process waits on the
hung cloud and the lab's creates wait with them: the bound fails. It fails too, now and then, while
the limit is a soft check (a count, then the claim): three processes that take the hung cloud's
first creates within milliseconds of each other all count fewer than the limit and all hang (2 runs
of 9 here); the hard per-cloud claim of issue 20 is what makes it hold every time. `bench/fairness.py`
measures the same, and more, as figures.
"""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest

from cohort.core.authentication import issue_token
from cohort.core.states import State
from cohort.embedded.management.commands.serve import WORKER_CONCURRENCY
from cohort.openstack.models import ServerGroup
from cohort.structure.models import ServiceSettings
from tests.clients.conftest import server_environment
from tests.conftest import lab_tenant, make_tenant
from tests.silent_cloud import Silent
from tests.test_faults import OPENSTACK_DRIVER, Rig, create
from tests.workers import FAST_INTENT, real_broker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HUNG_FOR = 60  # COHORT_CLOUD_TIMEOUT: how long one call to the hung cloud holds a worker
SERVED_WITHIN = 20.0  # the generous bound for the lab's creates, a third of one hung call
HUNG_CREATES = 2 * WORKER_CONCURRENCY  # enough to take every pool process, were there no limit


@pytest.fixture
def rig(lab, tmp_path, transactional_db):
    with real_broker(tmp_path) as broker_env:
        env = {
            **server_environment(tmp_path, broker_env["COHORT_DATABASE_URL"]),
            **FAST_INTENT,
            # A lease that outlives a renewal late by seconds on a loaded machine: a hung step whose lease
            # ran out no longer counts against its cloud's limit, and another process would take its place.
            "COHORT_LEASE": "10",
            "COHORT_BROKER_URL": broker_env["COHORT_BROKER_URL"],
            "COHORT_CLOUD_DRIVER": OPENSTACK_DRIVER,
            "COHORT_CLOUD_TIMEOUT": str(HUNG_FOR),
            "COHORT_LOG_LEVEL": "INFO",
        }
        rig = Rig(tmp_path, env, lab)
        try:
            yield rig
        finally:
            rig.stop()


@pytest.fixture
def silent():
    cloud = Silent()
    yield cloud
    cloud.close()  # the steps waiting on it fail at once, so the worker stops without waiting them out


def test_a_hung_cloud_does_not_stop_another_clouds_creates(rig, silent, lab, world):
    tenant, _, _ = lab_tenant(lab, world, "fair")
    hung_cloud = ServiceSettings.objects.create(
        name="hung",
        auth_url=silent.auth_url,
        credentials={"username": "cohort", "password": "secret", "user_domain_name": "Default"},
    )
    hung_tenant = make_tenant("hung", world.web, hung_cloud, backend_id="0123456789abcdef")
    client = httpx.Client(base_url=rig.url, headers={"Authorization": f"Token {issue_token(world.users.staff)}"})
    rig.start_worker(concurrency=WORKER_CONCURRENCY)
    create(client, tenant, "warm-up")  # the worker is up and has logged in to the lab once
    wait_for(lambda: ServerGroup.objects.filter(name="warm-up", state=State.OK).exists(), "the warm-up create", 60)

    hung = [create(client, hung_tenant, f"hung-{n}") for n in range(HUNG_CREATES)]
    wait_for(
        lambda: ServerGroup.objects.filter(uuid__in=hung, state=State.CREATING).exists(), "a step on the hung cloud"
    )
    time.sleep(2)  # the sweep has dispatched the hung cloud's queued creates again meanwhile

    started = time.monotonic()
    served = [create(client, tenant, f"served-{n}") for n in range(4)]
    with contextlib.suppress(AssertionError):
        wait_for(
            lambda: ServerGroup.objects.filter(uuid__in=served, state=State.OK).count() == len(served),
            "the lab's creates",
            SERVED_WITHIN,
        )
    took = time.monotonic() - started
    states = dict(ServerGroup.objects.filter(uuid__in=served).values_list("name", "state"))
    print(f"the lab's creates: {states} after {took:.1f} s")
    # On failure, how many of the hung cloud's steps held a lease: more than COHORT_CLOUD_CONCURRENCY
    # means the limit let too many through.
    hung_states = list(ServerGroup.objects.filter(uuid__in=hung).values_list("state", "lease_owner", "error_message"))
    assert all(state == State.OK for state in states.values()), (
        f"not all OK within {SERVED_WITHIN} s: {states}; the hung cloud's: {hung_states}"
    )
    waiting = [state for state, _, _ in hung_states if state in (State.CREATION_SCHEDULED, State.CREATING)]
    assert len(waiting) == HUNG_CREATES, f"the hung cloud must have been hung throughout: {hung_states}"
