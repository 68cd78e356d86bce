"""``chatserver serve``: apply migrations, then run one daphne process.

Daphne writes no access log here: an access log would hold client addresses, and survivors
are anonymous. The URL to open is printed to standard output, not logged.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from rooms.encryption import keyring


class Command(BaseCommand):
    help = "Start the chat server (daphne). Applies migrations first unless --no-migrate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-migrate", action="store_true", help="skip applying migrations")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="create a demo room if there are no rooms, and demo staff accounts",
        )
        parser.add_argument("--ssl-cert", help="serve TLS with this certificate (PEM)")
        parser.add_argument("--ssl-key", help="the certificate's private key (PEM)")

    def handle(self, *args: Any, **options: Any) -> None:
        keyring()  # refuse to start without a usable key-encryption key
        # Load the risk lexicons now: a broken data file stops the start, rather than
        # failing every message later.
        from moderation.risk import assess

        assess("startup check")
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        if options["demo"]:
            call_command("create_demo_room")
            call_command("staff_create", demo=True)
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from chatserver.asgi import application

        host, port = options["host"], options["port"]
        if options["ssl_cert"] and options["ssl_key"]:
            endpoints = [
                f"ssl:port={port}:interface={host}:privateKey={options['ssl_key']}"
                f":certKey={options['ssl_cert']}"
            ]
            scheme = "https"
        else:
            endpoints = build_endpoint_description_strings(host=host, port=port)
            scheme = "http"
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"chatserver listening: open {scheme}://{shown}:{port}/", ending="\n")
        self.stdout.flush()
        if settings.DEBUG:
            self.stdout.write("DEBUG is on: this is a development server, not for real use.")
        logging.getLogger("daphne").setLevel(logging.WARNING)
        from moderation.background import start_background_work

        start_background_work()
        Server(
            application=application,
            endpoints=endpoints,
            action_logger=None,  # no access log: it would hold client addresses
            proxy_forwarded_proto_header=(
                "X-Forwarded-Proto" if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) else None
            ),
            # Our own limit (CHAT_MAX_FRAME_BYTES) answers with an error frame; far larger
            # frames are cut off by the websocket layer itself.
            websocket_max_message_size=4 * settings.CHAT_MAX_FRAME_BYTES,
            websocket_timeout=86400,
            websocket_connect_timeout=20,
            application_close_timeout=10,
            server_name="chatserver",
            verbosity=0,
        ).run()
