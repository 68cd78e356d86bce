"""The Django admin for staff: escalations, training, supervision, debriefs, the audit log and
the risk lexicon's versions.

The admin site itself is made to follow the same rules as the JSON sign-in: moderators, staff
and admins only (by role group, not the ``is_staff`` flag), a second factor at every sign-in,
the per-username lockout (through the authentication backend), and every sign-in audited.
What each role may see or change comes from Django model permissions that
``chatserver setup-roles`` derives from the matrix in chatserver/permissions.py.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from chatserver.audit import actor_for_user, audit_append
from chatserver.models import AuditEntry
from chatserver.permissions import can
from chatserver.sessions import session_digest
from moderation import accounts, devices, escalations, governance
from moderation.models import (
    Debrief,
    Escalation,
    OutboxItem,
    Report,
    StaffSession,
    SupervisionSession,
    TrainingRecord,
)
from rooms.errors import RoomError
from rooms.models import Membership
from rooms.roles import role_for_user
from rooms.throttles import STAFF_SIGNIN, client_address, throttle_hit

ADMIN_ROLES = frozenset({Membership.Role.MODERATOR, Membership.Role.STAFF, Membership.Role.ADMIN})


class StaffAdminAuthenticationForm(OTPAdminAuthenticationForm):
    """Password and authenticator code, in one step; the role group decides, not
    ``is_staff``. A right password with a missing or wrong code counts toward the lockouts
    like a wrong password, and is answered in the same words: the form asks for all three at
    once, so it never needs to tell which was wrong (nor to list the account's devices)."""

    error_messages = {
        **OTPAdminAuthenticationForm.error_messages,
        "invalid_login": (
            "Please enter the correct %(username)s, password and authenticator code for a "
            "staff account. Note that they may be case-sensitive."
        ),
    }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Signed in: a member session this browser holds ends before the staff one starts.
        accounts.apart_from_member(self.request)
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        # Django's own check (active account), skipping the admin form's is_staff rule.
        AuthenticationForm.confirm_login_allowed(self, user)
        if role_for_user(user) not in ADMIN_ROLES:
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )

    def _chosen_device(self, user: Any) -> Any:
        """The device picked in the form, else the account's authenticator: the form is not
        shown a second time with the account's devices to choose from."""
        return super()._chosen_device(user) or accounts.confirmed_device(user)

    def clean_otp(self, user: Any) -> None:
        if user is None:
            return
        try:
            super().clean_otp(user)
        except ValidationError:
            username = user.get_username()
            accounts.record_failure(
                username,
                factor="otp" if self.cleaned_data.get("otp_token") else "otp_missing",
                device=accounts.trusted_device(self.request, username),
                awaiting_code=True,
            )
            # Shown again as after a wrong password: no device list, no password kept.
            self.user_cache = None
            self.fields["password"].widget.render_value = False  # type: ignore[attr-defined]
            raise self.get_invalid_login_error() from None


