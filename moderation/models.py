"""Escalations of risk, the notification outbox, and the append-only audit log.

No message text is stored here in the clear: an escalation's excerpt and staff notes are
sealed like messages (rooms/encryption.py), and the audit log holds who, what, when and which
object, never content.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from rooms.models import DataKey, Membership, Message, Room


class Escalation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        IN_PROGRESS = "in_progress", "In progress"
        RESOLVED = "resolved", "Resolved"
        FALSE_ALARM = "false_alarm", "False alarm"

    class Queue(models.TextChoices):
        STAFF = "staff", "Professional staff (alert)"
        REVIEW = "review", "Moderator review"

    class Source(models.TextChoices):
        DETECTOR = "detector", "Risk detector"
        MANUAL = "manual", "Flagged by a person"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="escalations")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)
    message_seq = models.BigIntegerField(null=True, blank=True)
    membership = models.ForeignKey(Membership, null=True, on_delete=models.SET_NULL)
    # The pseudonym, never more identity than that.
    pseudonym = models.CharField(max_length=64)
    category = models.CharField(max_length=32)
    severity = models.CharField(max_length=12)
    queue = models.CharField(max_length=8, choices=Queue)
    source = models.CharField(max_length=10, choices=Source, default=Source.DETECTOR)
    # Rule ids, categories and spans: no text. The words each cue matched are what the member
    # wrote, so they are sealed with the excerpt, under the same key (moderation/staff_text.py).
    evidence = models.JSONField(default=list)
    data_key = models.ForeignKey(DataKey, null=True, on_delete=models.SET_NULL)
    excerpt_ciphertext = models.BinaryField(null=True)
    evidence_ciphertext = models.BinaryField(null=True)
    status = models.CharField(max_length=12, choices=Status, default=Status.OPEN)
    # What staff wrote when resolving: sealed like their notes, never in clear.
    outcome_ciphertext = models.BinaryField(null=True)
    created_at = models.DateTimeField()
    sla_due_at = models.DateTimeField()
    renotified = models.PositiveIntegerField(default=0)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Raised without telling the writer or the room (a concern only the learned model saw).
    quiet = models.BooleanField(default=False)
    # The private support room staff opened for the member from this escalation, if any.
    support_room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["status", "sla_due_at"], name="escalation_open_due")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"escalation {self.pk} ({self.category}, {self.severity})"


class StaffPresence(models.Model):
    """An open staff socket: someone who can act on an alert is there now. The member whose
    message raised an alert is told whether anyone is (moderation/care.py). Each server
    process refreshes its own sockets' rows; rows of a process that died age out."""

    channel_name = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=12)
    connected_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"staff socket of user {self.user_id}"


