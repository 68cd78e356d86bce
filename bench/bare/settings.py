"""Settings for the bare baseline: Channels alone, no database, no sessions, no auth.

The channel layer is chosen exactly as the chat server chooses it (``REDIS_URL`` switches to
Redis, ``CHANNEL_LAYER_CAPACITY`` sets the per-channel capacity, the same redis-py pool
options), so a run compares the two consumers and not two layer configurations.
"""

from __future__ import annotations

import os

SECRET_KEY = "bare-baseline-benchmark-only-" + "x" * 40
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
INSTALLED_APPS = ["channels"]
DATABASES: dict[str, dict[str, object]] = {}
ROOT_URLCONF = "bench.bare.urls"
ASGI_APPLICATION = "bench.bare.asgi.application"
USE_TZ = True
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

REDIS_URL = os.environ.get("REDIS_URL", "")
CHANNEL_LAYER_CAPACITY = int(os.environ.get("CHANNEL_LAYER_CAPACITY") or 5000)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # The chat server's pool options: without them redis-py closes idle
                        # receive loops and caps concurrent sends.
                        "socket_timeout": None,
                        "max_connections": int(os.environ.get("REDIS_MAX_CONNECTIONS") or 1000),
                    }
                ],
                "capacity": CHANNEL_LAYER_CAPACITY,
                "prefix": "bare",
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_LAYER_CAPACITY},
        }
    }
