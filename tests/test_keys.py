"""The key lifecycle (rooms/keys.py): KEK rotation that survives interruption, room key
epochs (by hand and by age), retention purge with crypto-shredding, and member erasure.
Every operation is audited without key material."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from chatserver import crypto
from chatserver.audit import audit_verify
from chatserver.models import AuditEntry
from moderation import escalations
from moderation.models import Escalation
from rooms import encryption, keys, selectors, services
from rooms.errors import NotAllowed
from rooms.models import DataKey, Member, Membership, Message, Room
from tests.factories import MembershipFactory, RoomFactory

pytestmark = pytest.mark.django_db

OLD = crypto.generate_key_line("old")
NEW = crypto.generate_key_line("new")
T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
RISKY = "I can't do this anymore. I'm going to kill myself tonight, I've got the pills ready."


@pytest.fixture
def ring(settings: Any) -> Iterator[Any]:
    """Switch the key ring in the middle of a test, as an operator editing the key file and
    restarting would."""

    def use(keys_text: str) -> None:
        settings.CHATSERVER_KEYS = keys_text
        encryption.keyring.cache_clear()
        encryption.forget_cached_keys()

    use(OLD)
    yield use
    encryption.keyring.cache_clear()


def send(membership: Membership, body: str) -> int:
    n = Message.objects.filter(author=membership).count()
    return services.message_send(membership=membership, client_id=f"c{n}", body=body).seq


def bodies(room: Room) -> dict[int, str | None]:
    encryption.forget_cached_keys()  # read through the key rows, not this process's cache
    page = selectors.log_after(room_id=room.pk, after=0, limit=1000)
    return {e.seq: getattr(e, "body", None) for e in page.entries}


def audit(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def raw_key_rows(membership_ids: list[int]) -> list[tuple[Any, Any]]:
    """The key rows as the database holds them, below the ORM."""
    marks = ",".join(["%s"] * len(membership_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT wrapped, destroyed_at FROM rooms_datakey WHERE membership_id IN ({marks})",
            membership_ids,
        )
        return list(cursor.fetchall())


# --- KEK rotation -----------------------------------------------------------------------------


def _many_keys() -> list[Room]:
    """Seven data keys over two rooms and two epochs, with a message under each."""
    rooms = [RoomFactory(), RoomFactory()]
    for room in rooms:
        a, b = MembershipFactory(room=room), MembershipFactory(room=room)
        send(a, f"a says hi in {room.slug}")
        send(b, f"b answers in {room.slug}")
        keys.room_rotate_key(room=room)
        send(a, f"a again in {room.slug}")
    send(MembershipFactory(room=rooms[0]), "a third voice")
    assert DataKey.objects.count() == 7
    return rooms


def test_interrupted_kek_rotation_completes_on_rerun(ring: Any, monkeypatch: Any) -> None:
    rooms = _many_keys()
    before = {room.pk: bodies(room) for room in rooms}
    ring(f"{NEW}\n{OLD}")  # the new key first: it becomes active

    real_batch = keys._rewrap_batch
    calls = []

    def interrupted(batch_size: int) -> int:
        calls.append(batch_size)
        if len(calls) > 1:
            raise KeyboardInterrupt  # the operator's Ctrl-C after the first batch
        return real_batch(batch_size)

    monkeypatch.setattr(keys, "_rewrap_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        keys.rotate_kek(batch_size=3)
    assert keys.live_keys_by_kek() == {"new": 3, "old": 4}
    assert audit("keys.rotate_kek")[-1].detail == {
        "rewrapped": 3,
        "batches": 1,
        "completed": False,
    }

    monkeypatch.setattr(keys, "_rewrap_batch", real_batch)
    result = keys.rotate_kek(batch_size=3)
    assert result.rewrapped == 4 and result.complete
    assert set(DataKey.objects.values_list("kek_id", flat=True)) == {"new"}
    assert keys.rotate_kek(batch_size=3).rewrapped == 0  # idempotent

    ring(NEW)  # the old key leaves the ring: everything still opens
    assert {room.pk: bodies(room) for room in rooms} == before
    assert None not in before[rooms[0].pk].values()
    assert audit("keys.rotate_kek")[-1].detail["completed"] is True
    assert audit_verify().intact


def test_rotation_without_the_old_key_stops_and_changes_nothing(ring: Any) -> None:
    room = RoomFactory()
    send(MembershipFactory(room=room), "hello")
    wrapped = bytes(DataKey.objects.get().wrapped)
    ring(NEW)  # the old key was removed too early
    with pytest.raises(crypto.KeyConfigurationError, match="'old' is not configured"):
        keys.rotate_kek()
    key = DataKey.objects.get()
    assert key.kek_id == "old" and bytes(key.wrapped) == wrapped


def test_rotate_kek_command_prints_counts(ring: Any) -> None:
    _many_keys()
    ring(f"{NEW}\n{OLD}")
    out = _call("rotate_kek", "--batch-size", "2")
    assert "re-wrapped 7 data keys in 4 batches under key 'new'" in out
    assert "live keys wrapped by 'new': 7" in out and "older keys may leave" in out


def test_audit_entries_hold_no_key_material(ring: Any) -> None:
    _many_keys()
    ring(f"{NEW}\n{OLD}")
    keys.rotate_kek()
    secrets = [line.split(":", 1)[1] for line in (OLD, NEW)]
    wrapped = [bytes(k.wrapped).hex() for k in DataKey.objects.all()]
    text = " ".join(str(e.detail) + e.object_id for e in AuditEntry.objects.all())
    assert not any(s in text for s in secrets + wrapped)


# --- room key epochs ------------------------------------------------------------------------


def test_rotate_room_key_starts_a_new_epoch_and_old_messages_stay_readable() -> None:
    room = RoomFactory(slug="circle")
    alice = MembershipFactory(room=room)
    first = send(alice, "before the rotation")
    # Another process's view: a Room object read before the rotation, and a warm cache.
    stale = Room.objects.get(pk=room.pk)
    out = _call("rotate_room_key", "circle")
    assert "key epoch 2" in out
    assert stale.key_epoch == 1
    second = send(alice, "after the rotation")  # the send reads the locked row: epoch 2
    by_seq = {m.seq: m.data_key for m in Message.objects.select_related("data_key")}
    assert (by_seq[first].epoch, by_seq[second].epoch) == (1, 2)
    assert bodies(room) == {first: "before the rotation", second: "after the rotation"}
    entry = audit("room.key_epoch")[-1]
    assert entry.actor == "system:cli" and entry.detail == {"epoch": 2, "reason": "manual"}


def test_rotate_room_key_unknown_room() -> None:
    with pytest.raises(CommandError, match="no room"):
        _call("rotate_room_key", "nowhere")


def test_epochs_close_by_age() -> None:
    with time_machine.travel(T0, tick=False) as clock:
        room = RoomFactory(retention_days=90)
        alice = MembershipFactory(room=room)
        send(alice, "day one")
        clock.shift(dt.timedelta(days=6, hours=23))
        send(alice, "still the first week")
        clock.shift(dt.timedelta(hours=2))
        send(alice, "the second week")
    epochs = list(Message.objects.order_by("seq").values_list("data_key__epoch", flat=True))
    assert epochs == [1, 1, 2]
    assert audit("room.key_epoch")[-1].detail == {"epoch": 2, "reason": "age"}


def test_epoch_never_outlasts_a_short_retention() -> None:
    room = RoomFactory(retention_days=2)
    assert encryption.epoch_span(room) == dt.timedelta(days=2)
    room.retention_days = 0  # kept until deleted: the default span
    assert encryption.epoch_span(room) == dt.timedelta(days=7)


# --- retention purge ----------------------------------------------------------------------------


def _month_of_messages() -> tuple[Room, Membership, Membership]:
    """Retention 30 days, epochs of 7: messages on day 0 (epoch 1), day 8 (epoch 2) and day
    20 (epoch 3); one of day 0's is risky and escalated."""
    with time_machine.travel(T0, tick=False) as clock:
        room = RoomFactory(slug="circle", retention_days=30)
        alice, bob = MembershipFactory(room=room), MembershipFactory(room=room)
        send(alice, "day zero from alice")
        send(bob, RISKY)
        clock.shift(dt.timedelta(days=8))
        send(alice, "day eight")
        clock.shift(dt.timedelta(days=12))
        send(bob, "day twenty")
    return room, alice, bob


