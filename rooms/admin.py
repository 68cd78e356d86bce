from django.contrib import admin

from rooms.models import Agreement, Invite, Room


class AgreementInline(admin.StackedInline):
    model = Agreement
    extra = 0


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "visibility", "state", "capacity", "last_seq")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("last_seq", "key_epoch")
    inlines = [AgreementInline]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ("room", "expires_at", "uses", "max_uses")
    readonly_fields = ("code_fingerprint", "uses", "created_by")
