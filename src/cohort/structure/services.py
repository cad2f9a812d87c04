"""Every write on customers, projects, roles, clouds and users: what the `cohort` commands and the
admin call, each recording its event in the transaction of the change.

A cloud's credentials never reach the event log: a change names the credential keys, not the values.
Events about clouds and users are for staff only (their scopes say so).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from cohort.events.scope import Scope
from cohort.events.services import event_record, uuid_for_user
from cohort.events.types import EventType
from cohort.structure.models import Customer, CustomerRole, Project, ProjectRole, ServiceSettings

CLOUD_FIELDS = ("auth_url", "auth_type", "options", "region", "verify_tls", "shared", "customer_id", "auto_heal")


def user_scope(user) -> Scope:
    """A user as what an event is about (Django's user model is not ours to add a method to)."""
    return Scope("Core.User", uuid_for_user(user.pk), user.get_username(), staff_only=True)


def customer_create(*, name: str, native_name: str = "", abbreviation: str = "", actor=None) -> Customer:
    with transaction.atomic():
        customer = Customer.objects.create(name=name, native_name=native_name, abbreviation=abbreviation)
        event_record(
            event_type=EventType.CUSTOMER_CREATION_SUCCEEDED,
            message=f"Customer {name} has been created.",
            scope=customer,
            actor=actor,
            changes={"name": name, "native_name": native_name, "abbreviation": abbreviation},
        )
    return customer


def project_create(*, customer: Customer, name: str, description: str = "", actor=None) -> Project:
    with transaction.atomic():
        project = Project.objects.create(customer=customer, name=name, description=description)
        event_record(
            event_type=EventType.PROJECT_CREATION_SUCCEEDED,
            message=f"Project {name} has been created in customer {customer.name}.",
            scope=project,
            actor=actor,
            changes={"name": name, "description": description},
        )
    return project


def role_grant(*, user, role: str, customer: Customer | None = None, project: Project | None = None, actor=None):
    """Give `user` the customer role (owner) or project role `role`; nothing happens if they hold it."""
    model, target = _role_target(customer, project)
    with transaction.atomic():
        held, created = model.objects.get_or_create(user=user, role=role, **target)
        if created:
            role_recorded(held, granted=True, actor=actor)
    return held


def role_revoke(*, user, role: str, customer: Customer | None = None, project: Project | None = None, actor=None):
    model, target = _role_target(customer, project)
    with transaction.atomic():
        for held in model.objects.select_for_update().filter(user=user, role=role, **target):
            role_recorded(held, granted=False, actor=actor)
            held.delete()


def role_recorded(held: CustomerRole | ProjectRole, *, granted: bool, actor=None) -> None:
    """Record a role given or taken (the admin's role inlines write roles themselves, then call this)."""
    where = held.customer if isinstance(held, CustomerRole) else held.project
    event_record(
        event_type=EventType.ROLE_GRANTED if granted else EventType.ROLE_REVOKED,
        message=f"User {held.user.get_username()} has {'gained' if granted else 'lost'} role {held.role} "
        f"in {where.name}.",
        scope=held,
        actor=actor,
    )


def _role_target(customer, project) -> tuple[type, dict]:
    if (customer is None) == (project is None):
        raise ValueError("give either a customer (for owner) or a project (for manager, admin, member)")
    return (CustomerRole, {"customer": customer}) if customer is not None else (ProjectRole, {"project": project})


def cloud_save(*, name: str, values: Mapping[str, Any], actor=None) -> ServiceSettings:
    """Register the cloud `name`, or update it with `values` (model fields; credentials included)."""
    with transaction.atomic():
        cloud = ServiceSettings.objects.select_for_update().filter(name=name).first()
        before = {key: getattr(cloud, key) for key in CLOUD_FIELDS} if cloud else {}
        before_keys = sorted(cloud.credentials) if cloud else []
        cloud = cloud or ServiceSettings(name=name)
        for key, value in values.items():
            setattr(cloud, key, value)
        created = cloud.pk is None
        cloud.save()
        changes = {
            key: [before.get(key), getattr(cloud, key)]
            for key in CLOUD_FIELDS
            if before.get(key) != getattr(cloud, key)
        }
        if "credentials" in values:
            changes["credential_keys"] = [before_keys, sorted(cloud.credentials)]  # never the values
        event_record(
            event_type=EventType.SERVICE_SETTINGS_CREATED if created else EventType.SERVICE_SETTINGS_UPDATED,
            message=f"Cloud {name} has been {'registered' if created else 'updated'}.",
            scope=cloud,
            actor=actor,
            changes=changes,
        )
    return cloud


def user_save(
    *, username: str, staff: bool | None = None, password: str | None = None, email: str = "", actor=None
) -> tuple[Any, bool]:
    """Create or update a user; returns (user, created). A new user without a password cannot log in."""
    with transaction.atomic():
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        changes: dict[str, Any] = {}
        if staff is not None and staff != user.is_staff:
            changes["is_staff"] = [user.is_staff, staff]
            user.is_staff = staff
        if password:
            user.set_password(password)
            changes["password"] = "changed"  # never the password
        elif created:
            user.set_unusable_password()
        user.save()
        if created or changes:
            event_record(
                event_type=EventType.USER_CREATION_SUCCEEDED if created else EventType.USER_UPDATE_SUCCEEDED,
                message=f"User {username} has been {'created' if created else 'updated'}.",
                scope=user_scope(user),
                actor=actor,
                changes=changes,
            )
    return user, created
