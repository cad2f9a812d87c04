"""Who owns what: customers, their projects, the roles people hold in them, and the clouds.

A customer (an organisation) owns projects; people hold a role on a customer (owner) or on a project
(manager, admin, member). Service settings describe one OpenStack cloud: where it is and the
credentials Cohort uses there. Credentials are encrypted at rest (`cohort.core.encryption`) and never
appear in an API response.
"""

from django.conf import settings
from django.db import models

from cohort.core.encryption import EncryptedJSONField
from cohort.core.models import StatusModel, TimeStampedModel, UuidModel
from cohort.events.scope import Owner, Scope


class Customer(UuidModel, TimeStampedModel):
    name = models.CharField(max_length=150)
    native_name = models.CharField(max_length=160, blank=True, default="")
    abbreviation = models.CharField(max_length=12, blank=True, default="")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def event_scope(self) -> Scope:
        return Scope("Structure.Customer", self.uuid, self.name, customer=Owner(self.uuid, self.name))


class Project(UuidModel, TimeStampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="projects")
    name = models.CharField(max_length=150)
    description = models.CharField(max_length=2000, blank=True, default="")

    project_path = ""  # a project is its own project (see cohort.structure.selectors)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "name"],
                name="project_name_unique_per_customer",
                violation_error_message="Project name should be unique within a customer.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer} / {self.name}"

    def event_scope(self) -> Scope:
        customer = self.customer
        return Scope(
            "Structure.Project",
            self.uuid,
            self.name,
            project=Owner(self.uuid, self.name),
            customer=Owner(customer.uuid, customer.name),
        )


class CustomerRole(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_roles")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OWNER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "user", "role"], name="customer_role_unique")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.customer}"

    def event_scope(self) -> Scope:
        return _role_scope(self.customer.event_scope(), self)


class ProjectRole(models.Model):
    class Role(models.TextChoices):
        MANAGER = "manager", "Manager"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    MANAGING = (Role.MANAGER, Role.ADMIN)

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="roles")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_roles")
    role = models.CharField(max_length=20, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user", "role"], name="project_role_unique")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"

    def event_scope(self) -> Scope:
        return _role_scope(self.project.event_scope(), self)


def _role_scope(where: Scope, role) -> Scope:
    """A role's events are about the customer or project it is held in, naming whose role it is."""
    extra = {"role_name": role.role, "affected_user_username": role.user.get_username()}
    return Scope(where.type, where.uuid, where.name, project=where.project, customer=where.customer, extra=extra)


class ServiceSettings(UuidModel, TimeStampedModel, StatusModel):
    """One OpenStack cloud: its Keystone (or, for the lab, compute) endpoint and credentials."""

    class AuthType(models.TextChoices):
        PASSWORD = "password", "Keystone v3 password"
        APPLICATION_CREDENTIAL = "v3applicationcredential", "Keystone v3 application credential"
        ADMIN_TOKEN = "admin_token", "Token and endpoint (local lab)"

    name = models.CharField(max_length=150, unique=True)
    type = models.CharField(max_length=40, default="OpenStack")
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="service_settings"
    )
    shared = models.BooleanField(default=False)
    auth_url = models.CharField(max_length=500)
    auth_type = models.CharField(max_length=40, choices=AuthType.choices, default=AuthType.PASSWORD)
    credentials = EncryptedJSONField(default=dict, blank=True)
    region = models.CharField(max_length=100, blank=True, default="")
    verify_tls = models.BooleanField(default=True)
    options = models.JSONField(default=dict, blank=True)
    # Reconciliation heals this cloud's degraded and violated groups by itself (`cohort.openstack.heal`).
    auto_heal = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "service settings"

    def __str__(self) -> str:
        return self.name

    def event_scope(self) -> Scope:
        """A cloud's events are the operator's: staff only."""
        return Scope("Structure.ServiceSettings", self.uuid, self.name, staff_only=True)
