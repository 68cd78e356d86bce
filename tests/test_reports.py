"""Members' reports of messages (moderation/reports.py): who is told and who is not, the
reporter kept out of every frame, idempotence, refusals, private sealed replies, audited
views, closing, and what the reporter sees of the answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import Group, User
from django.utils import timezone

from chatserver.audit import audit_verify
from chatserver.models import AuditEntry
from moderation import reports
from moderation.models import Report, ReportReply
from moderation.staff_text import report_outcome
from rooms import events, services
from rooms.errors import MessageNotFound, NotAllowed, RateLimited
from rooms.models import Membership
from tests.wsutil import next_frame

REPORTER = "Brave Otter"
AUTHOR = "Loud Magpie"
WORDS = "You are pathetic and everyone here knows it."
NOTE = "This is the third time they have said this to me."
REPLY = "Thank you for telling us. A moderator has spoken to them."


def post(membership: Membership, body: str = WORDS) -> int:
    """A message stored by the real send path; its sequence number."""
    client_id = f"c{membership.pk}-{timezone.now().timestamp()}"
    return services.message_send(membership=membership, client_id=client_id, body=body).seq


def staff_account(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="x" * 16)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def people(make_membership: Callable[..., Membership]) -> dict[str, Membership]:
    return {
        "reporter": make_membership(pseudonym=REPORTER),
        "author": make_membership(pseudonym=AUTHOR),
        "bystander": make_membership(pseudonym="Still Wren"),
    }


def actions() -> list[str]:
    return list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))


# --- making a report -------------------------------------------------------------------------


@pytest.mark.django_db
def test_report_is_stored_with_a_sealed_note_and_an_audit_entry_without_it(
    people: dict[str, Membership],
) -> None:
    seq = post(people["author"])
    report = reports.report_make(
        reporter=people["reporter"], seq=seq, reason="harassment", note=f"  {NOTE} "
    )
    row = Report.objects.get()
    assert row.pk == report.pk and row.status == "open" and row.reason == "harassment"
    assert row.reported == people["author"] and row.reported_pseudonym == AUTHOR
    assert row.reporter == people["reporter"] and row.message_seq == seq
    assert NOTE.encode() not in bytes(row.note_ciphertext)
    assert row.data_key is not None and row.data_key.membership_id == people["reporter"].pk
    entry = AuditEntry.objects.get(action="report.make")
    assert entry.actor == f"membership:{people['reporter'].pk}"
    assert entry.detail == {"room": "circle", "seq": seq, "reason": "harassment"}
    assert NOTE not in json.dumps(entry.detail) and REPORTER not in json.dumps(entry.detail)
    assert audit_verify().intact


@pytest.mark.django_db
def test_a_report_without_a_note_seals_nothing(people: dict[str, Membership]) -> None:
    seq = post(people["author"])
    reports.report_make(reporter=people["reporter"], seq=seq, reason="spam")
    row = Report.objects.get()
    assert row.note_ciphertext is None and row.data_key is None


@pytest.mark.django_db
def test_reporting_the_same_message_twice_returns_the_first_report_and_tells_nobody_again(
    people: dict[str, Membership], django_capture_on_commit_callbacks: Any
) -> None:
    seq = post(people["author"])
    with django_capture_on_commit_callbacks() as first_sends:
        first = reports.report_make(reporter=people["reporter"], seq=seq, reason="harassment")
    with django_capture_on_commit_callbacks() as second_sends:
        again = reports.report_make(reporter=people["reporter"], seq=seq, reason="spam")
    assert again.pk == first.pk and again.reason == "harassment"
    assert Report.objects.count() == 1 and actions().count("report.make") == 1
    assert len(first_sends) == 2  # the facilitators' notice and the staff item
    assert second_sends == []
    # Someone else reporting the same message is a report of their own.
    other = reports.report_make(reporter=people["bystander"], seq=seq, reason="harassment")
    assert other.pk != first.pk and Report.objects.count() == 2


@pytest.mark.django_db
def test_a_reporter_cannot_flood_the_moderators_with_reports(
    people: dict[str, Membership], settings: Any
) -> None:
    """Hardening row 7: reports of different messages were limited only by the message rate.
    A reporter files a few an hour; the same message reported again is not counted."""
    settings.CHAT_REPORTS_PER_HOUR = 2
    seqs = [post(people["author"]) for _ in range(3)]
    reports.report_make(reporter=people["reporter"], seq=seqs[0], reason="harassment")
    reports.report_make(reporter=people["reporter"], seq=seqs[1], reason="harassment")
    reports.report_make(reporter=people["reporter"], seq=seqs[1], reason="harassment")
    with pytest.raises(RateLimited) as refused:
        reports.report_make(reporter=people["reporter"], seq=seqs[2], reason="harassment")
    assert 3000 < refused.value.retry_after <= 3600
    assert Report.objects.count() == 2


@pytest.mark.django_db
def test_own_message_cannot_be_reported(people: dict[str, Membership]) -> None:
    seq = post(people["reporter"])
    with pytest.raises(NotAllowed, match="your own message"):
        reports.report_make(reporter=people["reporter"], seq=seq, reason="spam")
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_unknown_or_unreportable_numbers_are_not_found(people: dict[str, Membership]) -> None:
    seq = post(people["author"])
    deletion_seq = services.message_delete(membership=people["author"], seq=seq)
    for missing in (seq + 100, deletion_seq):
        with pytest.raises(MessageNotFound) as caught:
            reports.report_make(reporter=people["reporter"], seq=missing, reason="spam")
        assert caught.value.code == "not_found"
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_a_message_from_another_room_cannot_be_reported(
    people: dict[str, Membership], make_membership: Callable[..., Membership]
) -> None:
    from tests.factories import RoomFactory

    elsewhere = make_membership(room=RoomFactory(slug="elsewhere"), pseudonym="Far Finch")
    seq = post(elsewhere)
    post(people["author"])  # the reporter's room has fewer messages than that number
    with pytest.raises(MessageNotFound):
        reports.report_make(reporter=people["reporter"], seq=seq + 1, reason="spam")


@pytest.mark.django_db
def test_unknown_reason_and_long_note_are_refused(people: dict[str, Membership]) -> None:
    seq = post(people["author"])
    with pytest.raises(reports.ReportInvalid):
        reports.report_make(reporter=people["reporter"], seq=seq, reason="ugly")
    with pytest.raises(reports.ReportInvalid):
        reports.report_make(reporter=people["reporter"], seq=seq, reason="other", note="x" * 1001)
    assert Report.objects.count() == 0


# --- staff actions (services) ----------------------------------------------------------------


@pytest.mark.django_db
def test_view_opens_message_and_note_and_every_view_is_audited(
    people: dict[str, Membership], staff_user: User
) -> None:
    seq = post(people["author"])
    report = reports.report_make(reporter=people["reporter"], seq=seq, reason="other", note=NOTE)
    (listed,) = reports.reports_open()
    assert listed.body is None and listed.note is None  # lists carry no decrypted content
    item = reports.report_view(user=staff_user, report_id=report.pk)
    assert item.body == WORDS and item.note == NOTE and item.author == AUTHOR
    reports.report_view(user=staff_user, report_id=report.pk)
    views = AuditEntry.objects.filter(action="report.view")
    assert [v.actor for v in views] == [f"user:{staff_user.pk}"] * 2
    assert all(v.object_id == str(report.pk) for v in views)
    assert WORDS not in str(list(AuditEntry.objects.values_list("detail", flat=True)))


@pytest.mark.django_db
def test_view_of_a_deleted_message_shows_no_text(
    people: dict[str, Membership], staff_user: User
) -> None:
    seq = post(people["author"])
    report = reports.report_make(reporter=people["reporter"], seq=seq, reason="graphic")
    services.message_delete(membership=people["author"], seq=seq)
    item = reports.report_view(user=staff_user, report_id=report.pk)
    assert item.body is None and item.author == AUTHOR


@pytest.mark.django_db
@pytest.mark.parametrize("role", [None, "facilitator"])
def test_members_and_facilitators_cannot_read_answer_or_close(
    people: dict[str, Membership], role: str | None
) -> None:
    seq = post(people["author"])
    report = reports.report_make(reporter=people["reporter"], seq=seq, reason="harassment")
    user = staff_account("peer", role)
    with pytest.raises(NotAllowed):
        reports.report_reply(user=user, report_id=report.pk, text=REPLY)
    with pytest.raises(NotAllowed):
        reports.report_close(user=user, report_id=report.pk, outcome="spoken to")
    with pytest.raises(NotAllowed):
        reports.report_view(user=user, report_id=report.pk)
    report.refresh_from_db()
    assert report.status == "open" and ReportReply.objects.count() == 0
    assert not {"report.reply", "report.close", "report.view"} & set(actions())


@pytest.mark.django_db
def test_reply_is_sealed_under_the_reporters_key_and_shown_to_them(
    people: dict[str, Membership], staff_user: User
) -> None:
    seq = post(people["author"])
    report = reports.report_make(reporter=people["reporter"], seq=seq, reason="harassment")
    reports.report_reply(user=staff_user, report_id=report.pk, text=REPLY)
    row = ReportReply.objects.get()
    assert row.author == staff_user
    assert REPLY.encode() not in bytes(row.ciphertext)
    assert row.data_key is not None and row.data_key.membership_id == people["reporter"].pk
    entry = AuditEntry.objects.get(action="report.reply")
    assert REPLY not in json.dumps(entry.detail)
    mine = reports.my_reports(people["reporter"])
    assert [(i.id, i.seq, i.status, i.replies) for i in mine.items] == [
        (report.pk, seq, "open", [REPLY])
    ]
    # The reported message's first words, so the reporter knows which one it was.
    (item,) = mine.items
    assert item.excerpt is not None and WORDS.startswith(item.excerpt.rstrip("…"))
    # The reported member and bystanders have no reports, and see no replies.
    assert reports.my_reports(people["author"]).items == []
    assert reports.my_reports(people["bystander"]).items == []


@pytest.mark.django_db
def test_reply_is_refused_once_the_reporter_is_erased(
    people: dict[str, Membership], staff_user: User
) -> None:
    from rooms.keys import member_erase

    seq = post(people["author"])
    report = reports.report_make(reporter=people["reporter"], seq=seq, reason="other", note=NOTE)
    member_erase(member=people["reporter"].member)
    with pytest.raises(reports.ReporterGone):
        reports.report_reply(user=staff_user, report_id=report.pk, text=REPLY)
    assert ReportReply.objects.count() == 0
    # Their note went with their keys.
    assert reports.report_view(user=staff_user, report_id=report.pk).note is None


@pytest.mark.django_db
def test_close_records_the_outcome_once_and_leaves_the_open_list(
    people: dict[str, Membership], staff_user: User
) -> None:
    seq = post(people["author"])
    report = reports.report_make(reporter=people["reporter"], seq=seq, reason="spam")
    reports.report_close(user=staff_user, report_id=report.pk, outcome="Advert removed")
    reports.report_close(user=staff_user, report_id=report.pk, outcome="again")
    report.refresh_from_db()
    assert report.status == "closed" and report_outcome(report) == "Advert removed"
    assert b"Advert" not in bytes(report.outcome_ciphertext)  # sealed, like the note
    assert report.closed_by == staff_user and report.closed_at is not None
    assert reports.reports_open() == [] and actions().count("report.close") == 1
    # The reporter still sees it for 30 days, then it drops out of their list.
    assert [i.status for i in reports.my_reports(people["reporter"]).items] == ["closed"]
    Report.objects.filter(pk=report.pk).update(closed_at=timezone.now() - dt.timedelta(days=31))
    assert reports.my_reports(people["reporter"]).items == []


@pytest.mark.django_db
def test_open_list_is_newest_first(people: dict[str, Membership]) -> None:
    first = reports.report_make(
        reporter=people["reporter"], seq=post(people["author"]), reason="spam"
    )
    second = reports.report_make(
        reporter=people["reporter"], seq=post(people["author"]), reason="graphic"
    )
    assert [i.id for i in reports.reports_open()] == [second.pk, first.pk]


@pytest.mark.django_db
def test_service_figures_count_reports_in_the_period_with_small_counts_suppressed(
    people: dict[str, Membership],
) -> None:
    from moderation.figures import SUPPRESSED, service_figures

    seqs = [post(people["author"]) for _ in range(5)]
    for seq in seqs[:2]:
        reports.report_make(reporter=people["reporter"], seq=seq, reason="spam")
    assert service_figures(days=30)["reports"] == SUPPRESSED  # 2 could point at a person
    for seq in seqs[2:]:
        reports.report_make(reporter=people["reporter"], seq=seq, reason="spam")
    assert service_figures(days=30)["reports"] == 5
    Report.objects.update(created_at=timezone.now() - dt.timedelta(days=40))
    assert service_figures(days=30)["reports"] == 0  # outside the period


# --- over the channel layer and the staff socket ---------------------------------------------


class Listener:
    """A channel in the groups a room socket joins (rooms/consumers.py), to see exactly
    which events reach which participant."""

    def __init__(self, layer: Any, channel: str) -> None:
        self.layer, self.channel = layer, channel

    async def frames(self, wait: float = 0.3) -> list[dict[str, Any]]:
        got = []
        while True:
            try:
                event = await asyncio.wait_for(self.layer.receive(self.channel), wait)
            except TimeoutError:
                return got
            got.append(json.loads(event["text"]))


@asynccontextmanager
async def listening(*groups: str) -> AsyncIterator[Listener]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    try:
        yield Listener(layer, channel)
    finally:
        for group in groups:
            await layer.group_discard(group, channel)


def member_groups(m: Membership) -> list[str]:
    return [events.room_group(m.room_id), events.membership_group(m.pk)]


def facilitator(room_member: Membership) -> Membership:
    user = staff_account("fac", "facilitator")
    return Membership.objects.create(
        room=room_member.room,
        user=user,
        role="facilitator",
        pseudonym="Facilitator Sam",
        agreement_version=1,  # joined, as a facilitator does before posting
    )


async def snapshot(staff: Any) -> list[dict[str, Any]]:
    assert (await staff.connect())[0]
    assert (await staff.receive_json_from(timeout=5))["type"] == "escalations"
    frame = await staff.receive_json_from(timeout=5)
    assert frame["type"] == "reports"
    return list(frame["items"])


async def item_and_done(staff: Any) -> dict[str, dict[str, Any]]:
    """The broadcast item and the action's ``done``, in either order."""
    got: dict[str, dict[str, Any]] = {}
    while set(got) != {"report", "done"}:
        frame = await staff.receive_json_from(timeout=5)
        assert frame["type"] in {"report", "done"}, frame
        got[frame["type"]] = frame
    return got


