from django.contrib import admin
from django.db import transaction

from cohort.core.authentication import token_revoked
from cohort.core.models import Token


@admin.register(Token)
class TokenAdmin(admin.ModelAdmin):
    """Tokens can be revoked here; their keys are never stored, so never shown."""

    list_display = ("user", "created", "last_used")
    readonly_fields = ("digest", "user", "created", "last_used")
    search_fields = ("user__username",)

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        self.delete_queryset(request, Token.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        """Each revocation is announced (the event log records it) in the transaction of the delete."""
        with transaction.atomic():
            for token in queryset.select_related("user"):
                token_revoked.send(sender=Token, user=token.user, actor=request.user)
            queryset.delete()
