"""The ``chatserver`` command: Django's management commands with the project's settings.

``chatserver serve`` starts the server; ``chatserver migrate``, ``chatserver createsuperuser``
and every other management command work as with manage.py. Hyphenated names map to the
command modules (``chatserver risk-check`` runs ``risk_check``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatserver.settings")
    if len(args) > 1 and "-" in args[1] and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
    if len(args) > 1:
        from moderation.risk.commands import BARE_COMMANDS

        bare = BARE_COMMANDS.get(args[1])
        if bare is not None:  # needs no settings, secret or database
            raise SystemExit(bare(args[2:]))
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from chatserver.crypto import KeyConfigurationError
    from moderation.risk import LexiconError

    args[0] = "chatserver"
    try:
        execute_from_command_line(args)
    except (ImproperlyConfigured, KeyConfigurationError, LexiconError) as exc:
        # One line that says what to set, not a traceback.
        sys.stderr.write(f"chatserver: configuration error: {exc}\n")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
