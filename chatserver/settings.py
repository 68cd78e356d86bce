"""Settings, read from the environment (see docs/configuration.md).

Every setting has a safe embedded default for a laptop (SQLite in the data directory, the
in-memory channel layer). ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
With ``DEBUG`` off the server refuses to start on a missing or development secret.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from chatserver.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("CHATSERVER_DATA_DIR", str(BASE_DIR / "data"))).resolve()

DEBUG = env_bool("DEBUG", False)
TESTING = "pytest" in sys.modules

# --- secrets -------------------------------------------------------------------------------

_DEV_SECRET_FILE = DATA_DIR / "dev-secret-key"
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set SECRET_KEY to a long random value "
            "(or DEBUG=true on a laptop)"
        )
    if TESTING:
        SECRET_KEY = "test-only-secret-key-" + "x" * 40
    else:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        if not _DEV_SECRET_FILE.exists():
            from chatserver.crypto import random_token

            _DEV_SECRET_FILE.write_text(random_token(50))
            _DEV_SECRET_FILE.chmod(0o600)
        SECRET_KEY = _DEV_SECRET_FILE.read_text().strip()
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "SECRET_KEY is too short or a development value: set SECRET_KEY to 50+ random characters"
    )

# Earlier values of SECRET_KEY, newest first: signed cookies and recovery-phrase hashes made
# under them still verify (and recovery hashes are re-made under the current key on use).
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

CHATSERVER_KEYS = env_str("CHATSERVER_KEYS")
CHATSERVER_KEY_FILE = env_str("CHATSERVER_KEY_FILE")
# A development master key is generated only where DEBUG (or a test run) allows it.
CHATSERVER_DEV_KEY_FILE = DATA_DIR / "dev-master-key" if (DEBUG or TESTING) else None
if TESTING and not (CHATSERVER_KEYS or CHATSERVER_KEY_FILE):
    from chatserver.crypto import generate_key_line

    CHATSERVER_KEYS = generate_key_line("test1")
if not (DEBUG or TESTING or CHATSERVER_KEYS or CHATSERVER_KEY_FILE):
    raise ImproperlyConfigured(
        "no key-encryption key: set CHATSERVER_KEY_FILE to a key file (see docs/security.md)"
    )

# --- the audit log ---------------------------------------------------------------------------

# The secret the audit chain's MAC key and its checkpoint signing key are derived from (HKDF,
# chatserver/crypto.py): never in the database, so whoever can write the tables cannot
# recompute the chain. SECRET_KEY by default; a dedicated value outlives SECRET_KEY rotations.
AUDIT_KEY = env_str("AUDIT_KEY")
if AUDIT_KEY:
    if not DEBUG and (len(AUDIT_KEY) < 50 or AUDIT_KEY.startswith("django-insecure")):
        raise ImproperlyConfigured(
            "AUDIT_KEY is too short or a development value: set AUDIT_KEY to 50+ random "
            "characters, or leave it unset to derive the audit keys from SECRET_KEY"
        )
    # Earlier audit secrets, newest first: entries and checkpoints made under them still verify.
    AUDIT_KEY_FALLBACKS = env_list("AUDIT_KEY_FALLBACKS", [])
else:
    AUDIT_KEY = SECRET_KEY
    AUDIT_KEY_FALLBACKS = env_list("AUDIT_KEY_FALLBACKS", SECRET_KEY_FALLBACKS)
# A signed checkpoint of the chain's head is written outside the database once this many
# entries or this many seconds have passed since the last one, at the next append (and by
# ``chatserver audit-anchor``): to the log stream, and to this file when it is set.
AUDIT_ANCHOR_EVERY = env_int("AUDIT_ANCHOR_EVERY", 50, minimum=1)
AUDIT_ANCHOR_SECONDS = env_int("AUDIT_ANCHOR_SECONDS", 60, minimum=1)
AUDIT_ANCHOR_FILE = env_str("AUDIT_ANCHOR_FILE")
if AUDIT_ANCHOR_FILE and not (
    Path(AUDIT_ANCHOR_FILE).is_absolute() and Path(AUDIT_ANCHOR_FILE).parent.is_dir()
):
    raise ImproperlyConfigured(
        "AUDIT_ANCHOR_FILE must be an absolute path in a directory that exists"
    )

# --- hosts and transport security ------------------------------------------------------------

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER_ENABLED", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
# A shared or unsafe device is common for survivors: sessions are short by default.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = False
# Django's database sessions, but the table holds only a keyed hash of each session key: a
# copy of the database cannot be replayed as cookies (chatserver/sessions.py).
SESSION_ENGINE = "chatserver.sessions"

# --- applications ----------------------------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "chatserver.apps.ChatserverConfig",
    "rooms",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "chatserver.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Malformed API bodies are refused as JSON before the CSRF check or a view reads them.
    "chatserver.jsonbody.JsonBodyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chatserver.urls"
ASGI_APPLICATION = "chatserver.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- storage ------------------------------------------------------------------------------

_database_url = env_str("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'chatserver.sqlite3'}"
try:
    _database = dj_database_url.parse(
        _database_url,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if TESTING else 60, minimum=0),
        conn_health_checks=True,
    )
except (ValueError, dj_database_url.UnknownSchemeError) as _exc:
    raise ImproperlyConfigured(
        "DATABASE_URL must look like postgres://user:password@host:5432/name"
    ) from _exc
DATABASES = {"default": _database}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # All database work of a process runs in one thread (database_sync_to_async), so a
    # persistent connection is safe and saves a connect per call; tests use fresh ones.
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if TESTING else None
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
CHANNEL_LAYER_CAPACITY = env_int("CHANNEL_LAYER_CAPACITY", 5000, minimum=100)
CHANNEL_ENCRYPTION_KEY = env_str("CHANNEL_ENCRYPTION_KEY")
if REDIS_URL:
    _host: dict[str, object] = {
        "address": REDIS_URL,
        # redis-py's defaults kill idle receive loops and cap bursts (channels-redis #422).
        "socket_timeout": None,
        "max_connections": env_int("REDIS_MAX_CONNECTIONS", 1000, minimum=10),
    }
    _layer_config: dict[str, object] = {
        "hosts": [_host],
        "capacity": CHANNEL_LAYER_CAPACITY,
        # Groups must outlive the longest socket; membership is renewed on reconnect.
        "group_expiry": env_int("CHANNEL_GROUP_EXPIRY", 7 * 86400, minimum=3600),
        "prefix": env_str("CHANNEL_PREFIX", "chatserver"),
    }
    if CHANNEL_ENCRYPTION_KEY:
        _layer_config["symmetric_encryption_keys"] = [CHANNEL_ENCRYPTION_KEY]
    # "core" (lists with a capacity and group expiry) or "pubsub" (Redis pub/sub: no capacity,
    # no expiry, measured faster here). Both are at-most-once; clients resume from the record.
    CHANNEL_LAYER_KIND = env_str("CHANNEL_LAYER_KIND", "pubsub")
    if CHANNEL_LAYER_KIND == "pubsub":
        for _key in ("capacity", "group_expiry"):
            _layer_config.pop(_key)
        _backend = "channels_redis.pubsub.RedisPubSubChannelLayer"
    elif CHANNEL_LAYER_KIND == "core":
        _backend = "channels_redis.core.RedisChannelLayer"
    else:
        raise ImproperlyConfigured("CHANNEL_LAYER_KIND must be core or pubsub")
    CHANNEL_LAYERS = {"default": {"BACKEND": _backend, "CONFIG": _layer_config}}
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chatserver.layers.ThrottledInMemoryChannelLayer",
            "CONFIG": {"capacity": CHANNEL_LAYER_CAPACITY},
        }
    }

# The cache holds only short-lived abuse counters (rooms/throttles.py). With REDIS_URL they
# are shared by every process; short timeouts, because a throttle that cannot reach Redis lets
# requests through rather than hang them.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CHANNEL_PREFIX", "chatserver") + "-cache",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- abuse limits ------------------------------------------------------------------------------

# Requests per client address per window at the doors that cost the server work or guard an
# account. The address is only ever kept as a keyed hash, in the cache, for one window.
THROTTLE_WINDOW_SECONDS = env_int("THROTTLE_WINDOW_SECONDS", 600, minimum=1)
THROTTLE_SESSION_CREATES = env_int("THROTTLE_SESSION_CREATES", 20, minimum=1)
THROTTLE_RECOVERIES = env_int("THROTTLE_RECOVERIES", 10, minimum=1)
THROTTLE_STAFF_SIGNINS = env_int("THROTTLE_STAFF_SIGNINS", 20, minimum=1)
# The request header a reverse proxy sets to the client's address (empty: the connection's
# own address). Set it only behind a proxy that always overwrites it.
THROTTLE_CLIENT_ADDRESS_HEADER = env_str("THROTTLE_CLIENT_ADDRESS_HEADER")
# Staff password hashes (argon2, about 100 MiB each) at once per process, and how long a
# sign-in waits for a slot before it is told the server is busy.
SLOW_HASH_CONCURRENCY = env_int("SLOW_HASH_CONCURRENCY", 2, minimum=1)
SLOW_HASH_WAIT_SECONDS = env_float("SLOW_HASH_WAIT_SECONDS", 5.0, minimum=0.0)

# --- authentication --------------------------------------------------------------------------

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- i18n and static ----------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
# The web client: the copy the build puts into the package (setup.py), else the checkout's
# static/ (a source checkout or an editable install, where edits show at once).
_PACKAGED_STATIC = Path(__file__).resolve().parent / "static"
_DEFAULT_STATIC = _PACKAGED_STATIC if _PACKAGED_STATIC.is_dir() else BASE_DIR / "static"
STATIC_DIR = Path(env_str("CHATSERVER_STATIC_DIR", str(_DEFAULT_STATIC)))
STATICFILES_DIRS = [STATIC_DIR]
STATIC_ROOT = env_str("STATIC_ROOT") or None
# The app serves its own static files (one process to run on a laptop, nothing extra
# behind the proxy); straight from the source folder, so no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- chat behaviour --------------------------------------------------------------------------

CHAT_MAX_MESSAGE_CHARS = env_int("CHAT_MAX_MESSAGE_CHARS", 4000, minimum=1)
CHAT_MAX_FRAME_BYTES = env_int("CHAT_MAX_FRAME_BYTES", 64 * 1024, minimum=1024)
CHAT_HISTORY_PAGE = env_int("CHAT_HISTORY_PAGE", 50, minimum=1)
CHAT_HEARTBEAT_SECONDS = env_float("CHAT_HEARTBEAT_SECONDS", 15.0, minimum=0.05)
# Room sockets one session (a member, or a staff account) may hold open at once, in all rooms.
CHAT_MAX_SOCKETS_PER_SESSION = env_int("CHAT_MAX_SOCKETS_PER_SESSION", 6, minimum=1)
# New reports one participant may file in an hour (each notifies facilitators and moderators).
CHAT_REPORTS_PER_HOUR = env_int("CHAT_REPORTS_PER_HOUR", 10, minimum=1)
# A member takes up a place in a room (its capacity) while here, and for this long after they
# last joined or wrote.
CHAT_ROOM_ACTIVE_MINUTES = env_int("CHAT_ROOM_ACTIVE_MINUTES", 60, minimum=1)
# Connections the listening socket queues before they are accepted (a reconnect storm).
CHAT_LISTEN_BACKLOG = env_int("CHAT_LISTEN_BACKLOG", 2048, minimum=50)
# Database threads per server process, each with one persistent connection (PostgreSQL only;
# SQLite always uses one). The sockets' database work runs there, off the event loop.
CHAT_DB_THREADS = env_int("CHAT_DB_THREADS", 1, minimum=1)
# How often every open socket's session, role and place in the room are held against the
# database (rooms/watch.py). Revocation must not wait for Redis (issue 13): never longer
# than 2 s, which is what docs/security.md promises.
CHAT_SESSION_CHECK_SECONDS = env_float("CHAT_SESSION_CHECK_SECONDS", 2.0, minimum=0.05, maximum=2.0)
CHAT_RATE_PER_SECOND = env_float("CHAT_RATE_PER_SECOND", 1.0, minimum=0.01)
CHAT_RATE_BURST = env_int("CHAT_RATE_BURST", 8, minimum=1)
# After this many refused frames in a row the connection is closed as abusive.
CHAT_RATE_STRIKES = env_int("CHAT_RATE_STRIKES", 20, minimum=1)
CHAT_INVITE_DAYS = env_int("CHAT_INVITE_DAYS", 7, minimum=1)
# A room's data-key epoch lasts at most this long (or the room's retention, if shorter), so
# retention can destroy whole epochs' keys (docs/security.md).
CHAT_KEY_EPOCH_DAYS = env_int("CHAT_KEY_EPOCH_DAYS", 7, minimum=1)

# --- logging: never message text, IP addresses or session tokens -----------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"privacy": {"()": "chatserver.logprivacy.PrivacyFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["privacy"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's request logger writes the request line; our filter strips it of queries.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # Audit checkpoints are evidence, not chatter: kept whatever LOG_LEVEL says.
        "chatserver.audit.anchor": {"level": "INFO"},
    },
}
CSRF_FAILURE_VIEW = "rooms.api.csrf_failure"

# --- risk escalation -------------------------------------------------------------------------

# Seconds within which an escalation must be acknowledged before it is re-notified and raised
# to the on-call list.
ESCALATION_SLA_SECONDS = {
    "critical": env_int("ESCALATION_SLA_CRITICAL", 120, minimum=10),
    "high": env_int("ESCALATION_SLA_HIGH", 600, minimum=10),
    "concern": env_int("ESCALATION_SLA_CONCERN", 3600, minimum=10),
}
ESCALATION_ONCALL_EMAILS = env_list("ESCALATION_ONCALL_EMAILS", [])
ESCALATION_WEBHOOK_URL = env_str("ESCALATION_WEBHOOK_URL")
if ESCALATION_WEBHOOK_URL and not ESCALATION_WEBHOOK_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("ESCALATION_WEBHOOK_URL must be an http(s) URL")
ESCALATION_WEBHOOK_SECRET = env_str("ESCALATION_WEBHOOK_SECRET")
ESCALATION_TICK_SECONDS = env_float("ESCALATION_TICK_SECONDS", 5.0, minimum=0.1)
CRISIS_RESOURCES_LOCALE = env_str("CRISIS_RESOURCES_LOCALE", "en-gb")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "alerts@localhost")

# --- staff accounts, second factor and governance -----------------------------------------------

INSTALLED_APPS += ["django_otp", "django_otp.plugins.otp_totp"]
# Every password check goes through the per-username lockout (moderation/accounts.py).
AUTHENTICATION_BACKENDS = ["moderation.accounts.LockoutModelBackend"]
STAFF_LOGIN_MAX_FAILURES = env_int("STAFF_LOGIN_MAX_FAILURES", 5, minimum=1)
STAFF_LOGIN_FAILURE_WINDOW_SECONDS = env_int("STAFF_LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
STAFF_LOGIN_LOCKOUT_SECONDS = env_int("STAFF_LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Failed staff sign-ins across all usernames per failure window before every sign-in without a
# trusted-device cookie is refused for a lockout period (guessing across usernames).
STAFF_LOGIN_GLOBAL_MAX_FAILURES = env_int("STAFF_LOGIN_GLOBAL_MAX_FAILURES", 50, minimum=1)
# How long a device that signed in with the second factor stays exempt from the lockouts.
STAFF_TRUSTED_DEVICE_DAYS = env_int("STAFF_TRUSTED_DEVICE_DAYS", 30, minimum=1)
# How long a provisioning URI, once shown, waits for its first code.
STAFF_OTP_ENROL_SECONDS = env_int("STAFF_OTP_ENROL_SECONDS", 600, minimum=60)
# How long a set-up code issued by an admin (chatserver staff-enrol-code) lets its account
# enrol an authenticator: the password alone never does.
STAFF_ENROL_CODE_HOURS = env_int("STAFF_ENROL_CODE_HOURS", 24, minimum=1)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Peer support chat")
# The course a facilitator must hold, unexpired, to facilitate a room.
FACILITATOR_TRAINING_COURSE = env_str("FACILITATOR_TRAINING_COURSE", "peer-facilitation")
# The admin never shows an authenticator's secret again once the device exists.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
