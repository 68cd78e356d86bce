"""The conversation the send path hands the risk detector: the room's last messages kept in
this process's memory, dropped when hidden or erased, and passed without a query."""

from __future__ import annotations

import pytest

from moderation.models import Escalation
from rooms import services
from rooms.models import Room
from rooms.recent import RECENT, RecentMessages
from tests.factories import MembershipFactory

RISKY = "i've been saving my tablets for weeks and tonight i'm going to take them all"


@pytest.fixture(autouse=True)
def _empty() -> None:
    RECENT.clear()


def test_keeps_the_last_messages_oldest_first_marking_the_same_author() -> None:
    recent = RecentMessages(depth=3)
    for seq, author in enumerate([1, 2, 1, 2], start=1):
        recent.remember(10, seq, author, f"m{seq}")
    assert recent.context(10, 1) == (("m2", False), ("m3", True), ("m4", False))
    assert recent.context(11, 1) == ()


def test_forgets_a_hidden_message_and_an_erased_member() -> None:
    recent = RecentMessages()
    recent.remember(1, 1, 5, "a")
    recent.remember(1, 2, 6, "b")
    recent.remember(2, 1, 5, "c")
    recent.forget(1, 2)
    assert recent.context(1, 0) == (("a", False),)
    recent.forget_member({5})
    assert recent.context(1, 0) == () and recent.context(2, 0) == ()


def test_a_full_table_drops_the_room_written_least_recently() -> None:
    recent = RecentMessages(rooms=2)
    recent.remember(1, 1, 1, "one")
    recent.remember(2, 1, 1, "two")
    recent.remember(1, 2, 1, "one again")
    recent.remember(3, 1, 1, "three")
    assert recent.context(2, 0) == ()
    assert len(recent.context(1, 0)) == 2


@pytest.mark.django_db
def test_the_send_path_reads_the_conversation(room: Room) -> None:
    writer = MembershipFactory(room=room)
    replier = MembershipFactory(room=room)
    services.message_send(membership=replier, client_id="a", body="same")
    assert not Escalation.objects.filter(membership=replier).exists()
    services.message_send(membership=writer, client_id="b", body=RISKY)
    services.message_send(membership=replier, client_id="c", body="same")
    assert Escalation.objects.filter(membership=replier).count() == 1
    assert RECENT.context(room.pk, replier.pk)[-1] == ("same", True)


@pytest.mark.django_db
def test_one_batch_sees_its_own_earlier_messages(room: Room) -> None:
    writer = MembershipFactory(room=room)
    replier = MembershipFactory(room=room)
    services.message_send_batch(
        [
            services.SendRequest(membership=writer, client_id="b", body=RISKY),
            services.SendRequest(membership=replier, client_id="c", body="same"),
        ]
    )
    assert Escalation.objects.filter(membership=replier).count() == 1
