"""``chatserver serve``: apply migrations, then run one daphne process.

Daphne writes no access log here: an access log would hold client addresses, and survivors
are anonymous. The URL to open is printed to standard output, not logged.

What it is given is checked before anything starts: a certificate without its key (or a key
without its certificate) once served plain HTTP without a word, so an operator who asked for
TLS got none. Like every command it runs the system checks first, so an installation without
the web client (``chatserver.E004``) does not start either.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

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
        tls = tls_files(options["ssl_cert"], options["ssl_key"])
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
        from twisted.internet.endpoints import quoteStringArgument

        from chatserver.asgi import application
        from chatserver.daphneserver import ChatServer

        host, port = options["host"], options["port"]
        if tls is not None:
            cert, key = (quoteStringArgument(str(path)) for path in tls)
            endpoints = [
                f"ssl:port={port}:interface={quoteStringArgument(host)}"
                f":privateKey={key}:certKey={cert}"
            ]
            scheme = "https"
        else:
            endpoints = build_endpoint_description_strings(host=host, port=port)
            scheme = "http"
        # Twisted listens with a backlog of 50: a burst of reconnects (a network blip, a
        # restart) overflowed it at 100 clients, and each dropped attempt waits a second or
        # more to retry. The kernel caps it at net.core.somaxconn.
        endpoints = [f"{e}:backlog={settings.CHAT_LISTEN_BACKLOG}" for e in endpoints]
        shown = f"[{host}]" if ":" in host else host
        self.stdout.write(f"chatserver listening: open {scheme}://{shown}:{port}/", ending="\n")
        self.stdout.flush()
        if settings.DEBUG:
            self.stdout.write("DEBUG is on: this is a development server, not for real use.")
        logging.getLogger("daphne").setLevel(logging.WARNING)
        from moderation.background import start_background_work

        start_background_work()
        ChatServer(
            application=application,
            endpoints=endpoints,
            action_logger=None,  # no access log: it would hold client addresses
            proxy_forwarded_proto_header=(
                "X-Forwarded-Proto" if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) else None
            ),
            # Our own limit (CHAT_MAX_FRAME_BYTES) answers with an error frame and 1009; far
            # larger frames are closed (1009 too) by the websocket layer itself.
            websocket_max_message_size=4 * settings.CHAT_MAX_FRAME_BYTES,
            websocket_timeout=86400,
            websocket_connect_timeout=20,
            application_close_timeout=10,
            server_name="chatserver",
            verbosity=0,
        ).run()


def tls_files(cert: str | None, key: str | None) -> tuple[Path, Path] | None:
    """The certificate and key to serve TLS with, checked to load together; None for plain
    HTTP. One without the other is refused: serving plain HTTP instead would leave an
    operator who asked for TLS without it, and no one would be told."""
    if not cert and not key:
        return None
    if not key:
        raise CommandError("--ssl-cert needs --ssl-key (the certificate's private key)")
    if not cert:
        raise CommandError("--ssl-key needs --ssl-cert (the certificate it belongs to)")
    cert_path, key_path = Path(cert), Path(key)
    for flag, path in (("--ssl-cert", cert_path), ("--ssl-key", key_path)):
        if not path.is_file():
            raise CommandError(f"{flag}: no such file: {path}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        raise CommandError(
            f"--ssl-cert and --ssl-key cannot be used together ({exc.__class__.__name__}: "
            f"{exc}); give a PEM certificate and its own private key"
        ) from None
    return cert_path, key_path
