"""Who may run an action: the rules a viewset names in its `action_permissions`, as DRF permissions.

A rule is judged on the object the action acts on, after the viewset's scope has found it, so an
object the caller may not see is 404 before any rule is asked, and one they see but may not change is
403. Signing in is checked before any rule (DRF's `DEFAULT_PERMISSION_CLASSES`). The rules that know
domain roles live in their app (`cohort.structure.permissions.CanManage`); these two need none.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission


class CanSee(BasePermission):
    """Whoever sees the object: seeing is the scope's question, answered before a rule is asked."""

    def has_object_permission(self, request, view, obj) -> bool:
        return True


class IsStaff(BasePermission):
    """Staff only. Judged on the object, so a non-staff caller gets 404 for what they cannot see."""

    def has_object_permission(self, request, view, obj) -> bool:
        return bool(request.user.is_staff)


# The actions every scoped viewset reads with; OPTIONS is DRF's implicit "metadata" action.
READ = {"list": CanSee, "retrieve": CanSee, "metadata": CanSee}
