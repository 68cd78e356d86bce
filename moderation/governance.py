"""Governance of the people who hold the rooms: training, supervision and debriefs.

Why: peer facilitators sit with disclosures of sexual violence. A facilitator whose training
has lapsed must not facilitate, and every facilitator needs a place to set down what they
carried out of a session. Debrief text can repeat what members shared, so it is sealed under
its own data key; the rest (who was trained or supervised, when) is plain record keeping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from chatserver import crypto
from chatserver.audit import actor_for_user, audit_append
from chatserver.permissions import can
from moderation.models import Debrief, SupervisionSession, TrainingRecord
from rooms.encryption import keyring
from rooms.errors import NotAllowed
from rooms.models import Membership, Room
from rooms.roles import role_for_user

# --- training -----------------------------------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


def current_training(user: User, *, on: dt.date | None = None) -> TrainingRecord | None:
    """The user's record of the facilitator course that is valid on ``on`` (today)."""
    day = on or _today()
    return (
        TrainingRecord.objects.filter(
            user=user,
            course=settings.FACILITATOR_TRAINING_COURSE,
            completed_on__lte=day,
            expires_on__gte=day,
        )
        .order_by("-expires_on")
        .first()
    )


def facilitator_can_facilitate(user: User) -> bool:
    """Whether the user's facilitator training is current today."""
    return current_training(user) is not None


def require_current_training(user: User) -> None:
    """Raise NotAllowed, saying what to do, unless the user's facilitator training is current.
    Called when a facilitator joins a room to facilitate."""
    if facilitator_can_facilitate(user):
        return
    last = (
        TrainingRecord.objects.filter(user=user, course=settings.FACILITATOR_TRAINING_COURSE)
        .order_by("-expires_on")
        .first()
    )
    if last is None:
        raise NotAllowed(
            "no facilitator training is recorded for you; please complete it before facilitating"
        )
    if last.completed_on > _today():
        raise NotAllowed(
            f"your facilitator training is recorded as completed on {last.completed_on:%d %B %Y}; "
            "you can facilitate from that day"
        )
    raise NotAllowed(
        f"your facilitator training expired on {last.expires_on:%d %B %Y}; "
        "please renew it before facilitating"
    )


def training_record(
    *,
    user: User,
    completed_on: dt.date,
    expires_on: dt.date,
    recorded_by: User | None,
    course: str | None = None,
) -> TrainingRecord:
    if expires_on <= completed_on:
        raise ValueError("a training record must expire after it was completed")
    with transaction.atomic():
        record = TrainingRecord.objects.create(
            user=user,
            course=course or settings.FACILITATOR_TRAINING_COURSE,
            completed_on=completed_on,
            expires_on=expires_on,
            recorded_by=recorded_by,
        )
        audit_append(
            actor=actor_for_user(recorded_by),
            action="training.recorded",
            object_type="training",
            object_id=record.pk,
            detail={"user": user.pk, "course": record.course, "expires_on": str(expires_on)},
        )
    return record


@dataclass(frozen=True)
class TrainingDue:
    user_id: int
    username: str
    role: str
    expires_on: dt.date | None  # None: no training recorded at all
    status: str  # "expired", "missing" or "due"


def training_due(*, days: int = 30, on: dt.date | None = None) -> list[TrainingDue]:
    """Facilitators (and anyone else who facilitates) whose facilitator training is missing,
    expired, or expires within ``days``: the list a coordinator works through."""
    day = on or _today()
    horizon = day + dt.timedelta(days=days)
    due: list[TrainingDue] = []
    candidates = (
        User.objects.filter(is_active=True)
        .filter(groups__name=Membership.Role.FACILITATOR)
        .distinct()
        .order_by("username")
    )
    for user in candidates:
        role = role_for_user(user) or ""
        latest = (
            TrainingRecord.objects.filter(
                user=user, course=settings.FACILITATOR_TRAINING_COURSE, completed_on__lte=day
            )
            .order_by("-expires_on")
            .first()
        )
        if latest is None:
            due.append(TrainingDue(user.pk, user.get_username(), role, None, "missing"))
        elif latest.expires_on < day:
            due.append(
                TrainingDue(user.pk, user.get_username(), role, latest.expires_on, "expired")
            )
        elif latest.expires_on <= horizon:
            due.append(TrainingDue(user.pk, user.get_username(), role, latest.expires_on, "due"))
    return due


def supervision_record(
    *, user: User, supervisor: User | None, held_on: dt.date, kind: str
) -> SupervisionSession:
    """That a supervision or debrief meeting took place (no content: see the model)."""
    if kind not in SupervisionSession.Kind.values:
        raise ValueError(f"kind must be one of {', '.join(SupervisionSession.Kind.values)}")
    with transaction.atomic():
        held = SupervisionSession.objects.create(
            user=user, supervisor=supervisor, held_on=held_on, kind=kind
        )
        audit_append(
            actor=actor_for_user(supervisor),
            action="supervision.recorded",
            object_type="supervision",
            object_id=held.pk,
            detail={"user": user.pk, "kind": kind},
        )
    return held


