"""The ASGI application: HTTP through Django, websockets through Channels.

The websocket stack is wrapped in ``SiteOriginValidator`` (``chatserver/origins.py``): for an
anonymous service the session cookie is the identity, so a page on another origin (another
scheme, host or port) must not open a socket with it (cross-site websocket hijacking). daphne
itself accepts any Origin.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatserver.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatserver.origins import SiteOriginValidator  # noqa: E402
from chatserver.routing import websocket_urlpatterns  # noqa: E402
from rooms.transport import ArrivalStamp  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Frames are stamped as they arrive, so rate limits count arrivals (rooms/transport.py).
        "websocket": ArrivalStamp(
            SiteOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
