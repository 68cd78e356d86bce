"""The record of rooms, anonymous members and messages.

Message text exists here only as AES-GCM ciphertext (see chatserver/crypto.py); there is no
plaintext body column. A member is an opaque id with no email, name or address.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Member(models.Model):
    """An anonymous survivor. Nothing here describes the person."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # A keyed hash of the recovery phrase's first three words, which find the row; the rest
    # of the phrase is checked against a keyed hash too (an argon2 hash for phrases made
    # before). No word of the phrase is stored (rooms/identity.py).
    recovery_lookup = models.CharField(max_length=64, db_index=True)
    recovery_hash = models.CharField(max_length=256)
    banned_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(null=True, blank=True)
    # When the page told them that Quick exit signs out on this device and how to come back
    # (so it is said once, before first use, on any device).
    exit_explained_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"member {str(self.id)[:8]}"


class Room(models.Model):
    class Visibility(models.TextChoices):
        OPEN = "open", "Open"
        INVITE = "invite", "Invite only"
        # A one-to-one room staff open for a member from an escalation: only its two
        # memberships enter it, whatever anyone's role (rooms/entry.py).
        SUPPORT = "support", "Private support"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    class RiskyMessages(models.TextChoices):
        FOLD = "fold", "Fold behind a care note for other members"
        HOLD = "hold", "Hold for a facilitator's review"
        SHOW = "show", "Show as written"

    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=8, choices=Visibility, default=Visibility.OPEN)
    capacity = models.PositiveIntegerField(default=30)
    state = models.CharField(max_length=8, choices=State, default=State.OPEN)
    # The last sequence number handed out; incremented under the row lock, so numbers are
    # gap-free and unique per room even with several server processes writing.
    last_seq = models.BigIntegerField(default=0)
    key_epoch = models.PositiveIntegerField(default=1)
    # When the current key epoch began. Epochs are closed after CHAT_KEY_EPOCH_DAYS (or the
    # retention period, if shorter), so an old epoch's keys can be destroyed once its
    # messages have expired (rooms/keys.py).
    key_epoch_started_at = models.DateTimeField(default=timezone.now)
    # Days a message is kept; 0 keeps messages until they are deleted by hand.
    retention_days = models.PositiveIntegerField(default=90)
    created_at = models.DateTimeField(auto_now_add=True)

    # --- how the room is held (moderation/room_actions.py, moderation/held.py) ----------------
    # Minimum seconds between two messages of one member; 0 is off. Facilitators are exempt.
    slow_mode_seconds = models.PositiveIntegerField(default=0)
    # One term per line. A message containing one is held for a facilitator's review instead
    # of being published, and its sender is told. Terms are configuration, not message text.
    blocked_terms = models.TextField(blank=True)
    # What other members see of a message in which the risk detector found high or critical
    # risk (rooms/care.py): folded behind a care note (the default), held for a
    # facilitator's review first, or shown as written. The writer always sees their own, they
    # get the private signpost and their care status, and staff are alerted in every case.
    risky_messages = models.CharField(
        "what other members see of a message showing risk",
        max_length=8,
        choices=RiskyMessages,
        default=RiskyMessages.FOLD,
    )
    # Run as scheduled sessions: members wait in a waiting room until a facilitator admits
    # them, and accept the agreement again at every session (rooms/sessions.py).
    uses_sessions = models.BooleanField(default=False)
    schedule = models.CharField(max_length=200, blank=True, help_text="e.g. Tuesdays 7-8pm")
    # Moved on by every mute, unmute and ban in the room. The send path already reads the
    # room row, so a changed number tells it to re-read the sender's membership: moderation
    # takes effect at once on every process without an extra query per message.
    moderation_rev = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    @classmethod
    def moderation_moved(cls, room_id: int) -> None:
        """A participant's right to post changed (mute, ban, removal, leaving): the send
        path re-reads memberships from now on (``moderation_rev``)."""
        cls.objects.filter(pk=room_id).update(moderation_rev=models.F("moderation_rev") + 1)


