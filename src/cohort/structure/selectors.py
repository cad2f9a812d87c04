"""Who may see and who may manage what (CONTRACT section 4), as queries: the reads every caller shares.

Staff see and manage everything; others see what belongs to customers they own and to projects they
hold any role in, and manage what belongs to customers they own and to projects they manage or
administer. A model says where its project is (`project_path`, "" for a Project itself), and
`objects_visible_to` / `objects_manageable_by` do the rest for any model, with two subqueries (the
customers a user owns, the projects a user holds a role in), so scoping a list costs no extra round
trip. Nothing lets a row through by default: an anonymous or inactive user gets `.none()`, and a
model that does not say where its project is raises rather than showing everything.
"""

from __future__ import annotations

import functools
from typing import TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, Q, QuerySet

from cohort.core import statements
from cohort.events.models import Event
from cohort.structure.models import Customer, CustomerRole, Project, ProjectRole, ServiceSettings

M = TypeVar("M", bound=Model)


def _signed_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def _owned_customers(user) -> QuerySet:
    return CustomerRole.objects.filter(user=user, role=CustomerRole.Role.OWNER).values("customer_id")


def _projects(user, *, manage: bool) -> QuerySet:
    roles = ProjectRole.objects.filter(user=user)
    if manage:
        roles = roles.filter(role__in=ProjectRole.MANAGING)
    return roles.values("project_id")


def _project_rule(model: type[Model], user, *, manage: bool) -> Q:
    """The rows of `model` in a customer `user` owns or a project `user` holds a (managing) role in."""
    project_path = getattr(model, "project_path", None)
    if project_path is None:
        raise ImproperlyConfigured(
            f"{model.__name__} has no project_path: say where its project is "
            '(e.g. project_path = "tenant__project"), or write a selector of its own.'
        )
    prefix = f"{project_path}__" if project_path else ""
    project_pk = f"{project_path}_id" if project_path else "pk"
    return Q(**{f"{prefix}customer_id__in": _owned_customers(user)}) | Q(
        **{f"{project_pk}__in": _projects(user, manage=manage)}
    )


def objects_visible_to(*, user, queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of `queryset` whose project `user` may see."""
    if not _signed_in(user):
        return queryset.none()
    if user.is_staff:
        return queryset
    return queryset.filter(_project_rule(queryset.model, user, manage=False))


def objects_manageable_by(*, user, queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of `queryset` whose project `user` may manage."""
    if not _signed_in(user):
        return queryset.none()
    if user.is_staff:
        return queryset
    return queryset.filter(_project_rule(queryset.model, user, manage=True))


def objects_not_manageable_by(*, user, queryset: QuerySet[M]) -> QuerySet[M]:
    """The rows of `queryset` that `user` may not manage (none for an anonymous user, who sees none)."""
    if not _signed_in(user):
        return queryset.none()
    if user.is_staff:
        return queryset.none()
    return queryset.exclude(_project_rule(queryset.model, user, manage=True))


def object_manageable_by(*, user, obj: Model) -> bool:
    """Whether `user` may manage `obj` (one query, by SQL compiled once per model; none for staff)."""
    if not _signed_in(user) or user.pk is None:
        return False
    if user.is_staff:
        return True
    model = type(obj)
    found = statements.first(("selectors.object_manageable_by", model), _manageable(model), user_pk=user.pk, pk=obj.pk)
    return found is not None


@functools.cache
def _manageable(model: type[Model]):
    def build(*, user_pk: int, pk: int) -> QuerySet:
        user = statements.user_stand_in(user_pk, staff=False)
        return objects_manageable_by(user=user, queryset=model._default_manager.filter(pk=pk)).order_by().only("pk")

    return build


def customers_visible_to(*, user) -> QuerySet[Customer]:
    """Customers the user owns, or in whose projects the user holds any role."""
    if not _signed_in(user):
        return Customer.objects.none()
    if user.is_staff:
        return Customer.objects.all()
    projects = Project.objects.filter(pk__in=_projects(user, manage=False)).values("customer_id")
    return Customer.objects.filter(Q(pk__in=_owned_customers(user)) | Q(pk__in=projects))


def customers_manageable_by(*, user) -> QuerySet[Customer]:
    """Customers the user owns."""
    if not _signed_in(user):
        return Customer.objects.none()
    if user.is_staff:
        return Customer.objects.all()
    return Customer.objects.filter(pk__in=_owned_customers(user))


def projects_visible_to(*, user) -> QuerySet[Project]:
    """Projects the user holds a role in, or whose customer the user owns; each with its customer."""
    return objects_visible_to(user=user, queryset=Project.objects.select_related("customer"))


def service_settings_visible_to(*, user) -> QuerySet[ServiceSettings]:
    """Clouds that are shared, that belong to a customer the user owns, or where the user sees a tenant
    (a tenant is seen by whoever sees its project)."""
    if not _signed_in(user):
        return ServiceSettings.objects.none()
    if user.is_staff:
        return ServiceSettings.objects.all()
    return ServiceSettings.objects.filter(
        Q(shared=True)
        | Q(customer_id__in=customers_manageable_by(user=user).values("pk"))
        | Q(pk__in=projects_visible_to(user=user).values("tenants__service_settings_id"))
    )


def events_visible_to(*, user) -> QuerySet[Event]:
    """Events as visible as what they are about: staff see all; others see the events of customers they
    own and of projects they hold any role in, never a staff-only one (a failed login, a cloud, a user).
    Read from the event's own uuid columns, with the same two subqueries as every other scope."""
    if not _signed_in(user):
        return Event.objects.none()
    if user.is_staff:
        return Event.objects.all()
    owned = Customer.objects.filter(pk__in=_owned_customers(user)).values("uuid")
    projects = Project.objects.filter(pk__in=_projects(user, manage=False)).values("uuid")
    return Event.objects.filter(Q(customer_uuid__in=owned) | Q(project_uuid__in=projects), staff_only=False)