class StaffAdminSite(OTPAdminSite):
    login_form = StaffAdminAuthenticationForm
    site_header = "Peer support chat: staff admin"
    site_title = "Staff admin"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return (
            user.is_active
            and role_for_user(user) in ADMIN_ROLES
            and accounts.session_is_verified(user, request.session)
        )

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if request.method != "POST":
            return super().login(request, extra_context)
        # The same door as the JSON sign-in: the address throttle unless the device is
        # trusted for this account, and a clear refusal when the password checks are full.
        try:
            if accounts.trusted_device(request, str(request.POST.get("username", ""))) is None:
                throttle_hit(scope=STAFF_SIGNIN, client=client_address(request))
            response = super().login(request, extra_context)
        except RoomError as exc:
            refusal = HttpResponse(exc.message, status=exc.http_status, content_type="text/plain")
            if exc.retry_after is not None:
                refusal["Retry-After"] = str(math.ceil(exc.retry_after))
            return refusal
        user = request.user
        if user.is_authenticated and response.status_code == 302:
            StaffSession.objects.get_or_create(
                session_digest=session_digest(str(request.session.session_key)),
                defaults={"user": user, "created_at": timezone.now()},
            )
            accounts.sign_in_succeeded(request, user.get_username())
            audit_append(
                actor=actor_for_user(user),
                action="staff.login",
                object_type="user",
                object_id=user.pk,
                detail={"role": role_for_user(user), "second_factor": True, "via": "admin"},
            )
            devices.device_cookie_attach(response, devices.device_token_issue(user))
        return response

    def get_urls(self) -> list[URLResolver | URLPattern]:
        extra = [path("lexicons/", self.admin_view(self.lexicons), name="lexicons")]
        return extra + super().get_urls()

    def lexicons(self, request: HttpRequest) -> HttpResponse:
        """Read-only: which version of the risk lexicon each language runs. Changing the
        files needs a clinician's review and a deploy, not a form."""
        if not can(role_for_user(request.user), "manage_lexicons"):
            raise PermissionDenied
        data = resources.files("moderation.risk").joinpath("data")
        manifest = json.loads(data.joinpath("manifest.json").read_text())
        languages = []
        for code, name in sorted(manifest.get("languages", {}).items()):
            try:
                lexicon = json.loads(data.joinpath(name).read_text())
            except (OSError, ValueError):
                lexicon = {}
            languages.append(
                {
                    "code": code,
                    "file": name,
                    "version": lexicon.get("version", "?"),
                    "cues": len(lexicon.get("cues", [])),
                }
            )
        context = {
            **self.each_context(request),
            "title": "Risk lexicon",
            "manifest_version": manifest.get("version", "?"),
            "description": manifest.get("description", ""),
            "categories": sorted(manifest.get("categories", {})),
            "languages": languages,
        }
        return TemplateResponse(request, "admin/moderation/lexicons.html", context)


# The one admin site, everywhere (documented pattern for an OTP-protected default site).
admin.site.__class__ = StaffAdminSite


# --- escalations --------------------------------------------------------------------------------


