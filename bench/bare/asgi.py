"""ASGI entry point of the bare baseline:
``DJANGO_SETTINGS_MODULE=bench.bare.settings python -m daphne bench.bare.asgi:application``.

Like the tutorial (and the chat server) the socket is wrapped in the Origin check; there is
no session or auth middleware because the baseline has no identities.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.bare.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from bench.bare.consumers import BareChatConsumer  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            URLRouter([path("ws/bare/<str:room>/", BareChatConsumer.as_asgi())])
        ),
    }
)