ws_db = pytest.mark.django_db(transaction=True)
ITEM_FIELDS = {
    "id",
    "room",
    "room_title",
    "seq",
    "author",
    "reason",
    "status",
    "created_at",
    "body",
    "note",
    "replies",
}


@ws_db
async def test_report_reaches_facilitators_and_staff_never_the_reported_or_the_room(
    connect_staff: Any, people: dict[str, Membership], staff_user: User
) -> None:
    reporter, author, bystander = people["reporter"], people["author"], people["bystander"]
    fac = await database_sync_to_async(facilitator)(author)
    seq = await database_sync_to_async(post)(author)
    async with (
        connect_staff(staff_user) as staff,
        listening(*member_groups(author)) as reported_side,
        listening(*member_groups(bystander)) as room_side,
        listening(*member_groups(fac), events.room_staff_group(fac.room_id)) as fac_side,
    ):
        assert await snapshot(staff) == []
        await database_sync_to_async(reports.report_make)(
            reporter=reporter, seq=seq, reason="harassment", note=NOTE
        )
        item = (await next_frame(staff, "report"))["item"]
        assert set(item) == ITEM_FIELDS  # nothing about who reported it
        assert item["author"] == AUTHOR and item["seq"] == seq and item["reason"] == "harassment"
        assert item["status"] == "open" and item["room"] == "circle"
        assert item["body"] is None and item["note"] is None  # content only through a view
        fac_frames = await fac_side.frames()
        assert [f["type"] for f in fac_frames] == ["report_notice"]
        assert fac_frames[0] == {
            "type": "report_notice",
            "id": item["id"],
            "seq": seq,
            "author": AUTHOR,
            "reason": "harassment",
            "ts": item["created_at"],
        }
        assert await reported_side.frames() == []
        assert await room_side.frames() == []
        seen = json.dumps([item, fac_frames])
        assert REPORTER not in seen and NOTE not in seen and "reporter" not in seen
    # A dashboard that connects later gets it in the snapshot.
    async with connect_staff(staff_user) as again:
        (listed,) = await snapshot(again)
        assert listed["id"] == item["id"] and REPORTER not in json.dumps(listed)


