"""Celery tasks: thin interfaces that take an id and call `cohort.openstack.backend`.

Tasks are acknowledged late, so one whose worker dies is delivered again; the backend functions are
idempotent, which makes that safe.
"""

from celery import shared_task

from cohort.core.authentication import purge_expired_tokens
from cohort.openstack import backend
from cohort.openstack.models import Tenant


@shared_task(acks_late=True)
def create_server_group(group_id: int) -> None:
    backend.provision(group_id)


@shared_task(acks_late=True)
def delete_server_group(group_id: int) -> None:
    backend.destroy(group_id)


@shared_task(acks_late=True)
def replace_server_group(group_id: int) -> None:
    backend.replace(group_id)


@shared_task(acks_late=True)
def recover_creation(group_id: int) -> None:
    backend.recover_creation(group_id)


@shared_task(acks_late=True)
def pull_server_group(group_id: int) -> None:
    backend.pull(group_id)


@shared_task(acks_late=True)
def pull_tenant(tenant_id: int) -> None:
    backend.pull_tenant(tenant_id)


@shared_task
def reconcile_all() -> None:
    """The periodic job: pull every tenant, unstick stuck records, drop expired tokens."""
    for tenant_id in Tenant.objects.exclude(backend_id="").values_list("pk", flat=True):
        pull_tenant.delay(tenant_id)
    backend.resolve_stuck()
    purge_expired_tokens()
