"""Celery tasks: thin interfaces that take an id and call the step or reconciliation it names.

A message only says "look at this row"; the row's state says what to do (`cohort.openstack.steps`),
so a duplicate, late or lost message is harmless (see `cohort.core.intent`).
"""

from celery import shared_task

from cohort.core.authentication import purge_expired_tokens
from cohort.openstack import reconcile, steps
from cohort.openstack.models import Tenant


@shared_task
def advance_server_group(group_id: int) -> None:
    steps.advance(group_id)


@shared_task
def pull_server_group(group_id: int) -> None:
    reconcile.pull(group_id)


@shared_task
def pull_tenant(tenant_id: int) -> None:
    reconcile.pull_tenant(tenant_id)


@shared_task
def reconcile_all() -> None:
    """The periodic job: pull every tenant and drop expired tokens."""
    for tenant_id in Tenant.objects.exclude(backend_id="").values_list("pk", flat=True):
        pull_tenant.delay(tenant_id)
    purge_expired_tokens()
