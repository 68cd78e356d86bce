"""Room services: membership, invites, the message record and its encryption."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from rooms import encryption, selectors, services
from rooms.errors import (
    AgreementRequired,
    InviteInvalid,
    MessageNotFound,
    NotAllowed,
    RoomClosed,
    RoomFull,
    RoomNotFound,
    RoomPaused,
)
from rooms.models import DataKey, Invite, Membership, Message, Room
from tests.factories import MemberFactory, MembershipFactory, RoomFactory

pytestmark = pytest.mark.django_db


def test_join_requires_the_current_agreement(room: Room) -> None:
    member = MemberFactory()
    with pytest.raises(AgreementRequired):
        services.membership_join(room=room, member=member, agreement_version=0)
    membership = services.membership_join(room=room, member=member, agreement_version=1)
    assert membership.agreement_version == 1 and membership.agreement_accepted_at is not None
    room.agreements.create(version=2, text="new")
    with pytest.raises(AgreementRequired):
        services.membership_authorize(room=room, member=member, user=None)


def test_pseudonyms_are_unique_in_a_room_and_not_reused_across_rooms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = RoomFactory(capacity=500)
    names = {
        services.membership_join(room=room, member=MemberFactory(), agreement_version=1).pseudonym
        for _ in range(60)
    }
    assert len(names) == 60
    assert all(len(name.split()) >= 2 for name in names)


def test_pseudonym_clash_falls_back_to_a_numbered_name(
    monkeypatch: pytest.MonkeyPatch, room: Room
) -> None:
    from rooms import pseudonyms

    monkeypatch.setattr(pseudonyms, "ADJECTIVES", ["Calm"])
    monkeypatch.setattr(pseudonyms, "NOUNS", ["Heron"])
    first = services.membership_join(room=room, member=MemberFactory(), agreement_version=1)
    second = services.membership_join(room=room, member=MemberFactory(), agreement_version=1)
    assert first.pseudonym == "Calm Heron"
    assert second.pseudonym.startswith("Calm Heron ") and second.pseudonym != first.pseudonym


def test_room_capacity_is_enforced() -> None:
    room = RoomFactory(capacity=1)
    services.membership_join(room=room, member=MemberFactory(), agreement_version=1)
    with pytest.raises(RoomFull):
        services.membership_join(room=room, member=MemberFactory(), agreement_version=1)


def test_memberships_left_behind_do_not_fill_a_room_for_good() -> None:
    """Hardening row 6: 30 throw-away sessions filled an open room for good. A place is
    taken while a member is here or for a while after they joined or wrote."""
    room = RoomFactory(capacity=2)
    gone = [
        services.membership_join(room=room, member=MemberFactory(), agreement_version=1)
        for _ in range(2)
    ]
    with pytest.raises(RoomFull):
        services.membership_join(room=room, member=MemberFactory(), agreement_version=1)
    long_ago = timezone.now() - timedelta(minutes=settings.CHAT_ROOM_ACTIVE_MINUTES + 1)
    Membership.objects.filter(pk__in=[m.pk for m in gone]).update(agreement_accepted_at=long_ago)
    services.membership_join(room=room, member=MemberFactory(), agreement_version=1)
    # One who comes back and writes takes a place again.
    services.message_send(membership=gone[0], client_id="back", body="I'm back")
    with pytest.raises(RoomFull):
        services.membership_join(room=room, member=MemberFactory(), agreement_version=1)


def test_invite_only_room_needs_an_invite() -> None:
    room = RoomFactory(visibility="invite")
    member = MemberFactory()
    # Not "forbidden": to those without an invite the room does not exist (tests/test_entry.py).
    with pytest.raises(RoomNotFound):
        services.membership_join(room=room, member=member, agreement_version=1)
    code = services.invite_create(room=room, created_by=None)
    assert not Invite.objects.filter(code_fingerprint=code).exists()  # only a fingerprint
    services.invite_redeem(member=member, code=code)
    assert services.membership_join(room=room, member=member, agreement_version=1).room == room


def test_invite_expires_and_runs_out() -> None:
    room = RoomFactory(visibility="invite")
    code = services.invite_create(room=room, created_by=None, max_uses=1)
    services.invite_redeem(member=MemberFactory(), code=code)
    with pytest.raises(InviteInvalid):
        services.invite_redeem(member=MemberFactory(), code=code)
    old = services.invite_create(room=room, created_by=None)
    Invite.objects.filter(uses=0).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(InviteInvalid):
        services.invite_redeem(member=MemberFactory(), code=old)
    with pytest.raises(InviteInvalid):
        services.invite_redeem(member=MemberFactory(), code="made-up")


def test_banned_member_cannot_enter(room: Room) -> None:
    membership = MembershipFactory(room=room, banned_at=timezone.now())
    with pytest.raises(NotAllowed):
        services.membership_authorize(room=room, member=membership.member, user=None)


def test_messages_get_gap_free_sequence_and_are_stored_encrypted(room: Room) -> None:
    membership = MembershipFactory(room=room)
    for n in range(3):
        services.message_send(membership=membership, client_id=f"c{n}", body=f"canary-{n}-text")
    rows = list(Message.objects.order_by("seq"))
    assert [m.seq for m in rows] == [1, 2, 3]
    for row in rows:
        assert b"canary" not in bytes(row.ciphertext)
    assert Room.objects.get(pk=room.pk).last_seq == 3
    entries = selectors.log_after(room_id=room.pk, after=0, limit=10).entries
    assert [e.body for e in entries] == ["canary-0-text", "canary-1-text", "canary-2-text"]


def test_one_data_key_per_member_and_epoch(room: Room) -> None:
    a, b = MembershipFactory(room=room), MembershipFactory(room=room)
    for n in range(2):
        services.message_send(membership=a, client_id=f"a{n}", body="x")
        services.message_send(membership=b, client_id=f"b{n}", body="y")
    keys = DataKey.objects.filter(room=room)
    assert keys.count() == 2
    assert {k.membership_id for k in keys} == {a.pk, b.pk}
    assert all(k.wrapped and len(bytes(k.wrapped)) == 12 + 32 + 16 for k in keys)


def test_ciphertext_copied_to_another_row_does_not_open(room: Room) -> None:
    membership = MembershipFactory(room=room)
    services.message_send(membership=membership, client_id="one", body="first secret")
    services.message_send(membership=membership, client_id="two", body="second")
    first, second = Message.objects.order_by("seq")
    Message.objects.filter(pk=second.pk).update(ciphertext=first.ciphertext)
    encryption.forget_cached_keys()
    entries = selectors.log_after(room_id=room.pk, after=0, limit=10).entries
    assert entries[0].body == "first secret"
    assert entries[1].body is None and entries[1].unavailable is True


def test_corrupted_ciphertext_is_reported_as_unavailable(
    room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    membership = MembershipFactory(room=room)
    services.message_send(membership=membership, client_id="c", body="do not log me")
    row = Message.objects.get()
    damaged = bytearray(bytes(row.ciphertext))
    damaged[-1] ^= 0x01
    Message.objects.filter(pk=row.pk).update(ciphertext=bytes(damaged))
    entry = selectors.log_after(room_id=room.pk, after=0, limit=1).entries[0]
    assert entry.unavailable and entry.body is None
    assert "could not be decrypted" in caplog.text
    assert "do not log me" not in caplog.text


def test_resend_returns_original_without_storing_again(room: Room) -> None:
    membership = MembershipFactory(room=room)
    first = services.message_send(membership=membership, client_id="same", body="hello")
    again = services.message_send(membership=membership, client_id="same", body="hello")
    assert again.duplicate and again.seq == first.seq and Message.objects.count() == 1


def test_paused_room_refuses_members_but_not_facilitators(room: Room) -> None:
    member = MembershipFactory(room=room)
    facilitator = MembershipFactory(room=room, member=None, user=_user(), role="facilitator")
    room.state = "paused"
    room.save()
    with pytest.raises(RoomPaused):
        services.message_send(membership=member, client_id="m", body="hi")
    assert services.message_send(membership=facilitator, client_id="f", body="we pause").seq == 1


def test_closed_room_refuses_everything(room: Room) -> None:
    member = MembershipFactory(room=room)
    Room.objects.filter(pk=room.pk).update(state="closed")
    with pytest.raises(RoomClosed):
        services.message_send(membership=member, client_id="m", body="hi")


def test_delete_destroys_ciphertext_and_logs_a_deletion(room: Room) -> None:
    alice, bob = MembershipFactory(room=room), MembershipFactory(room=room)
    seq = services.message_send(membership=alice, client_id="x", body="regret").seq
    with pytest.raises(MessageNotFound):
        services.message_delete(membership=bob, seq=seq)
    deletion = services.message_delete(membership=alice, seq=seq)
    original = Message.objects.get(seq=seq)
    assert original.ciphertext is None and original.deleted_at is not None
    assert Message.objects.get(seq=deletion).target_seq == seq
    assert services.message_delete(membership=alice, seq=seq) == seq  # idempotent


def _user():  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username=f"fac{User.objects.count()}", password="x" * 16)
    user.groups.add(Group.objects.get_or_create(name="facilitator")[0])
    return user


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_share_or_skip_a_number(postgres_db: None) -> None:
    """Several threads (as several server processes would) send into one room at once."""
    room = RoomFactory()
    memberships = [MembershipFactory(room=room) for _ in range(4)]
    errors: list[BaseException] = []

    def writer(membership: Membership) -> None:
        try:
            for n in range(10):
                services.message_send(membership=membership, client_id=f"t{n}", body="x")
        except BaseException as exc:
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=writer, args=(m,)) for m in memberships]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seqs = sorted(Message.objects.filter(room=room).values_list("seq", flat=True))
    assert seqs == list(range(1, 41))


def test_batch_stores_each_message_in_order_and_isolates_refusals(room: Room) -> None:
    """Group commit: one transaction, but a refused message does not affect the others."""
    other = RoomFactory(state="paused")
    alice = MembershipFactory(room=room)
    paused_member = MembershipFactory(room=other)
    requests = [
        services.SendRequest(membership=alice, client_id="b1", body="first"),
        services.SendRequest(membership=paused_member, client_id="p1", body="refused"),
        services.SendRequest(membership=alice, client_id="b2", body="second"),
        services.SendRequest(membership=alice, client_id="b1", body="first again"),
    ]
    results = services.message_send_batch(requests)
    assert [type(r).__name__ for r in results] == ["Sent", "RoomPaused", "Sent", "Sent"]
    assert [r.seq for r in results if isinstance(r, services.Sent)] == [1, 2, 1]
    assert results[3].duplicate and results[3].fanout is None  # type: ignore[union-attr]
    assert list(Message.objects.filter(room=room).values_list("seq", flat=True)) == [1, 2]
    assert not Message.objects.filter(room=other).exists()
    entries = selectors.log_after(room_id=room.pk, after=0, limit=10).entries
    assert [e.body for e in entries] == ["first", "second"]