def test_purge_deletes_expired_messages_and_destroys_their_keys() -> None:
    room, alice, bob = _month_of_messages()
    old_keys = list(DataKey.objects.filter(epoch=1).values_list("pk", flat=True))
    bodies(room)
    for key in DataKey.objects.filter(epoch=1):  # warm this process's cache
        encryption._aead_for(key)
    assert all(encryption._aeads.get(pk) for pk in old_keys)

    out = _call("purge_expired", "--now", (T0 + dt.timedelta(days=31)).isoformat())

    assert "messages deleted: 2" in out and "data keys destroyed: 2" in out
    assert bodies(room) == {3: "day eight", 4: "day twenty"}
    rows = raw_key_rows([alice.pk, bob.pk])
    assert sorted(w is None for w, _ in rows) == [False, False, True, True]
    destroyed = DataKey.objects.filter(pk__in=old_keys)
    assert all(k.wrapped is None and k.destroyed_at is not None for k in destroyed)
    assert not any(encryption._aeads.get(pk) for pk in old_keys)  # dropped from the cache
    assert DataKey.objects.filter(destroyed_at__isnull=True).count() == 2
    entry = audit("keys.purge_expired")[-1]
    assert entry.detail["messages_deleted"] == 2 and entry.detail["keys_destroyed"] == 2