class EscalationNote(models.Model):
    escalation = models.ForeignKey(Escalation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    data_key = models.ForeignKey(DataKey, null=True, on_delete=models.SET_NULL)
    ciphertext = models.BinaryField(null=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"note on escalation {self.escalation_id}"


class OutboxItem(models.Model):
    """A notification to deliver beyond the websocket (e-mail, webhook). Written in the same
    transaction as what it announces; delivered with retries and back-off."""

    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    kind = models.CharField(max_length=8, choices=Kind)
    idempotency_key = models.CharField(max_length=80, unique=True)
    payload = models.JSONField()  # never message text
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["delivered_at", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key}"


# --- staff accounts ---------------------------------------------------------------------------


class LoginThrottle(models.Model):
    """Failed sign-ins counted per username, for lockout. The username is kept only as a
    fingerprint (a mistyped password often lands in the username field), and no address or
    browser detail is ever recorded: a lockout follows the account, not the device."""

    username_fingerprint = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    # When a right password came without its code (or set-up code): that failure is taken
    # back from the service-wide count if the sign-in is then completed (accounts.py).
    awaiting_code_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sign-in throttle {self.username_fingerprint[:8]}"


class StaffSession(models.Model):
    """The sessions a staff user signed in, so "sign out everywhere" can end each of them.
    Each is kept by the digest its row in the session table has (chatserver/sessions.py),
    never by its key."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_sessions"
    )
    session_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"staff session of user {self.user_id}"


class EnrolCode(models.Model):
    """A one-time set-up code an admin issued so that an account may enrol an authenticator
    (moderation/enrolment.py). Without one, whoever first had the password enrolled their own
    device. Only a keyed hash of the code is kept; it is shown once, when issued."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrol_codes"
    )
    code_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    issued_by = models.CharField(max_length=80)

    def __str__(self) -> str:
        return f"set-up code for user {self.user_id}"


# --- governance -----------------------------------------------------------------------------


class TrainingRecord(models.Model):
    """A completed course. A facilitator may facilitate only while a record of the required
    course is current (moderation/governance.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_records"
    )
    course = models.CharField(max_length=80)
    completed_on = models.DateField()
    expires_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["user", "-expires_on"]
        indexes = [models.Index(fields=["course", "expires_on"], name="training_course_expiry")]

    def __str__(self) -> str:
        return f"{self.course} (until {self.expires_on})"


class SupervisionSession(models.Model):
    """That a supervision or debrief meeting took place. What was said is not recorded here:
    it belongs to the supervisor's own professional notes, not to the chat service."""

    class Kind(models.TextChoices):
        SUPERVISION = "supervision", "Supervision"
        DEBRIEF = "debrief", "Debrief"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="supervision_sessions"
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    held_on = models.DateField()
    kind = models.CharField(max_length=12, choices=Kind, default=Kind.SUPERVISION)

    class Meta:
        ordering = ["-held_on"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.held_on}"


class Debrief(models.Model):
    """A facilitator's reflection after a session. The text may describe what members shared,
    so it is sealed under its own data key (wrapped by the key-encryption key), with the row
    id bound into the associated data."""

    facilitator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="debriefs"
    )
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    session_on = models.DateField()
    kek_id = models.CharField(max_length=32, blank=True)
    wrapped_key = models.BinaryField(null=True)
    ciphertext = models.BinaryField(null=True)
    needs_support = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-session_on", "-pk"]

    def __str__(self) -> str:
        return f"debrief {self.pk} ({self.session_on})"


# --- reports by members ------------------------------------------------------------------------


class Report(models.Model):
    """A member's report of a message. It goes to the room's facilitators and to the
    moderators; the reporter is recorded so a moderator can answer them privately, and is
    never shown to the reported member, the room, or in any frame about the report."""

    class Reason(models.TextChoices):
        HARASSMENT = "harassment", "Harassment or bullying"
        UNSAFE = "unsafe", "Someone may be unsafe"
        IDENTIFYING = "identifying", "Shares identifying details"
        GRAPHIC = "graphic", "Graphic detail without a warning"
        SPAM = "spam", "Spam or advertising"
        IMPERSONATION = "impersonation", "Not who they say they are"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="reports")
    message_seq = models.BigIntegerField()
    reported = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="reports_against"
    )
    reported_pseudonym = models.CharField(max_length=64)
    reporter = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="reports_made"
    )
    reason = models.CharField(max_length=16, choices=Reason)
    # The reporter's optional note, sealed under the reporter's data key.
    data_key = models.ForeignKey(DataKey, null=True, on_delete=models.SET_NULL, related_name="+")
    note_ciphertext = models.BinaryField(null=True)
    status = models.CharField(max_length=8, choices=Status, default=Status.OPEN)
    # What the moderator wrote when closing, sealed under the report's key like the note
    # (moderation/staff_text.py).
    outcome_ciphertext = models.BinaryField(null=True)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["room", "message_seq", "reporter"], name="report_once_per_message"
            )
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"report {self.pk} ({self.reason})"


class ReportReply(models.Model):
    """A moderator's private answer to the person who made a report, sealed under the
    reporter's data key (so erasing the reporter shreds it too)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    data_key = models.ForeignKey(DataKey, null=True, on_delete=models.SET_NULL, related_name="+")
    ciphertext = models.BinaryField(null=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"reply to report {self.report_id}"