class Agreement(models.Model):
    """A version of a room's group agreement; members accept the latest before joining."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="agreements")
    version = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "version"], name="agreement_room_version")
        ]
        ordering = ["room", "-version"]

    def __str__(self) -> str:
        return f"{self.room.slug} agreement v{self.version}"


class Invite(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invites")
    # Only a fingerprint of the code is kept, so a database copy cannot be used to join.
    code_fingerprint = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"invite to {self.room.slug}"


class Membership(models.Model):
    """A participant of one room: an anonymous member or a staff user, under a pseudonym
    that is unique in the room and unrelated to any other room's."""

    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        FACILITATOR = "facilitator", "Peer facilitator"
        MODERATOR = "moderator", "Moderator"
        STAFF = "staff", "Professional staff"
        ADMIN = "admin", "Admin"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="room_memberships",
    )
    role = models.CharField(max_length=12, choices=Role, default=Role.MEMBER)
    pseudonym = models.CharField(max_length=64)
    agreement_version = models.PositiveIntegerField(default=0)
    agreement_accepted_at = models.DateTimeField(null=True, blank=True)
    joined_at = models.DateTimeField(auto_now_add=True)
    banned_at = models.DateTimeField(null=True, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    # Themes this participant asked to have blurred (rooms/themes.py); their own choice.
    blur_themes = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "pseudonym"], name="membership_pseudonym"),
            models.UniqueConstraint(
                fields=["room", "member"],
                condition=Q(member__isnull=False),
                name="membership_room_member",
            ),
            models.UniqueConstraint(
                fields=["room", "user"],
                condition=Q(user__isnull=False),
                name="membership_room_user",
            ),
            models.CheckConstraint(
                condition=Q(member__isnull=False, user__isnull=True)
                | Q(member__isnull=True, user__isnull=False),
                name="membership_member_xor_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pseudonym} in {self.room.slug}"


class StaffName(models.Model):
    """The name a staff account goes by in every room (rooms/staffnames.py), chosen once. Its
    skeleton (look-alike characters folded together) is unique, so no two staff names can be
    taken for each other."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_name"
    )
    name = models.CharField(max_length=32, unique=True)
    skeleton = models.CharField(max_length=128, unique=True)
    chosen_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class DataKey(models.Model):
    """A data-encryption key for one membership in one key epoch of a room, stored only
    wrapped by a key-encryption key. Destroying it makes that member's messages of that
    epoch unreadable everywhere, backups included."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="data_keys")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="data_keys")
    epoch = models.PositiveIntegerField()
    kek_id = models.CharField(max_length=32)
    wrapped = models.BinaryField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["room", "epoch", "membership"], name="datakey_room_epoch_membership"
            )
        ]

    def __str__(self) -> str:
        return f"data key {self.pk} (room {self.room_id}, epoch {self.epoch})"


class Message(models.Model):
    """One entry of a room's log. Every entry takes the room's next sequence number, so a
    client that resumes after N replays every change in order (new messages and deletions)."""

    class Kind(models.TextChoices):
        MESSAGE = "message", "Message"
        DELETION = "deletion", "Deletion"
        HIDE = "hide", "Hidden by a facilitator"
        ANNOUNCEMENT = "announcement", "Announcement"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=12, choices=Kind, default=Kind.MESSAGE)
    author = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="messages"
    )
    # Kept beside the author link so history survives a membership's removal.
    author_pseudonym = models.CharField(max_length=64)
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    data_key = models.ForeignKey(DataKey, null=True, on_delete=models.SET_NULL)
    ciphertext = models.BinaryField(null=True)
    target_seq = models.BigIntegerField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Soft deletion by a facilitator: members see that it was hidden and why, moderators can
    # still read it. The reason is one of rooms.themes.HIDE_REASONS, never free text.
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.CharField(max_length=20, blank=True)
    # Theme labels (rooms/themes.py): the author's content warning and the server's
    # classification, comma-separated. Labels, not content.
    themes = models.CharField(max_length=120, blank=True)
    cw = models.BooleanField(default=False)
    # The author's role when they wrote it, for everyone's badge ("" for a member).
    author_role = models.CharField(max_length=12, blank=True, db_default="")
    # A risk category other members see the message folded behind (rooms/care.py): the
    # detector found high or critical risk and the room folds such messages. A label.
    care = models.CharField(max_length=32, blank=True, db_default="")
    # For facilitators' markers in the history: the escalation raised about this message
    # (its category and severity) and how many members reported it. Labels and a count.
    risk_category = models.CharField(max_length=32, blank=True, db_default="")
    risk_severity = models.CharField(max_length=12, blank=True, db_default="")
    reports = models.PositiveIntegerField(db_default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_room_seq"),
            models.UniqueConstraint(
                fields=["room", "author", "client_id"],
                condition=~Q(client_id=""),
                name="message_client_id",
            ),
        ]
        indexes = [models.Index(fields=["room", "created_at"], name="message_room_created")]

    def __str__(self) -> str:
        return f"{self.kind} {self.seq} in room {self.room_id}"


