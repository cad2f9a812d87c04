"""The cloud side of every operation, and the recording of its outcome.

Each function here is what a Celery task runs: it takes an id, reads the row and its state, talks to
the cloud through the driver with no transaction open, and records the result with a conditional
state move. Every function is idempotent: a task delivered twice (a worker died after Nova answered
but before the outcome was saved) finds the state it left and finishes the job, adopting the Nova
group it created instead of creating a second one. A cloud failure leaves the record ERRED with the
cloud's own message; nothing is dropped while its cloud object may still exist.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cohort.cloud import CloudDriver, CloudError, NotFound, RemoteServer, RemoteServerGroup, load_driver
from cohort.core.states import SETTLED, TRANSITIONAL, InvalidState, State, move
from cohort.openstack.models import Instance, ServerGroup, Tenant

logger = logging.getLogger(__name__)


def cloud_for(tenant: Tenant) -> CloudDriver:
    return load_driver(settings.CLOUD_DRIVER)(tenant.cloud_access())


def _load(group_id: int, states: Iterable[State]) -> ServerGroup | None:
    group = ServerGroup.objects.select_related("tenant__service_settings").filter(pk=group_id).first()
    if group is None or group.state not in states:
        logger.info("server group %s: nothing to do (%s)", group_id, group.state if group else "gone")
        return None
    return group


def _fail(group: ServerGroup, message: str, trace: str = "") -> None:
    try:
        move(group, State.ERRED, sources=TRANSITIONAL | SETTLED, error_message=message, error_traceback=trace)
    except InvalidState:  # the record is gone (unlinked); nothing to record on
        pass
    logger.warning("server group %s erred: %s", group.pk, message)


def records_failure(func: Callable[[int], None]) -> Callable[[int], None]:
    """Turn an unexpected exception into an ERRED record instead of a record stuck in transition."""

    @wraps(func)
    def run(group_id: int) -> None:
        try:
            func(group_id)
        except Exception as error:
            logger.exception("server group %s: %s failed", group_id, func.__name__)
            group = ServerGroup.objects.filter(pk=group_id).first()
            if group is not None:
                _fail(group, f"{type(error).__name__}: {error}", traceback.format_exc())

    return run


def _adopt(driver: CloudDriver, group: ServerGroup, policy: str, exclude: str = "") -> RemoteServerGroup | None:
    """After a redelivery, find the Nova group an earlier attempt created (same name and policy,
    not linked to any record), so that retrying never leaves an orphan behind."""
    linked = set(
        ServerGroup.objects.filter(tenant=group.tenant).exclude(backend_id="").values_list("backend_id", flat=True)
    )
    candidates = [
        remote
        for remote in driver.list_server_groups()
        if remote.name == group.name and remote.policy == policy and remote.id not in linked and remote.id != exclude
    ]
    return candidates[0] if len(candidates) == 1 else None


def _record_created(group: ServerGroup, driver: CloudDriver, remote: RemoteServerGroup, source: State) -> None:
    """Link the record to the Nova group just made, and mark it OK; never leave that group orphaned."""
    try:
        move(group, State.OK, sources={source}, backend_id=remote.id, error_message="", error_traceback="")
        return
    except InvalidState:
        pass
    # Someone else moved the record meanwhile. If staff set its state by hand, keep their state but
    # link the group; if the record is gone (unlinked) or another attempt linked its own group, ours
    # has no record and must go.
    if ServerGroup.objects.filter(pk=group.pk, backend_id__in=["", remote.id]).update(backend_id=remote.id):
        return
    logger.warning("server group %s: Nova group %s has no record (unlinked, or made twice); deleting it",
                   group.pk, remote.id)  # fmt: skip
    try:
        driver.delete_server_group(remote.id)
    except CloudError as error:
        logger.error("could not delete orphan Nova group %s: %s", remote.id, error.message)


@records_failure
def provision(group_id: int) -> None:
    group = _load(group_id, {State.CREATION_SCHEDULED, State.CREATING})
    if group is None:
        return
    redelivered = group.state == State.CREATING
    move(group, State.CREATING)
    driver = cloud_for(group.tenant)
    try:
        remote = _adopt(driver, group, group.policy) if redelivered else None
        remote = remote or driver.create_server_group(name=group.name, policy=group.policy, rules=group.rules)
    except CloudError as error:
        _fail(group, error.message)
        return
    _record_created(group, driver, remote, State.CREATING)


@records_failure
def destroy(group_id: int) -> None:
    group = _load(group_id, {State.DELETION_SCHEDULED, State.DELETING})
    if group is None:
        return
    move(group, State.DELETING)
    if group.backend_id:
        try:
            cloud_for(group.tenant).delete_server_group(group.backend_id)
        except NotFound:
            pass  # already gone: that is what we wanted
        except CloudError as error:
            _fail(group, error.message)
            return
    ServerGroup.objects.filter(pk=group.pk, state=State.DELETING).delete()


@records_failure
def replace(group_id: int) -> None:
    """Carry out a policy change: delete the empty Nova group, create one with the new policy."""
    group = _load(group_id, {State.UPDATE_SCHEDULED, State.UPDATING})
    if group is None:
        return
    redelivered = group.state == State.UPDATING
    move(group, State.UPDATING)
    driver = cloud_for(group.tenant)
    old_id = group.backend_id
    try:
        if old_id:
            try:
                remote = driver.get_server_group(old_id)
            except NotFound:
                remote = None
            if remote is not None and remote.policy == group.policy and dict(remote.rules) == group.rules:
                _record_created(group, driver, remote, State.UPDATING)  # already replaced
                return
            if remote is not None and remote.members:
                _fail(group, "The Nova group has members now, so its policy cannot change; pull to see them.")
                return
            if remote is not None:
                driver.delete_server_group(old_id)
            ServerGroup.objects.filter(pk=group.pk).update(backend_id="")
        new = _adopt(driver, group, group.policy, exclude=old_id) if redelivered else None
        new = new or driver.create_server_group(name=group.name, policy=group.policy, rules=group.rules)
    except CloudError as error:
        _fail(group, error.message)
        return
    _record_created(group, driver, new, State.UPDATING)


@records_failure
def pull(group_id: int) -> None:
    group = _load(group_id, SETTLED)
    if group is None or not group.backend_id:
        return
    driver = cloud_for(group.tenant)
    try:
        remote = driver.get_server_group(group.backend_id)
        servers = driver.list_servers()
    except NotFound:
        _fail_if_settled(group, f"Server group {group.backend_id} is gone from OpenStack.")
        return
    except CloudError as error:
        _fail_if_settled(group, error.message)
        return
    with transaction.atomic():
        locked = ServerGroup.objects.select_for_update().filter(pk=group.pk, state__in=SETTLED).first()
        if locked is None:
            return
        _apply(locked, remote)
        _sync_servers(group.tenant, servers, [(remote, locked)])


def _fail_if_settled(group: ServerGroup, message: str) -> None:
    try:
        move(group, State.ERRED, sources=SETTLED, error_message=message, error_traceback="")
    except InvalidState:
        pass


def _apply(record: ServerGroup, remote: RemoteServerGroup) -> None:
    """Take what Nova owns (policy, rules) onto a settled record, and mark it OK. The caller holds
    the row's lock, so the record is still settled."""
    fields = {"policy": remote.policy, "rules": dict(remote.rules), "error_message": "", "error_traceback": ""}
    move(record, State.OK, sources=SETTLED, **fields)


