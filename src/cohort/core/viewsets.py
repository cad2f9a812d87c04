"""The base of every API viewset: rows from a selector, lookup by uuid, scoping that fails closed.

A viewset's rows are always `visible_to(user=<caller>)`, a selector it names
(`visible_to = staticmethod(selectors.server_groups_visible_to)`); a viewset without one raises at the
first request rather than showing everything. An invisible object is 404; a visible one the caller
may not change is 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.urls import reverse
from rest_framework import exceptions, mixins, viewsets

from cohort.structure.selectors import object_manageable_by

UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def api_root(request) -> str:
    """The absolute URL of `/api/` as the client reached it: the base of every hyperlink."""
    return request.build_absolute_uri(reverse("api-root"))


class ScopedViewSet(viewsets.GenericViewSet):
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN
    visible_to: Callable[..., QuerySet] | None = None

    def get_queryset(self) -> QuerySet:
        if self.visible_to is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} has no visible_to: name the selector of the rows a caller may see, "
                "e.g. visible_to = staticmethod(selectors.server_groups_visible_to)."
            )
        return self.visible_to(user=self.request.user)

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
        if not object_manageable_by(user=self.request.user, obj=obj):
            if not type(obj)._default_manager.filter(pk=obj.pk).exists():
                raise exceptions.NotFound()  # removed meanwhile by a concurrent request
            raise exceptions.PermissionDenied()

    def require_staff(self) -> None:
        if not self.request.user.is_staff:
            raise exceptions.PermissionDenied()


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    filterset_fields = ("name",)
