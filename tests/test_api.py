"""The HTTP JSON API, through Django's test client with CSRF checks on."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rooms import services
from rooms.models import Member, Membership, Room
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


def post(client: Client, path: str, body: Any = None, **extra: Any) -> Any:
    client.get("/api/session")
    token = client.cookies["csrftoken"].value
    data = body if isinstance(body, str | bytes) else json.dumps(body or {})
    return client.post(path, data, content_type="application/json", HTTP_X_CSRFTOKEN=token, **extra)


def test_member_session_is_anonymous_and_phrase_shown_once(client: Client) -> None:
    response = post(client, "/api/session")
    assert response.status_code == 201
    phrase = response.json()["recovery_phrase"]
    assert len(phrase.split()) == 8
    member = Member.objects.get()
    # A keyed hash of the secret words, never the words, and no argon2 per new member.
    assert phrase.split()[-1] not in member.recovery_hash
    assert member.recovery_hash.startswith("hmac-sha256$")
    assert client.cookies["sessionid"]["httponly"]
    assert client.cookies["sessionid"]["samesite"] == "Strict"
    again = post(client, "/api/session")
    assert again.status_code == 200 and again.json()["recovery_phrase"] is None


def test_post_without_csrf_token_is_refused(client: Client) -> None:
    response = client.post("/api/session", "{}", content_type="application/json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    assert Member.objects.count() == 0


def test_recovery_on_another_device(client: Client) -> None:
    phrase = post(client, "/api/session").json()["recovery_phrase"]
    other = Client(enforce_csrf_checks=True)
    wrong = post(other, "/api/session/recover", {"phrase": "abandon " * 8})
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "recovery_failed"
    assert post(other, "/api/session/recover", {"phrase": phrase.upper()}).status_code == 200
    assert other.get("/api/session").json()["member"] is True


def test_room_list_hides_invite_rooms_and_closed_rooms(client: Client) -> None:
    RoomFactory(slug="open-room")
    RoomFactory(slug="secret-room", visibility="invite")
    RoomFactory(slug="closed-room", state="closed")
    slugs = [r["slug"] for r in client.get("/api/rooms").json()["rooms"]]
    assert slugs == ["open-room"]
    assert client.get("/api/rooms/secret-room").status_code == 404


def test_join_flow_and_errors(client: Client) -> None:
    RoomFactory(slug="circle")
    assert post(client, "/api/rooms/circle/join", {"agreement_version": 1}).status_code == 401
    post(client, "/api/session")
    detail = client.get("/api/rooms/circle").json()
    assert detail["agreement"]["version"] == 1 and detail["pseudonym"] is None
    stale = post(client, "/api/rooms/circle/join", {"agreement_version": 0})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "agreement_required"
    joined = post(client, "/api/rooms/circle/join", {"agreement_version": 1}).json()
    assert joined["role"] == "member" and joined["pseudonym"]
    assert client.get("/api/rooms").json()["rooms"][0]["joined"] is True
    assert post(client, "/api/rooms/nowhere/join", {"agreement_version": 1}).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        ("[1]", 400),
        ({"agreement_version": "1"}, 400),
        ({}, 400),
        ({"agreement_version": True}, 400),
    ],
)
def test_malformed_bodies_get_clear_errors(client: Client, body: Any, status: int) -> None:
    RoomFactory(slug="circle")
    post(client, "/api/session")
    response = post(client, "/api/rooms/circle/join", body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "bad_request"


def test_invite_redeem(client: Client) -> None:
    room = RoomFactory(slug="private", visibility="invite")
    code = services.invite_create(room=room, created_by=None)
    post(client, "/api/session")
    bad = post(client, "/api/invites/redeem", {"code": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invite_invalid"
    assert post(client, "/api/invites/redeem", {"code": code}).json()["slug"] == "private"
    assert post(client, "/api/rooms/private/join", {"agreement_version": 1}).status_code == 200


def test_history_pages(client: Client) -> None:
    room = RoomFactory(slug="circle")
    post(client, "/api/session")
    post(client, "/api/rooms/circle/join", {"agreement_version": 1})
    membership = Membership.objects.get(room=room)
    for n in range(4):
        services.message_send(membership=membership, client_id=f"c{n}", body=f"m{n}")
    page = client.get("/api/rooms/circle/messages?limit=2").json()
    assert [m["seq"] for m in page["messages"]] == [3, 4] and page["has_more"]
    page = client.get("/api/rooms/circle/messages?before=3").json()
    assert [m["body"] for m in page["messages"]] == ["m0", "m1"] and not page["has_more"]
    assert client.get("/api/rooms/circle/messages?before=x").status_code == 400
    assert client.get("/api/rooms/circle/messages?limit=0").status_code == 400


def test_history_needs_membership(client: Client) -> None:
    RoomFactory(slug="circle")
    assert client.get("/api/rooms/circle/messages").status_code == 401
    post(client, "/api/session")
    assert client.get("/api/rooms/circle/messages").status_code == 403


def test_logout_ends_the_session(client: Client) -> None:
    post(client, "/api/session")
    token = client.cookies["csrftoken"].value
    response = client.delete("/api/session", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert client.get("/api/session").json()["member"] is False


def test_pages_carry_privacy_headers(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_healthz(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_csrf_failure_and_wrong_method_are_clear(client: Client) -> None:
    refused = client.put("/api/rooms")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    client.get("/api/session")
    token = client.cookies["csrftoken"].value
    assert client.put("/api/rooms", HTTP_X_CSRFTOKEN=token).status_code == 405
    assert Room.objects.count() == 0


def test_delete_my_data_erases_keys_and_ends_the_session(client: Client) -> None:
    from rooms.models import DataKey, Message

    room = RoomFactory(slug="circle")
    post(client, "/api/session")
    post(client, "/api/rooms/circle/join", {"agreement_version": 1})
    membership = Membership.objects.get(room=room)
    services.message_send(membership=membership, client_id="c1", body="my words")
    token = client.cookies["csrftoken"].value
    assert client.delete("/api/me").status_code == 403  # CSRF
    unconfirmed = client.delete("/api/me", HTTP_X_CSRFTOKEN=token)
    assert unconfirmed.status_code == 400
    assert unconfirmed.json()["error"]["code"] == "confirmation_required"
    assert DataKey.objects.get().wrapped is not None  # nothing erased without confirmation
    confirmed = client.delete(
        "/api/me", {"confirm": True}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert confirmed.status_code == 204
    assert DataKey.objects.get().wrapped is None
    assert Message.objects.get().ciphertext is None
    assert Member.objects.get().erased_at is not None
    assert client.get("/api/session").json()["member"] is False


def test_recovery_guessing_is_locked_per_phrase(client: Client) -> None:
    from rooms.identity import RECOVERY_MAX_FAILURES
    from rooms.models import RecoveryThrottle

    phrase = post(client, "/api/session").json()["recovery_phrase"]
    lookup = " ".join(phrase.split()[:3])
    other = Client(enforce_csrf_checks=True)
    for _ in range(RECOVERY_MAX_FAILURES):
        wrong = post(other, "/api/session/recover", {"phrase": lookup + " abandon" * 5})
        assert wrong.json()["error"]["code"] == "recovery_failed"
    locked = post(other, "/api/session/recover", {"phrase": phrase})  # even the right one
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "recovery_locked"
    assert lookup not in str(
        list(RecoveryThrottle.objects.values_list("lookup_fingerprint", flat=True))
    )


def test_another_name_before_writing_and_quick_exit_told_once(client: Client) -> None:
    room = RoomFactory(slug="circle")
    post(client, "/api/session")
    assert client.get("/api/session").json()["exit_explained"] is False
    joined = post(client, "/api/rooms/circle/join", {"agreement_version": 1}).json()
    assert joined["new"] is True
    again = post(client, "/api/rooms/circle/join", {"agreement_version": 1}).json()
    assert again["new"] is False and again["pseudonym"] == joined["pseudonym"]
    renamed = post(client, "/api/rooms/circle/pseudonym")
    assert renamed.status_code == 200
    assert renamed.json()["pseudonym"] != joined["pseudonym"]
    membership = Membership.objects.get(room=room)
    assert membership.pseudonym == renamed.json()["pseudonym"]
    # Once they have written here, the name stays: others have seen it.
    services.message_send(membership=membership, client_id="c1", body="hello")
    refused = post(client, "/api/rooms/circle/pseudonym")
    assert refused.status_code == 403 and "stays" in refused.json()["error"]["message"]
    # Told what Quick exit does: not again, on any device.
    assert post(client, "/api/session/exit-explained").status_code == 200
    assert client.get("/api/session").json()["exit_explained"] is True


def test_a_new_recovery_phrase_replaces_the_old_one(client: Client) -> None:
    old = post(client, "/api/session").json()["recovery_phrase"]
    new = post(client, "/api/session/phrase").json()["recovery_phrase"]
    assert len(new.split()) == 8 and new != old
    other = Client(enforce_csrf_checks=True)
    assert post(other, "/api/session/recover", {"phrase": old}).status_code == 400
    assert post(other, "/api/session/recover", {"phrase": new}).status_code == 200
    stranger = Client(enforce_csrf_checks=True)
    assert post(stranger, "/api/session/phrase").status_code == 401
