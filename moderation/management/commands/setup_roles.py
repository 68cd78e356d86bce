"""``chatserver setup-roles``: create the role groups and give each the admin permissions its
actions in chatserver/permissions.py need. Run after every deploy (it is idempotent: each
group ends up with exactly the permissions listed, so a removed grant is revoked)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from chatserver.permissions import setup_role_groups


class Command(BaseCommand):
    help = "Create the facilitator/moderator/staff/admin groups with their admin permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in setup_role_groups().items():
            self.stdout.write(f"{role}: {count} permissions")
