"""The base of every API viewset: lookup by uuid, and scoping by role that fails closed.

A viewset's rows are always `scope(user)` of its queryset. The default scope follows the model's
`project_path` (where its project is); a model without one raises at the first request rather than
showing everything. An invisible object is 404; a visible one the caller may not change is 403.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.urls import reverse
from rest_framework import exceptions, viewsets

from cohort.structure.permissions import project_scope

UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def api_root(request) -> str:
    """The absolute URL of `/api/` as the client reached it: the base of every hyperlink."""
    return request.build_absolute_uri(reverse("api-root"))


class ScopedViewSet(viewsets.GenericViewSet):
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN

    def scope(self, *, manage: bool = False) -> Q | None:
        """The rows the caller may see (or manage); None means all of them (staff)."""
        project_path = getattr(self.queryset.model, "project_path", None)
        if project_path is None:
            raise ImproperlyConfigured(f"{self.queryset.model.__name__} has no project_path; define scope()")
        return project_scope(self.request.user, project_path, manage=manage)

    def get_queryset(self):
        queryset = self.queryset.all()
        rule = self.scope()
        return queryset if rule is None else queryset.filter(rule)

    def lookup_uuid(self) -> uuid.UUID:
        try:
            return uuid.UUID(self.kwargs[self.lookup_field])
        except ValueError:
            raise exceptions.NotFound() from None

    def get_object(self):
        obj = self.get_queryset().filter(uuid=self.lookup_uuid()).first()
        if obj is None:
            raise exceptions.NotFound()
        return obj

    def require_manage(self, obj) -> None:
        rule = self.scope(manage=True)
        objects = type(obj)._default_manager
        if rule is not None and not objects.filter(rule, pk=obj.pk).exists():
            if not objects.filter(pk=obj.pk).exists():
                raise exceptions.NotFound()  # removed meanwhile by a concurrent request
            raise exceptions.PermissionDenied()

    def require_staff(self) -> None:
        if not self.request.user.is_staff:
            raise exceptions.PermissionDenied()
