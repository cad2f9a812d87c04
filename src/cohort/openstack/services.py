"""Every write that the API asks for on tenants and server groups.

A service checks what only it can check (state, uniqueness, membership), writes the record and its
new state in one transaction. A row left in a transitional state is itself the record of the cloud
work still to do (`cohort.core.intent`); a message sent after the commit only starts that work
sooner (`cohort.openstack.dispatch`). The cloud work itself is in `cohort.openstack.steps`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.db import IntegrityError, transaction

from cohort.cloud import CloudError, Unreachable
from cohort.core import intent, statements
from cohort.core.constraints import broken_constraint
from cohort.core.errors import Conflict, Invalid
from cohort.core.states import SETTLED, State, move, require
from cohort.events.services import event_record
from cohort.events.types import EventType
from cohort.openstack import dispatch, heal
from cohort.openstack.clouds import admin_cloud_for, cloud_for
from cohort.openstack.models import Heal, ServerGroup, Tenant
from cohort.openstack.quotas import check_group_quota, record_quotas

logger = logging.getLogger(__name__)

NAME_UNIQUE_PER_TENANT = "server_group_name_unique_per_tenant"
RULES_NEED_ANTI_AFFINITY = "Rules are supported only with the anti-affinity policy."


def _save_unique(group: ServerGroup, **kwargs) -> None:
    """Save, answering a taken name with the constraint's own message (the database decides races)."""
    try:
        with transaction.atomic():
            group.save(**kwargs)
    except IntegrityError:
        constraint = broken_constraint(group)
        if constraint is not None and constraint.name == NAME_UNIQUE_PER_TENANT:
            raise Invalid("non_field_errors", constraint.violation_error_message) from None
        raise


def _check_rules(policy: str, rules: Mapping[str, int]) -> None:
    if rules and policy != ServerGroup.Policy.ANTI_AFFINITY:
        raise Invalid("rules", RULES_NEED_ANTI_AFFINITY)


def server_group_create(
    *,
    tenant: Tenant,
    name: str,
    description: str = "",
    policy: str | None = None,
    rules: Mapping[str, int] | None = None,
    actor=None,
) -> ServerGroup:
    """Record a new group in CREATION_SCHEDULED; a worker makes it in Nova. Without a policy, the
    model's default (affinity, as in Nova) applies."""
    policy = policy or ServerGroup._meta.get_field("policy").default
    _check_rules(policy, rules or {})
    with transaction.atomic():
        # The tenant's row lock orders racing creates: each counts the groups the others committed. Its
        # project and customer, which the event names, come with it (locking the tenant's row only), by
        # SQL compiled once: the message that starts the step goes out when this transaction commits.
        tenant = statements.first("services.server_group_create", _locked_tenant, pk=tenant.pk)
        if tenant is None:
            raise Tenant.DoesNotExist("Tenant matching query does not exist.")
        require(tenant, {State.OK})
        check_group_quota(tenant)
        group = ServerGroup(
            tenant=tenant,
            name=name,
            description=description,
            policy=policy,
            rules=dict(rules or {}),
            state=State.CREATION_SCHEDULED,
            **intent.scheduled(),
        )
        _save_unique(group)
        event_record(
            event_type=EventType.RESOURCE_CREATION_SCHEDULED,
            message=f"Server group {name} creation has been scheduled.",
            scope=group,
            actor=actor,
            changes={"name": name, "description": description, "policy": policy, "rules": group.rules},
        )
        dispatch.start_after_commit(group)
    logger.info("server group %s (%s) in tenant %s scheduled for creation by %s", group.uuid.hex, name, tenant, actor)
    return group


def _locked_tenant(pk: int):
    return Tenant.objects.select_for_update(of=("self",)).select_related("project__customer").filter(pk=pk).order_by()


