"""Shared fixtures: fast argon2, fresh key caches, and connected websocket communicators that
always disconnect (a hanging communicator is a known Channels pain)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chatserver.sessions import SessionStore
from rooms.access import MEMBER_SESSION_KEY
from rooms.encryption import forget_cached_keys
from rooms.models import Member, Membership, Room
from tests.factories import MembershipFactory, RoomFactory

ORIGIN = b"http://localhost"


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["tests.hashers.FastArgon2PasswordHasher"]
    # The test client speaks plain HTTP; production redirects it to HTTPS.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True, scope="session")
def _warm_risk_detector() -> None:
    """Build the detector once before any test, as ``serve`` does at start-up: built lazily
    inside the first consumer test, its few seconds would count against that test's
    receive timeouts."""
    from moderation.risk import Detector

    Detector.default()


@pytest.fixture(autouse=True)
def _fresh_key_cache() -> Iterator[None]:
    forget_cached_keys()
    yield
    forget_cached_keys()


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    """Throttle counters live in the cache (per process without Redis): one test's requests
    must not count against the next test's."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    backend = caches["default"]
    if isinstance(backend, LocMemCache):  # never flush a shared Redis
        backend.clear()
    yield


@pytest.fixture(autouse=True)
def _fresh_conversation_memory() -> Iterator[None]:
    """The send path's in-memory recent messages must not carry one test's room into the
    next (a database flush can hand out the same room id again)."""
    from rooms.recent import RECENT

    RECENT.clear()
    yield
    RECENT.clear()


# scripts/test sets this to "required" unless told otherwise: a test that needs PostgreSQL,
# Redis or nginx then fails when the service is missing, as in CI, instead of skipping where a
# skip is easy to miss. "optional" skips those tests (README, docs/configuration.md).
SERVICES_VARIABLE = "CHATSERVER_TEST_SERVICES"


def services_required() -> bool:
    setting = os.environ.get("CHATSERVER_TEST_SERVICES", "optional")
    if setting not in ("required", "optional"):
        raise pytest.UsageError(
            f"{SERVICES_VARIABLE} must be required or optional, not {setting!r}"
        )
    return bool(os.environ.get("CI")) or setting == "required"


def require_service(name: str, available: bool) -> None:
    """Tests that need a real service fail when it is absent under scripts/test and in CI;
    elsewhere they skip, and say how to run them."""
    if available:
        return
    message = f"this test needs {name}"
    if services_required():
        pytest.fail(
            f"{message}: start it, or run with {SERVICES_VARIABLE}=optional to skip such tests",
            pytrace=False,
        )
    pytest.skip(f"{message} (skipped: {SERVICES_VARIABLE} is not 'required'; scripts/test fails)")


@pytest.fixture
def postgres_db(db: None) -> None:
    from django.db import connection

    require_service("PostgreSQL (DATABASE_URL=postgres://...)", connection.vendor == "postgresql")


@pytest.fixture
def room(db: None) -> Room:
    return RoomFactory(slug="circle", title="Circle")


def session_for(member: Member | None = None, user_id: int | None = None) -> str:
    store = SessionStore()
    if member is not None:
        store[MEMBER_SESSION_KEY] = str(member.pk)
    if user_id is not None:
        store["_auth_user_id"] = str(user_id)
    store.create()
    return str(store.session_key)


@pytest.fixture
def application() -> Any:
    from chatserver.asgi import application

    return application


@asynccontextmanager
async def _connected(
    application: Any, path: str, session_key: str | None, origin: bytes = ORIGIN
) -> AsyncIterator[WebsocketCommunicator]:
    headers = [(b"origin", origin), (b"host", b"localhost")]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    try:
        yield communicator
    finally:
        await communicator.disconnect()


@pytest.fixture
def connect(application: Any) -> Callable[..., Any]:
    """``async with connect(membership) as ws`` gives a connected communicator whose
    welcome (and first presence) frames have been read."""

    @asynccontextmanager
    async def factory(
        membership: Membership | None = None,
        *,
        slug: str | None = None,
        session_key: str | None = None,
        origin: bytes = ORIGIN,
        expect_welcome: bool = True,
    ) -> AsyncIterator[WebsocketCommunicator]:
        if membership is not None and session_key is None:
            session_key = await database_sync_to_async(session_for)(membership.member)
        room_slug = slug or (await database_sync_to_async(lambda: membership.room.slug)())
        async with _connected(application, f"/ws/rooms/{room_slug}/", session_key, origin) as ws:
            if expect_welcome:
                connected, _ = await ws.connect()
                assert connected
                welcome = await ws.receive_json_from(timeout=5)
                assert welcome["type"] == "welcome", welcome
                ws.welcome = welcome  # type: ignore[attr-defined]
            yield ws

    return factory


@pytest.fixture
def make_membership(room: Room) -> Callable[..., Membership]:
    def factory(**kwargs: Any) -> Membership:
        kwargs.setdefault("room", room)
        return MembershipFactory(**kwargs)

    return factory


@pytest.fixture
def staff_user(db: None) -> Any:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username="nurse", password="correct horse battery staple")
    user.groups.add(Group.objects.get_or_create(name="staff")[0])
    return user


def login_session(user: Any, *, second_factor: bool = True) -> str:
    """A real logged-in session for a staff user, as sign-in creates it: with a confirmed
    authenticator device verified in the session (unless ``second_factor`` is False)."""
    import django_otp
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from chatserver.sessions import SessionStore

    client = Client()
    client.force_login(user)
    key = str(client.cookies["sessionid"].value)
    if second_factor:
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, name="test", defaults={"confirmed": True}
        )
        store = SessionStore(session_key=key)
        store[django_otp.DEVICE_ID_SESSION_KEY] = device.persistent_id
        store.save()
    return key


@pytest.fixture
def connect_staff(application: Any) -> Callable[..., Any]:
    @asynccontextmanager
    async def factory(
        user: Any, *, second_factor: bool = True
    ) -> AsyncIterator[WebsocketCommunicator]:
        key = (
            await database_sync_to_async(login_session)(user, second_factor=second_factor)
            if user
            else None
        )
        async with _connected(application, "/ws/staff/", key) as ws:
            ws.session_key = key  # type: ignore[attr-defined]
            yield ws

    return factory
