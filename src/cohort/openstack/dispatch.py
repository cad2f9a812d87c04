"""Getting pending work started: a message after each commit, and a sweep that covers for lost ones.

A service that leaves a group in a transitional state calls `start_after_commit`: once the
transaction commits, a message asks a worker to advance the group. The message is only the fast
path (see `cohort.core.intent`). `sweep` runs in every worker every `SWEEP_INTERVAL_SECONDS`: it
dispatches again each group whose work is due and not held by a live lease, so a message the broker
lost, a worker killed mid-step, or a broker that was down when the write committed costs seconds. It
passes over a cloud whose every step slot is held (`cohort.core.claims`): the step that frees one
sends that cloud's next due group itself, so a hung cloud's backlog costs no messages.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cohort.core import claims, intent
from cohort.core.states import TRANSITIONAL
from cohort.openstack import tasks
from cohort.openstack.models import ServerGroup, Tenant

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500  # rows dispatched by one sweep at most; the next sweep takes the rest


def start_after_commit(group: ServerGroup) -> None:
    """Ask a worker to advance `group` once the current transaction commits."""
    _send_after_commit(tasks.advance_server_group, group.pk)


def pull_after_commit(group: ServerGroup) -> None:
    _send_after_commit(tasks.pull_server_group, group.pk)


def pull_tenant_after_commit(tenant: Tenant) -> None:
    _send_after_commit(tasks.pull_tenant, tenant.pk)


def pull_quotas_after_commit(tenant: Tenant) -> None:
    _send_after_commit(tasks.pull_tenant_quotas, tenant.pk)


def sweep() -> int:
    """Dispatch every group whose work is due and unheld; returns how many were sent."""
    now = timezone.now()
    full = claims.full_clouds("step", settings.CLOUD_CONCURRENCY)  # their next step is sent as a slot frees
    candidates = list(
        intent.due(ServerGroup.objects, states=TRANSITIONAL, now=now)
        .exclude(tenant__service_settings_id__in=full)
        .order_by("due_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = 0
    won = intent.mark_dispatched(ServerGroup.objects, candidates, now=now)
    for index, pk in enumerate(won):
        try:
            tasks.advance_server_group.delay(pk)
            sent += 1
        except Exception as error:  # the broker is down: what was not sent is due again for the next sweep
            logger.warning("could not dispatch server group %s: %s", pk, error)
            ServerGroup.objects.filter(pk__in=won[index:], lease_owner="", due_at__gt=now).update(due_at=now)
            break
    if sent:
        logger.info("sweep dispatched %d server group(s) again", sent)
    return sent


def _send_after_commit(task, *args) -> None:
    # If the broker is down, the write still stands and the API answers as usual; the sweep
    # dispatches the work once the row is due.
    def send() -> None:
        try:
            task.delay(*args)
        except Exception as error:
            logger.warning("could not send %s%s (the sweep will dispatch it): %s", task.name, args, error)

    transaction.on_commit(send)
