"""Issue 13, row 3: anonymous sessions cost no argon2, and the doors that cost work or guard an
account are throttled per client address without keeping the address anywhere durable."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.core.cache import caches
from django.db import connection
from django.test import Client

from chatserver.crypto import (
    SLOW_HASH_GATE,
    keyed_digest,
    recovery_digest,
    recovery_lookup_digest,
)
from rooms import identity, throttles
from rooms.models import Member
from tests.conftest import require_service

pytestmark = pytest.mark.django_db
ADDRESS = "198.51.100.23"


def new_client(address: str = ADDRESS) -> Client:
    return Client(enforce_csrf_checks=True, REMOTE_ADDR=address)


def post(client: Client, path: str, body: Any = None) -> Any:
    client.get("/api/session")
    token = client.cookies["csrftoken"].value
    return client.post(
        path, json.dumps(body or {}), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )


def test_a_burst_of_new_sessions_is_refused_with_retry_after(settings: Any) -> None:
    settings.THROTTLE_SESSION_CREATES = 5
    answers = [post(new_client(), "/api/session") for _ in range(8)]
    assert [a.status_code for a in answers] == [201] * 5 + [429] * 3
    refused = answers[-1]
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= settings.THROTTLE_WINDOW_SECONDS
    assert error["retry_after"] == retry_after
    assert Member.objects.count() == 5
    # Another network is not affected; an existing member asking again is not counted.
    assert post(new_client("203.0.113.9"), "/api/session").status_code == 201


def test_an_ipv6_client_is_counted_by_its_64(settings: Any) -> None:
    settings.THROTTLE_SESSION_CREATES = 2
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:aaaa::3"]
    codes = [post(new_client(a), "/api/session").status_code for a in same_64]
    assert codes == [201, 201, 429]
    assert post(new_client("2001:db8:1:3::1"), "/api/session").status_code == 201


def test_recovery_attempts_are_throttled_per_address(settings: Any) -> None:
    settings.THROTTLE_RECOVERIES = 3
    client = new_client()
    codes = [
        post(client, "/api/session/recover", {"phrase": f"word{i} " * 8}).status_code
        for i in range(4)
    ]
    assert codes == [400, 400, 400, 429]


def test_the_proxy_header_names_the_client_when_configured(settings: Any) -> None:
    settings.THROTTLE_SESSION_CREATES = 1
    settings.THROTTLE_CLIENT_ADDRESS_HEADER = "X-Chatserver-Client"
    behind_proxy = [
        Client(enforce_csrf_checks=True, REMOTE_ADDR="10.0.0.2", HTTP_X_CHATSERVER_CLIENT=a)
        for a in ("192.0.2.1", "192.0.2.2", "192.0.2.1")
    ]
    codes = [post(c, "/api/session").status_code for c in behind_proxy]
    assert codes == [201, 201, 429]


def test_new_sessions_run_no_argon2(monkeypatch: Any, settings: Any) -> None:
    """Memory stays bounded: a member session costs a keyed hash, never a 100 MiB argon2."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("argon2 ran for an anonymous session")

    monkeypatch.setattr(Argon2PasswordHasher, "encode", refuse)
    monkeypatch.setattr(Argon2PasswordHasher, "verify", refuse)
    client = new_client()
    phrase = post(client, "/api/session").json()["recovery_phrase"]
    assert post(new_client("192.0.2.50"), "/api/session/recover", {"phrase": phrase}).json() == {
        "member": True
    }
    wrong = " ".join(phrase.split()[:3] + ["abandon"] * 5)
    assert post(
        new_client("192.0.2.51"), "/api/session/recover", {"phrase": wrong}
    ).status_code == (400)


def test_an_argon2_phrase_from_before_still_works_and_is_upgraded(settings: Any) -> None:
    member = Member.objects.create(
        recovery_lookup=recovery_lookup_digest(
            "alpha beta gamma", server_secret=settings.SECRET_KEY
        ),
        recovery_hash=make_password("one two three four five"),
    )
    assert member.recovery_hash.startswith("argon2")
    with pytest.raises(identity.RecoveryFailed):
        identity.member_recover(phrase="alpha beta gamma one two three four six")
    member.refresh_from_db()
    assert member.recovery_hash.startswith("argon2"), "a failure changes nothing"
    found = identity.member_recover(phrase="alpha beta gamma one two three four five")
    assert found.pk == member.pk
    member.refresh_from_db()
    assert member.recovery_hash.startswith("hmac-sha256$")
    assert identity.member_recover(phrase="ALPHA beta gamma one two three four five").pk == (
        member.pk
    )