class EscalationForm(forms.ModelForm):
    false_alarm_outcome = forms.CharField(
        required=False, max_length=200, help_text="Outcome, when resolving."
    )

    class Meta:
        model = Escalation
        fields = ("status",)


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    """Read-only but for the status, which changes through the escalation services so the
    change is audited and the live queue hears of it."""

    form = EscalationForm
    list_display = (
        "pk",
        "room",
        "pseudonym",
        "category",
        "severity",
        "queue",
        "status",
        "created_at",
        "acknowledged_at",
    )
    list_filter = ("status", "severity", "category", "queue")
    # The excerpt, the words the detector matched and the outcome are ciphertext; staff read
    # the excerpt in the dashboard, where each view is audited.
    readonly_fields = (
        "room",
        "message_seq",
        "pseudonym",
        "category",
        "severity",
        "queue",
        "source",
        "evidence",
        "outcome_kept",
        "created_at",
        "sla_due_at",
        "renotified",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
    )
    fields = ("status", "false_alarm_outcome", *readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(boolean=True, description="outcome kept (sealed)")
    def outcome_kept(self, obj: Escalation) -> bool:
        return obj.outcome_ciphertext is not None

    def save_model(self, request: HttpRequest, obj: Escalation, form: Any, change: bool) -> None:
        user: User = request.user  # type: ignore[assignment]
        status = obj.status
        outcome = form.cleaned_data.get("false_alarm_outcome") or ""
        if status == Escalation.Status.ACKNOWLEDGED:
            escalations.escalation_acknowledge(user=user, escalation_id=obj.pk)
        elif status == Escalation.Status.IN_PROGRESS:
            escalations.escalation_progress(user=user, escalation_id=obj.pk)
        elif status in (Escalation.Status.RESOLVED, Escalation.Status.FALSE_ALARM):
            escalations.escalation_resolve(
                user=user,
                escalation_id=obj.pk,
                outcome=outcome or "resolved in the admin",
                false_alarm=status == Escalation.Status.FALSE_ALARM,
            )
        # Reopening is not offered: an escalation is never silently put back.


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
    """Read-only: the audit log is append-only. Nobody, superusers included, may add, change
    or delete an entry here."""

    list_display = ("seq", "at", "actor", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Reports for the record: reason, status and whether an outcome was kept (it is
    sealed). The reported message and the reporter's note are read on the staff dashboard,
    where each view is audited; the reporter is not shown here either."""

    list_display = ("pk", "room", "message_seq", "reported_pseudonym", "reason", "status")
    list_filter = ("status", "reason")
    fields = (
        "room",
        "message_seq",
        "reported_pseudonym",
        "reason",
        "status",
        "outcome_kept",
        "created_at",
        "closed_at",
    )

    @admin.display(boolean=True, description="outcome kept (sealed)")
    def outcome_kept(self, obj: Report) -> bool:
        return obj.outcome_ciphertext is not None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.fields  # type: ignore[return-value]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- governance ---------------------------------------------------------------------------------


@admin.register(TrainingRecord)
class TrainingRecordAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "completed_on", "expires_on", "current")
    list_filter = ("course",)
    search_fields = ("user__username",)
    readonly_fields = ("recorded_by",)

    @admin.display(boolean=True, description="current")
    def current(self, obj: TrainingRecord) -> bool:
        today = timezone.localdate()
        return obj.completed_on <= today <= obj.expires_on

    def save_model(
        self, request: HttpRequest, obj: TrainingRecord, form: Any, change: bool
    ) -> None:
        if obj.expires_on <= obj.completed_on:
            raise ValidationError("a training record must expire after it was completed")
        obj.recorded_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        audit_append(
            actor=actor_for_user(request.user),
            action="training.changed" if change else "training.recorded",
            object_type="training",
            object_id=obj.pk,
            detail={"user": obj.user_id, "course": obj.course, "expires_on": str(obj.expires_on)},
        )


@admin.register(SupervisionSession)
class SupervisionSessionAdmin(admin.ModelAdmin):
    list_display = ("user", "supervisor", "kind", "held_on")
    list_filter = ("kind",)
    search_fields = ("user__username",)

    def save_model(
        self, request: HttpRequest, obj: SupervisionSession, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        audit_append(
            actor=actor_for_user(request.user),
            action="supervision.changed" if change else "supervision.recorded",
            object_type="supervision",
            object_id=obj.pk,
            detail={"user": obj.user_id, "kind": obj.kind},
        )


class DebriefForm(forms.ModelForm):
    """The text is a form field only: it is sealed on save and never stored in the clear."""

    text = forms.CharField(widget=forms.Textarea, required=True, max_length=20_000)

    class Meta:
        model = Debrief
        fields = ("facilitator", "room", "session_on", "needs_support")


@admin.register(Debrief)
class DebriefAdmin(admin.ModelAdmin):
    """Opening a debrief decrypts it: each opening is audited (governance.debrief_read)."""

    form = DebriefForm
    list_display = ("pk", "facilitator", "room", "session_on", "needs_support", "created_at")
    list_filter = ("needs_support",)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Decrypt once per page shown (and audit that once), not once per form built.
        if request.method == "GET":
            obj = self.get_object(request, object_id)
            if obj is not None and self.has_view_or_change_permission(request, obj):
                text = governance.debrief_read(user=request.user, debrief=obj)  # type: ignore[arg-type]
                request.debrief_text = text or "(this text can no longer be read)"  # type: ignore[attr-defined]
        return super().change_view(request, object_id, form_url, extra_context)

    def get_form(  # type: ignore[override]
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        base = super().get_form(request, obj, change, **kwargs)
        text = getattr(request, "debrief_text", None)
        if text is None:
            return base

        class WithText(base):  # type: ignore[valid-type, misc]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                self.initial["text"] = text

        return WithText

    def get_queryset(self, request: HttpRequest) -> QuerySet[Debrief]:
        return super().get_queryset(request).select_related("facilitator", "room")

    def save_model(self, request: HttpRequest, obj: Debrief, form: Any, change: bool) -> None:
        user: User = request.user  # type: ignore[assignment]
        text = form.cleaned_data["text"]
        if change:
            super().save_model(request, obj, form, change)
            governance.debrief_update_text(debrief=obj, text=text, user=user)
            return
        created = governance.debrief_record(
            facilitator=obj.facilitator,
            room=obj.room,
            session_on=obj.session_on,
            text=text,
            needs_support=obj.needs_support,
            recorded_by=user,
        )
        obj.pk = created.pk
        obj.created_at = created.created_at
