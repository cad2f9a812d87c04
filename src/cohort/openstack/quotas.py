"""A tenant's two server-group quotas: their limits as Nova last said, their usage, and the check
that refuses a create before Nova would.

Limits come from Nova only (`GET /limits` as the tenant, on every tenant pull and on `pull_quotas`;
`os-quota-sets` as the cloud's admin on `set_quotas`); a cloud that does not say leaves a limit null,
never a guess. Usage is counted from Cohort's own records, which a pull makes match Nova, so it is
never staler than the last pull and includes the creates still on their way: `server_group_count`
counts the groups that hold (or are about to hold) a Nova group, `server_group_member_count` the most
members any one group has. On the wire the quotas are Waldur's `[{"name", "limit", "usage"}]`.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cohort.cloud import CloudDriver, CloudError, ServerGroupQuotas
from cohort.core import statements
from cohort.core.errors import Conflict
from cohort.core.states import SETTLED
from cohort.events.services import event_record
from cohort.events.types import EventType
from cohort.openstack.models import Instance, ServerGroup, ServerGroupTally, Tenant

logger = logging.getLogger(__name__)

UNLIMITED = -1
SERVER_GROUP_COUNT = "server_group_count"  # Nova's server_groups
SERVER_GROUP_MEMBER_COUNT = "server_group_member_count"  # Nova's server_group_members
# Waldur's quota name -> (the tenant's limit field, the usage annotation, Nova's name)
QUOTAS = {
    SERVER_GROUP_COUNT: ("server_group_quota", "server_group_usage", "server_groups"),
    SERVER_GROUP_MEMBER_COUNT: ("server_group_member_quota", "server_group_member_usage", "server_group_members"),
}


def groups_holding_no_quota(tenant_ref) -> QuerySet[ServerGroup]:
    """The groups of a tenant that hold no Nova group and are not on their way to one: settled (OK,
    ERRED) without a Nova id, such as a create Nova refused. Few, and indexed (`server_group_unlinked`)."""
    return ServerGroup.objects.filter(tenant=tenant_ref, backend_id="", state__in=SETTLED)


def group_usage(tenant_ref):
    """The expression of a tenant's `server_group_count` usage: its groups (the tally the database
    keeps, `ServerGroupTally`) less those that hold no Nova group. Neither reads the tenant's other
    groups, so a tenant of a million groups costs what one of ten does."""
    tally = ServerGroupTally.objects.filter(tenant=tenant_ref).values("groups")
    idle = groups_holding_no_quota(tenant_ref).order_by().values("tenant").annotate(n=Count("pk")).values("n")
    zero = Value(0)
    return Coalesce(Subquery(tally, output_field=IntegerField()), zero) - Coalesce(
        Subquery(idle, output_field=IntegerField()), zero
    )


def with_quota_usage(tenants: QuerySet[Tenant]) -> QuerySet[Tenant]:
    """`tenants`, each annotated with both usages, in the same query (a list costs no query per row)."""
    largest = (
        Instance.objects.filter(tenant=OuterRef("pk"), server_group__isnull=False)
        .order_by()
        .values("server_group")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values("n")[:1]
    )
    return tenants.annotate(
        server_group_usage=group_usage(OuterRef("pk")),
        server_group_member_usage=Coalesce(Subquery(largest, output_field=IntegerField()), Value(0)),
    )


def tenant_quotas(tenant: Tenant) -> list[dict]:
    """Waldur's shape: `[{"name", "limit", "usage"}]`, from a tenant read by `with_quota_usage` (or
    counted now for one that was not)."""
    if not hasattr(tenant, "server_group_usage"):
        tenant = with_quota_usage(Tenant.objects.filter(pk=tenant.pk)).get()
    return [
        {"name": name, "limit": getattr(tenant, limit), "usage": getattr(tenant, usage)}
        for name, (limit, usage, _) in QUOTAS.items()
    ]


def has_room(limit: int | None, usage: int) -> bool:
    """Whether one more fits: an unknown limit (null) or -1 never refuses."""
    return limit is None or limit == UNLIMITED or usage < limit


def check_group_quota(tenant: Tenant) -> None:
    """Refuse a new group (409) when the tenant's `server_group_count` is used up. The caller holds
    the tenant's row lock in the transaction that inserts the group, so racing creates count each
    other: they cannot pass the limit together."""
    limit = tenant.server_group_quota
    if limit is None or limit == UNLIMITED:
        return
    # one statement, compiled once (`cohort.core.statements`): a create's POST runs it before its commit
    counted = statements.first("quotas.check_group_quota", _group_usage, pk=tenant.pk)
    usage = counted.server_group_usage if counted is not None else 0
    if not has_room(limit, usage):
        raise Conflict(
            f"The tenant's quota {SERVER_GROUP_COUNT} is used up: limit {limit}, usage {usage}. "
            "Delete a server group, or ask staff to raise the quota."
        )


def _group_usage(pk: int) -> QuerySet[Tenant]:
    return Tenant.objects.filter(pk=pk).annotate(server_group_usage=group_usage(OuterRef("pk"))).only("pk").order_by()


def record_quotas(tenant: Tenant, quotas: ServerGroupQuotas, *, actor=None) -> None:
    """Store the limits Nova reported (inside the caller's transaction), with an event for each that
    changed. A limit the cloud did not report becomes unknown (null)."""
    new = {"server_group_quota": quotas.server_groups, "server_group_member_quota": quotas.server_group_members}
    current = Tenant.objects.select_for_update().filter(pk=tenant.pk).values(*new).first()
    if current is None:
        return
    Tenant.objects.filter(pk=tenant.pk).update(quotas_pulled_at=timezone.now(), **new)
    for name, (field, _, nova_name) in QUOTAS.items():
        if current[field] != new[field]:
            event_record(
                event_type=EventType.OPENSTACK_TENANT_QUOTA_CHANGED,
                message=f"Tenant {tenant.name} quota {name} limit is now {_shown(new[field])} "
                f"(was {_shown(current[field])}).",
                scope=tenant,
                actor=actor,
                changes={name: [current[field], new[field]]},
                context={"quota_name": name, "nova_quota": nova_name},
            )
        setattr(tenant, field, new[field])


def refresh_quotas_quietly(tenant: Tenant, driver: CloudDriver) -> None:
    """After Nova refused something over quota: read the limits again, so Cohort's check knows what
    Nova knows. A failure here changes nothing (the refusal is already recorded)."""
    try:
        quotas = driver.get_quotas()
    except CloudError as error:
        logger.warning("tenant %s: quotas not refreshed: %s", tenant, error.message)
        return
    with transaction.atomic():
        record_quotas(tenant, quotas)


def _shown(limit: int | None) -> str:
    return "unknown" if limit is None else "unlimited" if limit == UNLIMITED else str(limit)
