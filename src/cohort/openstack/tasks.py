"""Celery tasks: thin interfaces that take an id and call the step or reconciliation it names.

A message only says "look at this row"; the row's state says what to do (`cohort.openstack.steps`),
so a duplicate, late or lost message is harmless (see `cohort.core.intent`).
"""

import logging
import time
from collections import defaultdict

from celery import shared_task
from django.conf import settings

from cohort.core.authentication import purge_expired_tokens
from cohort.openstack import reconcile, steps
from cohort.openstack.models import Tenant

logger = logging.getLogger(__name__)


@shared_task
def advance_server_group(group_id: int) -> None:
    waiting = steps.advance(group_id)
    if waiting is not None:  # the cloud's group due the longest (a full cloud turned it away): its turn now
        try:
            advance_server_group.delay(waiting)
        except Exception as error:  # the broker is away: the group is due, and the sweep sends it
            logger.warning("could not send server group %s its turn: %s", waiting, error)


@shared_task
def pull_server_group(group_id: int) -> None:
    reconcile.pull(group_id)


@shared_task
def pull_tenant(tenant_id: int) -> None:
    reconcile.pull_tenant(tenant_id)


@shared_task
def pull_tenant_quotas(tenant_id: int) -> None:
    reconcile.pull_quotas(tenant_id)


@shared_task
def pull_cloud_tenants(tenant_ids: list[int]) -> None:
    """Pull one cloud's tenants one after another, so that a hung cloud holds one worker, not all;
    a cloud that does not answer is left alone until the next round. Past half the task's time
    limit, the rest go on in a new task."""
    deadline = time.monotonic() + settings.CELERY_TASK_SOFT_TIME_LIMIT / 2
    for index, tenant_id in enumerate(tenant_ids):
        if time.monotonic() > deadline:
            pull_cloud_tenants.delay(tenant_ids[index:])
            return
        if not reconcile.pull_tenant(tenant_id):
            logger.warning("cloud unreachable: %d tenant(s) left for the next round", len(tenant_ids) - index - 1)
            return


@shared_task
def reconcile_all() -> None:
    """The periodic job: pull every tenant, one task per cloud, and drop expired tokens."""
    by_cloud: dict[int, list[int]] = defaultdict(list)
    for tenant_id, cloud_id in Tenant.objects.exclude(backend_id="").values_list("pk", "service_settings_id"):
        by_cloud[cloud_id].append(tenant_id)
    for tenant_ids in by_cloud.values():
        pull_cloud_tenants.delay(tenant_ids)
    purge_expired_tokens()