class Connection(models.Model):
    """An open websocket, for presence. Rows of a process that died expire by ``last_seen``,
    so presence never trusts the channel layer's group membership."""

    channel_name = models.CharField(max_length=200, unique=True)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="connections")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE)
    connected_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"connection to room {self.room_id}"


class RecoveryThrottle(models.Model):
    """Failed recoveries per set of lookup words, so nobody who knows (or saw) someone's
    first three words can keep guessing the rest. The words are named by the same keyed hash
    as ``Member.recovery_lookup``, never kept."""

    lookup_fingerprint = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "recovery throttle"


class Pin(models.Model):
    """A message pinned to the top of its room by a facilitator."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="pins")
    seq = models.BigIntegerField()
    pinned_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "seq"], name="pin_room_seq")]
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"pin of {self.seq} in room {self.room_id}"


class Ignore(models.Model):
    """One participant does not want to receive another's messages in this room."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="ignoring")
    ignored = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "ignored"], name="ignore_unique")
        ]

    def __str__(self) -> str:
        return f"ignore {self.ignored_id} by {self.membership_id}"


class HeldMessage(models.Model):
    """A message held for a facilitator's review (a blocked term, or a critical risk finding
    in a room that holds those). It takes no sequence number until it is released, so the
    room's log stays gap-free and nobody else learns it exists. Sealed like a message."""

    class Reason(models.TextChoices):
        BLOCKED_TERM = "blocked_term", "Contains a blocked term"
        RISK = "risk", "Held for a facilitator's review (safety)"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        RELEASED = "released", "Released to the room"
        REJECTED = "rejected", "Not published"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="held_messages")
    author = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="held_messages")
    author_pseudonym = models.CharField(max_length=64)
    client_id = models.CharField(max_length=64)
    reason = models.CharField(max_length=16, choices=Reason)
    status = models.CharField(max_length=10, choices=Status, default=Status.PENDING)
    data_key = models.ForeignKey(DataKey, null=True, on_delete=models.SET_NULL)
    ciphertext = models.BinaryField(null=True)
    themes = models.CharField(max_length=120, blank=True)
    cw = models.BooleanField(default=False)
    # As on Message, carried over when the message is released.
    care = models.CharField(max_length=32, blank=True, default="")
    risk_category = models.CharField(max_length=32, blank=True, default="")
    risk_severity = models.CharField(max_length=12, blank=True, default="")
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_seq = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "author", "client_id"], name="held_client_id")
        ]
        indexes = [models.Index(fields=["room", "status"], name="held_room_status")]

    def __str__(self) -> str:
        return f"held message {self.pk} in room {self.room_id}"


class RoomSession(models.Model):
    """One sitting of a room that runs sessions: opened, perhaps locked, then closed by a
    facilitator. Members are admitted to a sitting, not to the room for ever."""

    class State(models.TextChoices):
        OPEN = "open", "Open: admitting from the waiting room"
        LOCKED = "locked", "Locked: nobody new may come in"
        CLOSED = "closed", "Closed"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="sessions")
    state = models.CharField(max_length=8, choices=State, default=State.OPEN)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        Membership, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["room"], condition=~Q(state="closed"), name="one_live_session_per_room"
            )
        ]

    def __str__(self) -> str:
        return f"session {self.pk} of room {self.room_id} ({self.state})"


class Admission(models.Model):
    """A participant's place in one session: they accepted the agreement for this sitting
    (``agreed_at``) and a facilitator let them in (``admitted_at``)."""

    session = models.ForeignKey(RoomSession, on_delete=models.CASCADE, related_name="admissions")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="admissions")
    arrived_at = models.DateTimeField()
    agreed_at = models.DateTimeField(null=True, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    admitted_by = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "membership"], name="admission_unique")
        ]

    def __str__(self) -> str:
        return f"admission of {self.membership_id} to session {self.session_id}"