def test_escalation_excerpt_outlives_its_message_but_cannot_be_opened() -> None:
    _month_of_messages()
    escalation = Escalation.objects.get()
    assert _excerpt(escalation) is not None
    keys.purge_expired(now=T0 + dt.timedelta(days=31))
    escalation.refresh_from_db()
    assert escalation.message is None and escalation.excerpt_ciphertext is not None
    assert _excerpt(escalation) is None


def test_purge_keeps_a_key_that_still_seals_a_recent_report_note() -> None:
    """A key made before the cutoff whose messages expired, but which sealed a report's
    note after it, must survive the purge: the note is still within retention."""
    from moderation import reports

    with time_machine.travel(T0, tick=False) as clock:
        room = RoomFactory(slug="circle", retention_days=30)
        alice, bob = MembershipFactory(room=room), MembershipFactory(room=room)
        send(bob, "day zero from bob")
        target = send(alice, "day zero from alice")
        clock.shift(dt.timedelta(days=5))
        report = reports.report_make(
            reporter=bob, seq=target, reason="harassment", note="it upset me"
        )
    keys.purge_expired(now=T0 + dt.timedelta(days=31))
    report.refresh_from_db()
    assert report.data_key is not None and report.data_key.destroyed_at is None
    assert reports.my_reports(bob).items[0].seq == target
    assert reports._open_note(report) == "it upset me"


def test_purge_is_idempotent_and_keeps_what_is_not_expired() -> None:
    room, _, _ = _month_of_messages()
    assert keys.purge_expired(now=T0 + dt.timedelta(days=29)).messages_deleted == 0
    keys.purge_expired(now=T0 + dt.timedelta(days=31))
    again = keys.purge_expired(now=T0 + dt.timedelta(days=31))
    assert (again.messages_deleted, again.keys_destroyed) == (0, 0)
    assert list(bodies(room).values()) == ["day eight", "day twenty"]


def test_an_idle_rooms_last_epoch_is_closed_and_shredded() -> None:
    with time_machine.travel(T0, tick=False):
        room = RoomFactory(retention_days=30)
        send(MembershipFactory(room=room), "the only message")
    report = keys.purge_expired(now=T0 + dt.timedelta(days=40))
    assert (report.epochs_closed, report.messages_deleted, report.keys_destroyed) == (1, 1, 1)
    assert Room.objects.get(pk=room.pk).key_epoch == 2


def test_zero_retention_keeps_messages() -> None:
    with time_machine.travel(T0, tick=False):
        room = RoomFactory(retention_days=0)
        send(MembershipFactory(room=room), "kept")
    report = keys.purge_expired(now=T0 + dt.timedelta(days=400))
    assert report.messages_deleted == 0 and list(bodies(room).values()) == ["kept"]


def test_another_process_cannot_serve_a_destroyed_key_from_its_cache() -> None:
    room = RoomFactory()
    send(MembershipFactory(room=room), "secret")
    message = Message.objects.select_related("data_key").get()
    assert encryption.open_body(message) == "secret"  # cached now
    # Destroyed by another process: this one's cache still holds the key.
    DataKey.objects.update(wrapped=None, destroyed_at=timezone.now())
    assert encryption._aeads.get(message.data_key.pk) is not None
    fresh = Message.objects.select_related("data_key").get()
    assert encryption.open_body(fresh) is None