@ws_db
async def test_report_about_a_facilitators_message_goes_to_moderators_only(
    connect_staff: Any, people: dict[str, Membership], staff_user: User
) -> None:
    fac = await database_sync_to_async(facilitator)(people["author"])
    seq = await database_sync_to_async(post)(fac, "Let's keep to the agreement, please.")
    async with (
        connect_staff(staff_user) as staff,
        listening(events.room_staff_group(fac.room_id)) as fac_side,
    ):
        await snapshot(staff)
        await database_sync_to_async(reports.report_make)(
            reporter=people["reporter"], seq=seq, reason="other"
        )
        assert (await next_frame(staff, "report"))["item"]["author"] == "Facilitator Sam"
        assert await fac_side.frames() == []


@ws_db
async def test_staff_read_reply_and_close_over_the_socket_reply_reaches_only_the_reporter(
    connect_staff: Any, people: dict[str, Membership], staff_user: User
) -> None:
    reporter, author, bystander = people["reporter"], people["author"], people["bystander"]
    seq = await database_sync_to_async(post)(author)
    report = await database_sync_to_async(reports.report_make)(
        reporter=reporter, seq=seq, reason="harassment", note=NOTE
    )
    async with (
        connect_staff(staff_user) as staff,
        listening(*member_groups(reporter)) as reporter_side,
        listening(*member_groups(author)) as reported_side,
        listening(*member_groups(bystander), events.room_staff_group(author.room_id)) as others,
    ):
        (listed,) = await snapshot(staff)
        assert listed["id"] == report.pk

        # Read: the decrypted item comes to this socket only, then done; it is audited.
        await staff.send_json_to({"type": "report_view", "id": report.pk, "ref": "v1"})
        viewed = (await next_frame(staff, "report"))["item"]
        assert viewed["body"] == WORDS and viewed["note"] == NOTE
        assert (await next_frame(staff, "done"))["ref"] == "v1"
        views = await database_sync_to_async(
            lambda: list(AuditEntry.objects.filter(action="report.view").values_list("actor"))
        )()
        assert views == [(f"user:{staff_user.pk}",)]

        # Reply: privately to the reporter; staff see the count go up, never the text.
        await staff.send_json_to(
            {"type": "report_reply", "id": report.pk, "ref": "r1", "text": REPLY}
        )
        got = await item_and_done(staff)
        assert got["done"]["ref"] == "r1"
        assert got["report"]["item"]["replies"] == 1 and REPLY not in json.dumps(got)
        assert await reporter_side.frames() == [
            {"type": "moderator_reply", "report_id": report.pk, "seq": seq, "text": REPLY}
        ]
        assert await reported_side.frames() == []
        assert await others.frames() == []
        sealed = await database_sync_to_async(lambda: bytes(ReportReply.objects.get().ciphertext))()
        assert REPLY.encode() not in sealed

        # Close: the item says closed, for every dashboard.
        await staff.send_json_to(
            {"type": "report_close", "id": report.pk, "ref": "c1", "outcome": "Spoken to"}
        )
        got = await item_and_done(staff)
        assert got["report"]["item"]["status"] == "closed" and got["done"]["ref"] == "c1"
    async with connect_staff(staff_user) as again:
        assert await snapshot(again) == []


@ws_db
async def test_staff_socket_report_errors_keep_the_ref(
    connect_staff: Any, people: dict[str, Membership], staff_user: User
) -> None:
    async with connect_staff(staff_user) as staff:
        await snapshot(staff)
        await staff.send_json_to({"type": "report_view", "id": 999, "ref": "x1"})
        error = await staff.receive_json_from(timeout=5)
        assert error["type"] == "error" and error["code"] == "not_found" and error["ref"] == "x1"
        await staff.send_json_to({"type": "report_close", "id": 1, "ref": "x2", "outcome": ""})
        error = await staff.receive_json_from(timeout=5)
        assert error["type"] == "error" and error["code"] == "invalid_frame"
