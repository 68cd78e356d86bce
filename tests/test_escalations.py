"""Escalation of risk: created with the message, private signposting, facilitator heads-up,
the live staff queue, staff actions (all audited), SLA re-notification and the outbox."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chatserver.audit import audit_verify
from chatserver.models import AuditEntry
from moderation import escalations, outbox, staff_text
from moderation.models import Escalation, OutboxItem
from rooms import services
from rooms.errors import NotAllowed
from rooms.models import Membership, Message
from tests.factories import staff_membership
from tests.wsutil import closed_with, next_frame

RISKY = "I can't do this anymore. I'm going to kill myself tonight, I've got the pills ready."
HISTORY = "When I was 14 he hurt me, and for years I felt it was my fault. Talking here helps."


def raise_for(membership: Membership, severity: str = "critical") -> Escalation:
    seq = services.message_send(
        membership=membership, client_id=f"m{Message.objects.count()}", body="text"
    ).seq
    message = Message.objects.get(room=membership.room, seq=seq)
    return escalations.escalation_raise(
        room=membership.room,
        membership=membership,
        message=message,
        body="the words",
        category="suicide",
        severity=severity,
        evidence=[],
    )


@pytest.mark.django_db
def test_risky_message_creates_escalation_with_the_message(make_membership: Any) -> None:
    membership = make_membership(pseudonym="Quiet Heron")
    sent = services.message_send(membership=membership, client_id="r1", body=RISKY)
    e = Escalation.objects.get()
    assert e.message.seq == sent.seq and e.pseudonym == "Quiet Heron"
    assert e.category == "suicide" and e.severity == "critical" and e.queue == "staff"
    assert e.status == "open" and e.sla_due_at > e.created_at
    assert b"kill" not in bytes(e.excerpt_ciphertext)  # stored encrypted
    # The words the cues matched are sealed with the excerpt; in clear only rule and span.
    assert e.evidence and all(set(ev) == {"rule", "category", "start", "end"} for ev in e.evidence)
    assert "myself" not in json.dumps(e.evidence)
    words = staff_text.evidence_words(e)
    assert words is not None and any("myself" in w for w in words)
    assert len(words) == len(e.evidence)
    assert b"myself" not in bytes(e.evidence_ciphertext)
    assert Message.objects.get(seq=sent.seq).deleted_at is None  # never silenced


@pytest.mark.django_db
def test_past_disclosure_raises_nothing(make_membership: Any) -> None:
    services.message_send(membership=make_membership(), client_id="h1", body=HISTORY)
    assert Escalation.objects.count() == 0


@pytest.mark.django_db
def test_concern_goes_to_the_review_queue_not_staff(make_membership: Any) -> None:
    e = raise_for(make_membership(), severity="concern")
    assert e.queue == "review"


@pytest.mark.django_db
def test_no_escalation_without_its_message_and_vice_versa(
    make_membership: Any, monkeypatch: Any
) -> None:
    membership = make_membership()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("escalation insert failed")

    from moderation import policies

    monkeypatch.setattr(policies, "escalation_from_assessment", broken)
    with pytest.raises(RuntimeError):
        services.message_send(membership=membership, client_id="x", body=RISKY)
    assert Message.objects.count() == 0 and Escalation.objects.count() == 0


@pytest.mark.django_db
def test_staff_actions_are_audited_and_chain_verifies(
    make_membership: Any, staff_user: Any
) -> None:
    e = raise_for(make_membership())
    escalations.escalation_acknowledge(user=staff_user, escalation_id=e.pk)
    escalations.escalation_note_add(user=staff_user, escalation_id=e.pk, text="called the member")
    detail = escalations.escalation_view(user=staff_user, escalation_id=e.pk)
    assert detail.excerpt == "the words" and detail.notes[0].text == "called the member"
    escalations.escalation_resolve(
        user=staff_user, escalation_id=e.pk, outcome="safe", false_alarm=True
    )
    e.refresh_from_db()
    assert e.status == "false_alarm" and e.acknowledged_by == staff_user
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert actions == [
        "escalation.raise",
        "escalation.acknowledge",
        "escalation.note",
        "escalation.view_content",
        "escalation.resolve",
    ]
    assert "called the member" not in str(list(AuditEntry.objects.values_list("detail", flat=True)))
    assert audit_verify().intact


@pytest.mark.django_db
def test_members_and_facilitators_cannot_act_on_escalations(make_membership: Any) -> None:
    from django.contrib.auth.models import Group, User

    e = raise_for(make_membership())
    peer = User.objects.create_user(username="peer", password="x" * 16)
    peer.groups.add(Group.objects.get_or_create(name="facilitator")[0])
    with pytest.raises(NotAllowed):
        escalations.escalation_acknowledge(user=peer, escalation_id=e.pk)


@pytest.mark.django_db
def test_sla_breach_renotifies_until_acknowledged(
    make_membership: Any, settings: Any, staff_user: Any
) -> None:
    settings.ESCALATION_ONCALL_EMAILS = ["oncall@example.org"]
    settings.ESCALATION_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    e = raise_for(make_membership())
    assert OutboxItem.objects.count() == 2  # created: e-mail and webhook
    assert escalations.escalations_check_sla(now=e.created_at + dt.timedelta(seconds=60)) == 0
    later = e.created_at + dt.timedelta(seconds=121)
    assert escalations.escalations_check_sla(now=later) == 1
    assert escalations.escalations_check_sla(now=later) == 0  # deadline moved on
    assert escalations.escalations_check_sla(now=later + dt.timedelta(seconds=121)) == 1
    assert Escalation.objects.get().renotified == 2
    assert OutboxItem.objects.filter(idempotency_key__contains="sla_breach").count() == 4
    escalations.escalation_acknowledge(user=staff_user, escalation_id=e.pk)
    assert escalations.escalations_check_sla(now=later + dt.timedelta(hours=1)) == 0


@pytest.mark.django_db
def test_outbox_retries_with_backoff_and_never_carries_text(
    make_membership: Any, settings: Any, monkeypatch: Any
) -> None:
    settings.ESCALATION_WEBHOOK_URL = "http://127.0.0.1:9/hook"
    raise_for(make_membership())
    item = OutboxItem.objects.get()
    assert "the words" not in str(item.payload)
    calls: list[str] = []

    def down(it: OutboxItem) -> None:
        calls.append(it.idempotency_key)
        raise ConnectionRefusedError

    monkeypatch.setattr(outbox, "_deliver", down)
    now = timezone.now()
    assert outbox.outbox_deliver_due(now=now) == (0, 1)
    item.refresh_from_db()
    assert item.attempts == 1 and item.next_attempt_at == now + dt.timedelta(seconds=5)
    assert outbox.outbox_deliver_due(now=now) == (0, 0)  # not due yet
    monkeypatch.setattr(outbox, "_deliver", lambda it: calls.append(it.idempotency_key))
    assert outbox.outbox_deliver_due(now=now + dt.timedelta(seconds=6)) == (1, 0)
    assert outbox.outbox_deliver_due(now=now + dt.timedelta(hours=1)) == (0, 0)  # once only
    assert len(calls) == 2 and calls[0] == calls[1]  # same idempotency key on the retry


def test_backoff_grows_and_is_capped() -> None:
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert outbox.backoff(30).total_seconds() == outbox.MAX_BACKOFF_SECONDS


# --- over the websockets -------------------------------------------------------------------

pytestmark_ws = pytest.mark.django_db(transaction=True)


@pytestmark_ws
async def test_risky_message_reaches_staff_member_and_facilitator_privately(
    connect: Any, connect_staff: Any, make_membership: Any, staff_user: Any
) -> None:

    writer = await database_sync_to_async(make_membership)(pseudonym="Quiet Heron")
    bystander = await database_sync_to_async(make_membership)(pseudonym="Other Wren")

    def facilitator_membership() -> Membership:
        return staff_membership(writer.room, pseudonym="Facilitator Sam")

    fac = await database_sync_to_async(facilitator_membership)()
    from tests.conftest import login_session

    fac_key = await database_sync_to_async(login_session)(fac.user)
    async with connect_staff(staff_user) as staff:
        assert (await staff.connect())[0]
        assert (await staff.receive_json_from())["items"] == []
        async with (
            connect(writer) as w,
            connect(bystander) as b,
            connect(fac, session_key=fac_key) as f,
        ):
            await w.send_json_to({"type": "send", "client_id": "r1", "body": RISKY})
            signpost = await next_frame(w, "signpost")
            assert "999" in str(signpost["resources"]) and "116 123" in str(signpost["resources"])
            item = (await next_frame(staff, "escalation"))["item"]
            assert item["category"] == "suicide" and item["severity"] == "critical"
            assert item["pseudonym"] == "Quiet Heron" and "body" not in item
            notice = await next_frame(f, "risk_notice")
            assert notice["author"] == "Quiet Heron"
            # The bystander sees the message, and nothing about the alert.
            assert (await next_frame(b, "message"))["body"] == RISKY
            seen = []
            while not await b.receive_nothing(timeout=0.3):
                seen.append((await b.receive_json_from())["type"])
            assert not {"signpost", "risk_notice", "escalation"} & set(seen)

            await staff.send_json_to({"type": "esc_ack", "id": item["id"], "ref": "a1"})
            got = {}
            while set(got) != {"escalation", "done"}:  # either may come first
                frame = await staff.receive_json_from()
                got[frame["type"]] = frame
            assert got["escalation"]["item"]["status"] == "acknowledged"
            assert got["done"]["ref"] == "a1"
            await staff.send_json_to({"type": "esc_support", "id": item["id"], "ref": "s1"})
            offer = await next_frame(w, "support_offer")
            assert offer["room"].startswith("support-")


@pytestmark_ws
async def test_staff_socket_sends_open_items_on_reconnect(
    connect_staff: Any, make_membership: Any, staff_user: Any
) -> None:
    writer = await database_sync_to_async(make_membership)()
    await database_sync_to_async(raise_for)(writer)
    async with connect_staff(staff_user) as staff:
        await staff.connect()
        items = (await staff.receive_json_from())["items"]
        assert len(items) == 1 and items[0]["status"] == "open"


@pytestmark_ws
async def test_staff_socket_refuses_members_and_anonymous(connect_staff: Any, db: None) -> None:
    async with connect_staff(None) as ws:
        await ws.connect()
        assert (await ws.receive_json_from())["code"] == "forbidden"
        assert await closed_with(ws) == 4001


@pytestmark_ws
async def test_staff_socket_bad_frames(connect_staff: Any, staff_user: Any) -> None:
    async with connect_staff(staff_user) as staff:
        await staff.connect()
        await staff.receive_json_from()
        for raw, code in [
            ("{x", "bad_json"),
            ('{"type":"esc_zap"}', "unknown_type"),
            ('{"type":"esc_ack","id":"1","ref":"r"}', "invalid_frame"),
        ]:
            await staff.send_to(text_data=raw)
            assert (await next_frame(staff, "error"))["code"] == code
        await staff.send_json_to({"type": "esc_ack", "id": 999, "ref": "r9"})
        error = await next_frame(staff, "error")
        assert error["code"] == "not_found" and error["ref"] == "r9"


@pytestmark_ws
async def test_staff_socket_needs_the_second_factor(connect_staff: Any, staff_user: Any) -> None:
    async with connect_staff(staff_user, second_factor=False) as ws:
        await ws.connect()
        assert (await ws.receive_json_from())["code"] == "second_factor_required"
        assert await closed_with(ws) == 4001


@pytest.mark.django_db
def test_notes_refused_after_the_member_is_erased(make_membership: Any, staff_user: Any) -> None:
    from rooms.keys import member_erase

    membership = make_membership()
    e = raise_for(membership)
    member_erase(member=membership.member)
    with pytest.raises(escalations.NotesUnavailable):
        escalations.escalation_note_add(user=staff_user, escalation_id=e.pk, text="called")


@pytestmark_ws
async def test_facilitator_flags_a_message_by_hand_and_members_cannot(
    connect: Any, connect_staff: Any, make_membership: Any, staff_user: Any
) -> None:

    from tests.conftest import login_session

    writer = await database_sync_to_async(make_membership)(pseudonym="Quiet Heron")

    def facilitator() -> tuple[Membership, str]:
        membership = staff_membership(writer.room, pseudonym="Fac")
        return membership, login_session(membership.user, second_factor=False)

    fac, fac_key = await database_sync_to_async(facilitator)()
    quiet = "Thanks for listening tonight, see you next week."
    async with connect_staff(staff_user) as staff:
        await staff.connect()
        await staff.receive_json_from()
        async with connect(writer) as w, connect(fac, session_key=fac_key) as f:
            await w.send_json_to({"type": "send", "client_id": "q1", "body": quiet})
            seq = (await next_frame(w, "ack"))["seq"]
            flag = {"type": "flag", "seq": seq, "category": "suicide", "severity": "high"}
            await w.send_json_to({**flag, "ref": "m1"})  # a member may not flag
            refused = await next_frame(w, "error")
            assert refused["code"] == "forbidden" and refused["ref"] == "m1"
            await f.send_json_to({**flag, "ref": "f1"})
            assert (await next_frame(f, "done"))["ref"] == "f1"
            item = (await next_frame(staff, "escalation"))["item"]
            assert item["source"] == "manual" and item["seq"] == seq
            assert item["pseudonym"] == "Quiet Heron" and item["severity"] == "high"
            assert (await next_frame(w, "signpost"))["resources"]
    actors = await database_sync_to_async(
        lambda: list(
            AuditEntry.objects.filter(action="escalation.raise").values_list("actor", flat=True)
        )
    )()
    assert actors == [f"membership:{fac.pk}"]


@pytestmark_ws
async def test_a_concern_only_the_learned_model_saw_goes_quietly_to_review(
    connect: Any, make_membership: Any, monkeypatch: Any
) -> None:
    """No signpost to the writer and no heads-up to facilitators: moderators review it."""
    from moderation.risk import Assessment, Evidence, Finding
    from rooms import services as send_path

    learned = Assessment(
        findings=(
            Finding(
                category="suicide",
                severity="concern",
                score=0.7,
                evidence=(Evidence("(learned model)", "suicide", 0, 10, 0.7, "model:1.1.0"),),
            ),
        )
    )
    monkeypatch.setattr(send_path.risk, "assess", lambda text, **_: learned)
    writer = await database_sync_to_async(make_membership)(pseudonym="Quiet Heron")
    fac = await database_sync_to_async(staff_membership)(writer.room, pseudonym="Fac")
    from tests.conftest import login_session

    fac_key = await database_sync_to_async(login_session)(fac.user, second_factor=False)
    async with connect(writer) as w, connect(fac, session_key=fac_key) as f:
        await w.send_json_to({"type": "send", "client_id": "c1", "body": "an ordinary line"})
        await next_frame(w, "ack")
        seen_by_writer = [await w.receive_json_from(timeout=1)]
        while not await w.receive_nothing(timeout=0.3):
            seen_by_writer.append(await w.receive_json_from())
        assert "signpost" not in {frame["type"] for frame in seen_by_writer}
        seen_by_fac = []
        while not await f.receive_nothing(timeout=0.3):
            seen_by_fac.append((await f.receive_json_from())["type"])
        assert "risk_notice" not in seen_by_fac
    escalation = await database_sync_to_async(Escalation.objects.get)()
    assert escalation.queue == "review" and escalation.severity == "concern"


@pytestmark_ws
async def test_a_message_in_a_language_the_detector_cannot_read_is_shown_to_facilitators(
    connect: Any, make_membership: Any
) -> None:
    """Not assessed is not safe: the room's facilitators are asked to read it themselves,
    and the other members are told nothing."""
    writer = await database_sync_to_async(make_membership)(pseudonym="Quiet Heron")
    bystander = await database_sync_to_async(make_membership)(pseudonym="Other Wren")
    fac = await database_sync_to_async(staff_membership)(writer.room, pseudonym="Fac")
    from tests.conftest import login_session

    fac_key = await database_sync_to_async(login_session)(fac.user)
    portuguese = "Hoje foi um dia muito difícil, não consigo dormir e ninguém me entende"
    async with (
        connect(writer) as w,
        connect(bystander) as b,
        connect(fac, session_key=fac_key) as f,
    ):
        await w.send_json_to({"type": "send", "client_id": "p1", "body": portuguese})
        seq = (await next_frame(w, "ack"))["seq"]
        notice = await next_frame(f, "language_notice")
        assert notice == {
            "type": "language_notice",
            "seq": seq,
            "author": "Quiet Heron",
            "language": "pt",
        }
        assert (await next_frame(b, "message"))["body"] == portuguese
        seen = []
        while not await b.receive_nothing(timeout=0.3):
            seen.append((await b.receive_json_from())["type"])
        assert "language_notice" not in seen
        # A message in a covered language brings no such notice.
        await w.send_json_to(
            {"type": "send", "client_id": "p2", "body": "Today was a hard day but I'm ok"}
        )
        await next_frame(w, "ack")
        others = []
        while not await f.receive_nothing(timeout=0.5):
            others.append((await f.receive_json_from())["type"])
        assert "language_notice" not in others
