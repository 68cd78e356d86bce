"""The Django admin for rooms, their agreements and invite codes (who may use which page is
set by ``chatserver setup-roles`` from chatserver/permissions.py).

An invite code is shown once, on the page that answers its creation; only its fingerprint is
stored, so a lost code is replaced, never recovered."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from chatserver.audit import actor_for_user, audit_append
from chatserver.crypto import fingerprint, random_token
from rooms.models import Agreement, Invite, Room, StaffName


class AgreementInline(admin.StackedInline):
    model = Agreement
    extra = 0


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "visibility", "state", "capacity", "last_seq")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("last_seq", "key_epoch", "moderation_rev")
    inlines = [AgreementInline]
    fieldsets = (
        (None, {"fields": ("title", "slug", "description", "visibility", "capacity", "state")}),
        (
            "How the room is held",
            {
                "fields": (
                    "uses_sessions",
                    "schedule",
                    "slow_mode_seconds",
                    "blocked_terms",
                    "risky_messages",
                ),
                "description": (
                    "Blocked terms (one per line) hold a message for a facilitator's review. "
                    "A message showing high or critical risk is folded for other members "
                    "behind a care note by default; it can instead be held until a "
                    "facilitator has read it, or shown as written. Its writer always sees it, "
                    "and staff are alerted in every case."
                ),
            },
        ),
        ("Records", {"fields": ("retention_days", "last_seq", "key_epoch", "moderation_rev")}),
    )

    def save_model(self, request: HttpRequest, obj: Room, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_append(
            actor=actor_for_user(request.user),
            action="room.changed" if change else "room.created",
            object_type="room",
            object_id=obj.pk,
            detail={"fields": sorted(form.changed_data)},
        )


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ("room", "expires_at", "uses", "max_uses", "created_by")
    fields = ("room", "expires_at", "max_uses", "uses", "created_by")
    readonly_fields = ("uses", "created_by")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # An existing invite can only be looked at or revoked (deleted), not re-pointed.
        if obj is not None:
            return ("room", "expires_at", "max_uses", "uses", "created_by")
        return self.readonly_fields

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"expires_at": timezone.now() + dt.timedelta(days=settings.CHAT_INVITE_DAYS)}

    def save_model(self, request: HttpRequest, obj: Invite, form: Any, change: bool) -> None:
        if not change:
            code = random_token(12)
            obj.code_fingerprint = fingerprint(code)
            obj.created_by = request.user  # type: ignore[assignment]
            request.invite_code = code  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)
        if not change:
            audit_append(
                actor=actor_for_user(request.user),
                action="invite.created",
                object_type="invite",
                object_id=obj.pk,
                detail={"room": obj.room_id, "max_uses": obj.max_uses},
            )

    def delete_model(self, request: HttpRequest, obj: Invite) -> None:
        audit_append(
            actor=actor_for_user(request.user),
            action="invite.revoked",
            object_type="invite",
            object_id=obj.pk,
        )
        super().delete_model(request, obj)

    def response_add(
        self, request: HttpRequest, obj: Invite, post_url_continue: str | None = None
    ) -> HttpResponse:
        """Show the code on this page only: it is not put in a message, a cookie or a log."""
        code = getattr(request, "invite_code", None)
        if code is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": "Invite created",
            "invite": obj,
            "code": code,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/rooms/invite_created.html", context)


@admin.register(StaffName)
class StaffNameAdmin(admin.ModelAdmin):
    """Staff choose their name in rooms once (rooms/staffnames.py). An admin changes it by
    deleting it here: the person is asked to choose again when they next sign in."""

    list_display = ("name", "user", "chosen_at")
    fields = ("user", "name", "chosen_at")
    readonly_fields = ("user", "name", "chosen_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, each audited
        return actions

    def delete_model(self, request: HttpRequest, obj: StaffName) -> None:
        audit_append(
            actor=actor_for_user(request.user),
            action="staff.name_reset",
            object_type="user",
            object_id=obj.user_id,
        )
        super().delete_model(request, obj)
