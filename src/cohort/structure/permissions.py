"""Who may see and who may manage, as query filters.

Every rule is a `Q` built from two subqueries (the customers a user owns, the projects a user holds
a role in), so scoping a list costs no extra round trip and works the same on every model: a model
says where its project is (`project_path`), and these functions do the rest. There is no default
that lets a row through: an anonymous or inactive user matches nothing.
"""

from __future__ import annotations

from django.db.models import Q

from cohort.structure.models import CustomerRole, ProjectRole

NOTHING = Q(pk__in=[])


def _owned_customers(user):
    return CustomerRole.objects.filter(user=user, role=CustomerRole.Role.OWNER).values("customer_id")


def _projects(user, roles=None):
    qs = ProjectRole.objects.filter(user=user)
    if roles is not None:
        qs = qs.filter(role__in=roles)
    return qs.values("project_id")


def project_scope(user, project_path: str, *, manage: bool = False) -> Q | None:
    """Rows whose project (at `project_path`, "" for a Project itself) the user may see or manage.

    None means "no restriction" (staff); callers must treat a missing rule as NOTHING.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOTHING
    if user.is_staff:
        return None
    prefix = f"{project_path}__" if project_path else ""
    project_pk = f"{project_path}_id" if project_path else "pk"
    roles = ProjectRole.MANAGING if manage else None
    return Q(**{f"{prefix}customer_id__in": _owned_customers(user)}) | Q(
        **{f"{project_pk}__in": _projects(user, roles)}
    )


def customer_scope(user, *, manage: bool = False) -> Q | None:
    """Customers the user owns, or (to see) in whose projects the user holds any role."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOTHING
    if user.is_staff:
        return None
    owned = Q(pk__in=_owned_customers(user))
    if manage:
        return owned
    from cohort.structure.models import Project

    return owned | Q(pk__in=Project.objects.filter(pk__in=_projects(user)).values("customer_id"))
