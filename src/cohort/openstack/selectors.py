"""What a user may see and manage among tenants, server groups and instances: the reads that the API,
the services and the web page share.

Each is the structure app's project rule (`cohort.structure.selectors`) applied at the model's
`project_path`, with the related rows a reader of that entity needs; for an anonymous or inactive
user, `.none()`. Whether a user may manage one object (a group, a tenant), or which rows of a list,
is that module's `object_manageable_by` / `objects_manageable_by`: the rule is the same for every
model.
"""

from __future__ import annotations

from django.db.models import QuerySet

from cohort.openstack.models import Instance, ServerGroup, Tenant
from cohort.openstack.quotas import with_quota_usage
from cohort.structure.selectors import objects_manageable_by, objects_visible_to


def tenants_visible_to(*, user) -> QuerySet[Tenant]:
    """Tenants the user sees, each with its cloud, project and customer, and its quotas' usage."""
    tenants = with_quota_usage(Tenant.objects.select_related("service_settings", "project__customer"))
    return objects_visible_to(user=user, queryset=tenants)


def tenants_manageable_by(*, user) -> QuerySet[Tenant]:
    """Tenants the user may manage: create and pull server groups in."""
    return objects_manageable_by(user=user, queryset=Tenant.objects.all())


def server_groups_visible_to(*, user) -> QuerySet[ServerGroup]:
    return objects_visible_to(user=user, queryset=ServerGroup.objects.all())


def instances_visible_to(*, user) -> QuerySet[Instance]:
    """Instances the user sees, each with its tenant's project and customer, and its server group."""
    instances = Instance.objects.select_related("tenant__project__customer", "server_group")
    return objects_visible_to(user=user, queryset=instances)


def tenants_in_scope(*, user) -> QuerySet[Tenant]:
    """The tenants whose server groups the user sees (bare rows: no related ones)."""
    return objects_visible_to(user=user, queryset=Tenant.objects.all())
