"""Tenants, the servers known in them, and server groups.

A tenant is one OpenStack project inside a cloud (service settings), owned by one Cohort project.
Instances are the servers Nova reports in a tenant, created or imported by reconciliation; a server
is in at most one server group, as in Nova. A server group's name is unique within its tenant, and
the database enforces it.
"""

from django.db import models

from cohort.cloud import POLICIES, CloudAccess
from cohort.core.encryption import EncryptedJSONField
from cohort.core.intent import IntentModel
from cohort.core.models import StateModel, StatusModel, TimeStampedModel, UuidModel
from cohort.events.scope import Owner, Scope
from cohort.structure.models import Project, ServiceSettings


class Tenant(UuidModel, TimeStampedModel, StatusModel):
    service_settings = models.ForeignKey(ServiceSettings, on_delete=models.PROTECT, related_name="tenants")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="tenants")
    name = models.CharField(max_length=150)
    description = models.CharField(max_length=2000, blank=True, default="")
    backend_id = models.CharField(max_length=255, blank=True, default="")
    # The tenant's own user, when Cohort should act as it rather than with the cloud's credentials.
    credentials = EncryptedJSONField(default=dict, blank=True)
    # When reconciliation last pulled the tenant completely (a failed pull leaves its error_message).
    pulled_at = models.DateTimeField(null=True, blank=True, editable=False)

    project_path = "project"

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_settings", "backend_id"],
                condition=~models.Q(backend_id=""),
                name="tenant_backend_id_unique_per_cloud",
                violation_error_message="This OpenStack project is already registered as a tenant.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def event_scope(self) -> Scope:
        return _in_tenant("OpenStack.Tenant", self, self)

    def cloud_access(self) -> CloudAccess:
        cloud = self.service_settings
        return CloudAccess(
            auth_url=cloud.auth_url,
            project_id=self.backend_id,
            auth_type=cloud.auth_type,
            credentials={**cloud.credentials, **self.credentials},
            region=cloud.region,
            verify_tls=cloud.verify_tls,
            options=dict(cloud.options),
        )


class Instance(UuidModel, TimeStampedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="instances")
    server_group = models.ForeignKey(
        "ServerGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="instances"
    )
    name = models.CharField(max_length=255, blank=True, default="")
    backend_id = models.CharField(max_length=255)
    host_id = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=50, blank=True, default="")

    project_path = "tenant__project"

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "backend_id"], name="instance_backend_id_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name or self.backend_id


class ServerGroup(UuidModel, TimeStampedModel, StateModel, IntentModel):
    class Policy(models.TextChoices):
        AFFINITY = "affinity", "Affinity"
        ANTI_AFFINITY = "anti-affinity", "Anti-affinity"
        SOFT_AFFINITY = "soft-affinity", "Soft affinity"
        SOFT_ANTI_AFFINITY = "soft-anti-affinity", "Soft anti-affinity"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="server_groups")
    name = models.CharField(max_length=150)
    description = models.CharField(max_length=2000, blank=True, default="")
    policy = models.CharField(max_length=20, choices=Policy.choices, default=Policy.AFFINITY)
    rules = models.JSONField(default=dict, blank=True)
    backend_id = models.CharField(max_length=255, blank=True, default="")
    # A create whose answer never came (a timeout) may still make its Nova group later, after a
    # retry made another: until then, reconciliation deletes such a stray instead of importing it.
    strays_until = models.DateTimeField(null=True, blank=True, editable=False)

    project_path = "tenant__project"

    class Meta:
        ordering = ["tenant__name", "name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"],
                name="server_group_name_unique_per_tenant",
                violation_error_message="Server group name should be unique.",
            ),
            models.UniqueConstraint(
                fields=["tenant", "backend_id"],
                condition=~models.Q(backend_id=""),
                name="server_group_backend_id_unique_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def event_scope(self) -> Scope:
        return _in_tenant("OpenStack.ServerGroup", self, self.tenant)


def _in_tenant(kind: str, obj, tenant: Tenant) -> Scope:
    project = tenant.project
    customer = project.customer
    return Scope(
        kind,
        obj.uuid,
        obj.name,
        tenant=Owner(tenant.uuid, tenant.name),
        project=Owner(project.uuid, project.name),
        customer=Owner(customer.uuid, customer.name),
    )


assert tuple(ServerGroup.Policy.values) == POLICIES
