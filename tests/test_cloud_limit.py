"""The per-cloud limit on real processes: four workers, `COHORT_CLOUD_CONCURRENCY=2`, 40 creates and
then 40 deletes on one lab cloud. The driver (`tests/counting_driver.py`, the OpenStack driver with a
slow create and delete) logs each call's start and end: never more than two run at once, and every
record settles with Nova holding exactly one group per record. With the limit raised to four, the
same run with 12 creates shows more than two at once (so the log can tell).
"""

from __future__ import annotations

import pytest

from cohort.cloud.openstack import OpenStackDriver
from cohort.core.states import SETTLED, State
from cohort.openstack import services
from cohort.openstack.models import ServerGroup
from tests.conftest import lab_tenant
from tests.counting_driver import most_in_flight
from tests.workers import real_broker, start_worker, stop_worker, wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKERS = 4
GROUPS = 40


def run(tmp_path, tenant, limit: int, prefix: str, count: int = GROUPS) -> str:
    """Create `count` groups, then delete them, with WORKERS workers at `limit`; the driver's call log."""
    log = tmp_path / f"calls-{limit}.log"
    log.touch()
    with real_broker(tmp_path) as env:
        env = {**env, "COHORT_CLOUD_CONCURRENCY": str(limit), "COHORT_TEST_CALL_LOG": str(log),
               "COHORT_LOG_LEVEL": "WARNING"}  # fmt: skip
        workers = [start_worker(env, driver="tests.counting_driver.CountingDriver") for _ in range(WORKERS)]
        try:
            groups = [services.server_group_create(tenant=tenant, name=f"{prefix}-{n}") for n in range(count)]
            settled = lambda: not ServerGroup.objects.filter(tenant=tenant).exclude(state__in=SETTLED).exists()  # noqa: E731
            wait_for(settled, "the creates to settle", 120)
            assert ServerGroup.objects.filter(tenant=tenant, state=State.OK).count() == count
            remote = OpenStackDriver(tenant.cloud_access()).list_server_groups()
            ok = set(ServerGroup.objects.filter(tenant=tenant).values_list("backend_id", flat=True))
            assert sorted(g.id for g in remote) == sorted(ok), "Nova holds exactly one group per record"
            for group in ServerGroup.objects.filter(pk__in=[g.pk for g in groups]):
                services.server_group_delete(group=group)
            wait_for(lambda: not ServerGroup.objects.filter(tenant=tenant).exists(), "the deletes", 120)
            assert OpenStackDriver(tenant.cloud_access()).list_server_groups() == []
        finally:
            for worker in workers:
                stop_worker(worker)
    return log.read_text()


def test_at_most_the_limit_of_steps_run_against_one_cloud(lab, world, tmp_path):
    tenant, _, _ = lab_tenant(lab, world, "limit")
    calls = run(tmp_path, tenant, limit=2, prefix="held")
    assert len(calls.splitlines()) == 2 * GROUPS  # one create and one delete each, nothing tried twice
    assert most_in_flight(calls) == 2

    unbounded = run(tmp_path, tenant, limit=WORKERS, prefix="free", count=12)
    assert most_in_flight(unbounded) > 2, "with the limit at four, four workers overlap: the log can tell"
