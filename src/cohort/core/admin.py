from django.contrib import admin

from cohort.core.models import Token


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    """Tokens can be revoked here; their keys are never stored, so never shown."""

    list_display = ("user", "created", "last_used")
    readonly_fields = ("digest", "user", "created", "last_used")
    search_fields = ("user__username",)

    def has_add_permission(self, request):
        return False
