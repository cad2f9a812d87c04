"""Tenants, the servers known in them, and server groups.

A tenant is one OpenStack project inside a cloud (service settings), owned by one Cohort project.
Instances are the servers Nova reports in a tenant, created or imported by reconciliation; a server
is in at most one server group, as in Nova. A server group's name is unique within its tenant, and
the database enforces it.
"""

from django.conf import settings
from django.db import models

from cohort.cloud import POLICIES, CloudAccess
from cohort.core.encryption import EncryptedJSONField
from cohort.core.intent import IntentModel
from cohort.core.models import StateModel, StatusModel, TimeStampedModel, UuidModel
from cohort.events.scope import Owner, Scope
from cohort.structure.models import Project, ServiceSettings

# A `project_id` among a cloud's credentials scopes the cloud's own access (`Tenant.admin_access`).
ADMIN_SCOPE = "project_id"


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
    # Nova's `server_groups` and `server_group_members` quotas of the project as last read (-1 is
    # unlimited; null until the cloud says), and when. Their usage is counted from the records
    # (`cohort.openstack.quotas`).
    server_group_quota = models.IntegerField(null=True, blank=True, editable=False)
    server_group_member_quota = models.IntegerField(null=True, blank=True, editable=False)
    quotas_pulled_at = models.DateTimeField(null=True, blank=True, editable=False)

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
        """How Cohort acts in this tenant: the cloud's credentials, overridden by the tenant's own,
        scoped to the tenant's project (a `project_id` among the cloud's credentials is the scope of
        its own access, `admin_access`, and is left out here)."""
        cloud = self.service_settings
        shared = {key: value for key, value in cloud.credentials.items() if key != ADMIN_SCOPE}
        return CloudAccess(
            auth_url=cloud.auth_url,
            project_id=self.backend_id,
            auth_type=cloud.auth_type,
            credentials={**shared, **self.credentials},
            region=cloud.region,
            verify_tls=cloud.verify_tls,
            options=dict(cloud.options),
        )

    def admin_access(self) -> CloudAccess | None:
        """The cloud's registered credentials alone (without the tenant's own), scoped to the project
        they name (`project_id`, e.g. an operator's `admin` project), else to this tenant's; None when
        the cloud has no credentials of its own. Used for what only a cloud admin may see (compute
        hosts); whether these credentials are an admin's, only the cloud knows."""
        cloud = self.service_settings
        credentials = dict(cloud.credentials)
        if not set(credentials) - {ADMIN_SCOPE, "user_domain_name", "project_domain_name"}:
            return None
        return CloudAccess(
            auth_url=cloud.auth_url,
            project_id=credentials.pop(ADMIN_SCOPE, None) or self.backend_id,
            auth_type=cloud.auth_type,
            credentials=credentials,
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
    # Nova's per-project hash of the server's host ("" while unscheduled), its status, and the message
    # of its fault (why it is in ERROR; "" when none), as the last pull saw them, and when.
    host_id = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=50, blank=True, default="")
    fault_message = models.TextField(blank=True, default="")
    seen_at = models.DateTimeField(null=True, blank=True, editable=False)

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

    class PlacementStatus(models.TextChoices):
        """Whether the members' hosts honour the policy (`cohort.openstack.placement.verdict`)."""

        EMPTY = "empty", "Empty"
        PENDING = "pending", "Pending"
        SATISFIED = "satisfied", "Satisfied"
        VIOLATED = "violated", "Violated"
        DEGRADED = "degraded", "Degraded"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="server_groups")
    name = models.CharField(max_length=150)
    description = models.CharField(max_length=2000, blank=True, default="")
    policy = models.CharField(max_length=20, choices=Policy.choices, default=Policy.AFFINITY)
    rules = models.JSONField(default=dict, blank=True)
    backend_id = models.CharField(max_length=255, blank=True, default="")
    # A create whose answer never came (a timeout) may still make its Nova group later, after a
    # retry made another: until then, reconciliation deletes such a stray instead of importing it.
    strays_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The placement verdict, recomputed whenever the members' facts are refreshed, and when.
    placement_status = models.CharField(
        max_length=20, choices=PlacementStatus.choices, default=PlacementStatus.EMPTY, editable=False, db_index=True
    )
    placement_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Whether the last reconciliation found the group broken with a plan that cannot mend it (the
    # cloud's enabled hosts cannot hold the policy, or a member Nova cannot migrate stands in the way);
    # null until one judged it. Nullable so that SQLite adds the column in place: a NOT NULL column
    # makes Django rebuild the table there, which would drop the tally's triggers (migration 0008).
    plan_blocked = models.BooleanField(null=True, default=None, editable=False)

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
        # `state=ERRED` and the like find their few rows without reading the table. The list's own
        # order is served per tenant by the (tenant, name) constraint's index, `o=-created` by the
        # index on `created`, and the `name` substring by a trigram index (PostgreSQL; migration 0008).
        # The tenant's groups without a Nova id (few: creates on their way, or refused) are what its
        # quota usage subtracts from its tally (`cohort.openstack.quotas`), without reading the rest.
        indexes = [
            models.Index(fields=["state"], name="server_group_state"),
            models.Index(fields=["tenant"], condition=models.Q(backend_id=""), name="server_group_unlinked"),
        ]

    def __str__(self) -> str:
        return self.name

    def event_scope(self) -> Scope:
        return _in_tenant("OpenStack.ServerGroup", self, self.tenant)


class Heal(UuidModel):
    """One run of the heal engine on a group (`cohort.openstack.heal`), asked for by staff or by
    reconciliation (a cloud's auto-heal). It is the group's pending work while the group is in
    UPDATE_SCHEDULED or UPDATING, carried out one move at a time; `finished` is null while it runs,
    and at most one per group runs.

    `planned`: the moves of the plan when it was asked for ({"instance", "server", "name", "from",
    "reason"}): no other server is ever moved. `moves`: each move made or tried, with its outcome.
    The move in flight, if any, is `moving` (the server's Nova id), from the host `moving_from`,
    `moving_kind` live or cold, since `moving_since`; `moving_sent` once Nova accepted it."""

    group = models.ForeignKey(ServerGroup, on_delete=models.CASCADE, related_name="heals")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    automatic = models.BooleanField(default=False)
    started = models.DateTimeField(auto_now_add=True, db_index=True)
    finished = models.DateTimeField(null=True, blank=True)
    planned = models.JSONField(default=list)
    moves = models.JSONField(default=list)
    moves_done = models.PositiveIntegerField(default=0)
    stopped_because = models.TextField(blank=True, default="")
    # what the group looked like when the last move was sent: a move must leave it no worse, and closer
    verdict = models.CharField(max_length=20, blank=True, default="")
    remaining = models.PositiveIntegerField(default=0)
    moving = models.CharField(max_length=255, blank=True, default="")
    moving_name = models.CharField(max_length=255, blank=True, default="")
    moving_from = models.CharField(max_length=255, blank=True, default="")
    moving_kind = models.CharField(max_length=10, blank=True, default="")
    moving_since = models.DateTimeField(null=True, blank=True)
    moving_sent = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group"], condition=models.Q(finished__isnull=True), name="one_running_heal_per_group"
            )
        ]

    def __str__(self) -> str:
        return f"heal of {self.group_id} started {self.started:%Y-%m-%d %H:%M:%S}"


class ServerGroupTally(models.Model):
    """How many server groups a tenant holds, kept exact by the database itself: triggers on the
    server group table (migration 0008) add and subtract in the transaction of every insert, delete
    and move, however the rows are written (ORM, bulk, COPY). The list's total and its page offsets
    are read from here, so that neither counts a million rows."""

    tenant = models.OneToOneField(
        Tenant, primary_key=True, on_delete=models.CASCADE, related_name="server_group_tally", editable=False
    )
    groups = models.BigIntegerField(default=0, editable=False)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.groups}"


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
