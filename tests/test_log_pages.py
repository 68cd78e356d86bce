"""History and resume pages cut to fit the frame limit (issue 13, finding 16).

``resume`` with its default limit of 200 over 3,000-character messages made a 619,496-byte
frame, over the websocket layer's limit, so it failed every time; default ``history`` failed
with 25 messages of 4,000 CJK characters. Pages are now cut by encoded bytes, with
``has_more``, whatever the messages' length and script.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.conf import settings

from rooms import protocol, selectors, services, values
from rooms.models import Membership, Room
from rooms.transport import page_fits
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

CHARS = 4000
# Each script at 4,000 characters: 1 byte each (Latin), 3 (CJK), 4 (emoji), 2 (characters JSON
# escapes: quotes, backslashes, newlines) and 6 (control characters, escaped as \u00XX).
SCRIPTS = {
    "latin": "We hold each other up here. ",
    "cjk": "我们在这里互相支持慢慢来",
    "emoji": "💜🌱🕯️",
    "escaped": '"\\\n\t',
    "control": "\x01\x02",
}


def _body(script: str, n: int) -> str:
    text = f"{n}: " + SCRIPTS[script] * CHARS
    return text[:CHARS]


def _seed(room: Room, script: str, count: int = 200) -> Membership:
    writer = MembershipFactory(room=room)
    requests = [
        services.SendRequest(membership=writer, client_id=f"c{n}", body=_body(script, n))
        for n in range(count)
    ]
    for result in services.message_send_batch(requests):
        assert isinstance(result, services.Sent), result
    return writer


def _resumed_size(page: selectors.LogPage) -> int:
    frame = protocol.resumed(2**63 - 1, page.entries, 2**63 - 1, page.has_more)
    return len(protocol.encode(frame).encode())


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_resume_of_200_long_messages_fits_every_frame_and_loses_nothing(
    room: Room, script: str
) -> None:
    _seed(room, script)
    bodies: list[str | None] = []
    after, pages = 0, 0
    while True:
        page = selectors.log_after(room_id=room.pk, after=after, limit=200, fits=page_fits())
        pages += 1
        assert _resumed_size(page) <= settings.CHAT_MAX_FRAME_BYTES
        assert page.entries, "every page moves the client on"
        bodies += [e.body for e in page.entries if isinstance(e, values.Message)]
        after = page.entries[-1].seq
        if not page.has_more:
            break
    assert bodies == [_body(script, n) for n in range(200)]
    assert pages > 1


@pytest.mark.parametrize("script", ["latin", "cjk", "control"])
def test_history_pages_keep_the_newest_and_continue_backwards(room: Room, script: str) -> None:
    _seed(room, script, count=60)
    seqs: list[int] = []
    before = None
    while True:
        page = selectors.log_before(room_id=room.pk, before=before, limit=50, fits=page_fits())
        frame = protocol.history_page(page.entries, page.has_more)
        assert len(protocol.encode(frame).encode()) <= settings.CHAT_MAX_FRAME_BYTES
        if not seqs:  # the first page is the newest, oldest first within it
            assert page.entries[-1].seq == 60 and page.has_more
        seqs = [e.seq for e in page.entries] + seqs
        before = page.entries[0].seq
        if not page.has_more:
            break
    assert seqs == list(range(1, 61))


def test_short_messages_still_come_200_to_a_page(room: Room) -> None:
    writer = MembershipFactory(room=room)
    for n in range(201):
        services.message_send(membership=writer, client_id=f"c{n}", body=f"hello {n}")
    page = selectors.log_after(room_id=room.pk, after=0, limit=200)
    assert len(page.entries) == 200 and page.has_more
    rest = selectors.log_after(room_id=room.pk, after=200, limit=200)
    assert [e.seq for e in rest.entries] == [201] and not rest.has_more


def test_a_page_holds_one_entry_even_when_it_alone_is_too_big(room: Room) -> None:
    """The client must always be moved on; the start-up check keeps this from happening
    with real settings (tests/test_configuration.py)."""
    _seed(room, "latin", count=3)
    page = selectors.log_after(
        room_id=room.pk, after=0, limit=200, fits=protocol.PageBudget(1024).take
    )
    assert [e.seq for e in page.entries] == [1] and page.has_more
    page = selectors.log_before(
        room_id=room.pk, before=None, limit=50, fits=protocol.PageBudget(1024).take
    )
    assert [e.seq for e in page.entries] == [3] and page.has_more


def test_the_budget_counts_the_encoded_frame() -> None:
    """Entries taken while the budget allows always encode within it, and the default
    limits hold the largest message the protocol allows."""
    entry = protocol.Deleted(seq=7, ts=datetime(2026, 1, 1, tzinfo=UTC), target=3)
    budget = protocol.PageBudget(1000)
    taken = []
    while budget.take(entry):
        taken.append(entry)
    frame = protocol.Resumed(after=2**63 - 1, messages=taken, latest_seq=2**63 - 1, has_more=False)
    size = len(protocol.encode(frame).encode())
    assert size <= 1000 < size + len(protocol.encode(entry)) + 1
    largest = protocol.largest_entry_bytes(settings.CHAT_MAX_MESSAGE_CHARS)
    assert protocol.PAGE_ENVELOPE_BYTES + largest <= settings.CHAT_MAX_FRAME_BYTES
