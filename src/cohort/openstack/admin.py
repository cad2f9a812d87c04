from django.contrib import admin

from cohort.openstack import models


class ViewOnly(admin.ModelAdmin):
    """Tenants, server groups and their members are cloud-backed: every change goes through the
    services (the API and the `cohort` commands), which do the cloud work and record its event. The
    admin only shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Tenant)
class TenantAdmin(ViewOnly):
    """Registered with `cohort tenant` (credentials with `--credential KEY=VALUE`, never shown here)."""

    list_display = ("name", "project", "service_settings", "backend_id", "state")
    exclude = ("credentials",)
    search_fields = ("name", "backend_id", "uuid")
    list_select_related = ("project__customer", "service_settings")


@admin.register(models.ServerGroup)
class ServerGroupAdmin(ViewOnly):
    list_display = ("name", "tenant", "policy", "state", "backend_id", "modified")
    list_filter = ("state", "policy")
    search_fields = ("name", "backend_id", "uuid")
    list_select_related = ("tenant",)
    readonly_fields = (
        "state",
        "backend_id",
        "error_message",
        "error_traceback",
        "uuid",
        "created",
        "modified",
    )


@admin.register(models.Instance)
class InstanceAdmin(ViewOnly):
    list_display = ("name", "tenant", "server_group", "status", "host_id")
    search_fields = ("name", "backend_id", "uuid")
    list_select_related = ("tenant", "server_group")
