"""The Django admin for customers, projects, their roles, clouds and users: every change made here is
recorded in the event log, in the admin's own transaction (its add, change and delete views each run
in one). Deleting many rows at once is not offered, as that action runs outside a transaction.
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from cohort.events.services import event_record
from cohort.events.types import EventType
from cohort.structure import models
from cohort.structure.services import role_recorded, user_scope


class RecordedAdmin(admin.ModelAdmin):
    """Records what the admin adds, changes and deletes, with the admin's own change message."""

    event_types: tuple[EventType, EventType, EventType]  # added, changed, deleted

    def event_scope(self, obj):
        return obj

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def record(self, request, obj, event_type: EventType, verb: str, changes) -> None:
        kind = obj._meta.verbose_name
        event_record(
            event_type=event_type,
            message=f"{kind.capitalize()} {obj} has been {verb} in the admin.",
            scope=self.event_scope(obj),
            actor=request.user,
            changes={"admin": changes} if changes else None,
        )

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self.record(request, obj, self.event_types[0], "added", message)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self.record(request, obj, self.event_types[1], "changed", message)
        return entry

    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        for obj in queryset:
            self.record(request, obj, self.event_types[2], "deleted", None)
        return entries

    def save_formset(self, request, form, formset, change):
        """Role inlines: each role given or taken is a `role_granted` or `role_revoked` event."""
        super().save_formset(request, form, formset, change)
        if formset.model not in (models.CustomerRole, models.ProjectRole):
            return
        for held in formset.deleted_objects:
            role_recorded(held, granted=False, actor=request.user)
        for held in formset.new_objects:
            role_recorded(held, granted=True, actor=request.user)
        for held, _fields in formset.changed_objects:
            role_recorded(held, granted=True, actor=request.user)


class CustomerRoleInline(admin.TabularInline):
    model = models.CustomerRole
    extra = 0


class ProjectRoleInline(admin.TabularInline):
    model = models.ProjectRole
    extra = 0


@admin.register(models.Customer)
class CustomerAdmin(RecordedAdmin):
    list_display = ("name", "abbreviation", "uuid", "created")
    search_fields = ("name", "native_name", "abbreviation", "uuid")
    inlines = [CustomerRoleInline]
    event_types = (
        EventType.CUSTOMER_CREATION_SUCCEEDED,
        EventType.CUSTOMER_UPDATE_SUCCEEDED,
        EventType.CUSTOMER_DELETION_SUCCEEDED,
    )


@admin.register(models.Project)
class ProjectAdmin(RecordedAdmin):
    list_display = ("name", "customer", "uuid", "created")
    search_fields = ("name", "uuid")
    list_select_related = ("customer",)
    inlines = [ProjectRoleInline]
    event_types = (
        EventType.PROJECT_CREATION_SUCCEEDED,
        EventType.PROJECT_UPDATE_SUCCEEDED,
        EventType.PROJECT_DELETION_SUCCEEDED,
    )


@admin.register(models.ServiceSettings)
class ServiceSettingsAdmin(RecordedAdmin):
    """Credentials are neither shown nor edited here (a page is easy to shoulder-surf or screenshot);
    `cohort cloud NAME --credential KEY=VALUE` sets them."""

    list_display = ("name", "auth_url", "auth_type", "state", "shared", "verify_tls")
    search_fields = ("name", "auth_url")
    exclude = ("credentials",)
    event_types = (
        EventType.SERVICE_SETTINGS_CREATED,
        EventType.SERVICE_SETTINGS_UPDATED,
        EventType.SERVICE_SETTINGS_DELETED,
    )


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class RecordedUserAdmin(RecordedAdmin, UserAdmin):
    """Django's user admin (a password change included), recorded; events about users are staff only."""

    event_types = (
        EventType.USER_CREATION_SUCCEEDED,
        EventType.USER_UPDATE_SUCCEEDED,
        EventType.USER_DELETION_SUCCEEDED,
    )

    def event_scope(self, obj):
        return user_scope(obj)