def _sync_servers(
    tenant: Tenant, servers: list[RemoteServer], pairs: list[tuple[RemoteServerGroup, ServerGroup]]
) -> None:
    """Make the tenant's instance records match Nova's servers, and membership match `pairs`.

    Each pair is a Nova group and its record; their membership is taken from Nova. Membership in any
    other group is left as it was. Servers gone from Nova lose their records.
    """
    member_of = {server_id: record.pk for remote, record in pairs for server_id in remote.members}
    authoritative = {record.pk for _, record in pairs}
    existing = {i.backend_id: i for i in Instance.objects.filter(tenant=tenant)}
    now = timezone.now()
    new, changed = [], []
    for server in servers:
        instance = existing.get(server.id)
        current = instance.server_group_id if instance else None
        group_pk = member_of.get(server.id, None if current in authoritative else current)
        values = (server.name, server.host_id, server.status, group_pk)
        if instance is None:
            new.append(
                Instance(
                    tenant=tenant,
                    backend_id=server.id,
                    name=server.name,
                    host_id=server.host_id,
                    status=server.status,
                    server_group_id=group_pk,
                )
            )
        elif (instance.name, instance.host_id, instance.status, current) != values:
            instance.name, instance.host_id, instance.status, instance.server_group_id = values
            instance.modified = now
            changed.append(instance)
    Instance.objects.bulk_create(new)
    Instance.objects.bulk_update(changed, ["name", "host_id", "status", "server_group", "modified"])
    Instance.objects.filter(tenant=tenant).exclude(backend_id__in=[s.id for s in servers]).delete()


