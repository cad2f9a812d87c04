"""The base of every API viewset: rows from a selector, lookup by uuid, and one rule per action.

A viewset declares what it shows and who may do what, and nothing else:

    visible_to = staticmethod(selectors.server_groups_visible_to)   # (*, user) -> QuerySet
    action_permissions = {**READ, "destroy": CanManage, "unlink": IsStaff}

Its rows are always `visible_to(user=<caller>)` (or, for an action that is not a read, `acts_on`, a
leaner selector of the same scope, when the viewset names one); a viewset without a selector raises
at the first request rather than showing everything. Each request is checked against its action's rule: on the
request first, then on the object it acts on (`get_object`, or `check_object_permissions` for an
object named in the body), so an object the caller cannot see is 404 and one they see but may not
change is 403. An action without a rule raises `ImproperlyConfigured` (the request fails, closed),
and `tests/api/test_routes.py` walks the router so no such action is ever routed.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Mapping

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.urls import reverse
from rest_framework import exceptions, mixins, viewsets
from rest_framework.permissions import BasePermission

from cohort.core import statements
from cohort.core.permissions import READ, CanSee
from cohort.core.rows import fetch_for_user

UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


def api_root(request) -> str:
    """The absolute URL of `/api/` as the client reached it: the base of every hyperlink."""
    return request.build_absolute_uri(reverse("api-root"))


class ScopedViewSet(viewsets.GenericViewSet):
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN
    visible_to: Callable[..., QuerySet] | None = None
    # Optional: a leaner selector of the same scope for the actions that are not reads (READ), when the
    # read's own does work only its answer needs (annotations, related rows).
    acts_on: Callable[..., QuerySet] | None = None
    action_permissions: Mapping[str, type[BasePermission]] = {}

    def get_queryset(self) -> QuerySet:
        return self.selector()(user=self.request.user)

    def selector(self) -> Callable[..., QuerySet]:
        """The selector of this request's rows: `acts_on` for an action that is not a read, when there
        is one, else `visible_to`."""
        if self.visible_to is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__} has no visible_to: name the selector of the rows a caller may see, "
                "e.g. visible_to = staticmethod(selectors.server_groups_visible_to)."
            )
        if self.acts_on is not None and self.action not in READ:
            return self.acts_on
        return self.visible_to

    def get_permissions(self) -> list[BasePermission]:
        signed_in = super().get_permissions()  # DEFAULT_PERMISSION_CLASSES
        if self.action is None:  # a method the route does not have: DRF answers 405 after this check
            return signed_in
        rule = self.action_permissions.get(self.action)
        if rule is None:
            raise ImproperlyConfigured(
                f"{type(self).__name__}.action_permissions has no rule for the action {self.action!r}: "
                "add one (CanSee, CanManage, IsStaff, ...)."
            )
        return [*signed_in, rule()]

    def lookup_uuid(self) -> uuid.UUID:
        try:
            return uuid.UUID(self.kwargs[self.lookup_field])
        except ValueError:
            raise exceptions.NotFound() from None

    def get_object(self):
        """The object of a detail route: 404 unless the caller sees it, 403 unless the action's rule allows."""
        selector, user, key = self.selector(), self.request.user, self.lookup_uuid()
        if getattr(user, "is_authenticated", False) and user.is_active and user.pk is not None:
            # compiled once per selector and kind of user (`cohort.core.statements`): a create's POST finds
            # its tenant this way before the message that starts the step goes out
            statement = ("viewsets.get_object", selector, bool(user.is_staff))
            obj = statements.first(statement, _by_uuid(selector, bool(user.is_staff)), user_pk=user.pk, key=key)
        else:  # unordered: the uuid is unique, and compiling an ORDER BY costs more than the query itself
            obj = next(iter(selector(user=user).filter(uuid=key).order_by()[:1]), None)
        if obj is None:
            raise exceptions.NotFound()
        self.check_object_permissions(self.request, obj)
        return obj

    def get_object_pk(self) -> int:
        """The primary key of a detail route's object, for a read that renders from rows: 404 unless the
        caller sees it. Only for an action whose rule asks nothing of the object (CanSee): any other
        reads the whole object, as `get_object` does."""
        if self.action not in READ or self.action_permissions.get(self.action) is not CanSee:
            return self.get_object().pk
        rows = fetch_for_user(_pk_by_uuid(self.visible_to), self.request.user, key=self.lookup_uuid())
        if not rows:
            raise exceptions.NotFound()
        return rows[0][0]


@functools.cache
def _by_uuid(selector: Callable[..., QuerySet], staff: bool) -> Callable[..., QuerySet]:
    """The query of a row `selector` shows a user (staff or not) by its uuid, for `statements.first`."""

    def build(*, user_pk: int, key: uuid.UUID) -> QuerySet:
        return selector(user=statements.user_stand_in(user_pk, staff=staff)).filter(uuid=key).order_by()

    return build


@functools.cache
def _pk_by_uuid(visible_to: Callable[..., QuerySet]) -> Callable[..., QuerySet]:
    """The query of a visible row's pk by its uuid, one function per selector (`fetch_for_user` keeps
    each one's SQL compiled)."""

    def build(*, user, key: uuid.UUID) -> QuerySet:
        return visible_to(user=user).filter(uuid=key).order_by().values_list("pk")[:1]

    return build


class ReadOnlyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    filterset_fields = ("name",)
    action_permissions = READ