def server_group_update(
    *,
    group: ServerGroup,
    name: str | None = None,
    description: str | None = None,
    policy: str | None = None,
    rules: Mapping[str, int] | None = None,
    actor=None,
) -> ServerGroup:
    """Rename or describe locally; a new policy or rules replace the (empty) Nova group."""
    with transaction.atomic():
        group = ServerGroup.objects.select_for_update().get(pk=group.pk)
        require(group, {State.OK})
        new_policy = group.policy if policy is None else policy
        new_rules = group.rules if rules is None else dict(rules)
        if policy is not None and rules is None and new_policy != ServerGroup.Policy.ANTI_AFFINITY:
            new_rules = {}  # a new policy without rules drops rules it cannot have
        _check_rules(new_policy, new_rules)
        replace = (new_policy, new_rules) != (group.policy, group.rules)
        if replace and group.instances.exists():
            raise Conflict(
                "The policy of a server group with members cannot change: Nova fixes a group's policy "
                "at creation and servers join a group only at boot. Delete the servers first, or "
                "create a new group."
            )
        before = {"name": group.name, "description": group.description, "policy": group.policy, "rules": group.rules}
        if name is not None:
            group.name = name
        if description is not None:
            group.description = description
        group.policy, group.rules = new_policy, new_rules
        _save_unique(group)
        after = {"name": group.name, "description": group.description, "policy": group.policy, "rules": group.rules}
        changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
        if replace:
            move(group, State.UPDATE_SCHEDULED, **intent.scheduled())
            dispatch.start_after_commit(group)
            event_record(
                event_type=EventType.RESOURCE_UPDATE_SCHEDULED,
                message=f"Server group {group.name} policy replacement has been scheduled.",
                scope=group,
                actor=actor,
                changes=changes,
            )
        elif changes:
            event_record(
                event_type=EventType.OPENSTACK_SERVER_GROUP_UPDATED,
                message=f"Server group {group.name} has been updated.",
                scope=group,
                actor=actor,
                changes=changes,
            )
    logger.info("server group %s updated by %s (replace: %s)", group.uuid.hex, actor, replace)
    return group


def server_group_delete(*, group: ServerGroup, actor=None) -> None:
    with transaction.atomic():
        move(group, State.DELETION_SCHEDULED, sources=SETTLED, **intent.scheduled())
        event_record(
            event_type=EventType.RESOURCE_DELETION_SCHEDULED,
            message=f"Server group {group.name} deletion has been scheduled.",
            scope=group,
            actor=actor,
        )
        dispatch.start_after_commit(group)
    logger.info("server group %s scheduled for deletion by %s", group.uuid.hex, actor)


def server_group_pull(*, group: ServerGroup, actor=None) -> None:
    require(group, SETTLED)
    if not group.backend_id:
        raise Conflict("The server group has no backend id: it was never created in OpenStack.")
    with transaction.atomic():
        event_record(
            event_type=EventType.RESOURCE_PULL_SCHEDULED,
            message=f"Server group {group.name} pull has been scheduled.",
            scope=group,
            actor=actor,
        )
        dispatch.pull_after_commit(group)


def server_group_unlink(*, group: ServerGroup, actor=None) -> None:
    """Forget the record, leaving whatever exists in the cloud alone."""
    with transaction.atomic():
        event_record(
            event_type=EventType.OPENSTACK_SERVER_GROUP_UNLINKED,
            message=f"Server group {group.name} has been unlinked; its Nova group is left in place.",
            scope=group,
            actor=actor,
            context={"backend_id": group.backend_id},
        )
        group.delete()
    logger.warning(
        "server group %s unlinked by %s; its Nova group %r is left in place",
        group.uuid.hex,
        actor,
        group.backend_id,
    )


def server_group_set_ok(*, group: ServerGroup, actor=None) -> None:
    with transaction.atomic():
        before = group.state
        move(group, State.OK, sources=State, error_message="", error_traceback="", **intent.settled())
        event_record(
            event_type=EventType.OPENSTACK_SERVER_GROUP_SET_OK,
            message=f"Server group {group.name} has been set to OK by staff.",
            scope=group,
            actor=actor,
            changes={"state": [before, State.OK.value]},
        )
    logger.warning("server group %s set OK by %s", group.uuid.hex, actor)


