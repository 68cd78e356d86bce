from django.contrib import admin

from moderation.models import AuditEntry, Escalation, OutboxItem


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "room",
        "pseudonym",
        "category",
        "severity",
        "queue",
        "status",
        "created_at",
    )
    list_filter = ("status", "severity", "category", "queue")
    # The excerpt is ciphertext; staff read it in the dashboard, where each view is audited.
    exclude = ("excerpt_ciphertext",)
    readonly_fields = ("room", "message", "membership", "data_key", "evidence", "created_at")


@admin.register(OutboxItem)
class OutboxItemAdmin(admin.ModelAdmin):
    list_display = (
        "idempotency_key",
        "kind",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_error",
    )
    readonly_fields = ("kind", "idempotency_key", "payload", "created_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ("seq", "at", "actor", "action", "object_type", "object_id")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
