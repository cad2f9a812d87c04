from django.contrib import admin

from cohort.structure import models


class CustomerRoleInline(admin.TabularInline):
    model = models.CustomerRole
    extra = 0


class ProjectRoleInline(admin.TabularInline):
    model = models.ProjectRole
    extra = 0


@admin.register(models.Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "abbreviation", "uuid", "created")
    search_fields = ("name", "native_name", "abbreviation", "uuid")
    inlines = [CustomerRoleInline]


@admin.register(models.Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "customer", "uuid", "created")
    search_fields = ("name", "uuid")
    list_select_related = ("customer",)
    inlines = [ProjectRoleInline]


@admin.register(models.ServiceSettings)
class ServiceSettingsAdmin(admin.ModelAdmin):
    """Credentials are neither shown nor edited here (a page is easy to shoulder-surf or screenshot);
    `cohort cloud NAME --credential KEY=VALUE` sets them."""

    list_display = ("name", "auth_url", "auth_type", "state", "shared", "verify_tls")
    search_fields = ("name", "auth_url")
    exclude = ("credentials",)