def server_group_set_erred(
    *, group: ServerGroup, error_message: str = "", error_traceback: str = "", actor=None
) -> None:
    with transaction.atomic():
        before = group.state
        move(group, State.ERRED, sources=State, error_message=error_message, error_traceback=error_traceback,
             **intent.settled())  # fmt: skip
        event_record(
            event_type=EventType.OPENSTACK_SERVER_GROUP_SET_ERRED,
            message=f"Server group {group.name} has been set to erred by staff.",
            scope=group,
            actor=actor,
            changes={"state": [before, State.ERRED.value], "error_message": error_message},
        )
    logger.warning("server group %s set ERRED by %s", group.uuid.hex, actor)


def tenant_pull_server_groups(*, tenant: Tenant, actor=None) -> None:
    require(tenant, {State.OK})
    with transaction.atomic():
        event_record(
            event_type=EventType.RESOURCE_PULL_SCHEDULED,
            message=f"Tenant {tenant.name} server groups pull has been scheduled.",
            scope=tenant,
            actor=actor,
        )
        dispatch.pull_tenant_after_commit(tenant)


def tenant_pull_quotas(*, tenant: Tenant, actor=None) -> None:
    """Schedule a read of the tenant's quotas from Nova (Waldur's `pull_quotas`)."""
    require(tenant, {State.OK})
    with transaction.atomic():
        event_record(
            event_type=EventType.RESOURCE_PULL_SCHEDULED,
            message=f"Tenant {tenant.name} quotas pull has been scheduled.",
            scope=tenant,
            actor=actor,
        )
        dispatch.pull_quotas_after_commit(tenant)


def tenant_set_quotas(
    *, tenant: Tenant, server_group_count: int | None = None, server_group_member_count: int | None = None, actor=None
) -> Tenant:
    """Write the quotas given to Nova with the cloud's own credentials (`os-quota-sets`), then read
    back what Nova now says as the tenant, and record it (an event per limit that changed). Nova's
    refusal is a 409 with Nova's words. This is synchronous on purpose: the caller is shown Nova's
    answer, and there is no record whose state could carry it."""
    require(tenant, {State.OK})
    admin = admin_cloud_for(tenant)
    if admin is None:
        raise Conflict(
            f"The cloud {tenant.service_settings.name} has no credentials of its own, so Cohort cannot set "
            "quotas: register an admin's credentials for it (cohort cloud)."
        )
    try:
        written = admin.set_quotas(
            tenant.backend_id, server_groups=server_group_count, server_group_members=server_group_member_count
        )
    except Unreachable as error:
        raise Conflict(f"OpenStack did not answer, so the quotas are unchanged: {error.message}") from None
    except CloudError as error:
        raise Conflict(f"OpenStack refused the quotas: {error.message}") from None
    try:
        now = cloud_for(tenant).get_quotas()
    except CloudError as error:  # the write stands; show what the write's own answer said
        logger.warning("tenant %s: quotas set but not read back: %s", tenant, error.message)
        now = written
    with transaction.atomic():
        record_quotas(tenant, now, actor=actor)
    logger.info("tenant %s quotas set by %s: %s", tenant, actor, now)
    return tenant


def tenant_create(
    *,
    name: str,
    service_settings,
    project,
    backend_id: str,
    description: str = "",
    credentials: Mapping[str, str] | None = None,
    actor=None,
) -> Tenant:
    """Register an OpenStack project as a tenant (the `cohort tenant` command). The event names the
    credential keys given, never their values."""
    with transaction.atomic():
        tenant = Tenant.objects.create(
            name=name,
            description=description,
            service_settings=service_settings,
            project=project,
            backend_id=backend_id,
            credentials=dict(credentials or {}),
        )
        event_record(
            event_type=EventType.OPENSTACK_TENANT_CREATED,
            message=f"Tenant {name} has been registered in project {project.name}.",
            scope=tenant,
            actor=actor,
            changes={
                "backend_id": backend_id,
                "cloud": service_settings.name,
                "credential_keys": sorted(credentials or {}),
            },
        )
    return tenant


def server_group_heal(*, group: ServerGroup, actor=None) -> Heal:
    """Ask for a heal of `group` (`cohort.openstack.heal`): written, then a worker sent to it."""
    with transaction.atomic():
        running = heal.begin_heal(group=group, actor=actor)
        dispatch.start_after_commit(group)
    return running