def test_a_phrase_hashed_under_a_previous_secret_key_works_via_the_fallbacks(
    settings: Any,
) -> None:
    old_secret = "an-earlier-server-secret-" + "o" * 40
    member = Member.objects.create(
        recovery_lookup=recovery_lookup_digest("delta echo fox", server_secret=old_secret),
        recovery_hash=recovery_digest("one two three four five", server_secret=old_secret),
    )
    with pytest.raises(identity.RecoveryFailed):
        identity.member_recover(phrase="delta echo fox one two three four five")
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert identity.member_recover(phrase="delta echo fox one two three four five").pk == member.pk
    member.refresh_from_db()
    assert member.recovery_hash == recovery_digest(
        "one two three four five", server_secret=settings.SECRET_KEY
    )
    assert member.recovery_lookup == recovery_lookup_digest(
        "delta echo fox", server_secret=settings.SECRET_KEY
    ), "the lookup words' hash moves to the current secret too"


def test_slow_hashes_wait_for_a_slot_and_say_busy_when_none_frees(settings: Any) -> None:
    from django.contrib.auth.models import Group, User

    settings.SLOW_HASH_CONCURRENCY = 1
    settings.SLOW_HASH_WAIT_SECONDS = 0.2
    user = User.objects.create_user(username="fran", password="a long staff password 42")
    user.groups.add(Group.objects.get_or_create(name="facilitator")[0])
    held, release = threading.Event(), threading.Event()

    def occupy() -> None:
        with SLOW_HASH_GATE.slot(capacity=1, wait=1):
            held.set()
            release.wait(5)

    worker = threading.Thread(target=occupy)
    worker.start()
    try:
        assert held.wait(5)
        body = {"username": "fran", "password": "a long staff password 42"}
        busy = post(new_client(), "/api/staff/login", body)
    finally:
        release.set()
        worker.join()
    assert busy.status_code == 503 and busy.json()["error"]["code"] == "busy"
    assert int(busy["Retry-After"]) >= 1
    assert post(new_client(), "/api/staff/login", body).status_code == 200


def test_staff_sign_in_attempts_are_throttled_per_address(settings: Any) -> None:
    settings.THROTTLE_STAFF_SIGNINS = 2
    body = {"username": "ghost", "password": "whatever it is"}
    codes = [post(new_client(), "/api/staff/login", body).status_code for _ in range(3)]
    assert codes == [400, 400, 429]


def test_an_unreachable_cache_lets_requests_through(settings: Any, caplog: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    settings.THROTTLE_SESSION_CREATES = 1
    with caplog.at_level(logging.WARNING, logger="rooms.throttles"):
        codes = [post(new_client(), "/api/session").status_code for _ in range(2)]
    assert codes == [201, 201]
    assert "cache is unreachable" in caplog.text and ADDRESS not in caplog.text


@pytest.mark.redis
def test_no_address_or_plain_hash_is_kept_in_redis_the_database_or_logs(
    settings: Any, caplog: Any
) -> None:
    """The counters live in Redis under keyed hashes that expire with their window; nothing
    about the address reaches the database or the log."""
    import hashlib

    import redis

    require_service("PostgreSQL (DATABASE_URL=postgres://...)", connection.vendor == "postgresql")
    server = redis.Redis.from_url("redis://127.0.0.1:6379/14")
    try:
        server.ping()
    except redis.ConnectionError:
        require_service("Redis on 127.0.0.1:6379", False)
    prefix = "throttle-test-" + keyed_digest("t", ADDRESS, server_secret="x")[:8]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/14",
            "KEY_PREFIX": prefix,
        }
    }
    settings.THROTTLE_SESSION_CREATES = 3
    try:
        with caplog.at_level(logging.DEBUG):
            codes = [post(new_client(), "/api/session").status_code for _ in range(5)]
            post(new_client(), "/api/session/recover", {"phrase": "word " * 8})
        assert codes == [201, 201, 201, 429, 429]
        keys = server.keys(prefix + "*")
        assert len(keys) == 2, keys  # one counter per scope in this window
        plain = {
            ADDRESS,
            hashlib.sha256(ADDRESS.encode()).hexdigest(),
            hashlib.md5(ADDRESS.encode()).hexdigest(),
            hashlib.sha1(ADDRESS.encode()).hexdigest(),
        }
        for key in keys:
            ttl = server.ttl(key)
            assert 0 < ttl <= settings.THROTTLE_WINDOW_SECONDS + 1, ttl
            text = key.decode() + repr(server.get(key))
            assert not any(p in text or p[:16] in text for p in plain), text
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
            tables = [row[0] for row in cursor.fetchall()]
            for table in tables:
                cursor.execute(f'SELECT * FROM "{table}"')
                dumped = repr(cursor.fetchall())
                assert not any(p in dumped or p[:16] in dumped for p in plain), table
        assert not any(p in caplog.text for p in plain)
    finally:
        for key in server.keys(prefix + "*"):
            server.delete(key)
        caches["default"].close()


def test_client_address_normalises_and_never_fails() -> None:
    from django.test import RequestFactory

    factory = RequestFactory()
    assert throttles.client_address(factory.get("/", REMOTE_ADDR="192.0.2.7")) == "192.0.2.7"
    assert throttles.client_address(factory.get("/", REMOTE_ADDR="2001:db8::1")) == (
        "2001:db8::/64"
    )
    assert throttles.client_address(factory.get("/", REMOTE_ADDR="nonsense")) == "unknown"
