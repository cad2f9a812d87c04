"""The managing roles as a rule for `action_permissions` (see `cohort.core.permissions`).

Staff, the owner of the object's customer, a manager or admin of its project (CONTRACT section 4);
the query is `cohort.structure.selectors.object_manageable_by`.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from cohort.structure.selectors import object_manageable_by


class CanManage(BasePermission):
    """Whoever may manage the object: judged on it after the scope found it (invisible stays 404)."""

    def has_object_permission(self, request, view, obj) -> bool:
        if object_manageable_by(user=request.user, obj=obj):
            return True
        if not type(obj)._default_manager.filter(pk=obj.pk).exists():
            raise exceptions.NotFound()  # removed by a concurrent request after this one found it
        return False