# --- sealed staff text ------------------------------------------------------------------------


def _staff_aad(purpose: str, row_id: int) -> bytes:
    return f"staff|{purpose}|{row_id}".encode()


@dataclass(frozen=True)
class SealedText:
    kek_id: str
    wrapped_key: bytes
    ciphertext: bytes


def seal_staff_text(*, text: str, purpose: str, row_id: int) -> SealedText:
    """Seal text written by staff under a fresh data key of its own, wrapped by the active
    key-encryption key. The associated data names the purpose and row, so a ciphertext or a
    wrapped key copied to another row does not open; destroying the wrapped key shreds it."""
    aad = _staff_aad(purpose, row_id)
    dek = crypto.new_data_key()
    kek_id, wrapped = crypto.wrap_data_key(keyring(), dek, aad)
    return SealedText(kek_id, wrapped, crypto.seal(dek, text.encode(), aad))


def open_staff_text(
    *, kek_id: str, wrapped_key: bytes | None, ciphertext: bytes | None, purpose: str, row_id: int
) -> str | None:
    """The text, or None when it cannot be opened (shredded, moved, or corrupted)."""
    if not wrapped_key or not ciphertext:
        return None
    aad = _staff_aad(purpose, row_id)
    try:
        dek = crypto.unwrap_data_key(keyring(), kek_id, bytes(wrapped_key), aad)
        return crypto.open_sealed(dek, bytes(ciphertext), aad).decode()
    except (crypto.DecryptionError, crypto.KeyConfigurationError):
        return None


# --- debriefs ---------------------------------------------------------------------------------

DEBRIEF_PURPOSE = "debrief"


def debrief_record(
    *,
    facilitator: User,
    room: Room | None,
    session_on: dt.date,
    text: str,
    needs_support: bool,
    recorded_by: User | None = None,
) -> Debrief:
    """Store a debrief with its text sealed. ``needs_support`` asks a supervisor to reach out;
    it is audited so the request is never lost."""
    author = recorded_by or facilitator
    with transaction.atomic():
        debrief = Debrief.objects.create(
            facilitator=facilitator,
            room=room,
            session_on=session_on,
            needs_support=needs_support,
            created_at=timezone.now(),
        )
        _write_text(debrief, text)
        audit_append(
            actor=actor_for_user(author),
            action="debrief.recorded",
            object_type="debrief",
            object_id=debrief.pk,
            detail={"facilitator": facilitator.pk, "needs_support": needs_support},
        )
    return debrief


def _write_text(debrief: Debrief, text: str) -> None:
    sealed = seal_staff_text(text=text, purpose=DEBRIEF_PURPOSE, row_id=debrief.pk)
    debrief.kek_id, debrief.wrapped_key, debrief.ciphertext = (
        sealed.kek_id,
        sealed.wrapped_key,
        sealed.ciphertext,
    )
    debrief.save(update_fields=["kek_id", "wrapped_key", "ciphertext"])


def debrief_update_text(*, debrief: Debrief, text: str, user: User) -> None:
    _require_debrief_access(user, debrief)
    with transaction.atomic():
        _write_text(debrief, text)
        audit_append(
            actor=actor_for_user(user),
            action="debrief.edited",
            object_type="debrief",
            object_id=debrief.pk,
        )


def _require_debrief_access(user: Any, debrief: Debrief) -> None:
    if debrief.facilitator_id == getattr(user, "pk", None):
        return
    if not can(role_for_user(user), "manage_training"):
        raise NotAllowed("only the facilitator who wrote it and their supervisors can read this")


def debrief_read(*, user: User, debrief: Debrief) -> str | None:
    """The debrief's text for its author or a supervisor; every reading is audited."""
    _require_debrief_access(user, debrief)
    audit_append(
        actor=actor_for_user(user),
        action="debrief.read",
        object_type="debrief",
        object_id=debrief.pk,
    )
    return open_staff_text(
        kek_id=debrief.kek_id,
        wrapped_key=debrief.wrapped_key,
        ciphertext=debrief.ciphertext,
        purpose=DEBRIEF_PURPOSE,
        row_id=debrief.pk,
    )


def debrief_shred(*, debrief: Debrief, user: User) -> None:
    """Make the text unreadable for good by destroying its key (backups included)."""
    _require_debrief_access(user, debrief)
    with transaction.atomic():
        Debrief.objects.filter(pk=debrief.pk).update(wrapped_key=None, ciphertext=None)
        debrief.wrapped_key = debrief.ciphertext = None
        audit_append(
            actor=actor_for_user(user),
            action="debrief.shredded",
            object_type="debrief",
            object_id=debrief.pk,
        )
