"""Close a staff user's sockets when their roles (groups) or active flag change."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db.models.signals import m2m_changed, post_save
from django.dispatch import receiver

from rooms.services import user_roles_changed


@receiver(m2m_changed, sender=User.groups.through)
def groups_changed(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any
) -> None:
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if not reverse:
        user_roles_changed(instance.pk)
    else:
        for user_id in pk_set or ():
            user_roles_changed(user_id)


@receiver(post_save, sender=User)
def user_saved(
    sender: Any, instance: User, created: bool, update_fields: Any, **kwargs: Any
) -> None:
    if created:
        return
    # Saves that only touch e.g. last_login (every sign-in) must not end sessions.
    if update_fields is not None and not {"is_active", "is_superuser"} & set(update_fields):
        return
    user_roles_changed(instance.pk)
