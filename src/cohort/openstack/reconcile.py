"""Reconciliation: making Cohort's records match what Nova has.

`pull` refreshes one settled group (policy, rules, members, and its placement verdict) from Nova;
`pull_tenant` reconciles a whole tenant with one paged listing of its groups and one of its servers
(their status, host ids and faults, from which every group's placement verdict is judged again,
`cohort.openstack.placement`): it imports groups Nova has and Cohort lacks, refreshes settled records,
drops settled records whose group is confirmed gone, and leaves records in transition alone (their own
step owns them). A group that a create made after the record had already gone ERRED (the cloud answered
too late) is linked to that record, never imported as a second one. Nothing here runs a lifecycle step;
that is `cohort.openstack.steps`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from functools import wraps

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cohort.cloud import (
    CloudDriver,
    CloudError,
    NotFound,
    RemoteServer,
    RemoteServerGroup,
    ServerGroupQuotas,
    Unreachable,
)
from cohort.core import intent
from cohort.core.batches import BATCH, chunks
from cohort.core.states import SETTLED, TRANSITIONAL, InvalidState, State, move
from cohort.events.services import event_record, events_batched
from cohort.events.types import EventType
from cohort.openstack.clouds import cloud_for
from cohort.openstack.heal import heal_broken_groups
from cohort.openstack.models import Instance, ServerGroup, Tenant
from cohort.openstack.placement import refresh_placement
from cohort.openstack.quotas import record_quotas

logger = logging.getLogger(__name__)


def records_failure(func: Callable[[int], None]) -> Callable[[int], None]:
    """Turn an unexpected exception into an ERRED record, with the traceback for staff."""

    @wraps(func)
    def run(group_id: int) -> None:
        try:
            func(group_id)
        except Exception as error:
            logger.exception("server group %s: %s failed", group_id, func.__name__)
            _fail_if_settled(ServerGroup(pk=group_id), f"{type(error).__name__}: {error}", traceback.format_exc())

    return run


@records_failure
def pull(group_id: int) -> None:
    group = (
        ServerGroup.objects.select_related("tenant__service_settings", "tenant__project__customer")
        .filter(pk=group_id)
        .first()
    )
    if group is None or group.state not in SETTLED or not group.backend_id:
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
        locked.tenant = group.tenant  # already read, with what an event names
        _apply(locked, remote)
        _sync_servers(group.tenant, servers, [(remote, locked)])
        # Only this group's verdict: the others' rows are not locked here, and a tenant pull locking
        # them meanwhile would deadlock with us; the next tenant pull judges them.
        refresh_placement([locked])


def _fail_if_settled(group: ServerGroup, message: str, trace: str = "") -> None:
    try:
        with transaction.atomic():
            before = group.state if group.tenant_id else None  # a bare ServerGroup(pk=...) was never read
            move(group, State.ERRED, sources=SETTLED, error_message=message, error_traceback=trace)
            group = ServerGroup.objects.select_related("tenant__project__customer").get(pk=group.pk)
            event_record(
                event_type=EventType.OPENSTACK_SERVER_GROUP_ERRED,
                message=f"Server group {group.name} has been found broken by a pull: {message}",
                scope=group,
                changes={"state": [before, State.ERRED.value]} if before else None,
                context={"error_message": message},
            )
    except InvalidState:
        pass


PULLED_FIELDS = ("state", "policy", "rules", "backend_id")
SERVER_COLUMNS = ("name", "host_id", "status", "fault_message", "server_group_id")  # what a pull takes from Nova


def _apply(record: ServerGroup, remote: RemoteServerGroup) -> None:
    """Take what Nova owns (policy, rules) onto a settled record, and mark it OK, recording what the
    pull changed. The caller holds the row's lock (in its transaction), so the record is still settled.
    A record that already says what Nova says is not written (a tenant pull of thousands of groups
    writes only those that changed)."""
    fields = {
        "policy": remote.policy,
        "rules": dict(remote.rules),
        "backend_id": remote.id,
        "error_message": "",
        "error_traceback": "",
        **intent.settled(),
    }
    if record.state == State.OK and all(getattr(record, name) == value for name, value in fields.items()):
        return
    before = {name: getattr(record, name) for name in PULLED_FIELDS}
    move(record, State.OK, sources=SETTLED, **fields)
    changes = {name: [before[name], getattr(record, name)] for name in PULLED_FIELDS}
    changes = {name: values for name, values in changes.items() if values[0] != values[1]}
    if changes:
        event_record(
            event_type=EventType.OPENSTACK_SERVER_GROUP_PULLED,
            message=f"Server group {record.name} has been pulled from OpenStack.",
            scope=record,
            changes=changes,
        )


def _sync_servers(
    tenant: Tenant, servers: list[RemoteServer], pairs: list[tuple[RemoteServerGroup, ServerGroup]]
) -> None:
    """Make the tenant's instance records match Nova's servers, and membership match `pairs`.

    Each pair is a Nova group and its record; their membership is taken from Nova. Membership in any
    other group is left as it was. Servers gone from Nova lose their records. The listing is taken
    `BATCH` servers at a time: their records are read (as tuples), the new and changed ones written,
    and all of them stamped seen; then the records the listing lacked, left with an older stamp, go.
    A tenant of 20,000 servers costs a few statements per thousand servers, not one per server, and
    never holds all of its records in memory.
    """
    member_of = {server_id: record.pk for remote, record in pairs for server_id in remote.members}
    authoritative = {record.pk for _, record in pairs}
    now = timezone.now()
    for page in chunks(servers, BATCH):
        ids = [server.id for server in page]
        rows = Instance.objects.filter(tenant=tenant, backend_id__in=ids)
        rows = rows.values_list("backend_id", "pk", *SERVER_COLUMNS)
        existing = {backend_id: (pk, tuple(values)) for backend_id, pk, *values in rows}
        new, changed = [], []
        for server in page:
            pk, current = existing.get(server.id, (None, None))
            group_pk = current[4] if current else None
            group_pk = member_of.get(server.id, None if group_pk in authoritative else group_pk)
            values = (server.name, server.host_id, server.status, server.fault_message, group_pk)
            if values == current:
                continue
            fields = dict(zip(SERVER_COLUMNS, values, strict=True))
            if pk is None:
                new.append(Instance(tenant=tenant, backend_id=server.id, seen_at=now, **fields))
            else:
                changed.append(Instance(pk=pk, modified=now, **fields))
        Instance.objects.bulk_create(new)
        Instance.objects.bulk_update(changed, [*SERVER_COLUMNS, "modified"])
        Instance.objects.filter(tenant=tenant, backend_id__in=ids).update(seen_at=now)
    # Older than this pull's stamp: not in the listing. (A later pull's stamp, newer, stays.)
    Instance.objects.filter(Q(seen_at__lt=now) | Q(seen_at__isnull=True), tenant=tenant).delete()


def pull_tenant(tenant_id: int) -> bool:
    """Reconcile a tenant: import groups Nova has and Cohort lacks, refresh settled ones, drop settled
    records whose group is gone, and leave records in transition alone. One paged listing of groups and
    one of servers, plus a GET to confirm each group that seems gone before its record is dropped.
    Returns False when the cloud did not answer (so the caller can spare its other tenants)."""
    tenant = (
        Tenant.objects.select_related("service_settings", "project__customer")
        .filter(pk=tenant_id, state=State.OK)
        .first()
    )
    if tenant is None or not tenant.backend_id:
        return True
    driver = cloud_for(tenant)
    try:
        remotes = driver.list_server_groups()
        servers = driver.list_servers()
        gone = _confirm_gone(driver, tenant, remotes)
        quotas = _read_quotas(driver, tenant)
    except CloudError as error:
        logger.warning("tenant %s: pull failed: %s", tenant, error.message)
        Tenant.objects.filter(pk=tenant.pk).update(error_message=error.message)
        return not isinstance(error, Unreachable)
    with transaction.atomic(), events_batched():
        records = list(ServerGroup.objects.select_for_update().filter(tenant=tenant))
        for record in records:
            record.tenant = tenant  # already read, with what an event names
        by_backend_id = {r.backend_id: r for r in records if r.backend_id}
        in_flight = {r.name for r in records if r.state in TRANSITIONAL and not r.backend_id}
        # A create whose answer came too late (a timeout) left its record ERRED without a backend
        # id, and Nova may have made the group after all: that group is this record's.
        unfinished = {r.name: r for r in records if r.state == State.ERRED and not r.backend_id}
        names = {r.name for r in records}
        now = timezone.now()
        twins = [r for r in records if r.backend_id and r.strays_until and r.strays_until > now]
        pairs, strays, imported = [], [], []
        for remote in remotes:
            record = by_backend_id.get(remote.id)
            if record is None:
                if remote.name in in_flight:
                    continue  # a create in progress made it; that step will adopt it
                record = unfinished.pop(remote.name, None)
                if record is not None and record.policy == remote.policy:
                    _apply(record, remote)
                    logger.info("server group %s linked to Nova group %s, made after it erred", record.pk, remote.id)
                elif _is_stray(remote, twins):
                    strays.append(remote.id)
                    continue
                else:
                    record = _import(tenant, remote, names)
                    imported.append(record)
            elif record.state in SETTLED:
                _apply(record, remote)
            else:
                continue
            pairs.append((remote, record))
        ServerGroup.objects.bulk_create(imported, batch_size=BATCH)  # their pks, for the members below
        stale = [r for r in records if r.state in SETTLED and r.backend_id in gone]
        for record in stale:
            event_record(
                event_type=EventType.OPENSTACK_SERVER_GROUP_CLEANED,
                message=f"Server group {record.name} has been cleaned: it is gone from OpenStack.",
                scope=record,
                context={"backend_id": record.backend_id},
            )
        ServerGroup.objects.filter(pk__in=[r.pk for r in stale]).delete()
        _sync_servers(tenant, servers, pairs)
        # Every group's verdict, from its members' fresh facts (every row is locked above, and read).
        dropped = {r.pk for r in stale}
        refresh_placement([*(r for r in records if r.pk not in dropped), *imported])
        if quotas is not None:
            record_quotas(tenant, quotas)
        # The time of the last successful pull: /health/ready and the reconciliation lag metric.
        Tenant.objects.filter(pk=tenant.pk).update(error_message="", pulled_at=timezone.now())
    _delete_strays(driver, strays)
    logger.info("tenant %s pulled: %d groups in Nova, %d records removed", tenant, len(remotes), len(stale))
    _mend([r for r in [*records, *imported] if r.pk not in dropped and r.state == State.OK])
    return True


def _mend(groups: list[ServerGroup]) -> None:
    """After a tenant pull: which broken groups have a blocked plan, and, on a cloud with auto-heal on,
    a heal of each that can be mended (`cohort.openstack.heal`). Never fails the pull."""
    try:
        asked = heal_broken_groups(groups)
    except Exception:
        logger.exception("auto-heal after the pull failed")
        return
    if asked:
        logger.info("auto-heal: %d heal(s) asked for", asked)


def _read_quotas(driver: CloudDriver, tenant: Tenant) -> ServerGroupQuotas | None:
    """The tenant's quotas from Nova; None when the cloud refuses to say (the pull goes on without
    them). A cloud that does not answer fails the pull as any other call would."""
    try:
        return driver.get_quotas()
    except Unreachable:
        raise
    except CloudError as error:
        logger.warning("tenant %s: quotas not read: %s", tenant, error.message)
        return None


def pull_quotas(tenant_id: int) -> None:
    """Read a tenant's quotas from Nova and store them (`POST .../pull_quotas/`)."""
    tenant = Tenant.objects.select_related("service_settings", "project__customer").filter(pk=tenant_id).first()
    if tenant is None or not tenant.backend_id:
        return
    try:
        quotas = cloud_for(tenant).get_quotas()
    except CloudError as error:
        logger.warning("tenant %s: quota pull failed: %s", tenant, error.message)
        Tenant.objects.filter(pk=tenant.pk).update(error_message=error.message)
        return
    with transaction.atomic():
        record_quotas(tenant, quotas)