def pull_tenant(tenant_id: int) -> None:
    """Reconcile a tenant: import groups Nova has and Cohort lacks, refresh settled ones, drop settled
    records whose group is gone, and leave records in transition alone. One paged listing of groups and
    one of servers, plus a GET to confirm each group that seems gone before its record is dropped."""
    tenant = Tenant.objects.select_related("service_settings").filter(pk=tenant_id, state=State.OK).first()
    if tenant is None or not tenant.backend_id:
        return
    driver = cloud_for(tenant)
    try:
        remotes = driver.list_server_groups()
        servers = driver.list_servers()
        gone = _confirm_gone(driver, tenant, remotes)
    except CloudError as error:
        logger.warning("tenant %s: pull failed: %s", tenant, error.message)
        Tenant.objects.filter(pk=tenant.pk).update(error_message=error.message)
        return
    with transaction.atomic():
        records = list(ServerGroup.objects.select_for_update().filter(tenant=tenant))
        by_backend_id = {r.backend_id: r for r in records if r.backend_id}
        in_flight = {r.name for r in records if r.state in TRANSITIONAL and not r.backend_id}
        names = {r.name for r in records}
        pairs = []
        for remote in remotes:
            record = by_backend_id.get(remote.id)
            if record is None:
                if remote.name in in_flight:
                    continue  # a create in progress made it; that task will link it
                record = _import(tenant, remote, names)
            elif record.state in SETTLED:
                _apply(record, remote)
            else:
                continue
            pairs.append((remote, record))
        stale = [r.pk for r in records if r.state in SETTLED and r.backend_id in gone]
        ServerGroup.objects.filter(pk__in=stale).delete()
        _sync_servers(tenant, servers, pairs)
        Tenant.objects.filter(pk=tenant.pk).update(error_message="")
    logger.info("tenant %s pulled: %d groups in Nova, %d records removed", tenant, len(remotes), len(stale))


def _confirm_gone(driver: CloudDriver, tenant: Tenant, remotes: list[RemoteServerGroup]) -> set[str]:
    """The backend ids of settled groups that Nova's listing lacks and a GET confirms are gone; a group
    the GET finds after all (a listing can miss one deleted-and-shifted across a page boundary) is
    added to `remotes`."""
    listed = {remote.id for remote in remotes}
    linked = (
        ServerGroup.objects.filter(tenant=tenant, state__in=SETTLED)
        .exclude(backend_id="")
        .values_list("backend_id", flat=True)
    )
    gone = set()
    for backend_id in set(linked) - listed:
        try:
            remotes.append(driver.get_server_group(backend_id))
        except NotFound:
            gone.add(backend_id)
    return gone


def _import(tenant: Tenant, remote: RemoteServerGroup, names: set[str]) -> ServerGroup:
    # Nova allows duplicate names and Cohort does not: a clashing import gets the Nova id as a suffix.
    name = remote.name if remote.name not in names else f"{remote.name[:110]} ({remote.id})"[:150]
    names.add(name)
    return ServerGroup.objects.create(
        tenant=tenant,
        name=name,
        policy=remote.policy,
        rules=dict(remote.rules),
        backend_id=remote.id,
        state=State.OK,
    )


@records_failure
def recover_creation(group_id: int) -> None:
    """A create that stayed in CREATING too long (its worker died mid-call): adopt the group if Nova
    made it, else record that it did not."""
    group = _load(group_id, {State.CREATING})
    if group is None:
        return
    driver = cloud_for(group.tenant)
    try:
        remote = _adopt(driver, group, group.policy)
    except CloudError as error:
        _fail(group, error.message)
        return
    if remote is None:
        _fail(group, f"Creation was interrupted and OpenStack has no group {group.name!r}; delete this record.")
        return
    _record_created(group, driver, remote, State.CREATING)


def resolve_stuck() -> int:
    """Resolve every record left in transition longer than `STUCK_AFTER_SECONDS` against the cloud, as
    its dead worker would have: queue its step again (each is idempotent), or, for an interrupted
    create, adopt the Nova group or record that there is none. Returns how many were queued."""
    from cohort.openstack import tasks

    work = {
        State.CREATION_SCHEDULED: tasks.create_server_group,
        State.CREATING: tasks.recover_creation,
        State.UPDATE_SCHEDULED: tasks.replace_server_group,
        State.UPDATING: tasks.replace_server_group,
        State.DELETION_SCHEDULED: tasks.delete_server_group,
        State.DELETING: tasks.delete_server_group,
    }
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.STUCK_AFTER_SECONDS)
    stuck = list(ServerGroup.objects.filter(state__in=TRANSITIONAL, modified__lt=cutoff).values_list("pk", "state"))
    # Touch them, so the next round waits another timeout before queueing them again.
    ServerGroup.objects.filter(pk__in=[pk for pk, _ in stuck]).update(modified=now)
    for pk, state in stuck:
        work[state].delay(pk)
    return len(stuck)