def test_purge_command_rejects_a_bad_or_future_moment() -> None:
    with pytest.raises(CommandError, match="ISO 8601"):
        _call("purge_expired", "--now", "next tuesday")
    later = (timezone.now() + dt.timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match="future"):
        _call("purge_expired", "--now", later)


# --- member erasure --------------------------------------------------------------------------


def test_member_erase_shreds_only_that_members_messages(monkeypatch: Any) -> None:
    closed: list[object] = []
    monkeypatch.setattr(services, "sockets_close_for_member", closed.append)
    room, other_room = RoomFactory(), RoomFactory()
    alice = MembershipFactory(room=room)
    alice_elsewhere = MembershipFactory(room=other_room, member=alice.member)
    bob = MembershipFactory(room=room)
    send(alice, "alice one")
    send(bob, "bob one")
    keys.room_rotate_key(room=room)
    send(alice, "alice two")
    send(alice_elsewhere, "alice in the other room")
    escalated = send(alice, RISKY)
    bodies(room)  # warm the cache with alice's keys

    result = keys.member_erase(member=alice.member, actor="member:self")

    assert (result.memberships, result.keys_destroyed, result.messages_erased) == (2, 3, 4)
    rows = raw_key_rows([alice.pk, alice_elsewhere.pk])
    assert len(rows) == 3 and all(w is None and d is not None for w, d in rows)
    assert all(w is not None for w, _ in raw_key_rows([bob.pk]))
    for message in Message.objects.select_related("data_key").filter(author__member=alice.member):
        assert encryption.open_body(message) is None
    assert bodies(room) == {1: None, 2: "bob one", 3: None, 4: None}
    history = selectors.log_after(room_id=room.pk, after=0, limit=10).entries
    assert [getattr(e, "deleted", False) for e in history] == [True, False, True, True]
    assert _excerpt(Escalation.objects.get(message_seq=escalated)) is None
    assert Member.objects.get(pk=alice.member.pk).erased_at is not None
    assert closed == []  # only after commit (the test transaction never commits)
    entry = audit("member.erase")[-1]
    assert entry.actor == "member:self" and entry.object_id == str(alice.member.pk)
    assert entry.detail == {"memberships": 2, "keys_destroyed": 3, "messages": 4}
    with pytest.raises(NotAllowed):  # a socket that outlived the erasure cannot post
        send(alice, "one more")


def test_member_erase_closes_sockets_after_commit(
    monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    closed: list[object] = []
    monkeypatch.setattr(services, "sockets_close_for_member", closed.append)
    alice = MembershipFactory(room=RoomFactory())
    with django_capture_on_commit_callbacks(execute=True):
        keys.member_erase(member=alice.member)
    assert closed == [alice.member.pk]


def test_erase_member_command_asks_for_yes() -> None:
    room = RoomFactory(slug="circle")
    alice = MembershipFactory(room=room, pseudonym="Calm Heron")
    send(alice, "mine")
    with pytest.raises(CommandError, match="--yes"):
        _call("erase_member", "--pseudonym", "Calm Heron", "--room", "circle")
    assert DataKey.objects.get().wrapped is not None
    out = _call("erase_member", "--pseudonym", "Calm Heron", "--room", "circle", "--yes")
    assert "1 data keys destroyed, 1 messages made unreadable, in 1 room(s)" in out
    assert DataKey.objects.get().wrapped is None
    with pytest.raises(CommandError, match="no participant"):
        _call("erase_member", "--pseudonym", "Nobody", "--room", "circle", "--yes")


# --- helpers ------------------------------------------------------------------------------------


def _call(name: str, *args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def _excerpt(escalation: Escalation) -> str | None:
    escalation = Escalation.objects.select_related("data_key").get(pk=escalation.pk)
    return encryption.open_text(
        data_key=escalation.data_key,
        sealed=escalation.excerpt_ciphertext,
        aad=escalations._excerpt_aad(
            escalation.room_id, escalation.message_seq, escalation.data_key_id or 0
        ),
    )
