"""The cloud steps of a server group's lifecycle: create, replace (a policy change) and delete; while a
heal runs (`cohort.openstack.heal`), the group's update is the heal's next step instead.

`advance(group_id)` is what a worker runs for a group in a transitional state. It claims the row's
lease (`cohort.core.intent`), runs the step the state calls for, and records the outcome with a state
move guarded by that lease, so a worker that lost its lease (it hung past it and another took over)
can never overwrite the other's result. Every step is idempotent and adopts what Nova already made:
running it again after a lost message, a dead worker or a timeout leaves neither a duplicate nor an
orphan. A cloud's refusal leaves the record ERRED with the cloud's own message; a transient failure
(no answer, a timeout, a 5xx) is tried again with backoff, `STEP_ATTEMPTS` times in all, and then
left ERRED with the last message.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cohort.cloud import CloudDriver, CloudError, Forbidden, NotFound, RemoteServerGroup, Unreachable
from cohort.core import claims, intent
from cohort.core.states import SETTLED, TRANSITIONAL, InvalidState, State, move
from cohort.events.services import event_record, events_batched
from cohort.events.types import EventType
from cohort.openstack import heal
from cohort.openstack.clouds import cloud_for
from cohort.openstack.models import ServerGroup
from cohort.openstack.quotas import refresh_quotas_quietly

logger = logging.getLogger(__name__)


def advance(group_id: int) -> int | None:
    """Run the pending step of group `group_id`, unless another worker holds it, it has none, or its
    cloud already runs `CLOUD_CONCURRENCY` steps (then it is due, and the step that frees a slot sends
    it again). Returns, after a step ran, the cloud's group whose work is due the longest, to be
    advanced next; else None."""
    # The row's lease and a slot of its cloud's, taken in one transaction (one commit, and never a slot
    # held without the lease), held with one token and renewed together: a worker that dies frees both
    # when the lease runs out. The row is read with its cloud (which names the slots) and the tenant's
    # project and customer (which the step's events name). Every step takes the row before the slot,
    # so two workers never wait on each other's lock the other way round.
    owner = intent.new_owner()
    rows = ServerGroup.objects.select_related("tenant__service_settings", "tenant__project__customer")
    with transaction.atomic():
        claimed = intent.claim_row(rows, group_id, states=TRANSITIONAL, owner=owner, key="steps.advance")
        if claimed is None or claimed[1] is None:  # held by another worker, settled, or gone
            return None
        lease, group = claimed
        cloud_id = group.tenant.service_settings_id
        slots = claims.cloud_slots(cloud_id, "step", settings.CLOUD_CONCURRENCY)
        slot = claims.take_one_of(slots, owner, settings.LEASE_SECONDS)
        if slot is None:
            transaction.set_rollback(True)  # the lease is not taken either
    if slot is None:  # due now, for the step that frees a slot (the sweep passes over a full cloud)
        ServerGroup.objects.filter(pk=group_id, attempts=0, due_at__gt=timezone.now()).update(due_at=timezone.now())
        logger.info("server group %s: its cloud already runs %d steps; it waits for one of them",
                    group_id, settings.CLOUD_CONCURRENCY)  # fmt: skip
        return None
    try:
        with intent.renewed(lease, claims=[slot]):
            _run_step(group, lease)
    finally:
        claims.release([slot], owner)
    return next_waiting(cloud_id)


def next_waiting(cloud_id: int) -> int | None:
    """The group of cloud `cloud_id` whose work is due the longest (a full cloud turned it away, its
    message was lost, its worker died), as the sweep would find it; None when none is due."""
    due = intent.due(ServerGroup.objects, states=TRANSITIONAL).filter(tenant__service_settings_id=cloud_id)
    return due.order_by("due_at").values_list("pk", flat=True).first()


def _run_step(group: ServerGroup, lease: intent.Lease) -> None:
    group_id = group.pk
    if group.state in (State.UPDATE_SCHEDULED, State.UPDATING):  # a heal is the group's update while it runs
        running = heal.running_heal(group)
        if running is not None:
            heal.advance_heal(group, running, lease)
            return
    step = STEPS[State(group.state)]
    if group.state in INTERRUPTED:
        _record_resumed(group, lease)
    logger.info("server group %s: %s (%s, attempt %d)", group_id, step.__name__, group.state, lease.attempt)
    try:
        step(group, lease)
    except (Unreachable, SoftTimeLimitExceeded) as error:
        message = error.message if isinstance(error, CloudError) else "The cloud did not answer in time."
        if step is not delete:  # the create may reach Nova yet, after a retry made another
            _open_stray_window(group_id)
        if lease.attempt < settings.STEP_ATTEMPTS:
            delay = intent.backoff(lease.attempt)
            logger.warning("server group %s: %s failed (%s); attempt %d of %d again in %.0f s", group_id,
                           step.__name__, message, lease.attempt, settings.STEP_ATTEMPTS, delay)  # fmt: skip
            lease.release(retry_in=delay)
        else:
            _fail(group, lease, message)
    except CloudError as error:
        _fail(group, lease, error.message)
    except Exception as error:
        logger.exception("server group %s: %s failed", group_id, step.__name__)
        _fail(group, lease, f"{type(error).__name__}: {error}", traceback.format_exc())


def create(group: ServerGroup, lease: intent.Lease) -> None:
    # In CREATING, an earlier attempt may have reached Nova before it died or timed out.
    earlier_attempt = group.state == State.CREATING
    move(group, State.CREATING, guard=lease.guard)
    driver = cloud_for(group.tenant)
    remote = adopt(driver, group) if earlier_attempt else None
    try:
        remote = remote or driver.create_server_group(name=group.name, policy=group.policy, rules=group.rules)
    except Forbidden:  # over quota, by Nova's count (changed behind Cohort's back): learn the limit
        refresh_quotas_quietly(group.tenant, driver)
        raise
    _record_created(group, driver, remote, State.CREATING, lease)


def replace(group: ServerGroup, lease: intent.Lease) -> None:
    """Carry out a policy change: delete the empty Nova group, create one with the new policy."""
    earlier_attempt = group.state == State.UPDATING
    move(group, State.UPDATING, guard=lease.guard)
    driver = cloud_for(group.tenant)
    old_id = group.backend_id
    if old_id:
        try:
            remote = driver.get_server_group(old_id)
        except NotFound:
            remote = None
        if remote is not None and remote.policy == group.policy and dict(remote.rules) == group.rules:
            _record_created(group, driver, remote, State.UPDATING, lease)  # already replaced
            return
        if remote is not None and remote.members:
            _fail(group, lease, "The Nova group has members now, so its policy cannot change; pull to see them.")
            return
        if remote is not None:
            driver.delete_server_group(old_id)
        ServerGroup.objects.filter(pk=group.pk, **lease.guard).update(backend_id="")
    new = adopt(driver, group, exclude=old_id) if earlier_attempt else None
    new = new or driver.create_server_group(name=group.name, policy=group.policy, rules=group.rules)
    _record_created(group, driver, new, State.UPDATING, lease)


def delete(group: ServerGroup, lease: intent.Lease) -> None:
    move(group, State.DELETING, guard=lease.guard)
    if group.backend_id:
        try:
            cloud_for(group.tenant).delete_server_group(group.backend_id)
        except NotFound:
            pass  # already gone: that is what was asked for
    with transaction.atomic():
        deleted, _ = ServerGroup.objects.filter(pk=group.pk, state=State.DELETING, **lease.guard).delete()
        if deleted:
            event_record(
                event_type=EventType.OPENSTACK_SERVER_GROUP_DELETED,
                message=f"Server group {group.name} has been deleted from OpenStack.",
                scope=group,
                context={"backend_id": group.backend_id},
            )
            event_record(
                event_type=EventType.RESOURCE_DELETION_SUCCEEDED,
                message=f"Server group {group.name} has been deleted.",
                scope=group,
            )


STEPS: dict[State, Callable[[ServerGroup, intent.Lease], None]] = {
    State.CREATION_SCHEDULED: create,
    State.CREATING: create,
    State.UPDATE_SCHEDULED: replace,
    State.UPDATING: replace,
    State.DELETION_SCHEDULED: delete,
    State.DELETING: delete,
}


def adopt(driver: CloudDriver, group: ServerGroup, exclude: str = "") -> RemoteServerGroup | None:
    """The Nova group an earlier attempt made: one with the record's name and policy that no record
    links to, or None. If several attempts timed out and each reached Nova, the others are strays that
    reconciliation deletes (see `ServerGroup.strays_until`)."""
    linked = set(
        ServerGroup.objects.filter(tenant=group.tenant).exclude(backend_id="").values_list("backend_id", flat=True)
    )
    candidates = [
        remote
        for remote in driver.list_server_groups()
        if remote.name == group.name and remote.policy == group.policy and remote.id not in linked | {exclude}
    ]
    return candidates[0] if candidates else None


def _record_created(
    group: ServerGroup, driver: CloudDriver, remote: RemoteServerGroup, source: State, lease: intent.Lease
) -> None:
    """Link the record to the Nova group just made and mark it OK; never leave that group orphaned."""
    old_backend_id = group.backend_id
    try:
        with transaction.atomic(), events_batched():  # the OK and its two events: two statements
            move(group, State.OK, sources={source}, guard=lease.guard, backend_id=remote.id, error_message="",
                 error_traceback="", **intent.settled())  # fmt: skip
            _record_made(group, remote, source, old_backend_id)
        return
    except InvalidState:
        pass
    # Our lease is gone: staff settled the record by hand, unlinked it, or another worker took the
    # step over after our lease ran out.
    current = ServerGroup.objects.filter(pk=group.pk).values_list("state", "backend_id").first()
    if current is not None and current[0] not in SETTLED:
        # The other worker may be adopting our group this very moment, or making its own: ours is left
        # to reconciliation, which deletes it if it is still unlinked (see `ServerGroup.strays_until`).
        _open_stray_window(group.pk)
        logger.warning("server group %s: lost its lease while making Nova group %s", group.pk, remote.id)
        return
    if current is not None and current[1] in ("", remote.id):
        ServerGroup.objects.filter(pk=group.pk, backend_id=current[1]).update(backend_id=remote.id)
        return  # settled by hand without a group: ours is its group
    logger.warning("server group %s: Nova group %s has no record (unlinked, or made twice); deleting it",
                   group.pk, remote.id)  # fmt: skip
    try:
        driver.delete_server_group(remote.id)
    except CloudError as error:
        logger.error("could not delete orphan Nova group %s: %s", remote.id, error.message)


def _record_made(group: ServerGroup, remote: RemoteServerGroup, source: State, old_backend_id: str) -> None:
    event_record(
        event_type=EventType.OPENSTACK_SERVER_GROUP_CREATED,
        message=f"Server group {group.name} has been created in OpenStack.",
        scope=group,
        context={"backend_id": remote.id},
    )
    if source == State.CREATING:
        event_record(
            event_type=EventType.RESOURCE_CREATION_SUCCEEDED,
            message=f"Server group {group.name} has been created.",
            scope=group,
        )
    else:
        event_record(
            event_type=EventType.RESOURCE_UPDATE_SUCCEEDED,
            message=f"Server group {group.name} policy has been replaced.",
            scope=group,
            changes={"policy": group.policy, "rules": group.rules, "backend_id": [old_backend_id, remote.id]},
        )


# A step found in one of these states was started before, by a worker that died, hung past its lease
# or gave up on a transient failure: the new claim resumes it.
INTERRUPTED = {State.CREATING, State.UPDATING, State.DELETING}
FAILED = {
    State.CREATION_SCHEDULED: EventType.RESOURCE_CREATION_FAILED,
    State.CREATING: EventType.RESOURCE_CREATION_FAILED,
    State.UPDATE_SCHEDULED: EventType.RESOURCE_UPDATE_FAILED,
    State.UPDATING: EventType.RESOURCE_UPDATE_FAILED,
    State.DELETION_SCHEDULED: EventType.RESOURCE_DELETION_FAILED,
    State.DELETING: EventType.RESOURCE_DELETION_FAILED,
}


def _record_resumed(group: ServerGroup, lease: intent.Lease) -> None:
    with transaction.atomic():
        event_record(
            event_type=EventType.OPENSTACK_SERVER_GROUP_RECOVERED,
            message=f"Server group {group.name} was left in {group.state} by an earlier attempt; "
            f"resuming it (attempt {lease.attempt}).",
            scope=group,
            context={"state": group.state, "attempt": lease.attempt},
        )


def _open_stray_window(group_id: int) -> None:
    strays_until = timezone.now() + timedelta(seconds=settings.STRAY_WINDOW_SECONDS)
    ServerGroup.objects.filter(pk=group_id).update(strays_until=strays_until)


def _fail(group: ServerGroup, lease: intent.Lease, message: str, trace: str = "") -> None:
    failed = FAILED.get(State(group.state), EventType.RESOURCE_CREATION_FAILED)
    try:
        with transaction.atomic():
            move(group, State.ERRED, sources=TRANSITIONAL, guard=lease.guard, error_message=message,
                 error_traceback=trace, **intent.settled())  # fmt: skip
            event_record(
                event_type=failed,
                message=f"Server group {group.name} {_STEP_NAMES[failed]} has failed: {message}",
                scope=group,
                context={"error_message": message},
            )
    except InvalidState:  # gone, settled by staff, or taken over by another worker
        return
    logger.warning("server group %s erred: %s", group.pk, message)


_STEP_NAMES = {
    EventType.RESOURCE_CREATION_FAILED: "creation",
    EventType.RESOURCE_UPDATE_FAILED: "policy replacement",
    EventType.RESOURCE_DELETION_FAILED: "deletion",
}