def _is_stray(remote: RemoteServerGroup, twins: list[ServerGroup]) -> bool:
    """Whether `remote`, linked to no record, is the late twin of a create that timed out: no members,
    same name and policy as one of `twins` (records linked to another group, inside their stray window)."""
    return not remote.members and any(r.name == remote.name and r.policy == remote.policy for r in twins)


def _delete_strays(driver: CloudDriver, strays: list[str]) -> None:
    for backend_id in strays:
        try:
            driver.delete_server_group(backend_id)
            logger.warning("deleted Nova group %s: the late twin of a create whose answer never came", backend_id)
        except CloudError as error:
            logger.error("could not delete the stray Nova group %s: %s", backend_id, error.message)


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
    """The record of a Nova group Cohort lacks, with its event; the caller saves it (with the others
    of the pull, in one statement per `BATCH`)."""
    # Nova allows duplicate names and 255 characters, Cohort neither: a clashing or too long name is
    # shortened and gets the Nova id as a suffix.
    fits = remote.name not in names and len(remote.name) <= ServerGroup._meta.get_field("name").max_length
    name = remote.name if fits else f"{remote.name[:110]} ({remote.id})"[:150]
    names.add(name)
    group = ServerGroup(
        tenant=tenant,
        name=name,
        policy=remote.policy,
        rules=dict(remote.rules),
        backend_id=remote.id,
        state=State.OK,
    )
    event_record(
        event_type=EventType.OPENSTACK_SERVER_GROUP_IMPORTED,
        message=f"Server group {name} has been imported from OpenStack.",
        scope=group,
        context={"backend_id": remote.id},
    )
    return group
